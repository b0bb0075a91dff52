"""Image-to-image data: paired and unpaired pipelines, offline tasks, tfds names.

Offline tasks are built at run time from digit images (never stored):

========================  ===================================  =====================
task                      source                               target
========================  ===================================  =====================
``sr4``                   7x7 area-downsampled digit (x4)      the 28x28 digit
``edges``                 Sobel edge magnitude of the digit    the digit
``inpaint``               digit with a 14x14 hole (a quarter   the digit
                          of the image) + a mask channel
``mnist2digits``          MNIST digits (domain A)              scikit-learn digits
                          (unpaired)                           (domain B)
========================  ===================================  =====================

Every image is float32 in [-1, 1]. The inpainting mask channel is +1 in the
hole and -1 elsewhere (a PNG's alpha channel carries it); the hole itself is
filled with 0 (mid grey) in the image channel.

Paired batches come from :func:`paired_stream` (optionally with pix2pix's
random jitter), inpainting batches from :func:`inpainting_stream` (a new hole
every step), unpaired ones from :func:`unpaired_stream`; each is a pure
function of (seed, step), so a resumed run is exact.

tfds (on a machine that can download): the CycleGAN sets are
``cycle_gan/horse2zebra``, ``cycle_gan/monet2photo``, ``cycle_gan/apple2orange``
... (splits ``trainA`` / ``trainB`` / ``testA`` / ``testB``);
:func:`load_tfds_unpaired` reads them, resized, as two arrays.

Example:
    >>> digits, labels = kgan.data.load("mnist_idx", "../shared/data/mnist")
    >>> lr, hr = super_resolution_pairs(kgan.data.scale_images(digits), 4)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kgan import data as data_lib

PAIRED_TASKS = ("sr4", "edges", "inpaint")
UNPAIRED_TASKS = ("mnist2digits",)
TASKS = PAIRED_TASKS + UNPAIRED_TASKS


def _images(x, where="images"):
    x = np.asarray(x)
    if x.ndim != 4 or not np.issubdtype(x.dtype, np.floating):
        raise ValueError(f"{where}: expected float images [N, H, W, C] in [-1, 1], got "
                         f"{x.dtype} of shape {x.shape}.")
    return x.astype(np.float32)


def super_resolution_pairs(images, scale=4):
    """``(low-res, images)``: each image area-downsampled by ``scale``.

    Area averaging is what a camera sensor of ``scale``-times larger pixels
    records; SRGAN used bicubic downsampling of photos, which on 28x28
    digits would alias.

    Args:
        images: float ``[N, H, W, C]`` in [-1, 1], ``H`` and ``W`` divisible by ``scale``.
        scale: integer factor.

    Example:
        >>> lr, hr = super_resolution_pairs(x, 4)   # [N, 7, 7, 1], [N, 28, 28, 1]
    """
    x = _images(images)
    h, w = x.shape[1:3]
    if h % scale or w % scale:
        raise ValueError(f"scale={scale}: image size {h}x{w} must be divisible by it.")
    lr = tf.image.resize(x, (h // scale, w // scale), method="area").numpy()
    return np.clip(lr, -1.0, 1.0).astype(np.float32), x


def edge_pairs(images):
    """``(edges, images)``: Sobel gradient magnitude, scaled per image to [-1, 1].

    Example:
        >>> edges, digits = edge_pairs(x)
    """
    x = _images(images)
    g = tf.image.sobel_edges(tf.constant((x + 1.0) / 2.0))  # [N, H, W, C, 2]
    mag = tf.sqrt(tf.reduce_sum(tf.square(g), -1)).numpy()
    peak = mag.reshape(len(x), -1).max(1).reshape(-1, 1, 1, 1)
    return (mag / np.maximum(peak, 1e-6) * 2.0 - 1.0).astype(np.float32), x


def _hole_side(h, w, hole):
    hole = h // 2 if hole is None else int(hole)
    if not 1 <= hole <= min(h, w):
        raise ValueError(f"hole: expected a side in [1, {min(h, w)}], got {hole}.")
    return hole


def _cut_holes(x, top, left, hole):
    """``x`` with a ``hole`` x ``hole`` square at (top, left) per image, plus the mask channel."""
    h, w = x.shape[1], x.shape[2]
    rows = tf.range(h)[None, :, None]
    cols = tf.range(w)[None, None, :]
    top, left = tf.cast(top, tf.int32)[:, None, None], tf.cast(left, tf.int32)[:, None, None]
    inside = ((rows >= top) & (rows < top + hole) & (cols >= left) & (cols < left + hole))[..., None]
    source = tf.where(inside, tf.zeros_like(x), x)
    mask = tf.where(inside, 1.0, -1.0)
    return tf.concat([source, mask], -1)


def inpainting_pairs(images, hole=None, seed=0):
    """``(source, images)``: a random square hole per image plus a mask channel.

    One fixed hole per image: the held-out set of an inpainting benchmark.
    Train on :func:`inpainting_stream`, which draws new holes every step.

    Args:
        images: float ``[N, H, W, C]`` in [-1, 1].
        hole: side of the square hole (default ``H // 2``: a quarter of the image).
        seed: seed of the holes' positions.

    Returns:
        ``source [N, H, W, C + 1]`` (hole filled with 0; mask +1 in the hole,
        -1 elsewhere) and the images.

    Example:
        >>> src, digits = inpainting_pairs(x, seed=0)
    """
    x = _images(images)
    n, h, w, _ = x.shape
    hole = _hole_side(h, w, hole)
    rng = np.random.default_rng(seed)
    top = rng.integers(0, h - hole + 1, n)
    left = rng.integers(0, w - hole + 1, n)
    return _cut_holes(tf.constant(x), top, left, hole).numpy(), x


def _draws(seed, salt, step, shape):
    """Uniform [0, 1) numbers that depend only on (seed + salt, step): exact on resume."""
    return tf.random.stateless_uniform(shape, tf.stack([tf.constant(seed, tf.int64) + salt, step]))


# Salts keep each draw's stream apart from the others and from the shuffle's (seed, epoch).
_HOLES, _JITTER = 0x5EED, 0x5EED + (1 << 32)


def _jitter(tensors, u, pad):
    """Shifts every tensor of an example by the same random offset of up to +-``pad`` pixels.

    Pads with -1 (the background of every offline task) and crops back at an
    offset drawn from ``u [B, 2]``: pix2pix's random jitter (Isola et al.
    2017, resize-and-crop), as a translation that keeps the digits' scale.
    """
    h, w = tensors[0].shape[1], tensors[0].shape[2]
    off = tf.cast(tf.floor(u * (2 * pad + 1)), tf.int32)
    rows = off[:, :1] + tf.range(h)[None]
    cols = off[:, 1:] + tf.range(w)[None]
    out = []
    for t in tensors:
        t = tf.pad(t, [[0, 0], [pad, pad], [pad, pad], [0, 0]], constant_values=-1.0)
        t = tf.gather(t, rows, axis=1, batch_dims=1)
        out.append(tf.gather(t, cols, axis=2, batch_dims=1))
    return out


def paired_stream(sources, targets, batch_size=64, seed=0, start_step=0, jitter=0):
    """Endless ``(source, target)`` batches, optionally jittered, exact on resume.

    :func:`kgan.data.training_stream` over the pairs; with ``jitter`` > 0 each
    pair is shifted by one random offset of up to +-``jitter`` pixels drawn
    from ``(seed, step)`` (pix2pix's random jitter; Isola et al. 2017), so
    the generator sees new placements instead of the same few thousand pairs.
    Source and target must share their height and width.

    Args:
        sources, targets: float ``[N, H, W, C]`` in [-1, 1] (background -1).
        batch_size: global batch size.
        seed: seed of the order and of the offsets.
        start_step: first step to produce (for resuming).
        jitter: largest shift in pixels (0: the pairs as they are).

    Returns:
        ``(dataset, steps_per_epoch)``.

    Example:
        >>> ds, steps = paired_stream(edges, digits, 64, seed=0, jitter=2)
    """
    ds, steps = data_lib.training_stream(sources, targets, batch_size, seed, start_step)
    if not jitter:
        return ds, steps
    if np.shape(sources)[1:3] != np.shape(targets)[1:3]:
        raise ValueError(f"jitter: expected sources and targets of one size, got "
                         f"{np.shape(sources)[1:3]} and {np.shape(targets)[1:3]}.")

    def shift(step, pair):
        return tuple(_jitter(pair, _draws(seed, _JITTER, step, [batch_size, 2]), int(jitter)))

    return ds.enumerate(start_step).map(shift).prefetch(tf.data.AUTOTUNE), steps


def inpainting_stream(images, batch_size=64, seed=0, start_step=0, hole=None):
    """Endless ``(source, target)`` inpainting batches with a new hole every step.

    The images come in :func:`kgan.data.training_stream` order; each batch's
    holes are drawn from ``(seed, step)`` with stateless random ops, so a
    resumed run sees exactly the holes an uninterrupted one would, and no
    (image, hole) pair repeats the way a fixed set of pairs does: the
    context encoder (Pathak et al. 2016) samples its regions afresh in the
    same way.

    Args:
        images: float ``[N, H, W, C]`` in [-1, 1], the whole digits.
        batch_size: global batch size.
        seed: seed of the order and of the holes.
        start_step: first step to produce (for resuming).
        hole: side of the square hole (default ``H // 2``).

    Returns:
        ``(dataset, steps_per_epoch)``; sources are ``[B, H, W, C + 1]`` as
        :func:`inpainting_pairs` makes them.

    Example:
        >>> ds, steps = inpainting_stream(digits, 64, seed=0)
        >>> Pix2Pix(source_shape=(28, 28, 2), inpainting=True).fit(ds, steps_per_epoch=steps)
    """
    x = _images(images)
    _, h, w, _ = x.shape
    hole = _hole_side(h, w, hole)
    ds, steps = data_lib.training_stream(x, None, batch_size, seed, start_step)
    span = tf.constant([h - hole + 1, w - hole + 1], tf.float32)

    def cut(step, batch):
        at = tf.cast(tf.floor(_draws(seed, _HOLES, step, [batch_size, 2]) * span), tf.int32)
        return _cut_holes(batch, at[:, 0], at[:, 1], hole), batch

    return ds.enumerate(start_step).map(cut).prefetch(tf.data.AUTOTUNE), steps


def make_pairs(task, images, seed=0):
    """``(source, target)`` of a paired task name (``PAIRED_TASKS``) from images.

    Example:
        >>> src, tgt = make_pairs("edges", x)
    """
    if task == "sr4":
        return super_resolution_pairs(images, 4)
    if task == "edges":
        return edge_pairs(images)
    if task == "inpaint":
        return inpainting_pairs(images, seed=seed)
    raise ValueError(f"task: expected one of {PAIRED_TASKS}, got {task!r}.")


def load_task(task, data_dir=None, seed=0):
    """Builds an offline task's training arrays.

    Paired tasks use MNIST from the IDX files in ``data_dir`` (training
    split if present, else the test split) or, without ``data_dir``,
    scikit-learn's bundled digits at 28x28. ``mnist2digits`` needs
    ``data_dir`` for its MNIST side.

    Returns:
        ``(first, second, labels of first)``: (source, target) for paired
        tasks, (domain A, domain B) for unpaired ones.

    Example:
        >>> src, tgt, y = load_task("sr4", "../shared/data/mnist")
    """
    if task not in TASKS:
        raise ValueError(f"task: expected one of {TASKS}, got {task!r}.")
    if data_dir:
        imgs, labels = data_lib.load_idx_dir(data_dir)
    elif task in PAIRED_TASKS:
        imgs, labels = data_lib.load_digits_images(28)
    else:
        raise ValueError(f"{task} needs --data-dir, the folder of the MNIST IDX files.")
    x = data_lib.scale_images(imgs)
    if task in PAIRED_TASKS:
        src, tgt = make_pairs(task, x, seed)
        return src, tgt, labels
    digits, _ = data_lib.load_digits_images(28)
    return x, data_lib.scale_images(digits), labels


def unpaired_stream(a, b, batch_size=64, seed=0, start_step=0):
    """Endless ``(a_batch, b_batch)`` batches from two unpaired sets, exact on resume.

    Each domain walks its own stateless permutation per pass (seeded by
    ``(seed, pass)`` and ``(seed + 1, pass)``), so batch ``s`` depends only
    on ``s`` and a resumed run sees what an uninterrupted one would.

    Args:
        a, b: float arrays ``[N_a, ...]`` and ``[N_b, ...]`` (each at least ``batch_size``).
        batch_size: global batch size.
        seed: shuffle seed.
        start_step: first step to produce.

    Returns:
        ``(dataset, steps_per_epoch)``, an epoch being a pass over the larger set.

    Example:
        >>> ds, steps = unpaired_stream(mnist, digits, 64)
        >>> cyclegan.fit(ds, epochs=5, steps_per_epoch=steps)
    """
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if min(len(a), len(b)) < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than a domain's "
                         f"{min(len(a), len(b))} images.")
    ta, tb = tf.constant(a), tf.constant(b)

    def take(x, i, n, s):
        # Positions within one pass never straddle: n_used is a multiple of batch_size.
        used = (n // batch_size) * batch_size
        epoch, pos = i // used, i % used
        pos = tf.random.experimental.index_shuffle(
            pos, seed=tf.stack([tf.constant(s, tf.int64), epoch[0]]),
            max_index=tf.constant(n - 1, tf.int64))
        return tf.gather(x, pos)

    def gather(i):
        return take(ta, i, len(a), seed), take(tb, i, len(b), seed + 1)

    ds = tf.data.Dataset.counter(start_step * batch_size).batch(batch_size, drop_remainder=True)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    ds = ds.map(gather).with_options(options).prefetch(tf.data.AUTOTUNE)
    return ds, max(len(a), len(b)) // batch_size


def load_tfds_unpaired(name, image_size=None, data_dir=None, train=True):
    """Two domains of a tfds CycleGAN set (``cycle_gan/horse2zebra``, ...), in [-1, 1].

    Needs ``tensorflow_datasets`` and a download on first use.

    Args:
        name: tfds name with its config.
        image_size: resize to this side (None: as stored, 256 for cycle_gan).
        data_dir: tfds data folder.
        train: ``trainA``/``trainB`` (else ``testA``/``testB``).

    Returns:
        ``(domain A images, domain B images)``.

    Example:
        >>> horses, zebras = load_tfds_unpaired("cycle_gan/horse2zebra", 128)
    """
    part = "train" if train else "test"
    out = []
    for side in ("A", "B"):
        x, _ = data_lib.load_tfds(name, split=part + side, data_dir=data_dir,
                                  image_size=image_size)
        out.append(data_lib.scale_images(x) if x.dtype == np.uint8 else x)
    return tuple(out)
