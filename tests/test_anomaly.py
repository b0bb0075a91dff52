"""Anomaly detection on a toy set: AnoGAN and f-AnoGAN rank held-out anomalies
above normals, the export equals in-process scores, bad requests fail."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

import kgan
from kgan import anomaly

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def toy(n, anomalous, seed):
    """Normal: vectors near the line x = t * (1, 1, ...); anomalies: near the orthogonal line."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(-0.8, 0.8, (n, 1))
    d = np.ones((1, 8)) / np.sqrt(8)
    o = np.tile([1.0, -1.0], 4)[None] / np.sqrt(8)
    x = t * (o if anomalous else d) * 2 + 0.02 * rng.normal(size=(n, 8))
    return x.astype("float32")


@pytest.fixture(scope="module")
def trained():
    keras.utils.set_random_seed(0)
    gan = kgan.GAN(data_shape=(8,), latent_dim=2, architecture="mlp", seed=0,
                   generator_options={"hidden_units": (32,), "normalization": "none"},
                   discriminator_options={"hidden_units": (32,)})
    gan.compile(g_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
    gan.fit(toy(1024, False, 0), batch_size=64, epochs=15, verbose=0)
    fano = anomaly.FAnoGAN.from_gan(gan, encoder_options={"hidden_units": (32,)}, seed=0)
    fano.compile(e_optimizer=keras.optimizers.Adam(3e-3))
    fano.fit(toy(1024, False, 1), batch_size=64, epochs=15, verbose=0)
    x = np.concatenate([toy(40, False, 2), toy(40, True, 3)])
    y = np.r_[np.zeros(40), np.ones(40)]
    return gan, fano, x, y


def test_scores_rank_anomalies_above_normals(trained):
    gan, fano, x, y = trained
    ano = anomaly.AnoGAN(gan, steps=150).score(x)
    fast = fano.score(x)
    assert roc_auc_score(y, ano["scores"]) > 0.9
    assert roc_auc_score(y, fast["scores"]) > 0.9
    # the parts add up as documented
    np.testing.assert_allclose(ano["scores"], 0.9 * ano["residual"] + 0.1 * ano["discrimination"],
                               rtol=1e-4)
    np.testing.assert_allclose(fast["scores"], fast["residual"] + fano.kappa
                               * fast["feature_residual"], rtol=1e-5)
    np.testing.assert_allclose(fano(x), fast["scores"], rtol=1e-5)
    assert anomaly.discriminator_scores(gan, x).shape == (80,)


def test_izi_f_by_hand(trained):
    gan, fano, x, _ = trained
    recon = gan.generate(z=np.asarray(fano.encoder(x[:4])))
    f = anomaly.discriminator_features(gan.discriminator)
    residual = ((x[:4] - recon) ** 2).mean(1)
    feature = ((np.asarray(f(x[:4])) - np.asarray(f(recon))) ** 2).mean(1)
    np.testing.assert_allclose(fano.score(x[:4])["scores"], residual + feature, rtol=1e-4)


def test_encoder_training_leaves_g_and_d_alone(trained):
    gan, fano, x, _ = trained
    before = [np.array(w) for w in gan.generator.weights + gan.discriminator.weights]
    fano.fit(x, batch_size=16, epochs=1, verbose=0)
    for a, b in zip(before, gan.generator.weights + gan.discriminator.weights):
        np.testing.assert_array_equal(a, np.array(b))


def test_keras_round_trip_and_export(trained, tmp_path):
    _, fano, x, _ = trained
    path = str(tmp_path / "fano.keras")
    fano.save(path)
    back = keras.saving.load_model(path)
    np.testing.assert_allclose(back.score(x)["scores"], fano.score(x)["scores"], rtol=1e-6)
    exp = anomaly.export_scorer(fano, str(tmp_path / "export"), model_name="toy", max_batch=50)
    served = anomaly.score_from_export(exp, x)
    for key in ("scores", "residual", "feature_residual", "reconstructions"):
        np.testing.assert_allclose(served[key], fano.score(x)[key], rtol=1e-5, atol=1e-6)
    fn = kgan.export.load_export(exp).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[batch, 8\], got shape"):
        fn(images=tf.zeros((2, 7)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="at most 50 images"):
        fn(images=tf.zeros((51, 8)))
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"values in \[-1, 1\]"):
        fn(images=tf.fill((2, 8), 3.0))
    # the score command, on an IDX file, with the export and with the .keras model
    idx = tmp_path / "x.idx"
    pixels = np.round((np.clip(x[:5], -1, 1) + 1) * 127.5).astype(np.uint8)
    with open(idx, "wb") as f:
        f.write(bytes([0, 0, 8, 2]) + (5).to_bytes(4, "big") + (8).to_bytes(4, "big") + pixels.tobytes())
    for model in (exp, path):
        out = tmp_path / "s.csv"
        proc = subprocess.run([sys.executable, os.path.join(ROOT, "train", "score.py"), model,
                               str(idx), "--out", str(out)], capture_output=True, text=True,
                              timeout=300)
        assert proc.returncode == 0, proc.stderr[-2000:]
        rows = out.read_text().splitlines()
        assert rows[0] == "image,score,residual,feature_residual" and len(rows) == 6


def test_bad_input():
    g = kgan.GAN(data_shape=(8,), latent_dim=2, architecture="mlp", num_classes=3)
    with pytest.raises(ValueError, match="unconditional"):
        anomaly.FAnoGAN.from_gan(g)
    with pytest.raises(ValueError, match="lam must be in"):
        anomaly.AnoGAN(kgan.GAN(data_shape=(8,), latent_dim=2, architecture="mlp"), lam=2)
    with pytest.raises(TypeError, match="FAnoGAN"):
        anomaly.export_scorer(g, "/tmp/nowhere")


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_serving_client_scores(trained, tmp_path, kind):
    from kgan import serving_client as sc
    from serving_double import ServingDouble

    _, fano, x, _ = trained
    base = str(tmp_path / "models")
    anomaly.export_scorer(fano, base, model_name="toy")
    with ServingDouble({"toy": os.path.join(base, "toy")}).start() as double:
        client = (sc.RestClient(double.rest_url, "toy", timeout=60) if kind == "rest"
                  else sc.GrpcClient(double.grpc_target, "toy", timeout=60))
        with client:
            got = client.score(x[:6])
            pixels = client.score(np.round((np.clip(x[:6], -1, 1) + 1) * 127.5).astype(np.uint8))
    np.testing.assert_allclose(got["scores"], fano.score(x[:6])["scores"], rtol=1e-5)
    assert pixels["scores"].shape == (6,)


def test_anogan_and_fanogan_use_the_sampled_generator():
    """With an EMA generator, scores, residuals and reconstructions all come from it."""
    gan = kgan.GAN(data_shape=(8,), latent_dim=2, architecture="mlp", ema_decay=0.9, seed=0,
                   generator_options={"hidden_units": (16,), "normalization": "none"},
                   discriminator_options={"hidden_units": (16,)})
    gan.ema_generator.set_weights([w * 0.5 for w in gan.generator.get_weights()])
    x = toy(16, False, 3)
    ano = anomaly.AnoGAN(gan, steps=20, lam=0.1)
    r = ano.score(x)
    np.testing.assert_allclose(r["scores"], 0.9 * r["residual"] + 0.1 * r["discrimination"],
                               rtol=1e-4)
    np.testing.assert_allclose(r["reconstructions"], gan.generate(z=r["z"]), atol=1e-6)
    assert anomaly.FAnoGAN.from_gan(gan).generator is gan.ema_generator
