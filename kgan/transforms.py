"""What is done to the discriminator's inputs: instance noise, augmentation, packing, replay.

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


AUGMENTATIONS = ("color", "translation", "cutout")
_UNIFORMS = {"color": 3, "translation": 2, "cutout": 2}  # uniforms each op draws per image


def diff_augment(x, uniforms, policy=("translation", "cutout"), translation=0.125, cutout=0.5,
                 fill=-1.0):
    """DiffAugment's differentiable augmentations of images, from given uniforms.

    A pure function of the images and ``uniforms`` (so it is testable by hand
    and every replica draws the same randomness); gradients flow to ``x``.
    The ops, applied in ``policy`` order, per image:

    - ``"color"``: brightness ``x + (u0 - 0.5)``, saturation
      ``(x - m_c) * 2 u1 + m_c`` (``m_c`` the per-pixel channel mean; a no-op
      for one channel) and contrast ``(x - m) * (u2 + 0.5) + m`` (``m`` the
      image mean);
    - ``"translation"``: an integer shift ``round((2u - 1) * s)`` per axis,
      ``s = round(translation * side)``; shifted-in pixels take ``fill``;
    - ``"cutout"``: a ``round(cutout * side)`` square centred at
      ``floor(u * side)`` (clipped at the border) set to ``fill``.

    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
    Training", NeurIPS 2020 (the same ops and default magnitudes; fill is a
    parameter here because kgan's images live in [-1, 1] with -1 black).

    Args:
        x: images ``[N, H, W, C]``.
        uniforms: ``[N, K]`` draws from U[0, 1), ``K >=``
            :func:`augment_uniforms` ``(policy)``, consumed in policy order.
        policy: ops to apply, a subset of :data:`AUGMENTATIONS`.
        translation: largest shift as a fraction of the side.
        cutout: side of the cut-out square as a fraction of the image side.
        fill: value of shifted-in and cut-out pixels.

    Returns:
        Augmented images, same shape and dtype as ``x``.

    Example:
        >>> u = keras.random.uniform((8, augment_uniforms(("translation",))))
        >>> diff_augment(images, u, ("translation",)).shape
        TensorShape([8, 28, 28, 1])
    """
    x = tf.convert_to_tensor(x)
    u = tf.cast(uniforms, x.dtype)
    h, w = int(x.shape[1]), int(x.shape[2])
    fill = tf.cast(fill, x.dtype)
    i = 0
    for op in policy:
        k = _UNIFORMS[op]
        v = u[:, i:i + k]
        i += k
        if op == "color":
            x = x + (v[:, 0] - 0.5)[:, None, None, None]
            m = tf.reduce_mean(x, axis=3, keepdims=True)
            x = (x - m) * (2.0 * v[:, 1])[:, None, None, None] + m
            m = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
            x = (x - m) * (v[:, 2] + 0.5)[:, None, None, None] + m
        elif op == "translation":
            keep = None
            for axis, side, vv in ((1, h, v[:, 0]), (2, w, v[:, 1])):
                s = int(round(translation * side))
                shift = tf.cast(tf.round((2.0 * vv - 1.0) * s), "int32")
                src = tf.range(side)[None, :] - shift[:, None]  # [N, side]: source index
                inside = tf.cast((src >= 0) & (src < side), x.dtype)
                x = tf.gather(x, tf.clip_by_value(src, 0, side - 1), axis=axis, batch_dims=1)
                mask = inside[:, :, None, None] if axis == 1 else inside[:, None, :, None]
                keep = mask if keep is None else keep * mask
            x = x * keep + fill * (1.0 - keep)
        elif op == "cutout":
            masks = []
            for side, vv in ((h, v[:, 0]), (w, v[:, 1])):
                size = int(round(cutout * side))
                lo = tf.cast(tf.floor(vv * side), "int32")[:, None] - size // 2
                pos = tf.range(side)[None, :]
                masks.append(tf.cast((pos >= lo) & (pos < lo + size), x.dtype))
            hole = masks[0][:, :, None, None] * masks[1][:, None, :, None]
            x = x * (1.0 - hole) + fill * hole
        else:
            raise ValueError(f"unknown augmentation {op!r}; expected some of {AUGMENTATIONS}.")
    return x


def augment_uniforms(policy):
    """How many uniforms per image :func:`diff_augment` consumes for ``policy``.

    Example:
        >>> augment_uniforms(("color", "translation", "cutout"))
        7
    """
    return sum(_UNIFORMS[op] for op in policy)


@_register
class DiffAugment(Transform):
    """Differentiable augmentation of every image D sees, real and generated.

    Every batch D sees, in D's update and in G's, is augmented with
    :func:`diff_augment` (fresh randomness each time); G's gradients flow
    through the augmentation, so G learns the un-augmented distribution
    while D, shown many views of few images, overfits less. The remedy for
    small datasets (hundreds to a few thousand images), where D memorises
    the training set and G's samples degrade.

    Zhao et al., "Differentiable Augmentation for Data-Efficient GAN
    Training", NeurIPS 2020; the same idea as Karras et al.'s ADA
    (NeurIPS 2020) with a fixed strength.

    Args:
        policy: ops, a subset of ``("color", "translation", "cutout")``
            (a comma-separated string works too). Digits: no ``"color"``.
        translation: largest shift as a fraction of the image side.
        cutout: cut-out square side as a fraction of the image side.
        fill: value of shifted-in and cut-out pixels (-1: black).

    Example:
        >>> kgan.DCGAN(data_shape=(28, 28, 1), transforms=[DiffAugment("translation,cutout")])
    """

    def __init__(self, policy=("translation", "cutout"), translation=0.125, cutout=0.5,
                 fill=-1.0):
        if isinstance(policy, str):
            policy = tuple(p.strip() for p in policy.split(",") if p.strip())
        policy = tuple(policy)
        bad = [p for p in policy if p not in AUGMENTATIONS]
        if bad or not policy:
            raise ValueError(f"DiffAugment policy must be a non-empty subset of {AUGMENTATIONS}, "
                             f"got {policy!r}.")
        for name, value in (("translation", translation), ("cutout", cutout)):
            if not 0.0 <= float(value) <= 1.0:
                raise ValueError(f"DiffAugment {name} must be in [0, 1], got {value}.")
        self.policy, self.translation, self.cutout = policy, float(translation), float(cutout)
        self.fill = float(fill)

    def build(self, model):
        if len(model.data_shape) != 3:
            raise ValueError(f"DiffAugment augments images [H, W, C]; this model's samples have "
                             f"shape {model.data_shape}.")

    def view(self, x, model):
        k = augment_uniforms(self.policy)
        u = model.draw(lambda n: keras.random.uniform((n, k), seed=model.seed_generator),
                       ops.shape(x)[0])
        return diff_augment(x, u, self.policy, self.translation, self.cutout, self.fill)

    def get_config(self):
        return {"policy": list(self.policy), "translation": self.translation,
                "cutout": self.cutout, "fill": self.fill}


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
