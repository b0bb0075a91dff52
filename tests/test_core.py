"""What the train step actually does: the noise and inputs each network gets,
hand-computed accuracies, the NaN guard on each network, mixed precision,
synchronized batch norm, evaluate, keyword compile, and checked generate."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import ops

import kgan
from kgan.core import sampling
from kgan.core.pieces import Term

from test_distributed import mirrored_strategy

W = np.array([3.0, 4.0], np.float32)


class Recorder(keras.Model):
    """Runs ``inner`` and keeps every input it was called on (eager steps only)."""

    def __init__(self, inner, **kwargs):
        super().__init__(**kwargs)
        self.inner = inner
        self.seen = []

    def call(self, x, training=False):
        self.seen.append(np.array(x))
        return self.inner(x, training=training)


def linear_d(w=W):
    inp = keras.Input((2,))
    dense = keras.layers.Dense(1, use_bias=False)
    model = keras.Model(inp, dense(inp))
    dense.kernel.assign(np.reshape(w, (2, 1)))
    return model


def identity_g(latent_dim=2):
    inp = keras.Input((latent_dim,))
    return keras.Model(inp, keras.layers.Dense(2, kernel_initializer="identity", use_bias=False)(inp))


def replay_noise(gan, shapes):
    """The normals the model's seed stream gives next, without advancing it."""
    state = np.array(gan.seed_generator.state)
    draws = [np.array(keras.random.normal(s, seed=gan.seed_generator)) for s in shapes]
    gan.seed_generator.state.assign(state)
    return draws


def recorded_gan(step="alternating", d_steps=2):
    g = Recorder(identity_g())
    d = Recorder(linear_d())
    gan = kgan.GAN(g, d, data_shape=(2,), latent_dim=2, d_steps=d_steps, step=step, seed=0)
    g.seen.clear(), d.seen.clear()
    gan.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.0),
                run_eagerly=True)
    return gan, g, d


def test_every_update_gets_fresh_noise_and_d_sees_what_g_made():
    gan, g, d = recorded_gan(d_steps=2)
    real = kgan.data.ring_mixture().sample(8, 0)[0]
    z = replay_noise(gan, [(8, 2)] * 3)
    gan.fit(real, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len(g.seen) == 3  # two D updates and G's update, each with its own draw
    for seen, want in zip(g.seen, z):
        np.testing.assert_allclose(seen, want, rtol=1e-6)
    assert not np.allclose(g.seen[0], g.seen[1]) and not np.allclose(g.seen[1], g.seen[2])
    # D: (real, fakes of draw 1), (real, fakes of draw 2), then G's fakes of draw 3
    # (the identity generator makes fakes equal to z)
    assert len(d.seen) == 5
    for seen, want in zip(d.seen, [real, z[0], real, z[1], z[2]]):
        np.testing.assert_allclose(seen, want, rtol=1e-6)


def test_shared_fakes_uses_one_draw_for_both_updates():
    gan, g, d = recorded_gan(step="shared_fakes", d_steps=1)
    real = kgan.data.ring_mixture().sample(8, 0)[0]
    (z,) = replay_noise(gan, [(8, 2)])
    gan.fit(real, batch_size=8, epochs=1, verbose=0, shuffle=False)
    assert len(g.seen) == 1 and len(d.seen) == 2  # one G forward, one D pass per batch
    np.testing.assert_allclose(g.seen[0], z, rtol=1e-6)


def test_shared_fakes_equals_the_tutorial_update():
    # The TF DCGAN tutorial: one forward, both gradients at the old weights, both applied.
    keras.utils.set_random_seed(1)
    gan = kgan.GAN(data_shape=(2,), latent_dim=3, architecture="mlp", step="shared_fakes", seed=0,
                   generator_options={"hidden_units": (8,), "normalization": "none"},
                   discriminator_options={"hidden_units": (8,)})
    gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.2))
    g0 = [np.array(v) for v in gan.generator.trainable_variables]
    d0 = [np.array(v) for v in gan.discriminator.trainable_variables]
    real = kgan.data.ring_mixture().sample(16, 0)[0]
    (z,) = replay_noise(gan, [(16, 3)])
    with tf.GradientTape() as gt, tf.GradientTape() as dt:
        fake = gan.generator(z, training=True)
        r, f = gan.discriminator(real, training=True), gan.discriminator(fake, training=True)
        g_loss = ops.mean(ops.softplus(-f))
        d_loss = ops.mean(ops.softplus(-r) + ops.softplus(f))
    g_grads = gt.gradient(g_loss, gan.generator.trainable_variables)
    d_grads = dt.gradient(d_loss, gan.discriminator.trainable_variables)
    hist = gan.fit(real, batch_size=16, epochs=1, verbose=0)
    for w0, grad, v in zip(g0, g_grads, gan.generator.trainable_variables):
        np.testing.assert_allclose(np.array(v), w0 - 0.1 * np.array(grad), rtol=1e-5, atol=1e-6)
    for w0, grad, v in zip(d0, d_grads, gan.discriminator.trainable_variables):
        np.testing.assert_allclose(np.array(v), w0 - 0.2 * np.array(grad), rtol=1e-5, atol=1e-6)
    assert hist.history["g_loss"][0] == pytest.approx(float(g_loss), rel=1e-5)
    assert hist.history["d_loss"][0] == pytest.approx(float(d_loss), rel=1e-5)


