"""N replicas must equal one device: weights, logged losses, and the added terms.

Mirrored runs use 2 logical CPU devices (tests/conftest.py). The multi-worker
run starts 2 real worker processes on 127.0.0.1 configured through TF_CONFIG.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CPUS = ["/cpu:0", "/cpu:1"]
_MIRRORED = []


def mirrored_strategy():
    # One strategy per process: separate MirroredStrategy objects reuse collective
    # instance keys, and a later one then trips over an earlier one's shapes.
    if not _MIRRORED:
        _MIRRORED.append(tf.distribute.MirroredStrategy(CPUS))
    return _MIRRORED[0]


def build(strategy, loss, conditional=False, d_steps=1, arch="mlp", **extra):
    keras.utils.set_random_seed(7)
    with strategy.scope():
        shape = (8, 8, 1) if arch == "dcgan_like" else (2,)
        gan = kgan.GAN(
            data_shape=shape, latent_dim=4, architecture="mlp", loss=loss, d_steps=d_steps,
            num_classes=3 if conditional else None, seed=3,
            # batch norm in G: per-replica statistics differ from global ones, so the
            # exact-equality test keeps G's normalisation off (dropout is off by default)
            generator_options={"hidden_units": (16, 16), "normalization": "none"},
            discriminator_options={"hidden_units": (16,)}, **extra)
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-2))
    return gan


def run_steps(strategy, loss, steps=4, **kw):
    gan = build(strategy, loss, **kw)
    x, y = kgan.data.ring_mixture().sample(64, seed=0)
    ds, _ = kgan.data.training_stream(x, y % 3 if kw.get("conditional") else None, batch_size=16, seed=1)
    hist = gan.fit(ds, epochs=2, steps_per_epoch=steps // 2, verbose=0)
    weights = [np.array(v) for v in gan.generator.weights + gan.discriminator.weights]
    return weights, hist.history, gan


@pytest.mark.parametrize("loss,kw", [
    ("non_saturating", {}),
    ("least_squares", {}),
    ("non_saturating", {"conditional": True, "d_steps": 2}),
])
def test_mirrored_two_replicas_equal_one_device(loss, kw):
    mirrored = mirrored_strategy()
    assert mirrored.num_replicas_in_sync == 2
    w1, h1, one = run_steps(tf.distribute.OneDeviceStrategy("/cpu:0"), loss, **kw)
    w2, h2, two = run_steps(mirrored, loss, **kw)
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    assert set(h1) == set(h2)
    for k in h1:  # logged values are global-batch values, not one replica's share
        np.testing.assert_allclose(h1[k], h2[k], rtol=2e-5, atol=1e-6, err_msg=k)
    assert two.step == one.step == 4
    assert int(np.array(two.d_optimizer.iterations.value)) == 4 * kw.get("d_steps", 1)
    # the weights really moved, so the comparison means something
    assert not np.allclose(w1[0], build(tf.distribute.get_strategy(), loss, **kw).generator.weights[0])


def test_replicas_draw_different_noise_and_union_equals_one_device():
    mirrored = mirrored_strategy()
    gan2 = build(mirrored, "non_saturating")
    per_replica = mirrored.run(tf.function(lambda: gan2.sample_noise(3)))
    a, b = [np.array(t) for t in mirrored.experimental_local_results(per_replica)]
    assert not np.allclose(a, b)
    gan1 = build(tf.distribute.get_strategy(), "non_saturating")
    np.testing.assert_allclose(np.concatenate([a, b]), np.array(gan1.sample_noise(6)), atol=1e-6)


def test_regulariser_terms_are_scaled_for_the_global_batch():
    # D carries L2 kernel penalties (layer losses): each replica adds 1/N of them,
    # so the summed gradient holds the penalty once, as on one device.
    def with_l2(strategy):
        keras.utils.set_random_seed(7)
        with strategy.scope():
            g = kgan.networks.build_mlp_generator(4, (2,), hidden_units=(16,), normalization="none")
            inp = keras.Input((2,))
            h = keras.layers.Dense(16, activation="relu", kernel_regularizer=keras.regularizers.L2(0.5))(inp)
            out = keras.layers.Dense(1, kernel_regularizer=keras.regularizers.L2(0.5))(h)
            gan = kgan.GAN(g, keras.Model(inp, out), seed=3)
            gan.compile(g_optimizer=keras.optimizers.Adam(1e-2), d_optimizer=keras.optimizers.Adam(1e-2))
        x, _ = kgan.data.ring_mixture().sample(32, seed=0)
        ds, _ = kgan.data.training_stream(x, None, batch_size=16, seed=1)
        h = gan.fit(ds, epochs=1, steps_per_epoch=2, verbose=0)
        return [np.array(v) for v in gan.discriminator.weights], h.history["d_loss"]

    w1, l1 = with_l2(tf.distribute.OneDeviceStrategy("/cpu:0"))
    w2, l2 = with_l2(mirrored_strategy())
    for a, b in zip(w1, w2):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=2e-6)
    np.testing.assert_allclose(l1, l2, rtol=2e-5)


def test_uneven_global_batch_is_rejected():
    gan = build(mirrored_strategy(), "non_saturating")
    x = np.zeros((30, 2), "float32")
    ds = tf.data.Dataset.from_tensor_slices(x).batch(15, drop_remainder=True)
    with pytest.raises(kgan.DataError, match="global batch of 15 does not split evenly across 2 replicas"):
        gan.fit(ds, verbose=0)


def test_sync_batch_norm_option():
    d = kgan.networks.build_dcgan_discriminator((28, 28, 1), base_filters=4, sync_batch_norm=True)
    bns = [l for l in d.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert bns and all(l.synchronized for l in bns)


def test_mixed_bfloat16_trains_with_float32_variables():
    keras.mixed_precision.set_global_policy("mixed_bfloat16")
    try:
        keras.utils.set_random_seed(0)
        gan = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=8, generator_options={"base_filters": 4},
                         discriminator_options={"base_filters": 4}, seed=0)
        gan.compile()
        x = np.random.default_rng(0).uniform(-1, 1, (32, 28, 28, 1)).astype("float32")
        hist = gan.fit(x, batch_size=16, epochs=1, verbose=0)
        assert all(np.isfinite(v[-1]) for v in hist.history.values())
        assert gan.generator.compute_dtype == "bfloat16"
        assert all(v.dtype == "float32" for v in gan.generator.trainable_weights + gan.discriminator.trainable_weights)
        assert gan.generate(2, seed=0).dtype == np.float32
    finally:
        keras.mixed_precision.set_global_policy("float32")


def test_mixed_float16_wraps_both_optimizers_in_loss_scaling():
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        gan = kgan.GAN(data_shape=(2,), latent_dim=4, generator_options={"hidden_units": (8,)},
                       discriminator_options={"hidden_units": (8,)})
        gan.compile()
        assert isinstance(gan.g_optimizer, keras.optimizers.LossScaleOptimizer)
        assert isinstance(gan.d_optimizer, keras.optimizers.LossScaleOptimizer)
    finally:
        keras.mixed_precision.set_global_policy("float32")


# ---------------------------------------------------------------- processes

def _free_ports(n):
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


TRAIN_ARGS = ["--variant", "vanilla", "--dataset", "ring", "--num-points", "256", "--hidden-units", "16,16",
              "--batch-size", "32", "--epochs", "2", "--no-export", "--deterministic", "--num-samples", "8",
              "--verbose", "0"]


def _env(**extra):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env.pop("TF_CONFIG", None)
    env.update(extra)
    return env


def _train_cmd(out, *extra):
    return [sys.executable, os.path.join(ROOT, "train", "train.py"), *TRAIN_ARGS, "--out", str(out), *extra]


def _model_weights(path):
    model = keras.saving.load_model(path)
    return [np.array(v) for v in model.generator.weights + model.discriminator.weights]


@pytest.mark.slow
def test_multiworker_two_processes_match_single_process_mirrored(tmp_path):
    ref = tmp_path / "mirrored"
    r = subprocess.run(_train_cmd(ref, "--strategy", "mirrored", "--cpu-replicas", "2"),
                       env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]

    out = tmp_path / "multi"
    ports = _free_ports(2)
    cluster = {"worker": [f"127.0.0.1:{p}" for p in ports]}
    procs = []
    for i in range(2):
        tf_config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": i}})
        procs.append(subprocess.Popen(_train_cmd(out, "--strategy", "multiworker"), env=_env(TF_CONFIG=tf_config),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    deadline = time.time() + 300
    results = []
    try:
        for p in procs:
            _, err = p.communicate(timeout=max(1, deadline - time.time()))
            results.append((p.returncode, err))
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    for rc, err in results:
        assert rc == 0, err[-3000:]  # both workers shut down cleanly
    # the chief (worker 0) alone wrote the run's outputs
    assert (out / "model.keras").is_file() and (out / "checkpoints" / "model.keras").is_file()
    assert (out / "samples.png").is_file()
    worker_dir = out / ".worker1"
    assert not (worker_dir / "model.keras").exists() and not (worker_dir / "samples").exists()
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [".worker1"]
    for a, b in zip(_model_weights(str(ref / "model.keras")), _model_weights(str(out / "model.keras"))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    s_ref = json.loads((ref / "summary.json").read_text())["final_metrics"]
    s_mw = json.loads((out / "summary.json").read_text())["final_metrics"]
    for k in s_ref:
        assert s_mw[k] == pytest.approx(s_ref[k], rel=1e-5, abs=1e-6), k


KILLER = """
import os, signal, sys, keras
from kgan import training

