"""Penalties, layers and auxiliary losses against hand-computed values.

A linear D(x) = w.x has gradient w everywhere, so the WGAN-GP penalty is
(||w|| - 1)^2 and R1 is gamma/2 ||w||^2 at every point, whatever the
interpolation weights.
"""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

from kgan import layers, losses, regularizers

W = np.array([3.0, 4.0], np.float32)  # ||w|| = 5


def linear(w):
    w = tf.constant(w)
    return lambda x: tf.reduce_sum(x * w, axis=-1, keepdims=True)


def test_gradient_penalty_on_linear_d_is_analytic():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(6, 2)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    eps = rng.uniform(size=6).astype("float32")
    gp = np.asarray(regularizers.gradient_penalty(linear(W), real, fake, eps))
    assert gp.shape == (6,)  # per example
    np.testing.assert_allclose(gp, (5.0 - 1.0) ** 2, rtol=1e-6)
    # a unit-norm w is not penalised; the one-sided form ignores norms below 1
    np.testing.assert_allclose(regularizers.gradient_penalty(linear(W / 5), real, fake, eps), 0.0, atol=1e-10)
    np.testing.assert_allclose(regularizers.gradient_penalty(linear(W / 10), real, fake, eps), 0.25, rtol=1e-5)
    np.testing.assert_allclose(
        regularizers.gradient_penalty(linear(W / 10), real, fake, eps, one_sided=True), 0.0, atol=1e-10)
    np.testing.assert_allclose(
        regularizers.gradient_penalty(linear(W), real, fake, eps, one_sided=True), 16.0, rtol=1e-6)


def test_gradient_penalty_is_taken_at_per_sample_interpolates():
    # D(x) = ||x||^2 / 2 has gradient x, so GP_i = (||x_hat_i|| - 1)^2 reveals x_hat_i.
    d = lambda x: 0.5 * tf.reduce_sum(tf.square(x), axis=-1)  # noqa: E731
    real = np.full((3, 2), [3.0, 4.0], np.float32)
    fake = np.zeros((3, 2), np.float32)
    eps = np.array([0.0, 0.5, 1.0], np.float32)
    got = np.asarray(regularizers.gradient_penalty(d, real, fake, eps))
    np.testing.assert_allclose(got, [(0.0 - 1) ** 2, (2.5 - 1) ** 2, (5.0 - 1) ** 2], rtol=1e-6)


def test_interpolation_weights_are_uniform_per_sample():
    eps = np.asarray(regularizers.uniform_epsilon(20000, seed=keras.random.SeedGenerator(0)))
    assert eps.shape == (20000,)  # one weight per sample
    assert eps.min() >= 0.0 and eps.max() <= 1.0  # a normal draw would leave [0, 1]
    assert eps.mean() == pytest.approx(0.5, abs=0.01)
    assert eps.std() == pytest.approx(1 / math.sqrt(12), abs=0.01)
    assert np.histogram(eps, bins=4, range=(0, 1))[0].min() > 4700  # flat, not bell-shaped


def test_zero_gradient_gives_finite_penalty_and_gradient():
    w = tf.Variable([0.0, 0.0])
    x = tf.ones((4, 2))
    d = lambda v: tf.reduce_sum(v * w, axis=-1)  # noqa: E731  gradient wrt v is exactly 0
    with tf.GradientTape() as tape:
        gp = regularizers.gradient_penalty(d, x, 2 * x, tf.fill([4], 0.3))
        total = tf.reduce_sum(gp)
    grad = tape.gradient(total, w)
    np.testing.assert_allclose(gp, 1.0)  # (0 - 1)^2
    assert np.all(np.isfinite(grad))
    # the control: a plain norm is NaN here, so the test above can fail
    with tf.GradientTape() as tape:
        with tf.GradientTape() as inner:
            inner.watch(x)
            out = tf.reduce_sum(d(x))
        g = inner.gradient(out, x)
        naive = tf.reduce_sum(tf.square(tf.norm(g, axis=-1) - 1.0))
    assert np.isnan(tape.gradient(naive, w)).any()


def test_safe_norm():
    np.testing.assert_allclose(regularizers.safe_norm(np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)), [5.0, 0.0])


