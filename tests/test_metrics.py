"""Tests for kgan.metrics: statistics from activations, extractors, evaluators.

Expected values are computed by hand (or by closed forms) in the tests.
"""

import math
import os

import numpy as np
import pytest
import scipy.linalg

from kgan import data
from kgan import metrics
from kgan.metrics import statistics as st
from shared_data import needs_mnist

MNIST_DIR = os.environ.get("KGAN_MNIST_DIR") or os.path.normpath(
    os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist"))


def _gaussian(rng, mean, cov, n):
    return rng.multivariate_normal(mean, cov, size=n)


# --- Fréchet distance --------------------------------------------------------

def test_frechet_identical_sets_is_zero():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(500, 16))
    assert st.frechet_distance(x, x) == pytest.approx(0.0, abs=1e-8)
    # More dimensions than samples: singular covariance, still real and ~0.
    y = rng.normal(size=(20, 64))
    assert st.frechet_distance(y, y) == pytest.approx(0.0, abs=1e-8)


def test_frechet_closed_form_diagonal():
    # Commuting covariances: Tr(S1 + S2 - 2 sqrt(S1 S2)) = sum (sqrt(a) - sqrt(b))^2.
    mu1, mu2 = np.array([0.0, 0.0]), np.array([3.0, 4.0])
    s1, s2 = np.diag([1.0, 4.0]), np.diag([4.0, 9.0])
    expected = 25.0 + (1 - 2) ** 2 + (2 - 3) ** 2
    assert st.frechet_distance_from_statistics(mu1, s1, mu2, s2) == pytest.approx(expected)


def test_frechet_closed_form_general_covariances():
    # Non-commuting covariances, checked against scipy's matrix square root.
    a = np.array([[2.0, 0.3, 0.0], [0.3, 1.0, 0.2], [0.0, 0.2, 0.5]])
    b = np.array([[1.0, -0.4, 0.1], [-0.4, 2.0, 0.0], [0.1, 0.0, 1.5]])
    mu1, mu2 = np.array([1.0, 0.0, -1.0]), np.array([0.0, 0.5, 0.0])
    expected = (np.sum((mu1 - mu2) ** 2) + np.trace(a) + np.trace(b)
                - 2 * np.trace(scipy.linalg.sqrtm(a @ b)).real)
    assert st.frechet_distance_from_statistics(mu1, a, mu2, b) == pytest.approx(expected, rel=1e-9)
    # 1-D Gaussians: (m1 - m2)^2 + (s1 - s2)^2.
    assert st.frechet_distance_from_statistics([1.0], [[4.0]], [3.0], [[9.0]]) == pytest.approx(5.0)


def test_frechet_from_samples_matches_closed_form():
    rng = np.random.default_rng(1)
    mu1, mu2 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    s1 = np.array([[1.0, 0.5], [0.5, 2.0]])
    s2 = np.array([[0.5, -0.2], [-0.2, 1.0]])
    closed = st.frechet_distance_from_statistics(mu1, s1, mu2, s2)
    est = st.frechet_distance(_gaussian(rng, mu1, s1, 100_000), _gaussian(rng, mu2, s2, 100_000))
    assert est == pytest.approx(closed, rel=0.02)
    assert closed > 5.0


def test_frechet_rejects_bad_input():
    with pytest.raises(ValueError, match="different widths"):
        st.frechet_distance(np.zeros((5, 2)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="NaN"):
        st.frechet_distance(np.full((5, 2), np.nan), np.zeros((5, 2)))


# --- KID -------------------------------------------------------------------

def test_mmd2_unbiased_matches_naive_formula():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(6, 3)), rng.normal(1.0, 1.0, size=(5, 3))

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(6) for j in range(6) if i != j) / (6 * 5)
    yy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / (5 * 4)
    xy = sum(k(x[i], y[j]) for i in range(6) for j in range(5)) / (6 * 5)
    assert st.mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-12)


def test_kid_unbiased_for_same_distribution():
    # The mean of many independent estimates is 0 within its standard error,
    # while the biased (V-statistic) estimate would be clearly positive.
    rng = np.random.default_rng(3)
    vals, biased = [], []
    for _ in range(300):
        x, y = rng.normal(size=(40, 4)), rng.normal(size=(40, 4))
        vals.append(st.mmd2_unbiased(x, y))
        kxx, kyy, kxy = (st._polynomial_kernel(a, b) for a, b in ((x, x), (y, y), (x, y)))
        biased.append(kxx.mean() + kyy.mean() - 2 * kxy.mean())
    vals = np.array(vals)
    se = vals.std() / math.sqrt(len(vals))
    assert abs(vals.mean()) < 3 * se
    assert np.mean(biased) > 10 * se


