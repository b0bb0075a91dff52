"""Latent noise: per-seed stateless draws shared by ``generate`` and the export.

A latent drawn from seed ``s`` is ``stateless_normal([latent_dim],
seed=[s, STREAM])``. It depends on nothing but ``s``, so
``GAN.generate(n, seed=s)`` and the exported ``generate_from_seed`` signature
with seeds ``[s, s+1, ..., s+n-1]`` give bit-identical latents on every call,
process and client.
"""

from __future__ import annotations

import tensorflow as tf

# Second word of the stateless seed: a fixed stream id so kgan's latents do not
# collide with other users of stateless_normal(seed=[s, 0]).
STREAM = 0x6B67616E  # "kgan"


def latents_from_seeds(seeds, latent_dim):
    """Draws one standard-normal latent vector per integer seed.

    Args:
        seeds: int tensor or array of shape ``[batch]``.
        latent_dim: width of each latent vector.

    Returns:
        float32 tensor ``[batch, latent_dim]``.

    Example:
        >>> z = latents_from_seeds([0, 1, 2], 100)
        >>> z.shape
        TensorShape([3, 100])
    """
    seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)

    def one(s):
        return tf.random.stateless_normal(
            [latent_dim], seed=tf.stack([s, tf.constant(STREAM, tf.int64)]), dtype=tf.float32)

    return tf.map_fn(one, seeds, fn_output_signature=tf.TensorSpec([latent_dim], tf.float32))


def model_latents(model, seeds):
    """The latents a model generates from per-sample ``seeds``.

    A model whose latent is more than Gaussian noise (InfoGAN's codes)
    defines ``latents_from_seeds(seeds)`` with TensorFlow ops; ``generate``,
    the export and the evaluators all call it through here, so one seed gives
    one latent everywhere.

    Example:
        >>> z = model_latents(gan, [0, 1, 2])
    """
    own = getattr(model, "latents_from_seeds", None)
    return own(seeds) if own is not None else latents_from_seeds(seeds, model.latent_dim)
