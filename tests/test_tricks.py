"""Each stabilisation option does exactly what it claims, on tiny seeded cases,
and 2 replicas equal one device with every added term switched on."""

import contextlib
import json

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import layers, losses, objectives, options, regularizers, steps, transforms
from kgan.core.record import Batch, Record

# The ONE MirroredStrategy of this process (pytest imports tests/ modules by
# basename, so this is the same module object test_distributed.py runs as).
from test_distributed import mirrored_strategy

HIDDEN = {"hidden_units": (16,)}
W = np.array([3.0, 4.0], np.float32)  # ||w|| = 5


def split(kw):
    """Flat trick options (as the CLI and benchmarks give them) -> the model's pieces."""
    flat = {k: kw.pop(k) for k in list(kw) if k in options.OPTIONS}
    kw.update(options.to_pieces(loss=kw.pop("loss", None), **flat))
    return kw


def make(cls=kgan.GAN, seed=0, **kw):
    keras.utils.set_random_seed(seed)
    split(kw)
    kw.setdefault("generator_options", HIDDEN)
    kw.setdefault("discriminator_options", HIDDEN)
    kw.setdefault("latent_dim", 4)
    if "discriminator" not in kw:
        kw.setdefault("architecture", "mlp")
    return cls(data_shape=(2,), seed=0, **kw)


def linear_d(w, input_dim=2):
    inp = keras.Input((input_dim,))
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inp, dense(inp))
    dense.kernel.assign(np.reshape(w, (input_dim, 1)))
    return model


def points(n, seed=0):
    return kgan.data.ring_mixture().sample(n, seed)[0]


def arrays(vs):
    return [np.array(v) for v in vs]


def d_loss(gan, real, fake, labels=None):
    loss, _ = gan.discriminator_loss(tf.constant(real), tf.constant(fake), labels,
                                        tf.constant(float(len(real))))
    return float(loss)


# ------------------------------------------------------------ label smoothing

def test_label_smoothing_sets_real_targets():
    rng = np.random.default_rng(0)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    r, f = real @ W, fake @ W
    ls = make(loss="least_squares", real_label=0.9, discriminator=linear_d(W))
    assert d_loss(ls, real, fake) == pytest.approx(np.mean(0.5 * ((r - 0.9) ** 2 + f ** 2)), rel=1e-5)
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    ns = make(real_label=0.9, discriminator=linear_d(W))
    want = np.mean(0.9 * sp(-r) + 0.1 * sp(r) + sp(f))  # fake target stays 0 (one-sided)
    assert d_loss(ns, real, fake) == pytest.approx(want, rel=1e-5)
    assert d_loss(make(discriminator=linear_d(W)), real, fake) != pytest.approx(want, rel=1e-3)


# --------------------------------------------------------- gradient penalties

def test_wgan_gp_in_the_model_equals_the_analytic_value():
    rng = np.random.default_rng(1)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    gan = make(kgan.WGANGP, discriminator=linear_d(W))
    # critic loss mean(D(fake) - D(real)) + lambda (||w|| - 1)^2, lambda = 10
    want = np.mean(fake @ W - real @ W) + 10.0 * (5.0 - 1.0) ** 2
    assert d_loss(gan, real, fake) == pytest.approx(want, rel=1e-5)
    unit = make(kgan.WGANGP, discriminator=linear_d(W / 5.0))
    assert d_loss(unit, real, fake) == pytest.approx(np.mean(fake @ W - real @ W) / 5.0, rel=1e-4, abs=1e-6)


def test_model_draws_one_uniform_weight_per_sample_from_its_seed():
    # D(x) = ||x||^2 / 2 has gradient x, so the penalty reveals each interpolate.
    inp = keras.Input((2,))
    d = keras.Model(inp, keras.layers.Lambda(lambda x: 0.5 * keras.ops.sum(x * x, -1, keepdims=True))(inp))
    gan = make(loss="wasserstein", gradient_penalty="wgan-gp", gp_weight=1.0, discriminator=d)
    real = np.tile(np.float32([[3.0, 4.0]]), (64, 1))
    fake = np.zeros((64, 2), np.float32)
    state = np.array(gan.seed_generator.state)
    got = d_loss(gan, real, fake)
    gan.seed_generator.state.assign(state)
    eps = np.asarray(kgan.regularizers.uniform_epsilon(64, seed=gan.seed_generator))
    critic = np.mean(0.0 - 0.5 * 25.0)
    assert got == pytest.approx(critic + np.mean((5.0 * eps - 1.0) ** 2), rel=1e-5)
    assert len(np.unique(eps)) == 64 and eps.min() >= 0 and eps.max() <= 1