def test_kid_near_zero_same_and_positive_shifted():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(1000, 16)), rng.normal(size=(1000, 16))
    shifted = rng.normal(0.5, 1.0, size=(1000, 16))
    same = st.kernel_inception_distance(a, b, num_subsets=20, subset_size=500)
    diff = st.kernel_inception_distance(a, shifted, num_subsets=20, subset_size=500)
    assert isinstance(same, st.KID) and same.std > 0
    assert abs(same.mean) < 0.01
    assert diff.mean > 0.1 and diff.mean > 20 * abs(same.mean)


def test_kid_fast_path_equals_per_subset_path(monkeypatch):
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(300, 8)), rng.normal(0.2, 1.0, size=(250, 8))
    fast = st.kernel_inception_distance(a, b, num_subsets=7, subset_size=100, seed=9)
    monkeypatch.setattr(st, "_FULL_GRAM_MAX", 0)
    slow = st.kernel_inception_distance(a, b, num_subsets=7, subset_size=100, seed=9)
    assert fast.mean == pytest.approx(slow.mean, rel=1e-9)
    assert fast.std == pytest.approx(slow.std, rel=1e-9)


# --- precision / recall ------------------------------------------------------

def test_precision_recall_identical_sets():
    x = np.random.default_rng(6).normal(size=(300, 5))
    assert st.precision_recall(x, x.copy(), k=3) == (1.0, 1.0)


def test_precision_recall_disjoint_and_mode_dropping():
    rng = np.random.default_rng(7)
    a = rng.normal(size=(200, 2))
    b = rng.normal(size=(200, 2)) + 100.0
    far = rng.normal(size=(200, 2)) - 100.0
    real = np.concatenate([a, b])
    # Disjoint sets: nothing generated is real-looking, nothing real is covered.
    assert st.precision_recall(real, far, k=3) == (0.0, 0.0)
    # Mode dropping: the generator reproduces cluster a only.
    pr = st.precision_recall(real, a.copy(), k=3)
    assert pr.precision == 1.0 and pr.recall == 0.5
    # Half the generated samples off the data: precision 0.5, recall 1.
    pr = st.precision_recall(a, np.concatenate([a, far]), k=3)
    assert pr.precision == 0.5 and pr.recall == 1.0


def test_precision_recall_hand_example():
    # k = 1 radii: real {0,1,2,10} -> {1,1,1,8}; fake {0.5,5,30} -> {4.5,4.5,25}.
    # 0.5 in ball(0,1); 5 in ball(10,8); 30 in none  -> precision 2/3.
    # 0,1,2 in ball(0.5,4.5); 10 in ball(30,25)       -> recall 1.
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [5.0], [30.0]])
    pr = st.precision_recall(real, fake, k=1)
    assert pr.precision == pytest.approx(2 / 3) and pr.recall == 1.0


# --- classifier / Inception score ----------------------------------------------

def test_classifier_score_extremes_and_hand_value():
    confident = np.eye(10)[np.arange(200) % 10] * 60.0
    assert st.classifier_score(confident, num_splits=1)[0] == pytest.approx(10.0, rel=1e-6)
    assert st.classifier_score(np.zeros((50, 10)), num_splits=5) == (pytest.approx(1.0), 0.0)
    # p(y|x) = [.9,.1] and [.1,.9]: p(y) = [.5,.5], KL = .9 log 1.8 + .1 log .2.
    logits = np.log(np.array([[0.9, 0.1], [0.1, 0.9]]))
    kl = 0.9 * math.log(1.8) + 0.1 * math.log(0.2)
    assert st.classifier_score(logits, num_splits=1)[0] == pytest.approx(math.exp(kl))
    assert st.inception_score is st.classifier_score


