"""Discriminator rejection sampling (DRS): keep the generator's samples that D finds real.

Azadi et al., "Discriminator Rejection Sampling", ICLR 2019. If D were the
optimal discriminator of the trained G, ``exp(logit(x))`` would be
``p_data(x) / p_g(x)`` and accepting ``x`` with probability proportional to
it would turn G's distribution into the data's. At the end of a GAN run D is
not that (with R1 and decayed learning rates its logits are nearly flat), so
DRS first trains a copy of D further with G fixed (:func:`calibrate_discriminator`),
then accepts with the paper's shifted, bounded probability (:func:`acceptance`).

What it fixes: a generator maps a connected latent space onto the data, so
between separated modes it leaves a trail of samples; DRS drops them. What it
costs: about half of the draws are rejected at the paper's setting, and it
applies to unconditional models whose D scores one sample at a time.

    d = calibrate_discriminator(gan, held_out_points, steps=3000)
    result = rejection_sample(gan, 2500, d, seed=0)
    result.samples, result.acceptance_rate
"""

from __future__ import annotations

import dataclasses

import numpy as np


@dataclasses.dataclass
class RejectionResult:
    """What :func:`rejection_sample` returns."""

    samples: np.ndarray      # [num_samples, ...] accepted samples, in draw order
    acceptance_rate: float   # accepted / drawn after the burn-in
    draws: int               # candidates drawn after the burn-in


def _check_model(model):
    if getattr(model, "num_classes", None):
        raise ValueError("Discriminator rejection sampling here is for unconditional models; "
                         f"this one is conditional ({model.num_classes} classes).")
    if getattr(model, "packing", 1) > 1:
        raise ValueError(f"D scores packs of {model.packing} samples (PacGAN), not one sample; "
                         "rejection sampling needs a per-sample score.")
    if len(model.discriminator.outputs) != 1:
        raise ValueError("Rejection sampling needs a discriminator with one real/fake output; "
                         f"this one has {len(model.discriminator.outputs)}.")


def _logits(discriminator, x, batch_size=4096):
    return np.concatenate([np.asarray(discriminator(x[i:i + batch_size], training=False),
                                      np.float64).reshape(-1)
                           for i in range(0, len(x), batch_size)])


def calibrate_discriminator(model, real, steps=3000, batch_size=256, learning_rate=1e-3,
                            seed=0, use_ema=True):
    """A copy of ``model.discriminator`` trained further with G fixed (DRS, Sec. 3.2).

    The copy learns real vs fake with the logistic loss, Adam with the rate
    decayed to 0 by a cosine schedule; the model itself is not changed.

    Args:
        model: a trained unconditional :class:`kgan.GAN`.
        real: real samples ``[n, ...]`` (``model.data_shape``, the data's
            range); best held out from G's training data.
        steps: updates of the copy.
        batch_size: real and fake samples per update, each.
        learning_rate: Adam's starting rate (beta_1 0.5).
        seed: seed of the batches and latents.
        use_ema: calibrate against the EMA generator when the model has one
            (the one that is sampled).

    Returns:
        the calibrated discriminator (a ``keras.Model``).

    Example:
        >>> d = calibrate_discriminator(gan, kgan.data.load("ring", num_points=20000, seed=7)[0])
    """
    import keras
    import tensorflow as tf

    _check_model(model)
    real = np.asarray(real)
    want = tuple(model.data_shape)
    if real.ndim < 1 or real.shape[1:] != want or len(real) == 0:
        raise ValueError(f"real must be a non-empty array [n, {', '.join(map(str, want))}] "
                         f"(the model's data shape); got shape {real.shape}.")
    if not np.issubdtype(real.dtype, np.floating):
        raise ValueError(f"real must hold floats in the data's range; got dtype {real.dtype}.")
    if not np.all(np.isfinite(real)):
        raise ValueError("real holds NaN or inf values; expected finite floats in the data's range.")
    if int(steps) < 1 or int(batch_size) < 1:
        raise ValueError(f"steps and batch_size must be positive; got {steps}, {batch_size}.")
    generator = model.sampling_network(raw=not use_ema)
    d = keras.models.clone_model(model.discriminator)
    d.set_weights(model.discriminator.get_weights())
    opt = keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(learning_rate, int(steps)),
                                beta_1=0.5)
    bce = keras.losses.BinaryCrossentropy(from_logits=True)

    @tf.function
    def update(x, z):
        fake = generator(z, training=False)
        with tf.GradientTape() as tape:
            lr, lf = d(x, training=True), d(fake, training=True)
            loss = bce(tf.ones_like(lr), lr) + bce(tf.zeros_like(lf), lf)
        opt.apply_gradients(zip(tape.gradient(loss, d.trainable_variables),
                                d.trainable_variables))

    rng = np.random.default_rng(seed)
    real = real.astype(np.float32)
    for _ in range(int(steps)):
        update(real[rng.integers(0, len(real), int(batch_size))],
               rng.standard_normal((int(batch_size), model.latent_dim)).astype(np.float32))
    return d