def test_r1_in_the_model_is_gamma_half_norm_squared():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    plain = d_loss(make(discriminator=linear_d(W)), real, fake)
    with_r1 = d_loss(make(r1_gamma=2.0, discriminator=linear_d(W)), real, fake)
    assert with_r1 - plain == pytest.approx(2.0 / 2 * 25.0, rel=1e-5)


def test_lazy_r1_is_every_times_gamma_on_one_d_update_in_every():
    rng = np.random.default_rng(2)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    plain = d_loss(make(discriminator=linear_d(W)), real, fake)
    lazy = make(r1_gamma=2.0, r1_every=3, discriminator=linear_d(W))
    assert lazy.terms == [regularizers.R1(2.0, every=3)]
    lazy.compile()
    added = []
    for step in range(7):
        lazy.d_optimizer.iterations.assign(step)
        added.append(d_loss(lazy, real, fake) - plain)
    # ||w||^2 = 25: 3 * gamma / 2 * 25 on D updates 0, 3, 6; nothing in between
    np.testing.assert_allclose(added, [75.0, 0, 0, 75.0, 0, 0, 75.0], rtol=1e-5, atol=1e-4)
    with pytest.raises(ValueError, match="R1 every must be an integer >= 1"):
        regularizers.R1(1.0, every=0)


