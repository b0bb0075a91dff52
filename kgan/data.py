"""Datasets for GAN training: tfds, local IDX files, sklearn digits, 2-D mixtures.

Images come out as float32 in [-1, 1] (the range of a ``tanh`` generator)
with shape ``(H, W, C)``; labels as int32. ``as_dataset`` batches with
``drop_remainder=True`` so every step has the same global batch, which the
distributed train step needs to split evenly across replicas.
"""

from __future__ import annotations

import dataclasses
import gzip
import os
import struct
import warnings

import numpy as np
import tensorflow as tf


def scale_images(images):
    """Maps uint8 pixels [0, 255] to float32 [-1, 1].

    Args:
        images: uint8 array ``[N, H, W, C]`` (or ``[N, H, W]``, given a
            channel axis).

    Returns:
        float32 array ``[N, H, W, C]`` in [-1, 1].

    Example:
        >>> scale_images(np.array([[[0, 255]]], "uint8")).max()
        1.0
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        raise ValueError(f"scale_images expects uint8 pixels, got {images.dtype}.")
    return images.astype(np.float32) / 127.5 - 1.0


def to_uint8(images):
    """Maps [-1, 1] floats to uint8 pixels (clipping outliers).

    Example:
        >>> to_uint8(np.array([-1.0, 1.0]))
        array([  0, 255], dtype=uint8)
    """
    images = np.asarray(images, np.float32)
    return np.clip(np.round((images + 1.0) * 127.5), 0, 255).astype(np.uint8)


# --- IDX (MNIST file format) -------------------------------------------------

def _open(path):
    return gzip.open(path, "rb") if path.endswith(".gz") else open(path, "rb")


def read_idx(path):
    """Reads an IDX file (MNIST's format), gzip-compressed or not.

    Args:
        path: file path.

    Returns:
        numpy array with the file's shape and dtype (uint8 for MNIST).

    Example:
        >>> read_idx("t10k-labels-idx1-ubyte.gz").shape
        (10000,)
    """
    with _open(path) as f:
        header = f.read(4)
        if len(header) != 4 or header[0] != 0 or header[1] != 0:
            raise ValueError(f"{path}: not an IDX file (bad magic {header!r}).")
        dtype = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4",
                 0x0D: ">f4", 0x0E: ">f8"}.get(header[2])
        if dtype is None:
            raise ValueError(f"{path}: unknown IDX element type {header[2]:#x}.")
        ndim = header[3]
        shape = struct.unpack(">" + "I" * ndim, f.read(4 * ndim))
        data = np.frombuffer(f.read(), dtype=dtype)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {data.size} elements.")
    return data.reshape(shape)


# IDX file prefix of each split name a user may pass.
_IDX_PREFIX = {"train": "train", "test": "t10k", "t10k": "t10k"}


def _idx_files(directory, prefix):
    """Paths of ``{prefix}-images`` / ``-labels`` files, or the names looked for."""
    found, tried = [], []
    for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
        names = [f"{prefix}-{kind}.gz", f"{prefix}-{kind}"]
        tried += names
        paths = [os.path.join(directory, n) for n in names if os.path.exists(os.path.join(directory, n))]
        found.append(paths[0] if paths else None)
    return found, tried


def load_idx_dir(directory, split=None):
    """Loads MNIST-format images and labels from a directory of IDX files.

    ``split="train"`` reads ``train-images-idx3-ubyte[.gz]`` and
    ``train-labels-idx1-ubyte[.gz]``; ``"test"`` (or ``"t10k"``) reads the
    ``t10k-...`` files. ``None`` reads the training files when they are there
    and otherwise the test files, with a warning: a folder holding only the
    test split (like ``../shared/data/mnist``) still loads, and a folder with
    full MNIST never trains on its test split by default.

    Args:
        directory: folder holding the files (e.g. ``../shared/data/mnist``).
        split: ``"train"``, ``"test"``, ``"t10k"`` or ``None`` (see above).

    Returns:
        ``(images uint8 [N, 28, 28, 1], labels int32 [N])``.

    Raises:
        FileNotFoundError: the split's files are missing; the message names
            every file looked for.
        ValueError: an unknown split.

    Example:
        >>> x, y = load_idx_dir("../shared/data/mnist", split="test")
    """
    if split is not None and split not in _IDX_PREFIX:
        raise ValueError(f"IDX split must be one of {sorted(_IDX_PREFIX)} or None, got {split!r}.")
    if split is None:
        (images_path, labels_path), _ = _idx_files(directory, "train")
        if images_path is None or labels_path is None:
            (images_path, labels_path), tried = _idx_files(directory, "t10k")
            if images_path is not None and labels_path is not None:
                warnings.warn(f"{directory!r} holds no train-*-ubyte files; loading its test "
                              f"split (t10k). Pass split='test' to say so, or add the "
                              f"training files.", stacklevel=2)
        prefix = "train or t10k"
    else:
        prefix = _IDX_PREFIX[split]
        (images_path, labels_path), tried = _idx_files(directory, prefix)
    if images_path is None or labels_path is None:
        if split is None:
            tried = _idx_files(directory, "train")[1] + _idx_files(directory, "t10k")[1]
        raise FileNotFoundError(
            f"No MNIST IDX files for split {split or prefix!r} in {directory!r}: looked for "
            f"{', '.join(tried)}.")
    images = read_idx(images_path)
    labels = read_idx(labels_path).astype(np.int32)
    if images.shape[0] != labels.shape[0]:
        raise ValueError(f"{directory}: {images.shape[0]} images but {labels.shape[0]} labels.")
    return images[..., None], labels


def load_digits_images(size=28):
    """scikit-learn's bundled 8x8 digits, upsampled to ``size`` (offline).

    The 1,797 images ship inside the scikit-learn wheel, so this works with
    no network. Pixel values 0..16 are rescaled to uint8 and resized
    bilinearly.

    Args:
        size: output side length.

    Returns:
        ``(images uint8 [N, size, size, 1], labels int32 [N])``.

    Example:
        >>> x, y = load_digits_images(28)
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    imgs = (d.images.astype(np.float32) / 16.0)[..., None]
    imgs = tf.image.resize(imgs, (size, size), method="bilinear").numpy()
    imgs = np.clip(np.round(imgs * 255.0), 0, 255).astype(np.uint8)
    return imgs, d.target.astype(np.int32)


def _image_size(image_size):
    """``(height, width)`` from an int or a pair, or ``None``."""
    if image_size is None:
        return None
    size = (image_size, image_size) if np.ndim(image_size) == 0 else tuple(image_size)
    if len(size) != 2 or not all(isinstance(d, (int, np.integer)) and not isinstance(d, bool)
                                 and d >= 1 for d in size):
        raise ValueError(f"image_size must be a positive int or a (height, width) pair of "
                         f"positive ints, got {image_size!r}.")
    return int(size[0]), int(size[1])


def _resize_uint8(images, size):
    """Antialiased bilinear resize of uint8 images, rounded back to uint8.

    Antialiasing matters when shrinking (e.g. CelebA 218x178 to 64x64):
    plain bilinear would alias. Rounding back to uint8 keeps one pixel format
    for every loader, so ``scale_images`` maps every dataset to [-1, 1] alike.
    """
    out = tf.image.resize(tf.cast(images, tf.float32), size, method="bilinear", antialias=True)
    return tf.cast(tf.clip_by_value(tf.round(out), 0.0, 255.0), tf.uint8)


def load_tfds(name, split="train", data_dir=None, image_size=None, image_key="image",
              label_key="label"):
    """Loads a tfds image dataset as numpy arrays ``(uint8 images, labels)``.

    Takes the ``image_key`` feature of each example, and the ``label_key``
    feature as labels when the dataset has one (mnist, fashion_mnist,
    cifar10, svhn_cropped, ...). Datasets without it (celeb_a, ...) give
    ``labels=None``. Downloads on first use on a machine with network access.

    Args:
        name: tfds name, e.g. ``"mnist"`` or ``"celeb_a"``.
        split: tfds split, e.g. ``"train"``, ``"test"`` or ``"train[:10%]"``.
        data_dir: tfds data directory.
        image_size: ``None`` keeps the stored size; an int or
            ``(height, width)`` resizes every image (antialiased bilinear).
            Needed for datasets whose images differ in size.
        image_key: the image feature's name.
        label_key: the label feature's name; ``None`` ignores labels.

    Returns:
        ``(images uint8 [N, H, W, C], labels int32 [N] or None)``.

    Raises:
        ValueError: no image feature, images of varying size without
            ``image_size``, or an empty split.

    Example:
        >>> x, y = load_tfds("fashion_mnist", split="test")
        >>> faces, none = load_tfds("celeb_a", image_size=64)
    """
    import tensorflow_datasets as tfds

    size = _image_size(image_size)
    ds = tfds.load(name, split=split, data_dir=data_dir)
    spec = ds.element_spec
    if not isinstance(spec, dict) or image_key not in spec:
        have = sorted(spec) if isinstance(spec, dict) else type(spec).__name__
        raise ValueError(f"tfds dataset {name!r}: expected an image feature {image_key!r}, "
                         f"got features {have}. Pass image_key=.")
    image_spec = spec[image_key]
    if image_spec.shape.rank != 3 or image_spec.dtype != tf.uint8:
        raise ValueError(f"tfds dataset {name!r}: expected {image_key!r} to be uint8 images "
                         f"[H, W, C], got {image_spec.dtype.name} of shape {image_spec.shape}.")
    if size is None and not image_spec.shape[:2].is_fully_defined():
        raise ValueError(f"tfds dataset {name!r}: images vary in size ({image_spec.shape}); "
                         f"pass image_size to resize them to one size.")
    label_spec = spec.get(label_key) if label_key else None
    supervised = label_spec is not None and label_spec.shape.rank == 0 and label_spec.dtype.is_integer

    def pick(example):
        image = example[image_key]
        if size is not None:  # per example, so images of any size batch
            image = _resize_uint8(image, size)
        return (image, example[label_key]) if supervised else image

    xs, ys = [], []
    # Batched iteration, not batch_size=-1: that path aborts the process on
    # generator-backed datasets (seen with tfds.testing.mock_data).
    for batch in tfds.as_numpy(ds.map(pick).batch(4096)):
        if supervised:
            xs.append(batch[0])
            ys.append(batch[1])
        else:
            xs.append(batch)
    if not xs:
        raise ValueError(f"tfds dataset {name!r} split {split!r} is empty.")
    labels = np.concatenate(ys).astype(np.int32) if supervised else None
    return np.concatenate(xs).astype(np.uint8), labels


# --- 2-D Gaussian mixtures (VEEGAN / PacGAN benchmarks) ----------------------

@dataclasses.dataclass(frozen=True)
class GaussianMixture:
    """An isotropic Gaussian mixture with equal weights.

    Attributes:
        means: ``[modes, dim]`` array.
        std: per-coordinate standard deviation of every mode.
        name: short name.
    """

    means: np.ndarray
    std: float
    name: str = "mixture"

    @property
    def num_modes(self):
        return len(self.means)

    def sample(self, n, seed=0):
        """Draws ``n`` points and their mode indices.

        Example:
            >>> x, modes = ring_mixture().sample(1000, seed=0)
        """
        rng = np.random.default_rng(seed)
        modes = rng.integers(0, self.num_modes, size=n)
        x = self.means[modes] + self.std * rng.standard_normal((n, self.means.shape[1]))
        return x.astype(np.float32), modes.astype(np.int32)


def ring_mixture(num_modes=8, radius=1.0, std=0.01):
    """8 Gaussians on the unit circle, std 0.01 (VEEGAN / PacGAN 2-D ring).

    Example:
        >>> ring_mixture().means.shape
        (8, 2)
    """
    angles = 2 * np.pi * np.arange(num_modes) / num_modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    return GaussianMixture(means.astype(np.float32), float(std), "ring")


def grid_mixture(side=5, spacing=2.0, std=0.05):
    """25 Gaussians at {-4,-2,0,2,4}^2, std 0.05 (VEEGAN / PacGAN 2-D grid).

    Example:
        >>> grid_mixture().means.shape
        (25, 2)
    """
    coords = spacing * (np.arange(side) - (side - 1) / 2)
    means = np.array([(a, b) for a in coords for b in coords], np.float32)
    return GaussianMixture(means, float(std), "grid")


# --- one entry point ---------------------------------------------------------

def load(name, data_dir=None, num_points=100_000, seed=0, split=None, image_size=None):
    """Loads a dataset by name as numpy ``(samples, labels)``.

    Names:
        ``digits``: scikit-learn's bundled digits at 28x28 (offline).
        ``mnist_idx``: IDX files in ``data_dir`` (see :func:`load_idx_dir`
        for the split).
        ``ring`` / ``grid``: 2-D mixtures with ``num_points`` points; labels
        are the mode indices.
        anything else: a tfds name (``mnist``, ``fashion_mnist``,
        ``cifar10``, ``celeb_a``, ...); see :func:`load_tfds`.

    Args:
        name: dataset name.
        data_dir: folder for ``mnist_idx`` (or tfds data dir).
        num_points: size of synthetic mixtures.
        seed: seed for synthetic data.
        split: ``None`` for the training data (tfds ``"train"``; for
            ``mnist_idx`` the train files, else the test files with a
            warning), or a split name: any tfds split, or ``"train"`` /
            ``"test"`` for ``mnist_idx``. ``digits``, ``ring`` and ``grid``
            have only ``"train"``.
        image_size: resize images to this int or ``(height, width)``.

    Returns:
        ``(samples float32, labels int32 or None)``: images scaled to
        [-1, 1]; labels are ``None`` for unlabelled datasets.

    Example:
        >>> x, y = load("mnist_idx", "../shared/data/mnist", split="test")
        >>> faces, _ = load("celeb_a", split="train", image_size=64)
    """
    size = _image_size(image_size)
    if name in ("ring", "grid", "digits") and split not in (None, "train"):
        raise ValueError(f"Dataset {name!r} has one split, 'train' (or None); got {split!r}.")
    if name in ("ring", "grid"):
        if size is not None:
            raise ValueError(f"image_size applies to image datasets, not 2-D {name!r} points.")
        mixture = ring_mixture() if name == "ring" else grid_mixture()
        return mixture.sample(num_points, seed)
    if name == "digits":
        images, labels = load_digits_images()
    elif name == "mnist_idx":
        if not data_dir:
            raise ValueError("mnist_idx needs data_dir, the folder with the IDX files.")
        images, labels = load_idx_dir(data_dir, split=split)
    else:
        # Resized inside the tfds pipeline: full-size CelebA would not fit in memory.
        images, labels = load_tfds(name, split=split or "train", data_dir=data_dir,
                                   image_size=size)
    if size is not None and tuple(images.shape[1:3]) != size:
        images = np.concatenate([_resize_uint8(images[i:i + 4096], size).numpy()
                                 for i in range(0, len(images), 4096)])
    return scale_images(images), labels


def num_classes_of(labels):
    """Number of classes implied by integer labels (max + 1).

    Example:
        >>> num_classes_of(np.array([0, 9]))
        10
    """
    if labels is None:  # an unlabelled dataset
        return 0
    return int(np.max(labels)) + 1 if len(labels) else 0


def as_dataset(samples, labels=None, batch_size=64, shuffle=True, seed=0,
               drop_remainder=True, repeat=False):
    """Builds a batched ``tf.data.Dataset`` of samples or (samples, labels).

    Args:
        samples: float array ``[N, ...]``.
        labels: optional int array ``[N]``; yields ``(samples, labels)``.
        batch_size: GLOBAL batch size.
        shuffle: shuffle each epoch with ``seed``.
        seed: shuffle seed.
        drop_remainder: keep every batch the same size (needed to split
            evenly across replicas).
        repeat: repeat forever.

    Returns:
        A prefetching ``tf.data.Dataset``.

    Example:
        >>> ds = as_dataset(x, y, batch_size=128)
    """
    n = len(samples)
    if n == 0:
        raise ValueError("as_dataset got no samples.")
    if drop_remainder and n < batch_size:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} samples, so "
                         f"drop_remainder=True would give an empty dataset.")
    items = (samples, labels) if labels is not None else samples
    ds = tf.data.Dataset.from_tensor_slices(items)
    if shuffle:
        ds = ds.shuffle(min(n, 60_000), seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=drop_remainder)
    return ds.prefetch(tf.data.AUTOTUNE)


