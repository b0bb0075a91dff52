"""kgan.report: the end-of-run quality figures, against hand-computed values."""

import math

import numpy as np
import pytest

from kgan import data, report


def _one_hot_logits(classes, k=10, scale=10.0):
    return np.eye(k)[np.asarray(classes)] * scale


def test_softmax_and_confident_share():
    np.testing.assert_allclose(report.softmax(np.zeros((1, 4))), [[0.25] * 4])
    np.testing.assert_allclose(report.softmax([[0.0, math.log(3.0)]]), [[0.25, 0.75]])
    assert report.confident_share([[0.95, 0.05], [0.6, 0.4]]) == 0.5
    assert report.confident_share([[0.9, 0.1], [0.5, 0.5]], threshold=0.9) == 0.5  # >= counts
    with pytest.raises(ValueError):
        report.confident_share(np.zeros((0, 3)))


def test_classifier_figures_perfect_and_collapsed_generators():
    labels = np.arange(100) % 10
    perfect = report.classifier_figures(_one_hot_logits(labels), 10, labels, threshold=0.9)
    assert perfect["class_histogram"] == [0.1] * 10
    assert perfect["classes_present"] == 10 and perfect["class_kl"] == 0.0
    assert perfect["label_accuracy"] == 1.0
    assert perfect["confident_share"] == 1.0  # softmax of 10 vs 0 x 9: 0.9996

    constant = report.classifier_figures(_one_hot_logits([3] * 100), 10, labels)
    assert constant["class_histogram"] == [0, 0, 0, 1.0, 0, 0, 0, 0, 0, 0]
    assert constant["classes_present"] == 1
    assert constant["class_kl"] == pytest.approx(math.log(10))  # 1 * log(10 * 1)
    assert constant["label_accuracy"] == pytest.approx(0.1)

    # three of class 0, one of class 1, K = 2: 0.75 log 1.5 + 0.25 log 0.5
    mixed = report.classifier_figures(_one_hot_logits([0, 0, 0, 1], k=2), 2)
    assert mixed["class_kl"] == pytest.approx(0.75 * math.log(1.5) + 0.25 * math.log(0.5))
    assert "label_accuracy" not in mixed and "confident_share" not in mixed


def test_mixture_figures_on_hand_built_samples():
    ring = data.ring_mixture()
    every_mode = np.repeat(ring.means, 10, axis=0)
    f = report.mixture_figures(every_mode, ring)
    assert (f["modes"], f["num_modes"], f["high_quality"], f["reverse_kl"]) == (8, 8, 1.0, 0.0)
    assert f["mode_counts"] == [10] * 8

    one_mode = np.repeat(ring.means[:1], 20, axis=0)
    f = report.mixture_figures(one_mode, ring)
    assert f["modes"] == 1 and f["reverse_kl"] == pytest.approx(math.log(8))

    half_off = np.concatenate([every_mode, np.full((80, 2), 10.0, np.float32)])
    assert report.mixture_figures(half_off, ring)["high_quality"] == 0.5


class _FakeClassifier:
    """Features = the first two pixels; logits = one-hot of a fixed class per image."""

    def __init__(self, cls):
        self.cls = cls

    def features_and_logits(self, images):
        x = np.asarray(images, np.float64).reshape(len(images), -1)
        return x[:, :2], self.logits(images)

    def logits(self, images):
        return _one_hot_logits(self.cls(np.asarray(images)))


def test_mnist_figures_fcd_is_zero_for_identical_sets_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    real = rng.uniform(-1, 1, size=(200, 28, 28, 1)).astype("float32")
    clf = _FakeClassifier(lambda x: np.arange(len(x)) % 10)
    same = report.mnist_figures(real, real, requested_labels=np.arange(200) % 10, classifier=clf)
    assert same["fcd"] == pytest.approx(0.0, abs=1e-9) and same["fcd_num_real"] == 200
    assert same["label_accuracy"] == 1.0 and same["class_kl"] == 0.0
    # shifting both features by 0.5 adds ||mu shift||^2 = 0.25 + 0.25
    shifted = report.mnist_figures(real + 0.5, real, classifier=clf)
    assert shifted["fcd"] == pytest.approx(0.5, abs=1e-6)  # float32 images


