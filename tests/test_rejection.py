"""kgan.rejection: discriminator rejection sampling against hand-computed values."""

import keras
import numpy as np
import pytest

import kgan
from kgan import rejection


def test_acceptance_by_hand():
    m = 2.0
    # D = D_M - log k: exp(D - D_M) = 1/k, F = -log k - log(1 - 1/k) = -log(k - 1), p = 1/k
    p = rejection.acceptance(np.array([m - np.log(2.0), m - np.log(3.0), m - np.log(11.0)]), m)
    np.testing.assert_allclose(p, [1 / 2, 1 / 3, 1 / 11], rtol=1e-5)
    # gamma shifts F: one log 2 below D_M, p = sigmoid(-gamma)
    np.testing.assert_allclose(rejection.acceptance(np.array([m - np.log(2.0)]), m, gamma=1.0),
                               [1 / (1 + np.e)], rtol=1e-5)
    assert rejection.acceptance(np.array([m]), m)[0] > 0.999  # the best sample: kept


def _identity_gan(weight=5.0, data_shape=(2,)):
    """G(z) = z; D's logit = weight * x[0]: D prefers the right half-plane."""
    g = keras.Sequential([keras.Input((2,)), keras.layers.Identity()])
    d = keras.Sequential([keras.Input(data_shape), keras.layers.Dense(1, use_bias=False)])
    d.layers[-1].set_weights([np.array([[weight], [0.0]], np.float32)])
    return kgan.GAN(generator=g, discriminator=d, latent_dim=2, data_shape=data_shape)


def test_rejection_keeps_what_d_prefers_and_is_repeatable():
    gan = _identity_gan()
    plain = gan.generate(400, seed=0)
    r = rejection.rejection_sample(gan, 400, gan.discriminator, percentile=50, burn_in=500,
                                   batch_size=100, seed=0)
    assert r.samples.shape == (400, 2) and 0 < r.acceptance_rate < 1
    assert r.draws >= 400 and r.draws % 100 == 0  # whole batches after the burn-in
    assert r.samples[:, 0].mean() > plain[:, 0].mean() + 1.0  # shifted toward D's liking
    assert abs(r.samples[:, 1].mean()) < 0.2                  # the ignored axis untouched
    again = rejection.rejection_sample(gan, 400, gan.discriminator, percentile=50, burn_in=500,
                                       batch_size=100, seed=0)
    np.testing.assert_array_equal(r.samples, again.samples)
    looser = rejection.rejection_sample(gan, 400, gan.discriminator, percentile=0, burn_in=500,
                                        batch_size=100, seed=0)
    assert looser.acceptance_rate > r.acceptance_rate


def test_rejection_gives_up_after_max_draws():
    gan = _identity_gan(weight=50.0)
    with pytest.raises(RuntimeError, match="raise max_draws"):
        rejection.rejection_sample(gan, 100, gan.discriminator, percentile=100, burn_in=100,
                                   batch_size=10, max_draws=20)


def test_calibration_trains_a_copy_toward_the_real_data():
    gan = _identity_gan(weight=0.0)  # a D with no opinion
    before = [w.copy() for w in gan.discriminator.get_weights()]
    rng = np.random.default_rng(0)
    real = (rng.normal(size=(2000, 2)) * 0.1 + [3.0, 0.0]).astype(np.float32)
    d = rejection.calibrate_discriminator(gan, real, steps=200, batch_size=64, learning_rate=0.05)
    for a, b in zip(before, gan.discriminator.get_weights()):
        np.testing.assert_array_equal(a, b)                   # the model's D is left alone
    fake = gan.generate(500, seed=1)
    assert np.asarray(d(real[:500])).mean() > np.asarray(d(fake)).mean() + 1.0
    r = rejection.rejection_sample(gan, 200, d, burn_in=500, batch_size=200, seed=0)
    assert r.samples[:, 0].mean() > 0.5 + gan.generate(200, seed=0)[:, 0].mean()


def test_bad_requests_fail_clearly():
    gan = _identity_gan()
    d = gan.discriminator
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="num_samples must be a positive int"):
            rejection.rejection_sample(gan, bad, d)
    with pytest.raises(ValueError, match=r"percentile must be in \[0, 100\]; got 101"):
        rejection.rejection_sample(gan, 10, d, percentile=101)
    with pytest.raises(ValueError, match=r"non-empty array \[n, 2\].*got shape \(0, 2\)"):
        rejection.calibrate_discriminator(gan, np.zeros((0, 2), np.float32))
    with pytest.raises(ValueError, match=r"\[n, 2\].*got shape \(5, 3\)"):
        rejection.calibrate_discriminator(gan, np.zeros((5, 3), np.float32))
    with pytest.raises(ValueError, match="floats.*got dtype int64"):
        rejection.calibrate_discriminator(gan, np.zeros((5, 2), np.int64))
    with pytest.raises(ValueError, match="NaN or inf"):
        rejection.calibrate_discriminator(gan, np.full((5, 2), np.nan, np.float32))
    conditional = kgan.GAN(data_shape=(2,), latent_dim=2, architecture="mlp", num_classes=3,
                           generator_options={"hidden_units": (4,)},
                           discriminator_options={"hidden_units": (4,)})
    with pytest.raises(ValueError, match="unconditional.*3 classes"):
        rejection.rejection_sample(conditional, 10, conditional.discriminator)
    packed = kgan.GAN(data_shape=(2,), latent_dim=2, architecture="mlp",
                      transforms=[kgan.transforms.Packing(2)],
                      generator_options={"hidden_units": (4,)},
                      discriminator_options={"hidden_units": (4,)})
    with pytest.raises(ValueError, match="packs of 2"):
        rejection.rejection_sample(packed, 10, packed.discriminator)
