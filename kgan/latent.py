"""Latent-space tools: interpolation, attribute vectors, and inverting images to z.

* :func:`lerp` / :func:`slerp` and :func:`interpolate` between latents;
  :func:`interpolation_grid` renders interpolations as one image grid;
* :func:`attribute_vector` (difference of class means) and
  :func:`vector_arithmetic` (``a - b + c`` on group means), as in Radford
  et al. 2016, section 6.3;
* :func:`invert`: find ``z`` with ``G(z) ~ x`` by batched Adam on ``z``
  (optionally started from an encoder's guess), returning ``z`` and the
  reconstruction error. :mod:`kgan.anomaly` builds AnoGAN on it.

Example:
    >>> zs = kgan.latent.interpolate(z0, z1, steps=8)            # slerp
    >>> grid = kgan.latent.interpolation_grid(gan, starts, ends, 8, path="interp.png")
    >>> z, err = kgan.latent.invert(gan, images, steps=300)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras

from kgan import images as images_lib

METHODS = ("linear", "slerp")


def _pair(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape or a.ndim not in (1, 2):
        raise ValueError(f"a and b must be latents of the same shape [d] or [n, d], got "
                         f"{a.shape} and {b.shape}.")
    return a, b


def _ts(t):
    t = np.asarray(t, np.float64)
    return t.reshape(-1), t.ndim == 0


def lerp(a, b, t):
    """Linear interpolation ``(1 - t) a + t b``.

    Args:
        a, b: latents ``[d]`` or ``[n, d]``.
        t: a scalar or a 1-D array of positions.

    Returns:
        float32 ``a.shape`` for a scalar ``t``, else ``[len(t)] + a.shape``.

    Example:
        >>> lerp([0, 0], [2, 4], 0.5)
        array([1., 2.], dtype=float32)
    """
    a, b = _pair(a, b)
    ts, scalar = _ts(t)
    out = np.stack([(1 - s) * a + s * b for s in ts]).astype(np.float32)
    return out[0] if scalar else out


def slerp(a, b, t, eps=1e-7):
    """Spherical linear interpolation (Shoemake 1985), for Gaussian latents (White 2016).

    ``sin((1-t) w) / sin w * a + sin(t w) / sin w * b`` with ``w`` the angle
    between ``a`` and ``b``: the path follows the great circle and, for equal
    norms, keeps the norm (linear paths pass near the origin, where a
    Gaussian latent almost never lies). Parallel or anti-parallel pairs
    (``sin w < eps``), where the great circle is undefined, fall back to
    :func:`lerp`, as do pairs with a zero vector.

    Args:
        a, b: latents ``[d]`` or ``[n, d]`` (pairs row by row).
        t: a scalar or a 1-D array of positions in [0, 1].
        eps: the ``sin w`` below which a pair counts as parallel.

    Returns:
        float32 ``a.shape`` for a scalar ``t``, else ``[len(t)] + a.shape``.

    Example:
        >>> slerp([1, 0], [0, 1], 0.5)      # [0.7071, 0.7071]
    """
    a, b = _pair(a, b)
    ts, scalar = _ts(t)
    a2, b2 = np.atleast_2d(a), np.atleast_2d(b)
    na, nb = np.linalg.norm(a2, axis=-1), np.linalg.norm(b2, axis=-1)
    safe = (na > 0) & (nb > 0)
    cos = np.where(safe, (a2 * b2).sum(-1) / np.where(safe, na * nb, 1.0), 1.0)
    omega = np.arccos(np.clip(cos, -1.0, 1.0))
    sin = np.sin(omega)
    spherical = safe & (sin >= eps)
    outs = []
    for s in ts:
        denom = np.where(spherical, sin, 1.0)[:, None]
        wa = np.where(spherical[:, None], np.sin((1 - s) * omega)[:, None] / denom, 1 - s)
        wb = np.where(spherical[:, None], np.sin(s * omega)[:, None] / denom, s)
        outs.append((wa * a2 + wb * b2).reshape(a.shape))
    out = np.stack(outs).astype(np.float32)
    return out[0] if scalar else out


def interpolate(a, b, steps=8, method="slerp"):
    """``steps`` latents from ``a`` to ``b`` inclusive.

    Returns:
        float32 ``[steps] + a.shape``.

    Example:
        >>> interpolate(z0, z1, steps=5, method="linear").shape
        (5, 100)
    """
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    if int(steps) < 2:
        raise ValueError(f"steps must be >= 2 (both ends included), got {steps}.")
    t = np.linspace(0.0, 1.0, int(steps))
    return (slerp if method == "slerp" else lerp)(a, b, t)


def interpolation_grid(model, starts, ends, steps=8, method="slerp", path=None, scale=1):
    """One image grid: row ``i`` interpolates from ``starts[i]`` to ``ends[i]``.

    Args:
        model: a :class:`kgan.GAN` (any model with ``generate(z=...)``).
        starts, ends: latents ``[rows, latent_dim]``.
        steps: images per row.
        method: ``"slerp"`` or ``"linear"``.
        path: write the grid as PNG here (``kgan.images.save_grid``).
        scale: PNG upscaling.

    Returns:
        uint8 grid ``[H', W', C]`` (``kgan.images.make_grid``).

    Example:
        >>> z = np.random.default_rng(0).normal(size=(4, gan.latent_dim))
        >>> interpolation_grid(gan, z[:2], z[2:], steps=8, path="interp.png")
    """
    starts, ends = _pair(starts, ends)
    starts, ends = np.atleast_2d(starts), np.atleast_2d(ends)
    path_z = interpolate(starts, ends, steps, method)          # [steps, rows, d]
    z = np.transpose(path_z, (1, 0, 2)).reshape(-1, starts.shape[1])
    samples = model.generate(z=z)
    if samples.ndim != 4:
        raise ValueError(f"interpolation_grid draws images; the model makes samples of shape "
                         f"{samples.shape[1:]}.")
    if path:
        images_lib.save_grid(samples, path, cols=int(steps), scale=scale)
    return images_lib.make_grid(samples, cols=int(steps))


def attribute_vector(z, labels, positive, negative=None):
    """The mean latent of ``positive`` samples minus that of ``negative`` ones.

    Adding it to a latent moves its sample toward the attribute (Radford et
    al. 2016's "smiling woman - neutral woman").

    Args:
        z: latents ``[n, d]``.
        labels: ``[n]`` labels (ints, bools or strings) of the samples.
        positive: the label (or list of labels) with the attribute.
        negative: the label(s) without it; default every other label.

    Returns:
        float32 ``[d]``.

    Example:
        >>> v = attribute_vector(z, smiling, positive=True)
        >>> smiles = gan.generate(z=z_neutral + v)
    """
    z = np.asarray(z, np.float64)
    labels = np.asarray(labels)
    if z.ndim != 2 or labels.shape != (len(z),):
        raise ValueError(f"expected z [n, d] and labels [n], got {z.shape} and {labels.shape}.")
    pos = np.isin(labels, np.atleast_1d(positive))
    neg = ~pos if negative is None else np.isin(labels, np.atleast_1d(negative))
    if not pos.any() or not neg.any():
        raise ValueError(f"attribute_vector needs samples on both sides: {pos.sum()} with "
                         f"label(s) {positive!r}, {neg.sum()} without.")
    return (z[pos].mean(0) - z[neg].mean(0)).astype(np.float32)


def vector_arithmetic(a, b, c):
    """``mean(a) - mean(b) + mean(c)`` over groups of latents (Radford et al. 2016, fig. 7).

    Each group is ``[n, d]`` (averaging a few latents per concept makes the
    result stable) or one ``[d]`` latent.

    Example:
        >>> z = vector_arithmetic(z_smiling_women, z_neutral_women, z_neutral_men)
    """
    means = [np.atleast_2d(np.asarray(g, np.float64)).mean(0) for g in (a, b, c)]
    if len({m.shape for m in means}) != 1:
        raise ValueError(f"groups must have the same latent width, got {[m.shape for m in means]}.")
    return (means[0] - means[1] + means[2]).astype(np.float32)


def sampled_generator(model, raw=False):
    """The network behind ``model.generate``: the EMA generator when there is one.

    Inversion, AnoGAN and f-AnoGAN must search the generator that the model
    samples and exports; searching the raw one would return latents whose
    ``model.generate(z=...)`` is not the reconstruction that was scored.

    Args:
        model: a :class:`kgan.GAN` or a generator network ``z -> x``.
        raw: the trained weights even when the model keeps an EMA copy.

    Returns:
        a Keras model ``z -> x``.

    Example:
        >>> g = sampled_generator(gan)   # gan.ema_generator when ema_decay > 0
    """
    if getattr(model, "num_classes", None):
        raise ValueError("Latent search works on unconditional generators (z -> x).")
    own = getattr(model, "sampling_network", None)
    return own(raw) if own is not None else model  # a bare network z -> x


def invert(model, images, z0=None, encoder=None, steps=500, learning_rate=0.05, batch_size=256,
           seed=0, loss="l2", raw=False):
    """Finds latents ``z`` whose generated samples reconstruct ``images``.

    Minimises the per-image reconstruction error over ``z`` with Adam, all
    images of a batch at once (each image's error depends only on its own
    ``z``, so the batch does not couple them); G's weights are not touched
    and G runs in inference mode.

    Args:
        model: a :class:`kgan.GAN` or a generator network ``z -> x``.
        images: ``[n] + data_shape`` in the data's range.
        z0: starting latents ``[n, latent_dim]``; default ``encoder(images)``
            when an ``encoder`` is given, else standard-normal draws from
            ``seed``.
        encoder: a network ``x -> z`` for the starting point (f-AnoGAN's E).
        steps: Adam steps (0 returns the start).
        learning_rate: Adam's learning rate.
        batch_size: images optimised together.
        seed: seed of the random start.
        loss: ``"l2"`` (mean squared error) or ``"l1"`` (mean absolute error).
        raw: search the trained generator instead of the EMA one that
            ``model.generate`` samples (:func:`sampled_generator`).

    Returns:
        ``(z float32 [n, latent_dim], errors float32 [n])``: the final
        latents and each image's reconstruction error (the chosen loss,
        averaged over its values).

    Example:
        >>> z, err = invert(gan, images, steps=300)
        >>> recon = gan.generate(z=z)
    """
    if loss not in ("l1", "l2"):
        raise ValueError(f"loss must be 'l1' or 'l2', got {loss!r}.")
    if int(steps) < 0 or int(batch_size) < 1:
        raise ValueError(f"steps must be >= 0 and batch_size >= 1, got {steps}, {batch_size}.")
    g = sampled_generator(model, raw)
    latent_dim = int(g.inputs[0].shape[-1])
    data_shape = tuple(int(d) for d in g.outputs[0].shape[1:])
    x = np.asarray(images, np.float32)
    if x.shape[1:] != data_shape:
        raise ValueError(f"images: expected shape (n,) + {data_shape}, got {x.shape}.")
    if z0 is None:
        z0 = (np.asarray(encoder.predict(x, batch_size=batch_size, verbose=0), np.float32)
              if encoder is not None
              else np.random.default_rng(seed).standard_normal((len(x), latent_dim)))
    z0 = np.asarray(z0, np.float32)
    if z0.shape != (len(x), latent_dim):
        raise ValueError(f"z0: expected shape ({len(x)}, {latent_dim}), got {z0.shape}.")
    def errors(gz, xb):
        diff = gz - xb
        per = tf.abs(diff) if loss == "l1" else tf.square(diff)
        return tf.reduce_mean(tf.reshape(per, [tf.shape(per)[0], -1]), -1)

    return optimise_latents(g, x, z0, errors, steps, learning_rate, batch_size)


def optimise_latents(generator, x, z0, objective, steps, learning_rate, batch_size=256):
    """Adam on ``z`` minimising ``sum_i objective(G(z), x)[i]``, batch by batch.

    The engine of :func:`invert` and of AnoGAN (:class:`kgan.anomaly.AnoGAN`):
    ``objective(generated, x) -> [n]`` per-image values (float32 tensors);
    the whole optimisation of a batch runs in one graph call.

    Returns:
        ``(z [n, latent_dim], final objective values [n])``, numpy float32.

    Example:
        >>> z, err = optimise_latents(g, x, z0, lambda gz, x: tf.reduce_mean((gz - x) ** 2, [1, 2, 3]),
        ...                           steps=100, learning_rate=0.05)
    """
    @tf.function(reduce_retracing=True)
    def run(z, xb, opt, n):
        for _ in tf.range(n):
            with tf.GradientTape() as tape:
                # A sum of per-image values: each z gets only its own image's gradient.
                total = tf.reduce_sum(objective(tf.cast(generator(z, training=False),
                                                        tf.float32), xb))
            opt.apply([tape.gradient(total, z)], [z])
        return objective(tf.cast(generator(z, training=False), tf.float32), xb)

    zs, values = [], []
    size = max(1, min(int(batch_size), len(x)))
    # One variable, one optimizer, one trace: the last batch is padded by
    # repeating its rows (the copies are optimised independently and dropped).
    z = tf.Variable(np.zeros((size, z0.shape[-1]), np.float32))
    opt = keras.optimizers.Adam(learning_rate)
    opt.build([z])
    fresh = [v.numpy() for v in opt.variables]  # moments, step count, learning rate
    for i in range(0, len(x), size):
        m = min(size, len(x) - i)
        pad = np.arange(size) % m
        z.assign(z0[i:i + m][pad])
        for v, value in zip(opt.variables, fresh):
            v.assign(value)
        vals = run(z, tf.constant(np.asarray(x[i:i + m])[pad]), opt, tf.constant(int(steps)))
        values.append(vals.numpy()[:m])
        zs.append(z.numpy()[:m])
    if not zs:
        return (np.zeros((0, z0.shape[-1]), np.float32), np.zeros((0,), np.float32))
    return np.concatenate(zs), np.concatenate(values).astype(np.float32)