def test_zero_input_gradient_gives_no_nan_in_training():
    # A critic whose output ignores its input: GP = (0 - 1)^2 everywhere, no NaN.
    inp = keras.Input((2,))
    d = keras.Model(inp, keras.layers.Dense(1, kernel_initializer="zeros")(inp))
    gan = make(kgan.WGANGP, discriminator=d, d_steps=1)
    gan.compile()
    hist = gan.fit(points(32), batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(hist.history["d_loss"]).all()
    assert all(np.isfinite(w).all() for w in arrays(gan.discriminator.weights))


def test_weight_penalty_adds_coefficient_times_squared_weights():
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    plain = d_loss(make(discriminator=linear_d(W)), real, fake)
    assert d_loss(make(d_weight_penalty=0.1, discriminator=linear_d(W)), real, fake) - plain == pytest.approx(2.5)


# --------------------------------------------------------------- replay buffer

def test_replay_buffer_holds_and_returns_old_samples_in_proportion():
    seed = keras.random.SeedGenerator(0)
    buf = transforms.ReplayBuffer(8, (1,), fraction=0.5, num_classes=10)
    for t in range(6):
        batch = np.arange(4, dtype=np.float32)[:, None] + 100 * t  # markers: batch t holds 100t..100t+3
        out, labels = buf.mix(batch, np.arange(4) + 10 * t, seed=seed)
        out = np.asarray(out)[:, 0]
        np.testing.assert_array_equal(np.asarray(labels), (out % 100) + 10 * (out // 100))  # labels travel along
        new = set(batch[:, 0])
        old = [v for v in out if v not in new]
        held = np.asarray(buf.samples)[:, 0]
        if t < 2:  # filling: D sees only new samples, the buffer stores them
            assert not old and int(buf.count) == 4 * (t + 1)
        else:  # full: exactly round(0.5 * 4) = 2 old samples, all from earlier batches
            assert len(old) == 2 and all(v < 100 * t for v in old)
            assert len(set(out)) == 4
            # a swap: nothing is lost, the displaced new samples now sit in the buffer
            assert sorted(np.concatenate([out, held])) == sorted(np.concatenate([prev_held, batch[:, 0]]))
            assert sum(v in new for v in held) == 2
        prev_held = held.copy()
    assert int(buf.count) == 8


@pytest.mark.parametrize("fraction,k", [(0.25, 1), (1.0, 4), (0.0, 0)])
def test_replay_fraction(fraction, k):
    seed = keras.random.SeedGenerator(1)
    buf = transforms.ReplayBuffer(4, (1,), fraction=fraction)
    buf.mix(np.full((4, 1), -1.0, np.float32), seed=seed)  # fill with old samples
    out, none = buf.mix(np.arange(4, dtype=np.float32)[:, None], seed=seed)
    assert none is None and int(np.sum(np.asarray(out) == -1.0)) == k


# -------------------------------------------------------------------- packing

def test_packing_gives_d_m_samples_as_one_input():
    gan = make(packing=2)
    assert tuple(gan.discriminator.inputs[0].shape[1:]) == (4,)
    x = points(8)
    np.testing.assert_array_equal(gan.view(tf.constant(x)), x.reshape(4, 4))
    # the loss is per pack: mean over the 4 packs of the loss on D(pack)
    d = linear_d(np.array([1.0, -1.0, 0.5, 2.0], np.float32), input_dim=4)
    pac = make(packing=2, discriminator=d)
    rng = np.random.default_rng(4)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    r = np.asarray(d(layers.pack(real, 2)))[:, 0]
    f = np.asarray(d(layers.pack(fake, 2)))[:, 0]
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    assert d_loss(pac, real, fake) == pytest.approx(np.mean(sp(-r) + sp(f)), rel=1e-5)


def test_packing_rejects_batches_it_cannot_split():
    gan = make(packing=2)
    gan.compile()
    with pytest.raises(ValueError, match="packing=2 needs every batch divisible by 2.*last batch of 3"):
        gan.fit(points(11), batch_size=4, verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(points(9)).batch(4)  # 4, 4, then 1
    with pytest.raises(ValueError, match="did not split into packs of 2"):
        gan.fit(ds, verbose=0)
    with pytest.raises(ValueError, match="packing.*unconditional"):
        make(packing=2, num_classes=3)


# -------------------------------------------------------------- instance noise

def test_instance_noise_decays_on_schedule():
    sched = transforms.InstanceNoise(0.5, anneal_steps=4)
    np.testing.assert_allclose([float(sched.stddev_at(t)) for t in (0, 1, 2, 4, 9)],
                               [0.5, 0.375, 0.25, 0.0, 0.0])
    assert float(transforms.InstanceNoise(0.2).stddev_at(10**6)) == pytest.approx(0.2)
    gan = make(instance_noise=0.5, instance_noise_steps=4)
    gan.compile()
    x = tf.constant(np.tile(points(1), (4000, 1)))
    for step, sigma in [(0, 0.5), (2, 0.25), (3, 0.125), (4, 0.0), (7, 0.0)]:
        gan.g_optimizer.iterations.assign(step)
        seen = np.asarray(gan.view(x)) - np.asarray(x)  # what D is shown minus the sample
        assert float(gan.transforms[0].stddev_at(gan.g_optimizer.iterations)) == pytest.approx(sigma)
        assert seen.std() == pytest.approx(sigma, rel=0.05, abs=1e-7)


# -------------------------------------------------------------------- unrolled

def test_unrolled_look_ahead_leaves_d_unchanged_and_is_first_order():
    batch = Batch(tf.constant(points(16)), None, 16, tf.constant(16.0))
    a = make(unrolled_steps=2)
    a.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-1))
    a.discriminator_update(batch)  # D's own update, then the look-ahead must leave D as it is
    d_before = arrays(a.discriminator.variables)
    opt_before = arrays(a.d_optimizer.variables)
    g_before = arrays(a.generator.trainable_variables)
    a.step_strategy.run(a, batch)  # one more D update, the look-ahead, G's update
    b = make()
    b.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-1))
    b.discriminator_update(batch)
    b.discriminator_update(batch)
    d_after_own_update = arrays(b.discriminator.variables)
    opt_after_own_update = arrays(b.d_optimizer.variables)
    # The same G step by hand: advance D 2 steps with D's optimizer, then a plain
    # G step. G must end identical (first-order unrolling), D differently.
    for _ in range(2):
        b.discriminator_update(batch)
    b.generator_update(batch)
    for u, v in zip(d_after_own_update, a.discriminator.variables):
        np.testing.assert_array_equal(u, np.array(v))  # D: only its own update, look-ahead undone
    for u, v in zip(opt_after_own_update, a.d_optimizer.variables):
        np.testing.assert_array_equal(u, np.array(v))  # and its optimizer state
    assert not np.allclose(d_before[0], d_after_own_update[0])
    assert not np.allclose(opt_before[0], opt_after_own_update[0]) or len(opt_before) == 0
    assert not np.allclose(g_before[0], np.array(a.generator.trainable_variables[0]))
    for u, v in zip(a.generator.variables, b.generator.variables):
        np.testing.assert_allclose(np.array(u), np.array(v), rtol=1e-6, atol=1e-7)
    assert not np.allclose(np.array(a.discriminator.variables[0]), np.array(b.discriminator.variables[0]))


# ------------------------------------------------------------ feature matching

def test_feature_matching_term_and_default_layer():
    gan = make(feature_matching=2.0)
    net = gan.terms[0]._net
    assert tuple(net.outputs[0].shape) == (None, 16)  # D's last hidden features, the score layer's input
    assert all(any(v is w for w in gan.discriminator.weights) for v in net.weights)
    # A linear D's score layer reads the input itself, so f(x) = x.
    lin = make(feature_matching=2.0, discriminator=linear_d(W))
    real = np.array([[1.0, 2.0], [3.0, 4.0]], np.float32)
    fake = np.zeros((2, 2), np.float32)
    rec = Record(None, tf.constant(fake), None, None, None, None, model=lin,
                 batch=Batch(tf.constant(real), None, 2, 2.0), count=2.0)
    term = float(lin.terms[0].generator(rec))
    assert term == pytest.approx(2.0 * float(losses.feature_matching_loss(real.mean(0), fake.mean(0))))
    assert term == pytest.approx(2.0 * (2.0 ** 2 + 3.0 ** 2))
    named = make(feature_matching=1.0, discriminator_options={"hidden_units": (16, 8)},
                 feature_matching_layer="lrelu_0")
    assert tuple(named.terms[0]._net.outputs[0].shape) == (None, 16)


