"""Checked, batched sampling from a generator: what ``GAN.generate`` runs."""

from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import noise as noise_lib


def available_memory():
    """Bytes of memory available now (physical pages free), or ``None`` if unknown."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_count(n, sample_shape, what="num_samples"):
    """``n`` as an int >= 1 whose float32 output fits in memory, or a clear error."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        if not (isinstance(n, (float, np.floating)) and float(n).is_integer()):
            raise ValueError(f"{what} must be a positive integer, got {n!r}.")
    n = int(n)
    if n <= 0:
        raise ValueError(f"{what} must be a positive integer, got {n}.")
    need = n * int(np.prod(sample_shape)) * 4
    free = available_memory()
    if free is not None and need > free:
        raise MemoryError(f"{what}={n} asks for {need / 2**30:.1f} GiB of float32 samples "
                          f"{tuple(sample_shape)}, more than the {free / 2**30:.1f} GiB available; "
                          f"generate fewer at a time.")
    return n


def generate(model, network, num_samples=None, z=None, labels=None, seed=None, batch_size=256):
    """Samples from ``network`` (``model.generator`` or its EMA) batch by batch.

    Latents are drawn per batch too, so memory grows with the output only.
    See :meth:`kgan.GAN.generate` for the arguments.
    """
    if batch_size is None or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}.")
    batch_size = int(batch_size)
    if z is not None:
        if seed is not None:
            raise ValueError("Pass either z or seed, not both.")
        z = np.asarray(z, "float32")
        if z.ndim != 2 or z.shape[1] != model.latent_dim:
            raise ValueError(f"z: expected shape (batch, {model.latent_dim}), got {z.shape}.")
        if num_samples is not None and int(num_samples) != z.shape[0]:
            raise ValueError(f"num_samples={num_samples} but z has {z.shape[0]} rows.")
        num_samples = z.shape[0]
    elif num_samples is None:
        raise ValueError("generate() needs num_samples or z.")
    n = check_count(num_samples, model.data_shape)
    conditions = model.conditions_for(labels, n)
    out = np.empty((n,) + tuple(model.data_shape), "float32")
    for i in range(0, n, batch_size):
        m = min(batch_size, n - i)
        if z is not None:
            zi = z[i:i + m]
        elif seed is not None:
            zi = noise_lib.model_latents(model, np.arange(seed + i, seed + i + m, dtype=np.int64))
        else:
            zi = keras.random.normal((m, model.latent_dim), seed=model.seed_generator)
        li = None if conditions is None else conditions[i:i + m]
        out[i:i + m] = ops.convert_to_numpy(_run(network, model.g_inputs(zi, li)))
    return out


@tf.function(reduce_retracing=True)
def _run(network, inputs):
    return tf.cast(network(inputs, training=False), tf.float32)
