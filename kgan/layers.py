"""Layers for discriminators: minibatch standard deviation and packing.

Both are mode-collapse remedies that let D look at more than one sample at
a time. They are ordinary serializable Keras layers, usable in any network.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops


def _static_dim(x, axis=0):
    d = x.shape[axis]
    return None if d is None else int(d)


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as one extra feature.

    Splits the batch into groups of ``group_size`` CONSECUTIVE samples,
    takes each feature's standard deviation over the group, averages it over
    all features (and positions), and appends that scalar to every sample of
    the group as a constant extra channel. A collapsed generator produces
    batches with a low statistic, which D can then see.

    Karras et al., "Progressive Growing of GANs for Improved Quality,
    Stability, and Variation", ICLR 2018, section 3.

    Groups are consecutive rows (StyleGAN's code strides them instead) so that
    when the per-replica batch is a multiple of the group size, N replicas
    form exactly the groups one device forms. The batch must be a multiple
    of ``min(group_size, batch)``.

    Args:
        group_size: samples per group (4 in the paper).
        epsilon: added to the variance before the square root.

    Input: ``[batch, features]`` or ``[batch, H, W, C]``.
    Output: the same with one more feature / channel.

    Example:
        >>> MinibatchStdDev(2)(ops.convert_to_tensor([[0.0], [2.0]]))
        # [[0, 1], [2, 1]]: the std of {0, 2} is 1
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if int(group_size) < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}.")
        self.group_size = int(group_size)
        self.epsilon = float(epsilon)

    def call(self, x):
        batch = _static_dim(x)
        dyn_batch = ops.shape(x)[0]
        if batch is not None:
            g = min(self.group_size, batch)
            if batch % g:
                raise ValueError(
                    f"MinibatchStdDev: a batch of {batch} does not split into groups of {g}; "
                    f"use a batch size divisible by {self.group_size}.")
        else:
            g = ops.minimum(self.group_size, dyn_batch)
            check = tf.debugging.assert_equal(
                dyn_batch % g, 0,
                message=f"kgan: MinibatchStdDev needs a batch divisible by its group size "
                        f"{self.group_size}")
            with tf.control_dependencies([check]):
                x = tf.identity(x)
        rest = tuple(x.shape[1:])
        y = ops.reshape(ops.cast(x, "float32"), (-1, g) + rest)   # [groups, g, ...]
        var = ops.mean(ops.square(y - ops.mean(y, axis=1, keepdims=True)), axis=1)
        std = ops.sqrt(var + self.epsilon)                          # [groups, ...]
        stat = ops.mean(ops.reshape(std, (ops.shape(std)[0], -1)), axis=-1)  # [groups]
        stat = ops.repeat(stat, g, axis=0)                          # one per sample
        stat = ops.reshape(stat, (-1,) + (1,) * len(rest))
        extra = ops.broadcast_to(ops.cast(stat, x.dtype),
                                 (dyn_batch,) + rest[:-1] + (1,))
        return ops.concatenate([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        last = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if last is None else last + 1,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


def packed_shape(sample_shape, packing):
    """Shape of one packed D input: ``m`` samples joined on the last axis.

    Example:
        >>> packed_shape((2,), 4), packed_shape((28, 28, 1), 2)
        ((8,), (28, 28, 2))
    """
    sample_shape = tuple(int(d) for d in sample_shape)
    return sample_shape[:-1] + (sample_shape[-1] * int(packing),)


def pack(x, packing):
    """Joins each run of ``m`` consecutive samples into one D input.

    ``[B, ..., C] -> [B/m, ..., m*C]``: samples ``m*i .. m*i+m-1`` become
    input ``i``, concatenated on the last axis (vectors end to end, images
    channel-wise) as in PacGAN.

    Lin et al., "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS 2018.

    Args:
        x: ``[batch, ...]`` with ``batch`` divisible by ``packing``.
        packing: ``m``.

    Returns:
        ``[batch / m, ..., m * C]``.

    Raises:
        ValueError: when the (static) batch is not divisible by ``m``.

    Example:
        >>> pack(ops.reshape(ops.arange(8.0), (4, 2)), 2)
        # [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    m = int(packing)
    if m == 1:
        return x
    batch = _static_dim(x)
    if batch is not None and batch % m:
        raise ValueError(f"Packing m={m} samples per D input needs a batch divisible by {m}, "
                         f"got a batch of {batch}.")
    rest = tuple(int(d) for d in x.shape[1:])
    y = ops.reshape(x, (-1, m) + rest)                      # [B/m, m, ..., C]
    perm = (0,) + tuple(range(2, len(rest) + 1)) + (1, len(rest) + 1)
    y = ops.transpose(y, perm)                              # [B/m, ..., m, C]
    return ops.reshape(y, (-1,) + rest[:-1] + (m * rest[-1],))


def unpack(x, packing):
    """Inverse of :func:`pack`: ``[B/m, ..., m*C] -> [B, ..., C]``.

    Example:
        >>> unpack(pack(x, 2), 2)  # == x
    """
    m = int(packing)
    if m == 1:
        return x
    rest = tuple(int(d) for d in x.shape[1:])
    c = rest[-1] // m
    y = ops.reshape(x, (-1,) + rest[:-1] + (m, c))          # [B/m, ..., m, C]
    perm = (0, len(rest)) + tuple(range(1, len(rest))) + (len(rest) + 1,)
    y = ops.transpose(y, perm)                              # [B/m, m, ..., C]
    return ops.reshape(y, (-1,) + rest[:-1] + (c,))


@keras.saving.register_keras_serializable(package="kgan")
class Packing(keras.layers.Layer):
    """Layer form of :func:`pack` (PacGAN, Lin et al. 2018).

    Put it in front of a discriminator built for :func:`packed_shape` inputs
    to let it judge ``m`` samples at once. ``kgan.GAN(packing=m)`` does this
    itself and scales the loss per packed input.

    Args:
        packing: ``m``, samples per D input.

    Example:
        >>> Packing(2)(ops.zeros((8, 28, 28, 1))).shape
        (4, 28, 28, 2)
    """

    def __init__(self, packing=2, **kwargs):
        super().__init__(**kwargs)
        if int(packing) < 1:
            raise ValueError(f"packing must be >= 1, got {packing}.")
        self.packing = int(packing)

    def call(self, x):
        return pack(x, self.packing)

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        b = None if b is None else b // self.packing
        return (b,) + packed_shape(input_shape[1:], self.packing)

    def get_config(self):
        return {**super().get_config(), "packing": self.packing}


__all__ = ["MinibatchStdDev", "Packing", "pack", "unpack", "packed_shape"]