# ------------------------------------------------------------------- top-k

def test_top_k_schedule_by_hand():
    term = objectives.TopK(min_fraction=0.3, decay=0.5, decay_steps=2)
    got = [float(term.kept_fraction(t)) for t in range(7)]
    assert got == pytest.approx([1.0, 1.0, 0.5, 0.5, 0.3, 0.3, 0.3])


def test_top_k_generator_loss_is_the_mean_over_the_best_scored_fakes():
    # Linear D with w = (3, 4): the scores are 3a + 4b, known by hand.
    fake = np.array([[1, 0], [0, 1], [-1, 0], [0, -1], [2, 0], [0, 0]], np.float32)
    scores = fake @ W  # 3, 4, -3, -4, 6, 0
    g_loss = np.log1p(np.exp(-scores))  # non-saturating: softplus(-D(G(z)))
    plain = make(discriminator=linear_d(W))
    top = make(discriminator=linear_d(W), top_k=0.5, top_k_decay=0.5, top_k_decay_steps=1)
    for gan in (plain, top):
        gan.compile()

    def loss(gan):
        return float(gan.generator_loss(tf.constant(fake), None, tf.constant(6.0)))

    assert loss(plain) == pytest.approx(g_loss.mean(), rel=1e-6)
    assert loss(top) == pytest.approx(g_loss.mean(), rel=1e-6)  # step 0: the whole batch
    top.g_optimizer.iterations.assign(1)  # kept fraction 0.5: the 3 best of 6 (6, 4, 3)
    assert loss(top) == pytest.approx(g_loss[[4, 1, 0]].mean(), rel=1e-6)
    top.terms[0].min_fraction = 0.2  # k = ceil(0.2 * 6) = 2
    top.g_optimizer.iterations.assign(5)
    assert loss(top) == pytest.approx(g_loss[[4, 1]].mean(), rel=1e-6)
    # Gradients reach G only through the kept fakes.
    x = tf.Variable(fake)
    with tf.GradientTape() as tape:
        value = top.generator_loss(x, None, tf.constant(6.0))
    grad = tape.gradient(value, x).numpy()
    assert np.abs(grad[[0, 2, 3, 5]]).max() == 0 and np.abs(grad[[1, 4]]).min() > 0


def test_top_k_rejects_bad_options_and_leaves_d_alone():
    for kw, msg in (({"min_fraction": 0}, "min_fraction must be in"),
                    ({"decay": 1.5}, "decay must be in"),
                    ({"decay_steps": 0}, "decay_steps must be an integer")):
        with pytest.raises(ValueError, match=msg):
            objectives.TopK(**kw)
    top = make(discriminator=linear_d(W), top_k=0.5, top_k_decay=0.5)
    rng = np.random.default_rng(3)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    assert d_loss(top, real, fake) == pytest.approx(d_loss(make(discriminator=linear_d(W)), real, fake))


# ----------------------------------------------------- spectral norm and TTUR

def test_spectral_norm_from_the_constructor_trains_and_normalises():
    gan = make(discriminator_options={"hidden_units": (16,), "spectral_norm": True})
    sn = [l for l in gan.discriminator.layers if isinstance(l, keras.layers.SpectralNormalization)]
    assert len(sn) == 2
    gan.compile()
    gan.fit(points(32), batch_size=16, epochs=1, verbose=0)
    x = tf.constant(points(16))
    for _ in range(30):  # power iteration converges over training-mode calls
        gan.discriminator(x, training=True)
    for layer in sn:
        sigma = np.linalg.svd(np.array(layer.kernel), compute_uv=False)[0]
        assert sigma == pytest.approx(1.0, abs=0.02)
    plain = make()
    assert np.linalg.svd(np.array(plain.discriminator.layers[1].kernel), compute_uv=False)[0] > 1.1


def test_separate_learning_rates_ttur():
    gan = make()
    gan.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.05))
    g0, d0 = arrays(gan.generator.trainable_variables), arrays(gan.discriminator.trainable_variables)
    gan.fit(points(16), batch_size=16, epochs=1, verbose=0)
    assert all(np.array_equal(a, np.array(b)) for a, b in zip(g0, gan.generator.trainable_variables))
    assert not all(np.array_equal(a, np.array(b)) for a, b in zip(d0, gan.discriminator.trainable_variables))


# ------------------------------------------------------------- new variants