def acceptance(logits, max_logit, gamma=0.0, eps=1e-6):
    """DRS acceptance probability of samples with these D logits (Azadi et al. 2019, eq. 8).

    ``F = D - D_M - log(1 - exp(D - D_M - eps)) - gamma`` and ``p = sigmoid(F)``,
    where ``D_M`` is the largest logit seen: the sample D likes best is
    accepted almost surely, one ``log 2`` below it with ``sigmoid(-gamma)``.

    Args:
        logits: D's logits (array).
        max_logit: ``D_M``, at least every logit.
        gamma: the shift (larger: fewer accepted).
        eps: keeps the log finite at ``D = D_M``.

    Returns:
        float64 array of probabilities in [0, 1].

    Example:
        >>> acceptance(np.array([0.0]), np.log(2.0))   # array([0.5]) (to 1e-6)
    """
    return 1.0 / (1.0 + np.exp(-(_scores(logits, max_logit, eps) - gamma)))


def _scores(logits, max_logit, eps=1e-6):
    delta = np.minimum(np.asarray(logits, np.float64) - float(max_logit), 0.0)
    return delta - np.log1p(-np.exp(delta - eps))


def rejection_sample(model, num_samples, discriminator, percentile=95.0, burn_in=10_000,
                     seed=0, batch_size=1000, max_draws=None, use_ema=True):
    """``num_samples`` samples of the model kept by discriminator rejection sampling.

    A burn-in of ``burn_in`` draws (latent seeds ``seed ...``) sets ``D_M`` (the
    largest logit) and ``gamma`` (this percentile of their scores ``F``, the
    paper's choice: 95); then candidates are drawn ``batch_size`` at a time
    (latent seeds following the burn-in's), ``D_M`` grows with each batch's
    largest logit, and each candidate is accepted with :func:`acceptance`.
    The same arguments give the same samples.

    Args:
        model: a trained unconditional :class:`kgan.GAN`.
        num_samples: how many to keep (positive int).
        discriminator: the scorer, usually :func:`calibrate_discriminator`'s.
        percentile: sets ``gamma``, in [0, 100]; higher keeps fewer.
        burn_in: draws that set ``D_M`` and ``gamma`` (not returned).
        seed: first latent seed, and the seed of the accept/reject draws.
        batch_size: candidates per round.
        max_draws: give up (``RuntimeError``) after this many candidates
            (default: 100 per sample asked for).
        use_ema: sample the EMA generator when the model has one.

    Returns:
        :class:`RejectionResult`.

    Example:
        >>> r = rejection_sample(gan, 2500, d, seed=10_000); r.acceptance_rate
    """
    _check_model(model)
    if isinstance(num_samples, bool) or not isinstance(num_samples, (int, np.integer)) \
            or num_samples < 1:
        raise ValueError(f"num_samples must be a positive int; got {num_samples!r}.")
    if not 0.0 <= float(percentile) <= 100.0:
        raise ValueError(f"percentile must be in [0, 100]; got {percentile}.")
    if int(burn_in) < 1 or int(batch_size) < 1:
        raise ValueError(f"burn_in and batch_size must be positive; got {burn_in}, {batch_size}.")
    max_draws = int(max_draws or 100 * num_samples)
    raw = not use_ema

    burn = model.generate(int(burn_in), seed=seed, batch_size=batch_size, raw=raw)
    logits = _logits(discriminator, burn)
    max_logit = logits.max()
    gamma = np.percentile(_scores(logits, max_logit), percentile)
    rng = np.random.default_rng(seed)
    kept, n_kept, draws = [], 0, 0
    while n_kept < num_samples:
        if draws >= max_draws:
            raise RuntimeError(f"Kept {n_kept} of {num_samples} samples in {draws} draws "
                               f"(acceptance {n_kept / max(draws, 1):.4f}); raise max_draws "
                               "or lower percentile.")
        x = model.generate(int(batch_size), seed=seed + int(burn_in) + draws,
                           batch_size=batch_size, raw=raw)
        batch_logits = _logits(discriminator, x)
        max_logit = max(max_logit, batch_logits.max())
        accept = rng.random(len(x)) < acceptance(batch_logits, max_logit, gamma)
        kept.append(x[accept])
        n_kept += int(accept.sum())
        draws += len(x)
    samples = np.concatenate(kept)[:num_samples]
    return RejectionResult(samples=samples, acceptance_rate=n_kept / draws, draws=draws)