def training_stream(samples, labels=None, batch_size=64, seed=0, start_step=0, shuffle=True):
    """An endless batch stream whose order is a pure function of (seed, step).

    Epoch ``e`` visits a stateless permutation of the data
    (``index_shuffle`` seeded with ``(seed, e)``), cut into
    ``len(samples) // batch_size`` full batches. Because batch ``s`` depends
    only on ``s``, a run resumed at step ``s`` sees exactly the batches an
    uninterrupted run would have seen, and every worker of a multi-worker
    job builds the same stream. Batches are sharded across workers by DATA,
    so replica ``r`` of ``N`` gets the ``r``-th slice of each global batch
    just as in a single-process ``MirroredStrategy``.

    Args:
        samples: float array ``[N, ...]``.
        labels: optional int array ``[N]``; batches are ``(samples, labels)``.
            A float array ``[N, ...]`` is a paired target per sample
            (image-to-image data): batches are ``(sources, targets)``.
        batch_size: global batch size.
        seed: shuffle seed.
        start_step: first global step to produce (for resuming).
        shuffle: reshuffle every epoch; ``False`` keeps file order.

    Returns:
        ``(dataset, steps_per_epoch)``. Pass ``steps_per_epoch`` to ``fit``.

    Example:
        >>> ds, steps = training_stream(x, y, batch_size=128, seed=0)
        >>> gan.fit(ds, epochs=10, steps_per_epoch=steps)
    """
    n = len(samples)
    steps = n // batch_size
    if n == 0:
        raise ValueError("training_stream got no samples.")
    if steps == 0:
        raise ValueError(f"batch_size={batch_size} is larger than the {n} samples.")
    per_epoch = steps * batch_size
    x = tf.constant(samples)
    # Float "labels" are a second image per sample (paired image-to-image data).
    y = None if labels is None else tf.constant(
        np.asarray(labels, np.float32) if np.issubdtype(np.asarray(labels).dtype, np.floating)
        else np.asarray(labels, np.int32))

    def gather(i):
        # per_epoch is a multiple of batch_size, so a batch never straddles epochs.
        epoch, pos = i[0] // per_epoch, i % per_epoch
        if shuffle:
            pos = tf.random.experimental.index_shuffle(
                pos, seed=tf.stack([tf.constant(seed, tf.int64), epoch]),
                max_index=tf.constant(n - 1, tf.int64))
        xb = tf.gather(x, pos)
        return xb if y is None else (xb, tf.gather(y, pos))

    ds = tf.data.Dataset.counter(start_step * batch_size).batch(batch_size, drop_remainder=True).map(gather)
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.DATA
    options.deterministic = True
    ds = ds.with_options(options).prefetch(tf.data.AUTOTUNE)
    return ds, steps
