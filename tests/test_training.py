"""The train/ entry point, end to end, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from shared_data import needs_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


def train(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "train", "train.py"), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_dry_run_prints_resolved_config():
    r = train("--variant", "lsgan", "--dataset", "ring", "--dry-run")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["loss"] == "least_squares" and cfg["dataset"] == "ring" and cfg["strategy"] == "default"


def test_bad_flag_is_rejected():
    r = train("--variant", "nope", "--dry-run")
    assert r.returncode == 2 and "invalid choice" in r.stderr


@needs_mnist
def test_train_conditional_dcgan_on_shared_mnist(tmp_path):
    out = tmp_path / "run"
    r = train("--variant", "conditional", "--dataset", "mnist_idx", "--data-dir", MNIST,
              "--architecture", "dcgan", "--base-filters", "8", "--max-samples", "256",
              "--batch-size", "32", "--epochs", "2", "--num-samples", "16", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("config.json", "model.keras", "samples.png", "summary.json",
                 "samples/epoch_0001.png", "samples/epoch_0002.png", "checkpoints/model.keras"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("events.out.tfevents*"))
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["final_metrics"]) == {"g_loss", "d_loss", "d_acc_real", "d_acc_fake"}
    assert summary["export_matches_model"] is True
    assert (out / "export_samples.png").is_file()
    assert json.loads((out / "config.json").read_text())["conditional"] is True


def test_train_on_2d_mixture(tmp_path):
    out = tmp_path / "ring"
    r = train("--variant", "vanilla", "--dataset", "ring", "--num-points", "512", "--hidden-units", "32,32",
              "--batch-size", "64", "--epochs", "1", "--no-export", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "samples.png").is_file() and (out / "samples" / "epoch_0001.png").is_file()
    assert json.loads((out / "summary.json").read_text())["num_examples"] == 512


def test_train_recipe_flags_cosine_schedule_no_bn_generator_and_ema(tmp_path):
    import keras

    out = tmp_path / "grid"
    r = train("--variant", "gan", "--dataset", "grid", "--num-points", "256", "--hidden-units", "16,16",
              "--batch-size", "64", "--epochs", "2", "--g-normalization", "none", "--lr-schedule", "cosine",
              "--g-lr", "1e-3", "--beta-2", "0.9", "--ema-decay", "0.9", "--num-samples", "32", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampled_network"] == "ema_generator" and summary["export_matches_model"] is True
    model = keras.saving.load_model(str(out / "model.keras"))
    assert not [l for l in model.generator.layers if isinstance(l, keras.layers.BatchNormalization)]
    g_opt = model.g_optimizer
    assert int(g_opt.iterations) == 8  # 256 / 64 x 2 epochs
    assert float(g_opt.learning_rate) == 0.0  # the cosine schedule has ended
    assert float(g_opt.beta_2) == 0.9
    # The exported network is the average, not the raw generator.
    ema = keras.saving.load_model(str(out / "ema_generator.keras"))
    z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
    assert not np.allclose(np.asarray(ema(z, training=False)), np.asarray(model.generator(z, training=False)))