@pytest.mark.parametrize("loss,threshold", [("non_saturating", 0.0), ("least_squares", 0.5)])
def test_d_accuracies_are_the_hand_computed_shares(loss, threshold):
    gan = kgan.GAN(identity_g(), linear_d(), loss=loss, seed=0)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.0))
    rng = np.random.default_rng(3)
    real = rng.normal(size=(64, 2)).astype("float32") * 0.3
    (z,) = replay_noise(gan, [(64, 2)])  # fakes = z (identity G), scores = x @ W
    hist = gan.fit(real, batch_size=64, epochs=1, verbose=0)
    assert hist.history["d_acc_real"][0] == pytest.approx(np.mean(real @ W > threshold))
    assert hist.history["d_acc_fake"][0] == pytest.approx(np.mean(z @ W <= threshold))
    assert 0.05 < np.mean(real @ W > threshold) < 0.95  # both outcomes occur, so a flip shows
    # evaluate: the same shares on held-out data, without touching the training noise stream
    state = np.array(gan.seed_generator.state)
    held = rng.normal(size=(32, 2)).astype("float32") * 0.3
    logs = gan.evaluate(held, batch_size=32, verbose=0, return_dict=True)
    assert set(logs) == set(gan.metric_names)
    assert logs["d_acc_real"] == pytest.approx(np.mean(held @ W > threshold))
    np.testing.assert_array_equal(state, np.array(gan.seed_generator.state))


def test_validation_data_and_early_stopping_by_name():
    gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, seed=0,
                          generator_options={"hidden_units": (8,)},
                          discriminator_options={"hidden_units": (8,)})
    gan.compile()
    x = kgan.data.ring_mixture().sample(64, 0)[0]
    stop = keras.callbacks.EarlyStopping(monitor="g_loss", patience=100)  # mode inferred
    hist = gan.fit(x[:48], batch_size=16, epochs=2, verbose=0, validation_data=(x[48:],),
                   callbacks=[stop, keras.callbacks.EarlyStopping(monitor="val_d_loss")])
    assert {"val_d_acc_real", "val_d_acc_fake", "val_d_loss", "val_g_loss"} <= set(hist.history)
    assert stop.monitor_op is not None


class NaNForG(Term):
    """A term that poisons only G's loss."""

    def generator(self, record):
        return record.fake_scores[:, 0] * np.float32(np.nan)


@pytest.mark.parametrize("jit", [False, True])
def test_nan_guard_stops_g_update_after_d_updated(jit):
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", terms=[NaNForG()], seed=0,
                   generator_options={"hidden_units": (8,)}, discriminator_options={"hidden_units": (8,)})
    gan.compile(jit_compile=jit)
    g0 = [np.array(v) for v in gan.generator.trainable_variables]
    d0 = [np.array(v) for v in gan.discriminator.trainable_variables]
    with pytest.raises(kgan.NonFiniteLossError, match=r"the generator loss became NaN"):
        gan.fit(kgan.data.ring_mixture().sample(16, 0)[0], batch_size=16, verbose=0)
    for a, b in zip(g0, gan.generator.trainable_variables):
        np.testing.assert_array_equal(a, np.array(b))  # G's NaN update was not applied
    assert not all(np.array_equal(a, np.array(b))
                   for a, b in zip(d0, gan.discriminator.trainable_variables))  # D's was
    assert int(gan.g_optimizer.iterations) == 0 and int(gan.d_optimizer.iterations) == 1


def test_one_mixed_precision_step_matches_float32():
    # bfloat16 keeps 8 bits of mantissa: losses agree to 2 %, and one SGD step of each
    # variable is the float32 step to within 25 % (relative L2 norm of the difference;
    # measured: at most 14 %, in the projection kernel, whose gradient sums many
    # bfloat16 products through batch norm).
    results = []
    for policy in ("float32", "mixed_bfloat16"):
        keras.mixed_precision.set_global_policy(policy)
        try:
            keras.utils.set_random_seed(0)
            gan = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=8, seed=0,
                             generator_options={"base_filters": 4},
                             discriminator_options={"base_filters": 4})
            gan.compile(g_optimizer=keras.optimizers.SGD(0.1), d_optimizer=keras.optimizers.SGD(0.1))
            before = [np.array(v) for v in gan.generator.trainable_variables]
            x = np.tanh(np.random.default_rng(0).normal(size=(16, 28, 28, 1))).astype("float32")
            hist = gan.fit(x, batch_size=16, epochs=1, verbose=0)
            after = [np.array(v) for v in gan.generator.trainable_variables]
            assert gan.generator.layers[-1].compute_dtype == policy.replace("mixed_", "")
            results.append((hist.history, [a - b for a, b in zip(after, before)]))
        finally:
            keras.mixed_precision.set_global_policy("float32")
    (h32, d32), (h16, d16) = results
    for key in ("g_loss", "d_loss"):
        assert h16[key][0] == pytest.approx(h32[key][0], rel=2e-2), key
    for a, b in zip(d32, d16):
        assert np.linalg.norm(b - a) <= 0.25 * np.linalg.norm(a) + 1e-7


