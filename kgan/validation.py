"""Checks on training data, run before ``fit`` starts a single step.

Each error names what the model expected and what it was given, so a wrong
shape, dtype, label range or an empty dataset fails in seconds with a message
instead of deep inside a traced train step.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf


class DataError(ValueError):
    """Training data that does not fit the model."""


def _is_float(dtype):
    return tf.as_dtype(dtype).is_floating


def _is_int(dtype):
    return tf.as_dtype(dtype).is_integer


def _check_sample_spec(shape, dtype, data_shape, where):
    got = tuple(shape[1:]) if shape.rank is not None else None
    if got is None or list(got) != list(data_shape):
        raise DataError(
            f"{where}: expected samples of shape (batch,) + {tuple(data_shape)} to match "
            f"the generator's output, got {tuple(shape) if shape.rank is not None else 'unknown rank'}.")
    if not _is_float(dtype):
        raise DataError(
            f"{where}: expected floating-point samples scaled like the generator's output "
            f"(images in [-1, 1]), got dtype {tf.as_dtype(dtype).name}. "
            f"kgan.data.scale_images converts uint8 images.")


def _check_label_spec(spec, where):
    if not _is_int(spec.dtype):
        raise DataError(f"{where}: expected integer class labels, got dtype {spec.dtype.name}.")
    if spec.shape.rank not in (None, 1):
        raise DataError(f"{where}: expected labels of shape (batch,), got {tuple(spec.shape)}.")


def check_labels_in_range(labels, num_classes, where="labels"):
    """Raises :class:`DataError` unless all labels are in ``[0, num_classes)``.

    Args:
        labels: array-like of integer labels.
        num_classes: number of classes the model was built for.
        where: name used in the message.

    Example:
        >>> check_labels_in_range([0, 3], num_classes=10)
    """
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    if not np.issubdtype(labels.dtype, np.integer):
        raise DataError(f"{where}: expected integer class labels, got dtype {labels.dtype}.")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
        raise DataError(f"{where}: expected labels in [0, {num_classes}), got values in "
                        f"[{lo}, {hi}].")


def check_training_data(x, y, *, data_shape, num_classes, num_replicas=1):
    """Validates what is passed to ``GAN.fit`` before training starts.

    Args:
        x: numpy array of samples, or a ``tf.data.Dataset`` of batches that
            yields samples or ``(samples, labels)``.
        y: labels for array input (``None`` for datasets).
        data_shape: shape of one sample the generator produces.
        num_classes: classes of a conditional model, else ``None``.
        num_replicas: replicas in sync; batches must split evenly.

    Raises:
        DataError: naming what was expected and what came.

    Example:
        >>> check_training_data(np.zeros((8, 2), "float32"), None,
        ...                     data_shape=(2,), num_classes=None)
    """
    if isinstance(x, tf.data.Dataset):
        _check_dataset(x, y, data_shape, num_classes, num_replicas)
        return
    if x is None:
        raise DataError("fit() expected training data `x`, got None.")
    if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
        x, y = x
    x = np.asarray(x) if not tf.is_tensor(x) else x
    if len(x.shape) == 0 or x.shape[0] == 0:
        raise DataError(f"fit() got an empty dataset: x has shape {tuple(x.shape)}.")
    _check_sample_spec(tf.TensorShape(x.shape), x.dtype, data_shape, "x")
    xs = np.asarray(x)
    if not np.isfinite(xs).all():
        raise DataError(f"x: expected finite values, got {int((~np.isfinite(xs)).sum())} NaN/Inf entries.")
    if len(data_shape) == 3 and (xs.min() < -1.0 - 1e-3 or xs.max() > 1.0 + 1e-3):
        raise DataError(f"x: expected images scaled to [-1, 1] like the generator's tanh output, "
                        f"got values in [{xs.min():.3g}, {xs.max():.3g}]. "
                        f"kgan.data.scale_images rescales uint8 images.")
    if num_classes:
        if y is None:
            raise DataError(f"This model is conditional on {num_classes} classes: fit() expected "
                            f"labels `y` (or (images, labels) batches), got none.")
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise DataError(f"y: expected labels of shape ({x.shape[0]},) to match x, got {y.shape}.")
        check_labels_in_range(y, num_classes, "y")


def _check_dataset(ds, y, data_shape, num_classes, num_replicas):
    if y is not None:
        raise DataError("When x is a tf.data.Dataset, labels come from the dataset "
                        "((images, labels) batches); got a separate `y` too.")
    spec = ds.element_spec
    if isinstance(spec, dict):
        raise DataError("expected a dataset of samples or (samples, labels) tuples, got a "
                        f"dict with keys {sorted(spec)}.")
    if isinstance(spec, (tuple, list)):
        if len(spec) not in (1, 2, 3):
            raise DataError(f"expected (samples,) or (samples, labels) batches, got a tuple of "
                            f"{len(spec)} elements.")
        sample_spec = spec[0]
        label_spec = spec[1] if len(spec) > 1 else None
    else:
        sample_spec, label_spec = spec, None
    if not isinstance(sample_spec, tf.TensorSpec):
        raise DataError(f"expected dense sample tensors, got {sample_spec}.")
    if sample_spec.shape.rank is not None and sample_spec.shape.rank == len(data_shape):
        raise DataError(f"dataset: expected BATCHED samples of shape (batch,) + {tuple(data_shape)}, "
                        f"got unbatched elements of shape {tuple(sample_spec.shape)}; "
                        f"call dataset.batch(batch_size).")
    _check_sample_spec(sample_spec.shape, sample_spec.dtype, data_shape, "dataset")
    if num_classes:
        if label_spec is None:
            raise DataError(f"This model is conditional on {num_classes} classes: expected "
                            f"(images, labels) batches, got samples only.")
        _check_label_spec(label_spec, "dataset labels")
    batch = sample_spec.shape[0]
    if num_replicas > 1 and batch is not None and batch % num_replicas:
        raise DataError(f"A global batch of {batch} does not split evenly across {num_replicas} "
                        f"replicas; use a batch size divisible by {num_replicas}.")
    card = int(ds.cardinality())
    if card == 0:
        raise DataError("fit() got an empty dataset (cardinality 0).")
    if card == tf.data.UNKNOWN_CARDINALITY:
        for _ in ds.take(1):
            break
        else:
            raise DataError("fit() got an empty dataset: it yielded no batch.")