def test_wgangp_defaults_follow_the_paper():
    gan = make(kgan.WGANGP)
    assert (gan.loss_pair.name, gan.terms, gan.d_steps) == (
        "wasserstein", [regularizers.GradientPenalty(10.0)], 5)
    gan.compile()
    for opt in (gan.g_optimizer, gan.d_optimizer):
        assert (float(opt.learning_rate), opt.beta_1, opt.beta_2) == pytest.approx((1e-4, 0.0, 0.9))
    conv = kgan.WGANGP(data_shape=(28, 28, 1), latent_dim=4, generator_options={"base_filters": 4},
                       discriminator_options={"base_filters": 4})
    kinds = {type(l).__name__ for l in conv.discriminator.layers}
    assert "LayerNormalization" in kinds and "BatchNormalization" not in kinds
    off = make(kgan.WGANGP, terms=[], d_steps=2)
    assert off.terms == [] and off.d_steps == 2


def test_acgan_discriminator_predicts_the_class():
    gan = make(kgan.ACGAN, num_classes=3)
    d = gan.discriminator
    assert len(d.inputs) == 1 and [tuple(o.shape) for o in d.outputs] == [(None, 1), (None, 3)]
    assert [i.name for i in gan.generator.inputs] == ["z", "labels"]
    rng = np.random.default_rng(5)
    real, fake = rng.normal(size=(6, 2)).astype("float32"), rng.normal(size=(6, 2)).astype("float32")
    labels = np.array([0, 1, 2, 2, 1, 0], np.int32)
    (rs, rc), (fs, fc) = d(real), d(fake)
    sp = lambda v: np.log1p(np.exp(v))  # noqa: E731
    ce = lambda logits: np.asarray(losses.auxiliary_classifier_loss(logits, labels))  # noqa: E731
    want = np.mean(sp(-np.asarray(rs)[:, 0]) + sp(np.asarray(fs)[:, 0]) + ce(rc) + ce(fc))
    assert d_loss(gan, real, fake, tf.constant(labels)) == pytest.approx(want, rel=1e-5)
    with pytest.raises(ValueError, match="ACGAN needs num_classes"):
        kgan.ACGAN(data_shape=(2,))
    conv = kgan.ACGAN(data_shape=(28, 28, 1), num_classes=10, latent_dim=4,
                      generator_options={"base_filters": 4}, discriminator_options={"base_filters": 4})
    assert [tuple(o.shape) for o in conv.discriminator.outputs] == [(None, 1), (None, 10)]


# -------------------------------------------------------------- serialization

ALL_OPTIONS = dict(gradient_penalty="wgan-lp", gp_weight=3.0, r1_gamma=0.5, d_weight_penalty=1e-4,
                   instance_noise=0.1, instance_noise_steps=50, replay_buffer_size=32, replay_fraction=0.25,
                   feature_matching=0.5, feature_matching_layer="lrelu_0", packing=2, unrolled_steps=1,
                   real_label=0.9, top_k=0.25, top_k_decay=0.9, top_k_decay_steps=3)
ALL_PIECES = dict(
    loss=losses.GANLoss("non_saturating", real_label=0.9),
    terms=[regularizers.GradientPenalty(3.0, one_sided=True), regularizers.R1(0.5),
           regularizers.WeightPenalty(1e-4), objectives.FeatureMatching(0.5, "lrelu_0"),
           objectives.TopK(0.25, 0.9, 3)],
    transforms=[transforms.InstanceNoise(0.1, 50), transforms.Replay(32, 0.25), transforms.Packing(2)],
    step=steps.Unrolled(1))


def test_every_option_round_trips_through_save_and_load(tmp_path):
    gan = make(d_steps=2, discriminator_options={"hidden_units": (16,), "minibatch_std": 2,
                                                 "spectral_norm": True}, **ALL_OPTIONS)
    for key, value in ALL_PIECES.items():  # the flat options became these pieces
        assert getattr(gan, {"loss": "loss_pair", "step": "step_strategy"}.get(key, key)) == value, key
    cfg = gan.get_config()
    gan.compile()
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    back = keras.saving.load_model(path)
    assert type(back) is kgan.GAN
    assert json.loads(json.dumps(back.get_config())) == json.loads(json.dumps(cfg))
    assert (back.loss_pair, back.terms, back.transforms, back.step_strategy) == tuple(ALL_PIECES.values())
    assert back.step_strategy._optimizer is not None and back.terms[3]._net is not None
    np.testing.assert_array_equal(back.generate(4, seed=1), gan.generate(4, seed=1))
    for cls, kw in ((kgan.WGANGP, {}), (kgan.ACGAN, {"num_classes": 3})):
        model = make(cls, **kw)
        clone = cls.from_config(model.get_config())
        assert clone.get_config() == model.get_config()


