"""The exponential moving average of the generator's weights, kept by the model.

``ema <- decay * ema + (1 - decay) * w`` after every generator update, for
every trainable weight ``w`` of G; non-trainable weights (batch-norm moving
statistics) are copied. Averaging G over its iterates gives smoother,
usually better samples (Yazıcı et al., "The Unusual Effectiveness of
Averaging in GAN Training", ICLR 2019; Karras et al. 2018).

The average is a tracked network of the model (``model.ema_generator``):
it is saved in ``.keras`` files and checkpoints, restored by
``keras.saving.load_model`` and by resume, used by ``generate`` and by the
export. It is updated in the train step, in the graph, with the same
values on every replica, so N replicas keep the average one device keeps.
"""

from __future__ import annotations

import keras
from keras import ops


def check(decay, start_step):
    decay = float(decay)
    if not 0.0 <= decay < 1.0:
        raise ValueError(f"ema_decay must be in [0, 1) (0: no average), got {decay}.")
    if int(start_step) < 0:
        raise ValueError(f"ema_start_step must be >= 0, got {start_step}.")
    return decay, int(start_step)


def clone(generator):
    """A copy of ``generator`` (same architecture, same weights) for the average."""
    try:
        ema = keras.models.clone_model(generator)
    except Exception as e:
        raise ValueError("ema_decay needs a generator keras.models.clone_model can copy (a "
                         f"functional or Sequential model): {e}") from e
    ema.set_weights(generator.get_weights())
    return ema


def update(ema, generator, decay, start_step, step):
    """One update of the average after generator update number ``step``.

    Until the generator has made ``start_step`` updates, the average copies
    it (early weights are usually poor).
    """
    d = ops.where(ops.cast(step, "int64") <= start_step, 0.0, decay)
    for e, w in zip(ema.trainable_weights, generator.trainable_weights):
        de = ops.cast(d, e.dtype)
        e.assign(de * e.value + (1.0 - de) * ops.cast(w.value, e.dtype))
    for e, w in zip(ema.non_trainable_weights, generator.non_trainable_weights):
        e.assign(w.value)
