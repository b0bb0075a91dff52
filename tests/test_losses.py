"""Every loss against hand-computed values (one shared battery), plus D* optima."""

import math

import numpy as np
import pytest

from kgan import losses

L2 = math.log(2.0)
SP = lambda v: math.log1p(math.exp(v))  # softplus, computed by hand

# (function, args, expected per-example values)
BATTERY = [
    (losses.minimax_discriminator_loss, ([0.0], [0.0]), [2 * L2]),
    (losses.minimax_discriminator_loss, ([2.0, -1.0], [-3.0, 0.5]),
     [SP(-2.0) + SP(-3.0), SP(1.0) + SP(0.5)]),
    # one-sided smoothing: t*softplus(-r) + (1-t)*softplus(r) + softplus(f)
    (lambda r, f: losses.minimax_discriminator_loss(r, f, real_label=0.9), ([1.0], [0.0]),
     [0.9 * SP(-1.0) + 0.1 * SP(1.0) + L2]),
    (losses.minimax_generator_loss, ([0.0, 1.0],), [-L2, -SP(1.0)]),
    (losses.non_saturating_generator_loss, ([0.0, 1.0],), [L2, SP(-1.0)]),
    (losses.least_squares_discriminator_loss, ([1.0, 0.0], [0.0, 1.0]), [0.0, 1.0]),
    (losses.least_squares_discriminator_loss, ([0.5], [0.25]), [0.5 * (0.25 + 0.0625)]),
    (losses.least_squares_generator_loss, ([0.0, 1.0, 3.0],), [0.5, 0.0, 2.0]),
    (losses.wasserstein_discriminator_loss, ([2.0], [0.5]), [-1.5]),
    (losses.wasserstein_generator_loss, ([0.5],), [-0.5]),
    (losses.hinge_discriminator_loss, ([0.0, 2.0], [0.0, -2.0]), [2.0, 0.0]),
    (losses.hinge_discriminator_loss, ([0.5], [0.5]), [0.5 + 1.5]),
    (losses.hinge_generator_loss, ([0.5],), [-0.5]),
]


@pytest.mark.parametrize("fn,args,expected", BATTERY)
def test_battery(fn, args, expected):
    got = np.asarray(fn(*[np.asarray(a, np.float32) for a in args]))
    assert got.shape == (len(expected),)  # per-example, not reduced
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_scores_with_trailing_axis_are_per_example():
    got = np.asarray(losses.non_saturating_generator_loss(np.zeros((3, 1), np.float32)))
    np.testing.assert_allclose(got, [L2] * 3, rtol=1e-6)


def test_optimal_discriminator_minimax():
    # For fixed densities the expected loss p_d * L_real(d) + p_g * L_fake(d) is minimised at
    # D*(x) = p_d / (p_d + p_g)  (Goodfellow et al. 2014, Prop. 1).
    logits = np.linspace(-6, 6, 24001).astype(np.float32)
    for p_d, p_g in [(0.7, 0.3), (0.2, 0.5), (1.0, 1.0)]:
        # real-only and fake-only parts, taken from the pair itself
        real_term = np.asarray(losses.minimax_discriminator_loss(logits, np.full_like(logits, -30.0)))
        fake_term = np.asarray(losses.minimax_discriminator_loss(np.full_like(logits, 30.0), logits))
        expected = p_d * real_term + p_g * fake_term
        d_star = 1 / (1 + np.exp(-logits[np.argmin(expected)]))
        assert d_star == pytest.approx(p_d / (p_d + p_g), abs=1e-3)


def test_optimal_discriminator_least_squares():
    # LSGAN: D*(x) = (b p_d + a p_g) / (p_d + p_g) with a=0, b=1 (Mao et al. 2017, eq. 4).
    out = np.linspace(-1, 2, 30001).astype(np.float32)
    for p_d, p_g in [(0.7, 0.3), (0.1, 0.6)]:
        real_term = np.asarray(losses.least_squares_discriminator_loss(out, np.zeros_like(out)))
        fake_term = np.asarray(losses.least_squares_discriminator_loss(np.ones_like(out), out))
        d_star = out[np.argmin(p_d * real_term + p_g * fake_term)]
        assert d_star == pytest.approx(p_d / (p_d + p_g), abs=1e-3)


def test_non_saturating_gradient_does_not_vanish_where_minimax_does():
    import tensorflow as tf
    f = tf.constant([-8.0])  # D confidently rejects the fake
    with tf.GradientTape(persistent=True) as t:
        t.watch(f)
        mm = losses.minimax_generator_loss(f)
        ns = losses.non_saturating_generator_loss(f)
    g_mm = float(t.gradient(mm, f)[0])
    g_ns = float(t.gradient(ns, f)[0])
    assert abs(g_mm) < 1e-3 and abs(g_ns) > 0.99  # sigmoid(-8) vs 1 - sigmoid(-8)


def test_get_and_errors():
    assert losses.get("lsgan").name == "least_squares"
    assert losses.get("NS").name == "non_saturating"
    assert losses.get(losses.get("hinge")).name == "hinge"
    with pytest.raises(ValueError, match="Unknown GAN loss 'nope'.*least_squares"):
        losses.get("nope")
    with pytest.raises(TypeError, match="got int"):
        losses.get(3)
