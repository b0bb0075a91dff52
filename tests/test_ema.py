"""The EMA of G's weights kept by the model (``ema_decay``): hand-computed
average, start step, continuation, saved in .keras and in the resume state,
sampled by generate, and equal under 2 replicas."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import data
from kgan.callbacks import TrainingState

from test_distributed import mirrored_strategy

RING = data.ring_mixture()


def tiny(seed=0, strategy=None, **kw):
    keras.utils.set_random_seed(seed)
    with (strategy or tf.distribute.get_strategy()).scope():
        gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, seed=seed,
                              generator_options={"hidden_units": (8,)},  # Dense + BatchNorm
                              discriminator_options={"hidden_units": (8,)}, **kw)
        gan.compile()
    return gan


def dataset(n=128, batch_size=32):
    x, _ = RING.sample(n, seed=0)
    return data.as_dataset(x, batch_size=batch_size, shuffle=False)


class Recorder(keras.callbacks.Callback):
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


def expected_ema(initial, steps, decay, start_step=0):
    ema = [w.copy() for w in initial]
    for t, weights in enumerate(steps, start=1):
        d = 0.0 if t <= start_step else decay
        ema = [d * e + (1 - d) * w for e, w in zip(ema, weights)]
    return ema


def check(gan, rec, decay, start_step=0):
    assert len(rec.trainable) == 8  # 2 epochs x 4 batches
    want = expected_ema(rec.initial, rec.trainable, decay, start_step)
    got = [w.numpy() for w in gan.ema_generator.trainable_weights]
    for e, g in zip(want, got):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6)
    assert not np.allclose(got[0], rec.trainable[-1][0])  # an average, not the last weights
    assert len(rec.non_trainable[-1]) == 2  # batch-norm moving statistics are copied
    for e, g in zip(rec.non_trainable[-1], gan.ema_generator.non_trainable_weights):
        np.testing.assert_array_equal(g.numpy(), e)


def test_ema_equals_hand_computed_average_and_generate_samples_it():
    gan = tiny(ema_decay=0.8)
    rec = Recorder()
    gan.fit(dataset(), epochs=2, verbose=0, callbacks=[rec])
    check(gan, rec, 0.8)
    z = kgan.noise.latents_from_seeds(np.arange(5), gan.latent_dim)
    np.testing.assert_allclose(gan.generate(z=z), gan.ema_generator(z, training=False), atol=1e-6)
    np.testing.assert_allclose(gan.generate(z=z, raw=True), gan.generator(z, training=False),
                               atol=1e-6)


def test_ema_start_step_copies_then_averages():
    gan = tiny(seed=1, ema_decay=0.5, ema_start_step=3)
    rec = Recorder()
    gan.fit(dataset(), epochs=2, verbose=0, callbacks=[rec])
    check(gan, rec, 0.5, start_step=3)


def test_ema_continues_across_fit_calls():
    gan = tiny(seed=2, ema_decay=0.7)
    rec1, rec2 = Recorder(), Recorder()
    gan.fit(dataset(), epochs=1, verbose=0, callbacks=[rec1])
    gan.fit(dataset(), epochs=1, verbose=0, callbacks=[rec2])
    want = expected_ema(rec1.initial, rec1.trainable + rec2.trainable, 0.7)
    for e, g in zip(want, gan.ema_generator.trainable_weights):
        np.testing.assert_allclose(g.numpy(), e, rtol=1e-5, atol=1e-6)


def test_ema_is_inside_the_keras_file_and_continues_exactly(tmp_path):
    full = tiny(seed=3, ema_decay=0.6)
    full.fit(dataset(), epochs=2, verbose=0)
    half = tiny(seed=3, ema_decay=0.6)
    half.fit(dataset(), epochs=1, verbose=0)
    half.save(str(tmp_path / "gan.keras"))
    back = keras.saving.load_model(str(tmp_path / "gan.keras"))
    assert back.ema_decay == 0.6
    for a, b in zip(half.ema_generator.weights, back.ema_generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    np.testing.assert_array_equal(back.generate(4, seed=0), half.generate(4, seed=0))
    back.fit(dataset(), epochs=1, verbose=0)
    for a, b in zip(full.ema_generator.weights, back.ema_generator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_training_state_saves_and_restores_the_ema(tmp_path):
    full = tiny(seed=3, ema_decay=0.6)
    full.fit(dataset(), epochs=2, verbose=0)
    first = tiny(seed=3, ema_decay=0.6)
    first.fit(dataset(), epochs=1, verbose=0, callbacks=[TrainingState(str(tmp_path))])
    resumed = tiny(seed=99, ema_decay=0.6)  # other weights: everything must come from the state
    assert TrainingState(str(tmp_path)).restore(resumed) == 4
    for a, b in zip(first.ema_generator.weights, resumed.ema_generator.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy())
    resumed.fit(dataset(), epochs=1, verbose=0)
    for a, b in zip(full.ema_generator.weights, resumed.ema_generator.weights):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-6)


def test_ema_rejects_bad_arguments():
    with pytest.raises(ValueError, match=r"ema_decay must be in \[0, 1\)"):
        tiny(ema_decay=1.0)
    with pytest.raises(ValueError, match="ema_start_step must be >= 0"):
        tiny(ema_decay=0.5, ema_start_step=-1)


def test_ema_with_two_replicas_equals_one_device():
    results = []
    for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), mirrored_strategy()):
        # no batch norm in G: per-replica batch statistics would differ from global ones
        keras.utils.set_random_seed(0)
        with strategy.scope():
            gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, seed=0, ema_decay=0.8,
                                  generator_options={"hidden_units": (8,), "normalization": "none"},
                                  discriminator_options={"hidden_units": (8,)})
            gan.compile()
        ds, _ = data.training_stream(RING.sample(64, 0)[0], batch_size=16)
        gan.fit(ds, steps_per_epoch=4, verbose=0)
        results.append([np.array(w) for w in gan.ema_generator.weights])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert not np.allclose(results[0][0], tiny(ema_decay=0.8).ema_generator.weights[0].numpy())


def test_epoch_end_saves_wait_min_seconds_but_always_save_the_last_epoch(tmp_path):
    from kgan.callbacks import LatestModel

    saved = {"state": [], "latest": []}

    class CountingState(TrainingState):
        def save(self):
            saved["state"].append(self.model.step)
            super().save()

    class CountingLatest(LatestModel):
        def _save_model(self, epoch, batch, logs):
            saved["latest"].append(epoch)
            super()._save_model(epoch, batch, logs)

    gan = tiny(seed=3, ema_decay=0.6)
    path = str(tmp_path / "latest.keras")
    gan.fit(dataset(), epochs=3, verbose=0, callbacks=[
        CountingState(str(tmp_path / "slow"), min_seconds=3600), CountingLatest(path, 3600)])
    assert saved == {"state": [12], "latest": [2]}  # 4 steps an epoch: only the last epoch
    np.testing.assert_array_equal(keras.saving.load_model(path).generate(4, seed=0),
                                  gan.generate(4, seed=0))
    saved.update(state=[], latest=[])
    gan.fit(dataset(), epochs=2, verbose=0, callbacks=[
        CountingState(str(tmp_path / "every")), CountingLatest(path)])  # 0 s: every epoch
    assert saved == {"state": [16, 20], "latest": [0, 1]}
    with pytest.raises(ValueError, match="min_seconds must be >= 0"):
        TrainingState(str(tmp_path), min_seconds=-1)
