"""Tests for kgan.eval_callbacks: GeneratorEMA and the metric callbacks."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import data, metrics
from kgan.eval_callbacks import FrechetDistance, GeneratorEMA, GeneratorMetrics, ModeCoverage

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


class _Recorder(keras.callbacks.Callback):
    """Keeps the generator's weights after every train batch."""

    def __init__(self):
        super().__init__()
        self.trainable, self.non_trainable = [], []

    def on_train_begin(self, logs=None):
        self.initial = [w.numpy().copy() for w in self.model.generator.trainable_weights]

    def on_train_batch_end(self, batch, logs=None):
        self.trainable.append([w.numpy().copy() for w in self.model.generator.trainable_weights])
        self.non_trainable.append(
            [w.numpy().copy() for w in self.model.generator.non_trainable_weights])


def _expected_ema(initial, steps, decay, start_step=0):
    ema = [w.copy() for w in initial]
    for t, weights in enumerate(steps, start=1):
        d = 0.0 if t <= start_step else decay
        ema = [d * e + (1 - d) * w for e, w in zip(ema, weights)]
    return ema


def _check_ema(gan, rec, decay, start_step=0):
    assert len(rec.trainable) == 8  # 2 epochs x 4 batches
    expected = _expected_ema(rec.initial, rec.trainable, decay, start_step)
    got = [w.numpy() for w in gan.ema_generator.trainable_weights]
    for e, g in zip(expected, got):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    # The average really differs from the current weights ...
    assert not np.allclose(got[0], rec.trainable[-1][0])
    # ... while batch-norm moving statistics are copied.
    assert len(rec.non_trainable[-1]) == 2
    for e, g in zip(rec.non_trainable[-1], gan.ema_generator.non_trainable_weights):
        np.testing.assert_array_equal(g.numpy(), e)


def test_ema_equals_hand_computed_average():
    gan = _tiny_gan()
    n_weights = len(gan.weights)
    rec = _Recorder()
    gan.fit(_dataset(), epochs=2, verbose=0, callbacks=[GeneratorEMA(decay=0.8), rec])
    _check_ema(gan, rec, 0.8)
    # The clone is the same architecture and is not part of the GAN's own state.
    assert gan.ema_generator is not gan.generator
    assert gan.ema_generator.get_config()["layers"] == gan.generator.get_config()["layers"]
    assert len(gan.weights) == n_weights
    # It generates: the EMA generator differs from the raw one on the same latents.
    z = kgan.noise.latents_from_seeds(np.arange(5), gan.latent_dim)
    assert gan.ema_generator(z, training=False).shape == (5, 2)


def test_ema_start_step_copies_then_averages():
    gan = _tiny_gan(seed=1)
    rec = _Recorder()
    gan.fit(_dataset(), epochs=2, verbose=0,
            callbacks=[GeneratorEMA(decay=0.5, start_step=3), rec])
    _check_ema(gan, rec, 0.5, start_step=3)


def test_ema_continues_across_fit_calls():
    gan = _tiny_gan(seed=2)
    ema_cb = GeneratorEMA(decay=0.7)
    rec1, rec2 = _Recorder(), _Recorder()
    gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[ema_cb, rec1])
    first = gan.ema_generator
    gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[ema_cb, rec2])
    assert gan.ema_generator is first
    expected = _expected_ema(rec1.initial, rec1.trainable + rec2.trainable, 0.7)
    for e, g in zip(expected, gan.ema_generator.trainable_weights):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=1e-6)


