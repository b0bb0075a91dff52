"""What one step produced: the record every loss term reads.

Like TF-GAN's ``GANModel`` tuple: the model fills it, the pieces read it, and
no piece reaches into the train step.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Optional


@dataclasses.dataclass
class Batch:
    """This replica's share of a training batch.

    Attributes:
        real: real samples ``[size, ...]`` in the model's compute dtype.
        labels: int32 labels ``[size]`` or ``None``.
        size: this replica's batch size (a scalar tensor).
        global_size: the global batch size (float32 scalar).
    """

    real: Any
    labels: Any
    size: Any
    global_size: Any


@dataclasses.dataclass
class Record:
    """What D saw and said in one update.

    Attributes:
        real: real D inputs, after the model's transforms (the view).
        fake: fake D inputs, after the transforms (differentiable w.r.t. G's
            weights in G's update).
        labels: labels of ``real`` (and of G's fakes) or ``None``.
        fake_labels: labels of ``fake`` (differ from ``labels`` when old
            fakes are replayed).
        real_scores, fake_scores: D's float32 scores ``[n, 1]``
            (``real_scores`` is ``None`` in G's update).
        real_logits, fake_logits: the auxiliary class logits of an AC-GAN
            discriminator, or ``None``.
        critic: ``(x, labels) -> scores``: D on already-viewed inputs, for
            terms that differentiate D (gradient penalties).
        model: the model, for terms that need its networks or seed.
        batch: the :class:`Batch` the update ran on.
        count: the GLOBAL number of D inputs (samples, or packs).
        z: this replica's latents the fakes were generated from (``None``
            when unknown); latent-code terms (InfoGAN) read their codes here.
    """

    real: Any
    fake: Any
    labels: Any
    fake_labels: Any
    real_scores: Any
    fake_scores: Any
    real_logits: Any = None
    fake_logits: Any = None
    critic: Optional[Callable] = None
    model: Any = None
    batch: Any = None
    count: Any = None
    z: Any = None