@keras.saving.register_keras_serializable(package="kgan_tests")
class ShiftedLeastSquares(losses.GANLoss):
    """A user-defined loss: least squares with a configurable real target."""

    def __init__(self, target=2.0):
        super().__init__("least_squares")
        self.target = float(target)

    def discriminator(self, real_scores, fake_scores):
        return losses.least_squares_discriminator_loss(real_scores, fake_scores, real_label=self.target)

    def get_config(self):
        return {"target": self.target}


def test_a_user_defined_loss_object_saves_and_reloads(tmp_path):
    gan = make(loss=ShiftedLeastSquares(3.0), discriminator=linear_d(W))
    rng = np.random.default_rng(8)
    real, fake = rng.normal(size=(8, 2)).astype("float32"), rng.normal(size=(8, 2)).astype("float32")
    want = np.mean(0.5 * ((real @ W - 3.0) ** 2 + (fake @ W) ** 2))
    assert d_loss(gan, real, fake) == pytest.approx(want, rel=1e-5)
    gan.compile()
    gan.save(str(tmp_path / "custom.keras"))
    back = keras.saving.load_model(str(tmp_path / "custom.keras"))
    assert type(back.loss_pair) is ShiftedLeastSquares and back.loss_pair.target == 3.0
    assert d_loss(back, real, fake) == pytest.approx(want, rel=1e-5)


def test_replay_buffer_state_is_saved_with_the_model(tmp_path):
    gan = make(replay_buffer_size=40)
    gan.compile()
    gan.fit(points(64), batch_size=16, epochs=1, verbose=0)  # 4 steps of 16 fakes
    buf = gan.transforms[0].buffer
    assert int(buf.count) == 40
    held = np.asarray(buf.samples)
    assert np.abs(held).sum(axis=1).min() > 0  # every slot holds a generated sample
    path = str(tmp_path / "gan.keras")
    gan.save(path)
    back = keras.saving.load_model(path).transforms[0].buffer
    np.testing.assert_array_equal(back.samples, held)
    assert int(back.count) == 40


def test_training_cli_reaches_the_options():
    from kgan import training

    config, _ = training.parse_args([
        "--variant", "wgangp", "--dataset", "ring", "--packing", "2", "--spectral-norm",
        "--minibatch-std", "4", "--r1-gamma", "0.5", "--instance-noise", "0.1", "--instance-noise-steps", "9",
        "--replay-buffer-size", "64", "--feature-matching", "0.5", "--unrolled-steps", "1", "--hidden-units", "8",
        "--top-k", "0.5"])
    c = training.resolve(config)
    assert (c["loss"], c["gradient_penalty"], c["d_steps"]) == ("wasserstein", "wgan-gp", 5)
    gan = training.build_model(c, (2,), 8, steps_per_epoch=40)
    assert type(gan) is kgan.WGANGP and gan.get_config()["discriminator_options"] == {
        "hidden_units": (8,), "spectral_norm": True, "minibatch_std": 4}
    assert gan.d_steps == 5 and gan.step_strategy == steps.Unrolled(1)
    assert gan.terms == [regularizers.GradientPenalty(10.0), regularizers.R1(0.5),
                         objectives.FeatureMatching(0.5), objectives.TopK(0.5, 0.99, 40)]
    assert gan.transforms == [transforms.InstanceNoise(0.1, 9), transforms.Replay(64, 0.5),
                              transforms.Packing(2)]
    plain = training.resolve(training.parse_args(["--variant", "acgan"])[0])
    assert plain["conditional"] and plain["d_steps"] == 1 and plain["gradient_penalty"] is None


def test_mode_seeking_flag_reaches_g_loss_and_is_off_by_default():
    from kgan import training

    def built(*flags):
        c = training.resolve(training.parse_args(["--dataset", "ring", "--variant", "vanilla",
                                                  "--hidden-units", "8", *flags])[0])
        return c["mode_seeking"], training.build_model(c, (2,), 8).terms

    assert built() == (0.0, [])
    weight, terms = built("--mode-seeking", "0.3")
    assert weight == 0.3 and terms == [objectives.ModeSeeking(0.3)]
    assert kgan.options.to_pieces(mode_seeking=0.3, r1_gamma=1.0)["terms"] == [
        regularizers.R1(1.0), objectives.ModeSeeking(0.3)]


