"""Latent tools against hand-computed values: lerp/slerp, attribute vectors,
vector arithmetic, grids, and inversion of a known z."""

import keras
import numpy as np
import pytest

import kgan
from kgan import latent


def test_lerp_by_hand():
    np.testing.assert_allclose(latent.lerp([0, 0], [2, 4], 0.25), [0.5, 1.0])
    out = latent.lerp([0.0], [1.0], [0.0, 0.5, 1.0])
    np.testing.assert_allclose(out[:, 0], [0.0, 0.5, 1.0])


def test_slerp_endpoints_midpoint_and_norm():
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    np.testing.assert_allclose(latent.slerp(a, b, 0.0), a, atol=1e-7)
    np.testing.assert_allclose(latent.slerp(a, b, 1.0), b, atol=1e-7)
    np.testing.assert_allclose(latent.slerp(a, b, 0.5), [2 ** -0.5, 2 ** -0.5], atol=1e-7)
    # equal norms: every point of the path keeps the norm (3 here)
    rng = np.random.default_rng(0)
    u, v = rng.normal(size=(2, 16))
    u, v = 3 * u / np.linalg.norm(u), 3 * v / np.linalg.norm(v)
    path = latent.interpolate(u, v, steps=7)
    np.testing.assert_allclose(np.linalg.norm(path, axis=1), 3.0, rtol=1e-5)
    # a third of the way along a 90 degree arc is at 30 degrees
    p = latent.slerp(a, b, 1 / 3)
    assert np.degrees(np.arctan2(p[1], p[0])) == pytest.approx(30.0, abs=1e-4)


def test_slerp_parallel_and_zero_fall_back_to_lerp():
    a = np.array([1.0, 2.0])
    np.testing.assert_allclose(latent.slerp(a, 2 * a, 0.5), 1.5 * a, rtol=1e-6)
    np.testing.assert_allclose(latent.slerp(a, -a, 0.5), [0.0, 0.0], atol=1e-7)
    np.testing.assert_allclose(latent.slerp(np.zeros(2), a, 0.5), 0.5 * a, rtol=1e-6)
    assert np.isfinite(latent.slerp(a, a, [0.0, 0.3, 1.0])).all()


def test_batched_pairs_and_bad_input():
    a, b = np.eye(2), np.array([[0.0, 1.0], [1.0, 0.0]])
    out = latent.interpolate(a, b, steps=3)
    assert out.shape == (3, 2, 2)
    np.testing.assert_allclose(out[1, 0], [2 ** -0.5, 2 ** -0.5], atol=1e-7)
    with pytest.raises(ValueError, match="same shape"):
        latent.slerp(np.zeros(2), np.zeros(3), 0.5)
    with pytest.raises(ValueError, match="method must be one of"):
        latent.interpolate(a, b, method="cubic")


def test_attribute_vector_is_the_difference_of_means():
    z = np.array([[1.0, 0.0], [3.0, 2.0], [0.0, 0.0], [0.0, 4.0], [6.0, 6.0]])
    labels = np.array([1, 1, 0, 0, 2])
    np.testing.assert_allclose(latent.attribute_vector(z, labels, 1, 0), [2.0, -1.0])
    # default negative: every other label -> mean of rows 2, 3, 4 = (2, 10/3)
    np.testing.assert_allclose(latent.attribute_vector(z, labels, 1), [0.0, 1.0 - 10 / 3],
                               rtol=1e-6)
    with pytest.raises(ValueError, match="both sides"):
        latent.attribute_vector(z, labels, 7)
    np.testing.assert_allclose(latent.vector_arithmetic(z[:2], z[2:4], [[1.0, 1.0]]),
                               [2.0 - 0.0 + 1.0, 1.0 - 2.0 + 1.0])


def linear_generator(w):
    z = keras.Input((w.shape[0],))
    dense = keras.layers.Dense(w.shape[1], use_bias=False)
    g = keras.Model(z, dense(z))
    dense.kernel.assign(w)
    return g


def test_inversion_recovers_a_known_z():
    rng = np.random.default_rng(1)
    w = rng.normal(size=(3, 6)).astype("float32")
    g = linear_generator(w)
    z_true = rng.normal(size=(5, 3)).astype("float32")
    x = z_true @ w
    z, err = latent.invert(g, x, steps=3000, learning_rate=0.05, seed=0)
    np.testing.assert_allclose(z, z_true, atol=1e-3)
    assert err.shape == (5,) and err.max() < 1e-5
    # batches of 2 (the last one padded) give each image its own optimisation
    z2, _ = latent.invert(g, x, steps=3000, learning_rate=0.05, seed=0, batch_size=2)
    np.testing.assert_allclose(z2, z, atol=1e-4)
    # started at the answer (an exact encoder), zero steps: zero error
    z0, err0 = latent.invert(g, x, z0=z_true, steps=0)
    np.testing.assert_array_equal(z0, z_true)
    assert err0.max() < 1e-10
    with pytest.raises(ValueError, match=r"images: expected shape"):
        latent.invert(g, x[:, :4])


def test_interpolation_grid_shape(tmp_path):
    gan = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=4, generator_options={"base_filters": 4},
                     discriminator_options={"base_filters": 4}, seed=0)
    z = np.random.default_rng(0).normal(size=(4, 4))
    grid = latent.interpolation_grid(gan, z[:2], z[2:], steps=5, path=str(tmp_path / "g.png"))
    assert grid.shape == (2 * 30 - 2, 5 * 30 - 2, 1) and (tmp_path / "g.png").exists()


def _gan_with_distinct_ema():
    """An MLP GAN whose EMA generator's weights differ from the trained ones."""
    gan = kgan.GAN(data_shape=(6,), latent_dim=3, architecture="mlp", ema_decay=0.9, seed=0,
                   generator_options={"hidden_units": (16,), "normalization": "none"},
                   discriminator_options={"hidden_units": (16,)})
    gan.ema_generator.set_weights([w * 0.5 for w in gan.generator.get_weights()])
    return gan


def test_inversion_searches_the_generator_that_generate_samples():
    gan = _gan_with_distinct_ema()
    z_true = np.random.default_rng(2).normal(size=(4, 3)).astype("float32")
    x = gan.generate(z=z_true)  # EMA samples
    assert not np.allclose(x, gan.generate(z=z_true, raw=True), atol=1e-3)
    assert latent.sampled_generator(gan) is gan.ema_generator
    assert latent.sampled_generator(gan, raw=True) is gan.generator
    # started near the answer so the search converges on every run (a random start can stop
    # in a local minimum); the reported error is that of the reconstruction handed back
    z0 = z_true + 0.1 * np.random.default_rng(3).normal(size=z_true.shape).astype("float32")
    z, err = latent.invert(gan, x, z0=z0, steps=300, learning_rate=0.05)
    recon = gan.generate(z=z)
    np.testing.assert_allclose(err, ((recon - x) ** 2).mean(-1), rtol=1e-4, atol=1e-7)
    assert err.max() < 1e-3  # its own samples are in reach
    _, err_raw = latent.invert(gan, x, steps=0, z0=z_true, raw=True)
    np.testing.assert_allclose(err_raw, ((gan.generate(z=z_true, raw=True) - x) ** 2).mean(-1),
                               rtol=1e-4, atol=1e-7)
    assert err_raw.min() > 1e-4  # the trained weights do not make these samples