def test_training_state_saves_and_restores_the_ema(tmp_path):
    from kgan.callbacks import TrainingState

    # Uninterrupted: 2 epochs with the average.
    full = _tiny_gan(seed=3)
    full.fit(_dataset(), epochs=2, verbose=0, callbacks=[GeneratorEMA(decay=0.6)])

    # Interrupted after epoch 1 (state saved at the epoch end), then a fresh
    # process-like restart: a new model restored from the state, one more epoch.
    first = _tiny_gan(seed=3)
    first.fit(_dataset(), epochs=1, verbose=0,
              callbacks=[GeneratorEMA(decay=0.6), TrainingState(str(tmp_path))])
    saved = sorted(os.listdir(tmp_path))
    assert saved == ["ema-4.weights.h5", "state.weights.h5"]  # 4 steps; the average named by step
    resumed = _tiny_gan(seed=99)  # other initial weights: everything must come from the state
    assert TrainingState(str(tmp_path)).restore(resumed) == 4
    for a, b in zip(first.ema_generator.weights, resumed.ema_generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    resumed.fit(_dataset(), epochs=1, verbose=0,
                callbacks=[GeneratorEMA(decay=0.6), TrainingState(str(tmp_path))])
    for a, b in zip(full.ema_generator.weights, resumed.ema_generator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)
    assert sorted(os.listdir(tmp_path)) == ["ema-8.weights.h5", "state.weights.h5"]  # old one pruned


def test_ema_rejects_bad_decay():
    with pytest.raises(ValueError, match="decay"):
        GeneratorEMA(decay=1.0)


def test_ema_under_mirrored_strategy_scope():
    strategy = tf.distribute.MirroredStrategy(["/cpu:0"])
    with strategy.scope():
        gan = _tiny_gan(seed=3)
    rec = _Recorder()
    gan.fit(_dataset(), epochs=2, verbose=0, callbacks=[GeneratorEMA(decay=0.8), rec])
    for v in gan.ema_generator.weights:
        assert strategy.extended.variable_created_in_scope(v.value)
    _check_ema(gan, rec, 0.8)


_TWO_REPLICAS = textwrap.dedent("""
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import numpy as np, keras, kgan
    from kgan.eval_callbacks import GeneratorEMA
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    assert strategy.num_replicas_in_sync == 2
    keras.utils.set_random_seed(0)
    with strategy.scope():
        gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, seed=0,
                              generator_options={"hidden_units": (8,)},
                              discriminator_options={"hidden_units": (8,)})
        gan.compile()
    init = [w.numpy() for w in gan.generator.trainable_weights]
    steps = []
    rec = keras.callbacks.LambdaCallback(on_train_batch_end=lambda batch, logs: steps.append(
        [w.numpy() for w in gan.generator.trainable_weights]))
    x, _ = kgan.data.ring_mixture().sample(128, seed=0)
    gan.fit(kgan.data.as_dataset(x, batch_size=32, shuffle=False), epochs=1, verbose=0,
            callbacks=[GeneratorEMA(0.8), rec])
    ema = init
    for w in steps:
        ema = [0.8 * e + 0.2 * v for e, v in zip(ema, w)]
    for v, e in zip(gan.ema_generator.trainable_weights, ema):
        assert isinstance(v.value, tf.distribute.DistributedValues), type(v.value)
        assert strategy.extended.variable_created_in_scope(v.value)
        for replica_value in strategy.experimental_local_results(v.value):
            np.testing.assert_allclose(replica_value.numpy(), e, rtol=1e-5, atol=1e-6)
    print("OK", len(steps))
""")


def test_ema_with_two_replicas_subprocess():
    # Two logical CPU devices must be configured before TensorFlow starts,
    # hence a fresh interpreter.
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    out = subprocess.run([sys.executable, "-c", _TWO_REPLICAS], capture_output=True, text=True,
                         timeout=300, env=env)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "OK 4" in out.stdout


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
    gan = _tiny_gan(seed=6)
    real, _ = RING.sample(300, seed=1)
    fd = FrechetDistance(None, real, num_samples=300, kid_subsets=3, kid_subset_size=100,
                         use_ema=True)
    history = gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[GeneratorEMA(0.9), fd])
    assert set(fd.history[0]) == {"epoch", "ema_fd", "ema_kid", "ema_kid_std"}
    samples, _ = metrics.generate_samples(gan, 300, seed=0, use_ema=True)
    assert history.history["ema_fd"][0] == pytest.approx(metrics.frechet_distance(real, samples))
    raw, _ = metrics.generate_samples(gan, 300, seed=0)
    assert not np.allclose(samples, raw)


def test_use_ema_without_ema_callback_fails():
    gan = _tiny_gan(seed=7)
    cb = GeneratorMetrics(metrics.MixtureMetrics(RING), num_samples=50, use_ema=True)
    with pytest.raises(ValueError, match="GeneratorEMA"):
        gan.fit(_dataset(), epochs=1, verbose=0, callbacks=[cb])


def test_conditional_model_metrics_get_requested_labels():
    keras.utils.set_random_seed(8)
    gan = kgan.ConditionalGAN(data_shape=(2,), latent_dim=4, num_classes=3, architecture="mlp",
                              generator_options={"hidden_units": (8,)},
                              discriminator_options={"hidden_units": (8,)}, seed=0)
    gan.compile()
    seen = {}

    def evaluator(samples, labels):
        seen["labels"] = labels
        return {"n": len(samples)}

    x, modes = RING.sample(64, seed=0)
    ds = data.as_dataset(x, modes % 3, batch_size=32, shuffle=False)
    history = gan.fit(ds, epochs=1, verbose=0, callbacks=[
        GeneratorEMA(0.9), GeneratorMetrics(evaluator, 10),
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