def test_bad_options_fail_clearly():
    with pytest.raises(ValueError, match="gradient_penalty must be None or one of"):
        make(gradient_penalty="gp")
    with pytest.raises(ValueError, match="R1 gamma must be >= 0"):
        make(r1_gamma=-1)
    with pytest.raises(ValueError, match="replay fraction must be in"):
        make(replay_buffer_size=4, replay_fraction=2)
    with pytest.raises(ValueError, match="auxiliary.*needs num_classes"):
        make(d_conditioning="auxiliary")
    with pytest.raises(TypeError, match="terms takes kgan.Term objects"):
        make(terms=[transforms.Packing(2)])
    with pytest.raises(ValueError, match="Packing must be the last transform"):
        make(transforms=[transforms.Packing(2), transforms.InstanceNoise(0.1)])
    with pytest.raises(ValueError, match="Unknown option"):
        options.to_pieces(r1=1.0)


# ------------------------------------------------ 2 replicas equal one device

DIST_CASES = {
    "wgan-gp": (kgan.WGANGP, {"d_steps": 2}),
    "r1": (kgan.GAN, {"r1_gamma": 1.0}),
    "lazy-r1": (kgan.GAN, {"r1_gamma": 1.0, "r1_every": 3}),
    "every-other-trick": (kgan.GAN, {
        "packing": 2, "instance_noise": 0.3, "instance_noise_steps": 3, "replay_buffer_size": 24,
        "feature_matching": 0.5, "unrolled_steps": 1, "d_weight_penalty": 1e-3,
        "discriminator_options": {"hidden_units": (16,), "minibatch_std": 4, "spectral_norm": True}}),
    "shared-fakes": (kgan.GAN, {"shared_fakes": True, "d_steps": 2, "r1_gamma": 1.0}),
    # k over the GLOBAL batch: a per-replica top-k keeps other fakes and fails here
    "top-k": (kgan.GAN, {"top_k": 0.25, "top_k_decay": 0.5, "top_k_decay_steps": 1}),
    "acgan": (kgan.ACGAN, {"num_classes": 3, "real_label": 0.9, "replay_buffer_size": 24,
                           "gradient_penalty": "wgan-gp", "gp_weight": 1.0}),
}


def run_fit(strategy, cls, kw):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        gan = cls(data_shape=(2,), latent_dim=4, architecture="mlp", seed=3,
                  generator_options={"hidden_units": (16, 16), "normalization": "none"},
                  **split({"discriminator_options": {"hidden_units": (16,)}, **kw}))
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-2))
    gan.initial_weights = arrays(gan.generator.weights)
    x, y = kgan.data.ring_mixture().sample(64, seed=0)
    ds, _ = kgan.data.training_stream(x, y % 3 if gan.num_classes else None, batch_size=16, seed=1)
    hist = gan.fit(ds, epochs=2, steps_per_epoch=2, verbose=0)
    state = [w for layer in gan.state_layers for w in layer.weights]
    return arrays(gan.generator.weights + gan.discriminator.weights + state), hist.history, gan


@pytest.mark.parametrize("case", list(DIST_CASES))
def test_two_replicas_equal_one_device(case):
    cls, kw = DIST_CASES[case]
    mirrored = mirrored_strategy()
    w1, h1, one = run_fit(tf.distribute.OneDeviceStrategy("/cpu:0"), cls, kw)
    w2, h2, two = run_fit(mirrored, cls, kw)
    assert two.distribute_strategy.num_replicas_in_sync == 2
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    for k in h1:  # logged values are global-batch values
        np.testing.assert_allclose(h1[k], h2[k], rtol=1e-4, atol=1e-6, err_msg=k)
    assert two.step == one.step == 4
    assert np.isfinite(h1["d_loss"]).all()
    # the weights really moved, so the comparison means something
    assert not np.allclose(w1[0], one.initial_weights[0])


# ---------------------------------------------------------------- DiffAugment