def test_class_statistics_and_conditional_accuracy():
    even = st.class_statistics(np.arange(100) % 10, 10)
    assert even.classes_present == 10 and even.kl_to_uniform == pytest.approx(0.0, abs=1e-12)
    # Half class 0, half class 1 of 10: KL = 2 * 0.5 log(0.5 * 10) = log 5.
    logits = np.eye(10)[np.array([0, 1] * 20)]
    s = st.class_statistics(logits, 10)
    assert s.classes_present == 2 and s.kl_to_uniform == pytest.approx(math.log(5))
    assert s.histogram[:2].tolist() == [0.5, 0.5]
    assert st.kl_to_uniform([1, 0, 0, 0]) == pytest.approx(math.log(4))
    assert st.conditional_accuracy([[0.1, 2.0], [3.0, 0.0], [0.0, 1.0]], [1, 1, 1]) == pytest.approx(2 / 3)
    with pytest.raises(ValueError):
        st.class_statistics(np.array([0, 10]), 10)


# --- mode statistics -----------------------------------------------------------

def test_mode_statistics_three_of_eight_modes():
    ring = data.ring_mixture()
    rng = np.random.default_rng(8)
    parts = [ring.means[0] + 0.005 * rng.standard_normal((50, 2)),
             ring.means[2] + 0.005 * rng.standard_normal((30, 2)),
             ring.means[5] + 0.005 * rng.standard_normal((20, 2)),
             np.zeros((10, 2))]  # the centre: 1.0 from every mode, not high quality
    s = st.mode_statistics(np.concatenate(parts), ring)
    assert s.modes == 3
    assert s.high_quality == pytest.approx(100 / 110)
    # KL(p || U8) with p = (.5, .3, .2) on three modes.
    expected = 0.5 * math.log(0.5 * 8) + 0.3 * math.log(0.3 * 8) + 0.2 * math.log(0.2 * 8)
    assert s.reverse_kl == pytest.approx(expected)
    assert s.counts.tolist() == [50, 0, 30, 0, 0, 20, 0, 0]
    assert s.to_dict() == {"modes": 3, "high_quality": pytest.approx(100 / 110),
                           "reverse_kl": pytest.approx(expected)}


def test_mode_statistics_three_std_boundary_and_perfect_grid():
    grid = data.grid_mixture()  # std 0.05: the high-quality radius is 0.15
    m = grid.means[12]
    near = m + np.array([0.149, 0.0])
    far = m + np.array([0.0, 0.151])
    s = st.mode_statistics(np.stack([near, far]), grid)
    assert (s.modes, s.high_quality) == (1, 0.5)
    assert s.reverse_kl == pytest.approx(math.log(25))  # all mass on one mode
    # Exact samples from the mixture: 25 modes, ~98.9% high quality, KL ~ 0.
    x, _ = grid.sample(25_000, seed=0)
    s = st.mode_statistics(x, grid)
    assert s.modes == 25
    assert s.high_quality == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    assert s.reverse_kl < 0.002
    # Non-finite samples are low quality, and no high-quality sample means inf.
    s = st.mode_statistics(np.array([[np.nan, 0.0], [100.0, 100.0]]), grid)
    assert (s.modes, s.high_quality, s.reverse_kl) == (0, 0.0, math.inf)


# --- extractors ----------------------------------------------------------------

def test_to_unit_range():
    u = metrics.to_unit_range(np.array([[[0, 255]]], np.uint8))
    assert u.shape == (1, 1, 2, 1) and u.min() == -1.0 and u.max() == 1.0
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        metrics.to_unit_range(np.full((1, 2, 2, 1), 255.0))


def test_inception_without_weights_gives_clear_error(tmp_path):
    with pytest.raises(metrics.WeightsNotFoundError, match="inception_v3_weights"):
        metrics.InceptionFeatures(cache_dir=str(tmp_path))
    with pytest.raises(metrics.WeightsNotFoundError, match="does not exist"):
        metrics.InceptionFeatures(weights=str(tmp_path / "missing.h5"))
    with pytest.raises(ValueError, match="random"):
        metrics.InceptionFeatures(weights=None)


def test_inception_finds_weights_in_cache(tmp_path):
    (tmp_path / "models").mkdir()
    assert metrics.find_inception_weights(str(tmp_path)) == (None, None)
    notop = tmp_path / "models" / "inception_v3_weights_tf_dim_ordering_tf_kernels_notop.h5"
    notop.write_bytes(b"")
    assert metrics.find_inception_weights(str(tmp_path)) == (str(notop), False)
    top = tmp_path / "models" / "inception_v3_weights_tf_dim_ordering_tf_kernels.h5"
    top.write_bytes(b"")
    assert metrics.find_inception_weights(str(tmp_path)) == (str(top), True)