def test_r1_on_linear_d_is_gamma_half_norm_squared():
    real = np.random.default_rng(1).normal(size=(5, 2)).astype("float32")
    r1 = np.asarray(regularizers.r1_penalty(linear(W), real, gamma=2.0))
    assert r1.shape == (5,)
    np.testing.assert_allclose(r1, 2.0 / 2 * 25.0, rtol=1e-6)
    np.testing.assert_allclose(regularizers.r1_penalty(linear(np.zeros(2, np.float32)), real, gamma=10.0), 0.0)


def test_penalty_gradient_reaches_d_weights():
    # d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w||: the second-order path works.
    w = tf.Variable(W)
    with tf.GradientTape() as tape:
        gp = tf.reduce_mean(regularizers.gradient_penalty(
            lambda x: tf.reduce_sum(x * w, -1), tf.ones((2, 2)), tf.zeros((2, 2)), [0.2, 0.7]))
    np.testing.assert_allclose(tape.gradient(gp, w), 2 * 4.0 * W / 5.0, rtol=1e-5)


def test_weight_penalty_counts_weight_matrices_only():
    dense = keras.layers.Dense(3)
    dense.build((None, 2))
    dense.kernel.assign(np.ones((2, 3), np.float32))
    dense.bias.assign(np.full((3,), 10.0, np.float32))
    assert float(regularizers.weight_penalty(dense.trainable_variables)) == pytest.approx(6.0)
    assert float(regularizers.weight_penalty([])) == 0.0


# ----------------------------------------------------------------- layers

def test_pack_joins_m_consecutive_samples_into_one_input():
    x = np.arange(12, dtype=np.float32).reshape(6, 2)
    packed = np.asarray(layers.pack(x, 3))
    np.testing.assert_array_equal(packed, [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    np.testing.assert_array_equal(layers.unpack(packed, 3), x)
    img = np.random.default_rng(0).normal(size=(4, 5, 5, 3)).astype("float32")
    p = np.asarray(layers.Packing(2)(img))
    assert p.shape == (2, 5, 5, 6) and layers.packed_shape((5, 5, 3), 2) == (5, 5, 6)
    np.testing.assert_array_equal(p[1, ..., :3], img[2])  # channel-wise, sample order kept
    np.testing.assert_array_equal(p[1, ..., 3:], img[3])
    np.testing.assert_array_equal(layers.unpack(p, 2), img)
    with pytest.raises(ValueError, match="batch divisible by 4, got a batch of 6"):
        layers.pack(x, 4)


def test_minibatch_stddev_appends_group_std():
    x = np.array([[0.0, 0.0], [2.0, 4.0], [1.0, 1.0], [1.0, 1.0]], np.float32)
    out = np.asarray(layers.MinibatchStdDev(group_size=2)(x))
    # group {0,1}: stds (1, 2) -> mean 1.5; group {2,3}: 0 (up to sqrt(1e-8))
    np.testing.assert_allclose(out[:, :2], x)
    np.testing.assert_allclose(out[:, 2], [1.5, 1.5, 1e-4, 1e-4], rtol=1e-4)
    img = np.random.default_rng(0).normal(size=(4, 3, 3, 2)).astype("float32")
    o = np.asarray(layers.MinibatchStdDev(4)(img))
    assert o.shape == (4, 3, 3, 3)
    np.testing.assert_allclose(o[..., 2], np.sqrt(img.var(0) + 1e-8).mean(), rtol=1e-5)
    with pytest.raises(ValueError, match="does not split into groups of 4"):
        layers.MinibatchStdDev(4)(np.zeros((6, 2), np.float32))


def test_layers_round_trip_through_config():
    for layer in (layers.MinibatchStdDev(3, name="m"), layers.Packing(4, name="p")):
        clone = type(layer).from_config(layer.get_config())
        assert clone.get_config() == layer.get_config()


# ---------------------------------------------------------- auxiliary losses

def test_feature_matching_and_aux_classifier_losses():
    assert float(losses.feature_matching_loss([1.0, 2.0], [0.0, 0.0])) == pytest.approx(5.0)
    ce = np.asarray(losses.auxiliary_classifier_loss(np.array([[0.0, 0.0], [2.0, 0.0]], np.float32), [1, 0]))
    np.testing.assert_allclose(ce, [math.log(2), math.log1p(math.exp(-2.0))], rtol=1e-6)
    assert ops.shape(ce) == (2,)