def test_diff_augment_translation_cutout_and_color_by_hand():
    x = np.arange(1, 17, dtype=np.float32).reshape(1, 4, 4, 1)  # rows 1-4, 5-8, 9-12, 13-16
    # translation 0.25 of a 4-pixel side: shifts in {-1, 0, 1}; u = 1 -> +1 down, u = 0 -> -1 left
    got = transforms.diff_augment(x, [[1.0, 0.0]], ("translation",), translation=0.25, fill=-1.0)
    want = np.array([[-1, -1, -1, -1], [2, 3, 4, -1], [6, 7, 8, -1], [10, 11, 12, -1]], np.float32)
    np.testing.assert_array_equal(np.asarray(got)[0, :, :, 0], want)
    # cutout 0.5: a 2x2 square centred at floor(u * 4) = (2, 1), i.e. rows 1-2, columns 0-1
    got = transforms.diff_augment(x, [[0.5, 0.3]], ("cutout",), cutout=0.5, fill=0.0)
    want = x[0, :, :, 0].copy()
    want[1:3, 0:2] = 0.0
    np.testing.assert_array_equal(np.asarray(got)[0, :, :, 0], want)
    # color on one channel: brightness +0.25, saturation a no-op, contrast 0.75 around the mean
    got = transforms.diff_augment(x, [[0.75, 0.9, 0.25]], ("color",))
    b = x + 0.25
    np.testing.assert_allclose(got, (b - b.mean()) * 0.75 + b.mean(), rtol=1e-6)
    rgb = np.stack([x[..., 0], 2 * x[..., 0], 0 * x[..., 0]], -1)  # saturation x0.5 around the grey
    got = transforms.diff_augment(rgb, [[0.5, 0.25, 0.5]], ("color",))
    grey = rgb.mean(-1, keepdims=True)
    np.testing.assert_allclose(got, (rgb - grey) * 0.5 + grey, rtol=1e-6)
    # ops compose in policy order, each consuming its own uniforms
    both = transforms.diff_augment(x, [[1.0, 0.0, 0.5, 0.3]], ("translation", "cutout"),
                                   translation=0.25, cutout=0.5, fill=-1.0)
    t = transforms.diff_augment(x, [[1.0, 0.0]], ("translation",), translation=0.25)
    np.testing.assert_array_equal(both, transforms.diff_augment(t, [[0.5, 0.3]], ("cutout",)))
    assert transforms.augment_uniforms(transforms.AUGMENTATIONS) == 7


def test_diff_augment_passes_gradients_to_the_kept_pixels():
    x = tf.Variable(np.random.default_rng(0).normal(size=(3, 8, 8, 2)).astype("float32"))
    u = np.random.default_rng(1).uniform(size=(3, 4)).astype("float32")
    with tf.GradientTape() as tape:
        y = transforms.diff_augment(x, u, ("translation", "cutout"))
        total = tf.reduce_sum(y)
    grad = tape.gradient(total, x).numpy()
    # every output pixel copies at most one input pixel; the gradient counts the copies kept
    ones = transforms.diff_augment(np.ones((3, 8, 8, 2), "float32"), u, ("translation", "cutout"),
                                   fill=0.0)
    assert grad.sum() == pytest.approx(float(np.sum(ones)))
    assert 0 < grad.sum() < x.numpy().size and set(np.unique(grad)) <= {0.0, 1.0}


def image_gan(strategy=None, **kw):
    keras.utils.set_random_seed(7)
    with strategy.scope() if strategy else contextlib.nullcontext():
        gan = kgan.GAN(data_shape=(8, 8, 1), latent_dim=4, architecture="mlp", seed=3,
                       generator_options={"hidden_units": (16,), "normalization": "none"},
                       **split({"discriminator_options": {"hidden_units": (16,)}, **kw}))
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-2))
    return gan


def test_diff_augment_is_what_d_sees_and_two_replicas_equal_one_device():
    gan = image_gan(diff_augment="translation,cutout", r1_gamma=1.0)
    assert gan.transforms == [transforms.DiffAugment(("translation", "cutout"))]
    x = np.random.default_rng(2).uniform(-1, 1, size=(64, 8, 8, 1)).astype("float32")
    seen = np.asarray(gan.view(x))
    assert (seen == -1.0).mean() > 0.2  # cut-out and shifted-in pixels are black
    assert np.isin(seen, np.append(x.ravel(), -1.0)).all()  # every other pixel is a data pixel
    assert not np.allclose(seen, np.asarray(gan.view(x)))  # fresh randomness per view
    runs = []
    for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), mirrored_strategy()):
        gan = image_gan(strategy, diff_augment="color,translation,cutout")
        hist = gan.fit(x, batch_size=16, epochs=1, shuffle=False, verbose=0)
        runs.append((arrays(gan.generator.weights + gan.discriminator.weights), hist.history))
    (w1, h1), (w2, h2) = runs
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-6)
    np.testing.assert_allclose(h1["d_loss"], h2["d_loss"], rtol=1e-4)


def test_diff_augment_round_trips_and_rejects_bad_options(tmp_path):
    gan = image_gan(diff_augment="color, cutout")
    path = str(tmp_path / "aug.keras")
    gan.save(path)
    assert keras.saving.load_model(path).transforms == [transforms.DiffAugment("color,cutout")]
    with pytest.raises(ValueError, match=r"policy must be a non-empty subset of .*got \('flip',\)"):
        transforms.DiffAugment("flip")
    with pytest.raises(ValueError, match="cutout must be in"):
        transforms.DiffAugment(cutout=1.5)
    with pytest.raises(ValueError, match=r"augments images \[H, W, C\].*shape \(2,\)"):
        make(diff_augment="translation")
    from kgan import training
    c = training.resolve(training.parse_args(["--diff-augment", "translation,cutout"])[0])
    assert training.build_model(c, (28, 28, 1), 10).transforms == [
        transforms.DiffAugment("translation,cutout")]
