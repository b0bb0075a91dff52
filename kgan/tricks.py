"""Stateful training tricks: an instance-noise schedule and a replay buffer.

Both are driven by ``kgan.GAN`` (``instance_noise=...``,
``replay_buffer_size=...``) but are usable on their own. Randomness comes
from a ``keras.random.SeedGenerator`` passed in by the caller, so a model
that owns the generator keeps its noise stream in its saved state.
"""

from __future__ import annotations

import keras
from keras import ops


class InstanceNoise:
    """Gaussian noise added to every input D sees, annealed to zero.

    ``x -> x + sigma(t) * n`` with ``n ~ N(0, I)``, applied to real and
    generated samples alike, so the two distributions overlap and D's
    gradients stay informative early in training. The standard deviation
    decays linearly with the training step ``t``:
    ``sigma(t) = stddev * max(0, 1 - t / anneal_steps)``, reaching exactly 0
    at ``t = anneal_steps`` (constant when ``anneal_steps`` is ``None``).

    Sønderby et al., "Amortised MAP Inference for Image Super-resolution",
    ICLR 2017 (appendix C); Arjovsky & Bottou, "Towards Principled Methods for
    Training GANs", ICLR 2017.

    The schedule is a pure function of the step, so a resumed run (whose
    step counter is restored with the optimizer) continues it exactly.

    Args:
        stddev: initial standard deviation ``sigma(0)``.
        anneal_steps: steps to reach 0; ``None`` keeps ``stddev``.

    Example:
        >>> noise = InstanceNoise(0.1, anneal_steps=1000)
        >>> float(noise.stddev_at(500))
        0.05
    """

    def __init__(self, stddev, anneal_steps=None):
        if float(stddev) < 0:
            raise ValueError(f"instance noise stddev must be >= 0, got {stddev}.")
        if anneal_steps is not None and int(anneal_steps) < 1:
            raise ValueError(f"instance noise anneal_steps must be >= 1 or None, got {anneal_steps}.")
        self.stddev = float(stddev)
        self.anneal_steps = None if anneal_steps is None else int(anneal_steps)

    def stddev_at(self, step):
        """``sigma(step)`` as a float32 scalar tensor.

        Args:
            step: training step (an int, tensor or variable).
        """
        step = ops.cast(ops.convert_to_tensor(step), "float32")
        if self.anneal_steps is None:
            return ops.cast(self.stddev, "float32") + 0.0 * step
        return self.stddev * ops.maximum(0.0, 1.0 - step / float(self.anneal_steps))

    def __call__(self, x, step, noise=None, seed=None):
        """Returns ``x + sigma(step) * noise``.

        Args:
            x: samples ``[batch, ...]``.
            step: training step.
            noise: standard-normal tensor shaped like ``x``; drawn with
                ``seed`` when ``None``.
            seed: seed for the draw.
        """
        if noise is None:
            noise = keras.random.normal(ops.shape(x), seed=seed)
        sigma = ops.cast(self.stddev_at(step), x.dtype)
        return x + sigma * ops.cast(noise, x.dtype)