def test_synchronized_batch_norm_uses_global_statistics():
    strategy = mirrored_strategy()
    with strategy.scope():
        bn = keras.layers.BatchNormalization(synchronized=True, momentum=0.0)
        bn.build((None, 1))
    halves = [np.full((4, 1), 1.0, np.float32), np.full((4, 1), 5.0, np.float32)]
    values = strategy.experimental_distribute_values_from_function(
        lambda ctx: tf.constant(halves[ctx.replica_id_in_sync_group]))
    strategy.run(lambda x: bn(x, training=True), args=(values,))
    # the global batch's mean and variance (3 and 4), not one replica's (1 or 5, and 0)
    assert float(np.array(bn.moving_mean)[0]) == pytest.approx(3.0)
    assert float(np.array(bn.moving_variance)[0]) == pytest.approx(4.0, rel=1e-3)


def test_compile_takes_optimizers_by_keyword_only():
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp")
    with pytest.raises(TypeError, match=r"keyword only: compile\(g_optimizer=\.\.\., d_optimizer=\.\.\.\)"):
        gan.compile(keras.optimizers.Adam(), keras.optimizers.Adam())
    opt = keras.optimizers.Adam()
    with pytest.raises(ValueError, match="different optimizer objects"):
        gan.compile(g_optimizer=opt, d_optimizer=opt)


def test_generate_checks_the_count_and_works_batch_by_batch(monkeypatch):
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", seed=0)
    for bad in (-3, 0, 2.5, "4", True):
        with pytest.raises(ValueError, match="num_samples must be a positive integer"):
            gan.generate(bad)
    monkeypatch.setattr(sampling, "available_memory", lambda: 1000)
    with pytest.raises(MemoryError, match=r"num_samples=1000 asks for .* GiB"):
        gan.generate(1000)
    monkeypatch.undo()
    whole = gan.generate(10, seed=4)
    # Same samples batch by batch, to float32 round-off: oneDNN's kernels (kgan/_cpu.py)
    # block a matmul by its batch size, so the last bits depend on it (measured 7e-8).
    np.testing.assert_allclose(gan.generate(10, seed=4, batch_size=3), whole, rtol=1e-5, atol=1e-6)


def test_nan_guard_under_two_replicas():
    # (XLA under MirroredStrategy on logical CPU devices fails in Keras itself: XLA's
    # "variable on a different device" limitation; the guard's XLA path is tested above.)
    jit = False
    with mirrored_strategy().scope():
        gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", terms=[NaNForG()],
                       seed=0, generator_options={"hidden_units": (8,)},
                       discriminator_options={"hidden_units": (8,)})
        gan.compile(jit_compile=jit)
    g0 = [np.array(v) for v in gan.generator.trainable_variables]
    ds, _ = kgan.data.training_stream(kgan.data.ring_mixture().sample(32, 0)[0], batch_size=16)
    with pytest.raises(kgan.NonFiniteLossError, match="the generator loss"):
        gan.fit(ds, steps_per_epoch=2, verbose=0)
    for a, b in zip(g0, gan.generator.trainable_variables):
        np.testing.assert_array_equal(a, np.array(b))
    assert gan.step == 0


def test_jit_auto_times_both_forms_and_keeps_the_faster():
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", seed=0,
                   generator_options={"hidden_units": (8,)}, discriminator_options={"hidden_units": (8,)})
    gan.compile(jit_compile="auto")
    x = kgan.data.ring_mixture().sample(16 * 20, 0)[0]
    hist = gan.fit(x, batch_size=16, epochs=1, verbose=0)
    choice = gan.jit_choice
    assert choice is not None and set(choice["median_step_s"]) == {"plain", "xla"}
    faster = choice["median_step_s"]["xla"] < choice["median_step_s"]["plain"]
    assert choice["jit_compile"] is faster and bool(gan.jit_compile) is faster
    assert gan.step == 20 and np.isfinite(hist.history["g_loss"]).all()  # every timed step trained
    assert gan.get_compile_config()["jit_compile"] == "auto"


def test_jit_auto_undecided_after_a_short_fit_stays_off_xla():
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", seed=0,
                   generator_options={"hidden_units": (8,)}, discriminator_options={"hidden_units": (8,)})
    gan.compile(jit_compile="auto")
    x = kgan.data.ring_mixture().sample(16 * 9, 0)[0]  # 9 steps: ends inside the XLA timing
    gan.fit(x, batch_size=16, epochs=1, verbose=0)
    assert gan.jit_choice is None and not gan.jit_compile
    gan.fit(kgan.data.ring_mixture().sample(16 * 14, 1)[0], batch_size=16, epochs=1, verbose=0)
    assert gan.jit_choice is not None  # a long enough fit times both forms again and decides
