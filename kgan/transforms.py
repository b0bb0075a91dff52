"""What is done to the discriminator's inputs: instance noise, packing, replay.

Each is a :class:`kgan.core.pieces.Transform` for a model's ``transforms``
list. The model shows D every batch through ``view`` (the transforms' views
in list order; packing, which changes the number of D inputs, must come
last) and passes D's fake batch through ``fakes`` once per D update. Every
random draw goes through ``model.draw`` (global batch, this replica's rows)
and the replay buffer mixes the GLOBAL fake batch, so N replicas equal one
device.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from kgan import layers
from kgan.core import replica
from kgan.core.pieces import Transform

PACKING = "kgan: packing"
_register = keras.saving.register_keras_serializable(package="kgan.transforms")


@_register
class InstanceNoise(Transform):
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

    def __init__(self, stddev=0.1, anneal_steps=None):
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

    def view(self, x, model):
        noise = model.draw(lambda n: keras.random.normal((n,) + tuple(x.shape[1:]),
                                                         seed=model.seed_generator),
                           ops.shape(x)[0])
        sigma = ops.cast(self.stddev_at(model.g_optimizer.iterations), x.dtype)
        return x + sigma * ops.cast(noise, x.dtype)

    def get_config(self):
        return {"stddev": self.stddev, "anneal_steps": self.anneal_steps}


@_register
class Packing(Transform):
    """PacGAN: D judges ``m`` samples at once (:func:`kgan.layers.pack`).

    Built discriminators take :func:`kgan.layers.packed_shape` inputs; a
    given D must. The adversarial loss and per-example terms are per pack,
    divided by the global number of packs. Per-replica batches must be
    divisible by ``m``: checked before training and in the graph. Not for
    conditional models (a pack has no single label).

    Lin et al., "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS 2018.

    Args:
        m: samples per D input.

    Example:
        >>> kgan.GAN(data_shape=(2,), transforms=[Packing(2)])
    """

    def __init__(self, m=2):
        if int(m) < 1:
            raise ValueError(f"packing must be >= 1, got {m}.")
        self.m = int(m)

    @property
    def samples_per_input(self):
        return self.m

    def build(self, model):
        if self.m > 1 and model.num_classes:
            raise ValueError("packing (PacGAN) is for unconditional models: a pack of samples "
                             "has no single label. Use num_classes=None or packing=1.")

    def view(self, x, model):
        m = self.m
        if m > 1 and x.shape[0] is None and not model.jit_compile:
            check = tf.debugging.assert_equal(
                ops.shape(x)[0] % m, 0,
                message=f"{PACKING}: each replica's batch must be divisible by packing={m}")
            with tf.control_dependencies([check]):
                x = tf.identity(x)
        return layers.pack(x, m)

    def check_data(self, model, x, batch_size):
        """Fails before training when batches cannot be packed."""
        m = self.m
        if m == 1:
            return
        unit = m * model.distribute_strategy.num_replicas_in_sync
        hint = (f"packing={m} needs every batch divisible by {unit} ({m} samples per D input"
                f"{f' on each of {unit // m} replicas' if unit > m else ''})")
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, (tuple, list)) else spec
            b = spec.shape[0] if spec.shape.rank else None
            if b is not None and b % unit:
                raise ValueError(f"{hint}; the dataset yields batches of {b}.")
            return
        n = len(x)
        bs = batch_size or 32
        if bs % unit or (n % bs) % unit:
            raise ValueError(f"{hint}; batch_size={bs} with {n} samples gives batches of "
                             f"{bs}{f' and a last batch of {n % bs}' if n % bs else ''}.")

    def get_config(self):
        return {"m": self.m}


@_register
class Replay(Transform):
    """Mixes earlier fakes into D's fake batch (a :class:`ReplayBuffer`).

    The buffer holds GLOBAL batches (all-gathered) and mixes them with
    randomness shared by every replica, so every replica holds the same
    buffer; its variables are model state, saved with the weights.

    Shrivastava et al., "Learning from Simulated and Unsupervised Images
    through Adversarial Training", CVPR 2017, section 2.3; CycleGAN's
    50-image history pool (Zhu et al. 2017) is ``Replay(50, 0.5)``.

    Args:
        capacity: samples held.
        fraction: share of D's fake batch taken from the buffer once full.

    Example:
        >>> kgan.GAN(data_shape=(2,), transforms=[Replay(1024, 0.5)])
    """

    def __init__(self, capacity=1024, fraction=0.5):
        if int(capacity) < 1:
            raise ValueError(f"replay buffer capacity must be >= 1, got {capacity}.")
        if not 0.0 <= float(fraction) <= 1.0:
            raise ValueError(f"replay fraction must be in [0, 1], got {fraction}.")
        self.capacity, self.fraction = int(capacity), float(fraction)
        self.buffer = None

    def build(self, model):
        self.buffer = ReplayBuffer(self.capacity, model.data_shape, self.fraction,
                                   model.num_classes, name="replay_buffer")
        return self.buffer

    def fakes(self, fake, labels, model):
        batch_size = ops.shape(fake)[0]
        all_fake = replica.all_gather(ops.cast(fake, "float32"))
        all_labels = None if labels is None else replica.all_gather(labels)
        mixed, mixed_labels = self.buffer.mix(all_fake, all_labels, seed=model.seed_generator)
        mixed = ops.cast(replica.local_rows(mixed, batch_size), fake.dtype)
        if mixed_labels is not None:
            mixed_labels = replica.local_rows(mixed_labels, batch_size)
        return mixed, mixed_labels

    def get_config(self):
        return {"capacity": self.capacity, "fraction": self.fraction}


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