@keras.saving.register_keras_serializable(package="kgan")
class ReplayBuffer(keras.layers.Layer):
    """A pool of past generated samples mixed into D's fake batch.

    D is shown a history of generated samples rather than only the latest
    ones, so G cannot win by jumping back to a mode D has forgotten.

    Shrivastava et al., "Learning from Simulated and Unsupervised Images
    through Adversarial Training", CVPR 2017, section 2.3: half of each fake
    mini-batch comes from a buffer of earlier samples, and after each step
    buffer entries are replaced by new samples.

    Rule implemented by :meth:`mix` on a batch of ``B`` new samples:

    * while the buffer holds fewer than ``capacity`` samples, the new samples
      fill its next free slots and are returned unchanged;
    * once full, ``k = round(fraction * B)`` (at most ``capacity``) randomly
      chosen batch rows are SWAPPED with ``k`` randomly chosen buffer
      entries: the returned batch holds exactly ``k`` old samples and
      ``B - k`` new ones, and the ``k`` displaced new samples take the old
      ones' slots. Every generated sample is thus either seen by D now or
      kept for later.

    The variables (samples, their labels, the fill count) are created in the
    constructor, so build the buffer inside ``strategy.scope()``. They are
    non-trainable model state, saved with the model. Under a distribution
    strategy the caller mixes the GLOBAL batch (gathered from all replicas)
    with randomness shared by all replicas; every replica then holds the same
    buffer and N replicas behave as one device (``kgan.GAN`` does this).

    Args:
        capacity: number of samples held.
        sample_shape: shape of one sample.
        fraction: share of each batch taken from the buffer once it is full.
        num_classes: keep integer labels with the samples (conditional
            models), or ``None``.

    Example:
        >>> buf = ReplayBuffer(512, (2,), fraction=0.5)
        >>> mixed, _ = buf.mix(fakes, seed=seed_generator)
    """

    def __init__(self, capacity, sample_shape, fraction=0.5, num_classes=None, **kwargs):
        super().__init__(**kwargs)
        if int(capacity) < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}.")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"replay fraction must be in [0, 1], got {fraction}.")
        self.capacity = int(capacity)
        self.sample_shape = tuple(int(d) for d in sample_shape)
        self.fraction = float(fraction)
        self.num_classes = int(num_classes) if num_classes else None
        self.samples = self.add_weight(shape=(self.capacity,) + self.sample_shape,
                                       initializer="zeros", trainable=False, name="samples",
                                       dtype="float32")
        self.labels = self.add_weight(shape=(self.capacity,), initializer="zeros", trainable=False,
                                      name="labels", dtype="int32")
        self.count = self.add_weight(shape=(), initializer="zeros", trainable=False, name="count",
                                     dtype="int32")
        self.built = True

    def num_old(self, batch_size):
        """``k``: old samples per batch of ``batch_size`` once the buffer is full."""
        k = ops.cast(ops.round(self.fraction * ops.cast(batch_size, "float32")), "int32")
        return ops.minimum(k, self.capacity)

    def mix(self, samples, labels=None, seed=None):
        """Returns ``(batch, labels)`` for D and updates the buffer.

        Args:
            samples: new generated samples ``[B] + sample_shape``.
            labels: their int labels ``[B]`` (conditional models), or ``None``.
            seed: a ``keras.random.SeedGenerator`` (or int) for the choice of
                rows and slots.

        Returns:
            ``(mixed_samples, mixed_labels)``; ``mixed_labels`` is ``None``
            when ``labels`` is.
        """
        samples = ops.cast(samples, "float32")
        b = ops.shape(samples)[0]
        cap = self.capacity
        with_labels = labels is not None
        new_labels = ops.cast(labels, "int32") if with_labels else ops.zeros((b,), "int32")
        count = ops.convert_to_tensor(self.count.value)
        buf = ops.convert_to_tensor(self.samples.value)
        buf_labels = ops.convert_to_tensor(self.labels.value)
        full = count >= cap
        k = self.num_old(b)

        # Random pairing: batch row batch_perm[r] <-> buffer slot slot_perm[r] for r < k.
        batch_perm = ops.argsort(keras.random.uniform((b,), seed=seed))
        slot_perm = ops.argsort(keras.random.uniform((cap,), seed=seed))
        batch_rank = ops.argsort(batch_perm)   # rank of each batch row in the pairing
        slot_rank = ops.argsort(slot_perm)     # rank of each slot
        take_old = batch_rank < k              # [B]
        give_new = slot_rank < k               # [cap]
        old_slot = ops.take(slot_perm, ops.minimum(batch_rank, cap - 1))
        new_row = ops.take(batch_perm, ops.minimum(slot_rank, b - 1))

        def rows(mask, a, b_):
            return ops.where(ops.reshape(mask, (-1,) + (1,) * len(self.sample_shape)), a, b_)

        swapped = rows(take_old, ops.take(buf, old_slot, axis=0), samples)
        swapped_labels = ops.where(take_old, ops.take(buf_labels, old_slot), new_labels)
        swapped_buf = rows(give_new, ops.take(samples, new_row, axis=0), buf)
        swapped_buf_labels = ops.where(give_new, ops.take(new_labels, new_row), buf_labels)

        # Filling: slot j takes new row j - count when count <= j < count + B.
        j = ops.arange(cap, dtype="int32")
        fill_mask = (j >= count) & (j < count + b)
        fill_row = ops.clip(j - count, 0, b - 1)
        filled_buf = rows(fill_mask, ops.take(samples, fill_row, axis=0), buf)
        filled_labels = ops.where(fill_mask, ops.take(new_labels, fill_row), buf_labels)

        out = ops.where(full, swapped, samples)
        out_labels = ops.where(full, swapped_labels, new_labels)
        self.samples.assign(ops.where(full, swapped_buf, filled_buf))
        self.labels.assign(ops.where(full, swapped_buf_labels, filled_labels))
        self.count.assign(ops.minimum(count + ops.cast(b, "int32"), cap))
        return out, (out_labels if with_labels else None)

    def get_config(self):
        return {**super().get_config(), "capacity": self.capacity,
                "sample_shape": list(self.sample_shape), "fraction": self.fraction,
                "num_classes": self.num_classes}
