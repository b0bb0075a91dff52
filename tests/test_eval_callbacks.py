"""Tests for kgan.eval_callbacks: the metric callbacks."""


import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import data, metrics
from kgan.eval_callbacks import FrechetDistance, GeneratorMetrics, ModeCoverage

RING = data.ring_mixture()


def _tiny_gan(seed=0, **kwargs):
    keras.utils.set_random_seed(seed)
    gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, seed=seed,
                          generator_options={"hidden_units": (8,)},  # Dense + BatchNorm
                          discriminator_options={"hidden_units": (8,)}, **kwargs)
    gan.compile()
    return gan


def _dataset(n=128, batch_size=32):
    x, _ = RING.sample(n, seed=0)
    return data.as_dataset(x, batch_size=batch_size, shuffle=False)


# --- metric callbacks -----------------------------------------------------------

def test_mode_coverage_writes_history_keys():
    gan = _tiny_gan(seed=4)
    cb = ModeCoverage(RING, num_samples=300, seed=7)
    history = gan.fit(_dataset(), epochs=2, verbose=0, callbacks=[cb])
    for key in ("modes", "high_quality", "reverse_kl"):
        assert len(history.history[key]) == 2
    # The logged values are the metric of the final generator on seeds 7.. .
    final = metrics.mode_statistics(gan.generate(300, seed=7), RING).to_dict()
    assert history.history["modes"][-1] == final["modes"]
    assert history.history["high_quality"][-1] == pytest.approx(final["high_quality"])
    assert history.history["reverse_kl"][-1] == pytest.approx(final["reverse_kl"])
    assert [h["epoch"] for h in cb.history] == [1, 2]


def test_metrics_every_n_epochs_and_last_epoch():
    gan = _tiny_gan(seed=5)
    cb = ModeCoverage(RING, num_samples=100, every_n_epochs=2)
    history = gan.fit(_dataset(), epochs=3, verbose=0, callbacks=[cb])
    assert [h["epoch"] for h in cb.history] == [2, 3]
    assert len(history.history["modes"]) == 2 and len(history.history["g_loss"]) == 3


def test_frechet_callback_with_ema_generator():
    gan = _tiny_gan(seed=6, ema_decay=0.9)
    real, _ = RING.sample(300, seed=1)
    fd = FrechetDistance(None, real, num_samples=300, kid_subsets=3, kid_subset_size=100,
                         use_ema=True)
    history = gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[fd])
    assert set(fd.history[0]) == {"epoch", "ema_fd", "ema_kid", "ema_kid_std"}
    samples, _ = metrics.generate_samples(gan, 300, seed=0, use_ema=True)
    assert history.history["ema_fd"][0] == pytest.approx(metrics.frechet_distance(real, samples))
    raw, _ = metrics.generate_samples(gan, 300, seed=0)
    assert not np.allclose(samples, raw)


def test_use_ema_without_an_ema_generator_fails():
    gan = _tiny_gan(seed=7)
    cb = GeneratorMetrics(metrics.MixtureMetrics(RING), num_samples=50, use_ema=True)
    with pytest.raises(ValueError, match="keeps no ema_generator.*ema_decay"):
        gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[cb])


def test_conditional_model_metrics_get_requested_labels():
    keras.utils.set_random_seed(8)
    gan = kgan.ConditionalGAN(data_shape=(2,), latent_dim=4, num_classes=3, architecture="mlp",
                              generator_options={"hidden_units": (8,)},
                              discriminator_options={"hidden_units": (8,)}, seed=0,
                              ema_decay=0.9)
    gan.compile()
    seen = {}

    def evaluator(samples, labels):
        seen["labels"] = labels
        return {"n": len(samples)}

    x, modes = RING.sample(64, seed=0)
    ds = data.as_dataset(x, modes % 3, batch_size=32, shuffle=False)
    history = gan.fit(ds, epochs=1, verbose=0, callbacks=[
        GeneratorMetrics(evaluator, 10),
        GeneratorMetrics(evaluator, 10, use_ema=True, labels=np.full(10, 2))])
    assert history.history["n"] == [10.0] and history.history["ema_n"] == [10.0]
    assert seen["labels"].tolist() == [2] * 10
    x, y = metrics.generate_samples(gan, 10, seed=3)
    assert y.tolist() == [0, 1, 2, 0, 1, 2, 0, 1, 2, 0]
    # The EMA generator honours the requested labels too.
    xe, _ = metrics.generate_samples(gan, 10, seed=3, use_ema=True)
    z = kgan.noise.latents_from_seeds(np.arange(3, 13), gan.latent_dim)
    expected = gan.ema_generator([z, tf.constant(y)], training=False)
    np.testing.assert_allclose(xe, expected, rtol=1e-5, atol=1e-6)