def test_digits_figures_compare_samples_with_the_real_reference():
    blank = np.full((4, 28, 28, 1), -1.0, np.float32)
    ink = np.ones((6, 28, 28, 1), np.float32)

    class Clf:  # confident on inked images, unsure on blank ones
        def logits(self, images):
            inked = np.asarray(images).mean(axis=(1, 2, 3)) > 0
            return np.where(inked[:, None], _one_hot_logits(np.zeros(len(images), int)),
                            np.zeros((len(images), 10)))

    f = report.digits_figures(np.concatenate([blank, ink[:1]]), classifier=Clf(), reference=ink)
    assert f["confident_share"] == pytest.approx(0.2) and f["real_confident_share"] == 1.0
    assert f["threshold"] == 0.9 and f["classes_present"] == 1


def test_quality_kind_dispatch_and_formatting():
    assert report.quality_kind("ring", (2,)) == "mixture"
    assert report.quality_kind("grid", (2,)) == "mixture"
    assert report.quality_kind("mnist_idx", (28, 28, 1)) == "mnist"
    assert report.quality_kind("mnist", (28, 28, 1)) == "mnist"
    assert report.quality_kind("digits", (28, 28, 1)) == "digits"
    assert report.quality_kind("cifar10", (32, 32, 3)) is None
    assert report.quality_figures("cifar10", np.zeros((3, 32, 32, 3))) == {"kind": None,
                                                                          "num_samples": 3}
    grid = data.grid_mixture()
    figures = report.quality_figures("grid", np.repeat(grid.means, 2, axis=0))
    assert figures["modes"] == 25 and figures["num_samples"] == 50
    text = report.format_figures(figures)
    assert "modes captured     25 / 25" in text and "high quality       100.0%" in text
    assert "no offline judge" in report.format_figures({"kind": None})


def test_curves_from_metrics_csv(tmp_path):
    csv = tmp_path / "metrics.csv"
    csv.write_text("epoch,d_acc_fake,d_acc_real,d_loss,g_loss,val_d_loss\n"
                   "0,0.2,0.8,1.3,0.7,NA\n1,0.4,0.6,1.2,0.9,NA\n")
    metrics = report.read_metrics_csv(csv)
    assert metrics["g_loss"] == [0.7, 0.9] and math.isnan(metrics["val_d_loss"][0])
    path = report.save_curves(metrics, str(tmp_path / "curves.png"))
    from PIL import Image

    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (520, 720, 3)
    assert ((img == [200, 30, 30]).all(-1)).sum() > 50  # the first series was drawn


def test_shipped_digits_classifier_on_its_held_out_digits():
    from kgan.metrics import DigitsClassifier

    clf = DigitsClassifier()
    x, y = report.digits_reference()
    assert len(x) == 497
    logits = clf.logits(x)
    assert np.mean(logits.argmax(1) == y) > 0.95
    assert report.confident_share(report.softmax(logits)) == pytest.approx(
        clf.info["confident_share_0.9"]["heldout"])


def test_digits_classifier_script_smoke(tmp_path):
    import json
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    r = subprocess.run([sys.executable, os.path.join(root, "benchmarks", "train_digits_classifier.py"),
                        "--epochs", "1", "--out", str(tmp_path)], capture_output=True, text=True,
                       timeout=300, cwd=root, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert r.returncode == 0, r.stderr[-2000:]
    info = json.loads((tmp_path / "digits_classifier.json").read_text())
    assert info["split"] == {"classifier_train": [0, 1300], "heldout": [1300, 1797]}
    assert (tmp_path / "digits_classifier.weights.h5").stat().st_size < 1_000_000