class KillAt(keras.callbacks.Callback):
    def on_train_batch_end(self, batch, logs=None):
        if self.model.step == {step}:
            os.kill(os.getpid(), signal.SIGKILL)

config, _ = training.parse_args(sys.argv[1:])
training.run(config, extra_callbacks=[KillAt()])
"""


@pytest.mark.slow
def test_sigkill_mid_epoch_then_rerun_resumes_exactly(tmp_path):
    # 512 points / batch 32 = 16 steps per epoch, 2 epochs; state every 5 steps;
    # with an EMA of G, which must resume exactly too.
    args = ["--num-points", "512", "--backup-every", "5", "--ema-decay", "0.9"]
    full = tmp_path / "full"
    r = subprocess.run(_train_cmd(full, *args), env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]

    crash = tmp_path / "crash"
    cmd = _train_cmd(crash, *args)
    killer = [sys.executable, "-c", KILLER.format(step=13)] + cmd[2:]
    p = subprocess.run(killer, env=_env(), capture_output=True, text=True, timeout=300)
    assert p.returncode == -signal.SIGKILL, p.stderr[-3000:]
    assert (crash / "backup" / "state.weights.h5").is_file()
    assert not (crash / "model.keras").exists()

    r = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)  # the same command
    assert r.returncode == 0, r.stderr[-3000:]
    assert "resuming at step 10 (epoch 1, batch 10)" in r.stdout
    summary = json.loads((crash / "summary.json").read_text())
    assert summary["resumed_from_step"] == 10 and summary["steps"] == 32
    for a, b in zip(_model_weights(str(full / "model.keras")), _model_weights(str(crash / "model.keras"))):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    ema_full = keras.saving.load_model(str(full / "model.keras")).ema_generator.weights
    ema_crash = keras.saving.load_model(str(crash / "model.keras")).ema_generator.weights
    assert len(ema_full) == len(ema_crash) > 0
    for a, b in zip(ema_full, ema_crash):
        np.testing.assert_allclose(np.array(a), np.array(b), rtol=1e-6, atol=1e-7)
    assert summary["sampled_network"] == "ema_generator"


UNEVEN = """
import numpy as np, tensorflow as tf
from kgan import distribute
distribute.split_cpu(2)
import kgan
s = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
with s.scope():
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, generator_options={"hidden_units": (8,)},
                   discriminator_options={"hidden_units": (8,)})
    gan.compile()
before = [np.array(v) for v in gan.generator.weights]
# 31 points in batches of 16: the unknown-size last batch (15) cannot split over 2 replicas
ds = tf.data.Dataset.from_tensor_slices(np.zeros((31, 2), "float32")).batch(16)
try:
    gan.fit(ds, epochs=1, verbose=0)
except kgan.DataError as e:
    print("DataError:", e)
"""


def test_partial_batch_of_unknown_size_is_caught_in_the_graph():
    # A separate process: a failed collective poisons the strategy for the rest of a process.
    r = subprocess.run([sys.executable, "-c", UNEVEN], env=_env(), capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "DataError: A global batch did not split evenly across 2 replicas" in r.stdout