def test_inception_plumbing_with_random_weights_opt_in():
    # Random weights ONLY here, through the private testing flag: checks the
    # resize / scaling / gray->RGB plumbing, never the feature values.
    inc = metrics.InceptionFeatures(weights=None, batch_size=2, _allow_random_weights=True)
    rng = np.random.default_rng(9)
    gray = rng.integers(0, 256, size=(3, 28, 28, 1)).astype(np.uint8)
    x = inc.preprocess(gray)
    assert x.shape == (3, 299, 299, 3)
    assert np.array_equal(x[..., 0], x[..., 1]) and np.array_equal(x[..., 0], x[..., 2])
    assert x.min() >= -1.0 and x.max() <= 1.0
    flat = inc.preprocess(np.zeros((1, 28, 28, 1), np.uint8))
    assert np.allclose(flat, -1.0)  # black pixels -> -1
    feats, logits = inc.features_and_logits(gray)
    assert feats.shape == (3, 2048) and logits.shape == (3, 1000)
    # A gray image and its RGB copy give the same features; batching is invisible.
    rgb = np.repeat(gray, 3, axis=-1)
    assert np.allclose(inc.features(rgb), feats, atol=1e-5)
    assert np.allclose(inc.features(gray[:1]), feats[:1], atol=1e-5)
    with pytest.raises(ValueError, match="channels"):
        inc.preprocess(np.zeros((1, 8, 8, 2), np.float32))


def test_mnist_classifier_missing_weights(tmp_path):
    with pytest.raises(metrics.WeightsNotFoundError, match="train_mnist_classifier"):
        metrics.MnistClassifier(str(tmp_path / "none.weights.h5"))


@needs_mnist
def test_mnist_classifier_accuracy_on_held_out_images():
    clf = metrics.MnistClassifier()
    x, y = data.load_idx_dir(MNIST_DIR)
    x, y = x[4000:4500], y[4000:4500]  # held out from the classifier's training
    feats, logits = clf.features_and_logits(x)
    assert feats.shape == (500, 128) and logits.shape == (500, 10)
    assert np.mean(logits.argmax(1) == y) >= 0.97
    # uint8 and [-1, 1] inputs are the same images.
    assert np.allclose(clf.logits(data.scale_images(x[:20])), logits[:20], atol=1e-4)
    assert clf.info["accuracy"]["classifier_test_heldout"] >= 0.97
    stats = st.class_statistics(logits, 10)
    assert stats.classes_present == 10 and stats.kl_to_uniform < 0.05


# --- evaluators ----------------------------------------------------------------

def test_feature_metrics_on_raw_samples():
    rng = np.random.default_rng(10)
    real = rng.normal(size=(400, 2))
    fake = rng.normal(0.5, 1.0, size=(400, 2))
    ev = metrics.FeatureMetrics(None, real, kid=True, precision_recall=True,
                                kid_subsets=5, kid_subset_size=200)
    out = ev(fake)
    assert out["fd"] == pytest.approx(st.frechet_distance(real, fake))
    assert out["kid"] == pytest.approx(
        st.kernel_inception_distance(real, fake, 5, 200, seed=0).mean)
    assert (out["precision"], out["recall"]) == tuple(st.precision_recall(real, fake))
    assert "classifier_score" not in out


def test_feature_metrics_with_logits_and_labels():
    class Fake:
        def features_and_logits(self, x):
            x = np.asarray(x, np.float64).reshape(len(x), -1)
            return x, np.eye(3)[np.round(x[:, 0]).astype(int) % 3] * 30

        def features(self, x):
            return self.features_and_logits(x)[0]

    real = np.repeat(np.arange(3.0), 10)[:, None] + np.linspace(0, 0.1, 30)[:, None]
    fake = np.repeat(np.arange(3.0), 10)[:, None]
    ev = metrics.FeatureMetrics(Fake(), real, kid=False, details=True)
    # Predictions are 0 x10, 1 x10, 2 x10; the last 5 requested labels differ.
    out = ev(fake, labels=np.array([0] * 10 + [1] * 10 + [2] * 5 + [0] * 5))
    assert out["classes_present"] == 3 and out["class_kl"] == pytest.approx(0.0, abs=1e-12)
    assert out["label_accuracy"] == pytest.approx(25 / 30)
    assert out["classifier_score"] == pytest.approx(3.0, rel=1e-6)
    assert out["class_histogram"] == pytest.approx([1 / 3] * 3)
