"""Sample-quality statistics computed from activations (numpy only).

Every function here takes arrays that were already produced by a feature
extractor (InceptionV3 pool3 features, a domain classifier's features or
logits) or raw samples (2-D mixtures); none of them runs a network. That keeps
them testable on hand-built inputs, the way TF-GAN's ``*_from_activations``
functions are.

All computations are in float64.
"""

from __future__ import annotations

import dataclasses
import math
from typing import NamedTuple

import numpy as np

__all__ = [
    "KID", "PrecisionRecall", "ModeStatistics", "ClassStatistics",
    "feature_statistics", "frechet_distance", "frechet_distance_from_statistics",
    "kernel_inception_distance", "mmd2_unbiased", "precision_recall",
    "classifier_score", "inception_score", "mode_statistics",
    "class_statistics", "conditional_accuracy", "kl_to_uniform",
]


def _as_features(x, name):
    x = np.asarray(x, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"{name}: expected activations of shape [num_samples, num_features], "
                         f"got shape {x.shape}.")
    if x.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 samples, got {x.shape[0]}.")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: activations contain NaN or Inf.")
    return x


def _check_same_width(a, b):
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"The two activation sets have different widths: {a.shape[1]} and "
                         f"{b.shape[1]} features.")


# --- Fréchet distance --------------------------------------------------------

def feature_statistics(feats):
    """Mean and covariance of activations, as used by the Fréchet distance.

    Args:
        feats: ``[N, D]`` activations.

    Returns:
        ``(mu [D], sigma [D, D])`` with the unbiased (N - 1) covariance.

    Example:
        >>> mu, sigma = feature_statistics(np.random.randn(100, 4))
    """
    feats = _as_features(feats, "feats")
    return feats.mean(0), np.atleast_2d(np.cov(feats, rowvar=False))


def _sym_sqrt_psd(m):
    """Square root of a symmetric positive semi-definite matrix."""
    w, v = np.linalg.eigh((m + m.T) / 2)
    return (v * np.sqrt(np.clip(w, 0, None))) @ v.T


def _trace_sqrt_product(sigma1, sigma2):
    """``Tr(sqrtm(sigma1 @ sigma2))`` for PSD sigma1, sigma2.

    ``sigma1 @ sigma2`` is not symmetric, but it has the same eigenvalues as
    the symmetric PSD matrix ``A = sqrt(sigma1) @ sigma2 @ sqrt(sigma1)``
    (eig(XY) = eig(YX)), so the trace of its square root is
    ``sum(sqrt(eig(A)))``. Working with ``A`` (``eigvalsh``) keeps the result
    real and avoids the complex round-off that ``scipy.linalg.sqrtm`` gives on
    near-singular covariances; tiny negative eigenvalues from round-off are
    clipped to 0.
    """
    root1 = _sym_sqrt_psd(sigma1)
    a = root1 @ sigma2 @ root1
    w = np.linalg.eigvalsh((a + a.T) / 2)
    return float(np.sum(np.sqrt(np.clip(w, 0, None))))


def frechet_distance_from_statistics(mu1, sigma1, mu2, sigma2):
    """Fréchet (2-Wasserstein) distance between two Gaussians.

    ``d^2 = ||mu1 - mu2||^2 + Tr(sigma1 + sigma2 - 2 (sigma1 sigma2)^(1/2))``
    (Dowson & Landau 1982). The result is real and clipped at 0 (round-off
    can make an exact 0 slightly negative).

    Args:
        mu1, mu2: means ``[D]``.
        sigma1, sigma2: covariances ``[D, D]`` (symmetric PSD).

    Returns:
        float, the squared Fréchet distance (the quantity FID reports).

    Example:
        >>> frechet_distance_from_statistics(np.zeros(2), np.eye(2), np.ones(2), np.eye(2))
        2.0
    """
    mu1 = np.atleast_1d(np.asarray(mu1, np.float64))
    mu2 = np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
    sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"Mismatched statistics: mu {mu1.shape} / {mu2.shape}, sigma "
                         f"{sigma1.shape} / {sigma2.shape}.")
    diff = mu1 - mu2
    value = (diff @ diff + np.trace(sigma1) + np.trace(sigma2)
             - 2.0 * _trace_sqrt_product(sigma1, sigma2))
    return float(max(value, 0.0))


def frechet_distance(feats_a, feats_b):
    """Fréchet distance between two sets of activations (FID / FCD).

    Fits a Gaussian to each set and returns
    ``||mu_a - mu_b||^2 + Tr(S_a + S_b - 2 (S_a S_b)^(1/2))``.
    With InceptionV3 pool3 features this is the Fréchet Inception Distance of
    Heusel et al., "GANs Trained by a Two Time-Scale Update Rule Converge to a
    Local Nash Equilibrium", NeurIPS 2017; with a domain classifier's
    features it is a Fréchet classifier distance.

    The estimate is biased upward for finite samples and the bias depends on
    the sample size, so only compare values computed with the same number of
    samples (and report the real-vs-real floor at that size).

    Args:
        feats_a: ``[N, D]`` activations (e.g. real).
        feats_b: ``[M, D]`` activations (e.g. generated).

    Returns:
        float >= 0.

    Example:
        >>> rng = np.random.default_rng(0)
        >>> frechet_distance(rng.normal(size=(5000, 2)), rng.normal(1, 1, size=(5000, 2)))
        2.0...
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    _check_same_width(a, b)
    return frechet_distance_from_statistics(*feature_statistics(a), *feature_statistics(b))


# --- Kernel Inception Distance -----------------------------------------------

class KID(NamedTuple):
    """KID estimate: mean and standard deviation over subsets."""

    mean: float
    std: float


def _polynomial_kernel(x, y, degree=3, coef0=1.0):
    k = (x @ y.T) * (1.0 / x.shape[1]) + coef0
    if degree == 3:
        return k * k * k  # ~10x faster than k ** 3
    return k ** degree


def _mmd2_from_kernels(kxx, kyy, kxy):
    m, n = len(kxx), len(kyy)
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1))
                 + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def mmd2_unbiased(x, y, degree=3, coef0=1.0):
    """Unbiased MMD^2 estimate with the polynomial kernel ``(x.y/D + c)^d``.

    ``MMD^2_u = sum_{i!=j} k(x_i,x_j)/(m(m-1)) + sum_{i!=j} k(y_i,y_j)/(n(n-1))
    - 2 sum_{i,j} k(x_i,y_j)/(mn)``
    (Gretton et al., "A Kernel Two-Sample Test", JMLR 2012, eq. 3).

    Args:
        x: ``[m, D]`` activations.
        y: ``[n, D]`` activations.
        degree: kernel degree (3 for KID).
        coef0: kernel offset c (1 for KID).

    Returns:
        float (can be slightly negative: the estimate is unbiased).

    Example:
        >>> mmd2_unbiased(np.random.randn(50, 3), np.random.randn(50, 3) + 2) > 0
        True
    """
    x = _as_features(x, "x")
    y = _as_features(y, "y")
    _check_same_width(x, y)
    return _mmd2_from_kernels(_polynomial_kernel(x, x, degree, coef0),
                              _polynomial_kernel(y, y, degree, coef0),
                              _polynomial_kernel(x, y, degree, coef0))


_FULL_GRAM_MAX = 5000 ** 2  # (N + M)^2 bound (~200 MB); above it, kernels per subset


def kernel_inception_distance(feats_a, feats_b, num_subsets=100, subset_size=1000, seed=0):
    """Kernel Inception Distance: unbiased MMD^2 with a cubic polynomial kernel.

    ``KID = MMD^2_u(a, b)`` with ``k(x, y) = (x.y / D + 1)^3``, averaged over
    ``num_subsets`` random subsets of ``subset_size`` samples drawn without
    replacement from each set (Bińkowski et al., "Demystifying MMD GANs",
    ICLR 2018, Sec. 4). Unlike FID the estimate is unbiased, so its
    expectation is 0 when both sets come from the same distribution (single
    values can be slightly negative).

    Args:
        feats_a: ``[N, D]`` activations.
        feats_b: ``[M, D]`` activations.
        num_subsets: number of random subsets.
        subset_size: samples per subset (capped at ``min(N, M)``).
        seed: seed of the subset draws.

    Returns:
        ``KID(mean, std)``: mean and standard deviation over subsets.

    Example:
        >>> kid = kernel_inception_distance(real_feats, fake_feats, 10, 500)
        >>> kid.mean, kid.std
    """
    a = _as_features(feats_a, "feats_a")
    b = _as_features(feats_b, "feats_b")
    _check_same_width(a, b)
    if num_subsets < 1:
        raise ValueError(f"num_subsets must be >= 1, got {num_subsets}.")
    m = min(int(subset_size), len(a), len(b))
    if m < 2:
        raise ValueError(f"subset_size must be >= 2, got {subset_size}.")
    rng = np.random.default_rng(seed)
    draws = [(rng.choice(len(a), m, replace=False), rng.choice(len(b), m, replace=False))
             for _ in range(int(num_subsets))]
    if (len(a) + len(b)) ** 2 <= _FULL_GRAM_MAX:
        # Kernel matrices of the full sets once; a subset's kernel sums are
        # then quadratic forms with 0/1 indicator vectors, all subsets at once.
        kaa = _polynomial_kernel(a, a)
        kbb = _polynomial_kernel(b, b)
        kab = _polynomial_kernel(a, b)
        va = np.zeros((len(a), len(draws)))
        vb = np.zeros((len(b), len(draws)))
        for j, (ia, ib) in enumerate(draws):
            va[ia, j] = 1.0
            vb[ib, j] = 1.0
        saa = np.einsum("ij,ij->j", kaa @ va, va) - np.diag(kaa) @ va
        sbb = np.einsum("ij,ij->j", kbb @ vb, vb) - np.diag(kbb) @ vb
        sab = np.einsum("ij,ij->j", kab @ vb, va)
        values = (saa + sbb) / (m * (m - 1)) - 2.0 * sab / (m * m)
    else:
        values = [mmd2_unbiased(a[ia], b[ib]) for ia, ib in draws]
    values = np.asarray(values)
    return KID(float(values.mean()), float(values.std()))


# --- improved precision and recall -------------------------------------------

class PrecisionRecall(NamedTuple):
    """Improved precision and recall (both in [0, 1])."""

    precision: float
    recall: float


def _sq_dists(a, b):
    d = (a * a).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * (a @ b.T)
    return np.maximum(d, 0.0)


def _knn_radii_sq(feats, k, batch_size):
    """Squared distance from every point to its k-th nearest other point."""
    out = np.empty(len(feats))
    for i in range(0, len(feats), batch_size):
        d = _sq_dists(feats[i:i + batch_size], feats)
        # Column 0 of the sorted row is the point itself (distance 0).
        out[i:i + batch_size] = np.partition(d, k, axis=1)[:, k]
    return out


def _in_manifold(points, manifold, radii_sq, batch_size):
    """For every point: is it inside some ball (manifold_j, radius_j)?"""
    inside = np.empty(len(points), bool)
    for i in range(0, len(points), batch_size):
        d = _sq_dists(points[i:i + batch_size], manifold)
        inside[i:i + batch_size] = np.any(d <= radii_sq[None, :], axis=1)
    return inside


def precision_recall(real_feats, fake_feats, k=3, batch_size=1000):
    """Improved precision and recall with k-NN manifolds.

    Each set's manifold is the union of balls around its points, each ball's
    radius being the distance to the point's k-th nearest neighbour in its
    own set. Precision is the share of generated points inside the real
    manifold (quality); recall is the share of real points inside the
    generated manifold (coverage). Kynkäänniemi et al., "Improved Precision
    and Recall Metric for Assessing Generative Models", NeurIPS 2019 (k = 3,
    equal set sizes, VGG16 features in the paper).

    Args:
        real_feats: ``[N, D]`` activations of real samples.
        fake_feats: ``[M, D]`` activations of generated samples.
        k: neighbourhood size (needs N, M > k).
        batch_size: rows per distance block (memory ``batch_size * N``).

    Returns:
        ``PrecisionRecall(precision, recall)``.

    Example:
        >>> pr = precision_recall(real_feats, fake_feats, k=3)
        >>> pr.precision, pr.recall
    """
    real = _as_features(real_feats, "real_feats")
    fake = _as_features(fake_feats, "fake_feats")
    _check_same_width(real, fake)
    k = int(k)
    if k < 1 or k >= len(real) or k >= len(fake):
        raise ValueError(f"k must be in [1, set size); got k={k} with {len(real)} real and "
                         f"{len(fake)} generated samples.")
    real_r = _knn_radii_sq(real, k, batch_size)
    fake_r = _knn_radii_sq(fake, k, batch_size)
    precision = _in_manifold(fake, real, real_r, batch_size).mean()
    recall = _in_manifold(real, fake, fake_r, batch_size).mean()
    return PrecisionRecall(float(precision), float(recall))


# --- Inception score / classifier score --------------------------------------

def _log_softmax(logits):
    logits = np.asarray(logits, np.float64)
    if logits.ndim != 2 or logits.shape[1] < 2:
        raise ValueError(f"logits: expected shape [num_samples, num_classes >= 2], got "
                         f"{logits.shape}.")
    if not np.all(np.isfinite(logits)):
        raise ValueError("logits contain NaN or Inf.")
    shifted = logits - logits.max(1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(1, keepdims=True))


def classifier_score(logits, num_splits=10):
    """Inception score from a classifier's logits.

    ``IS = exp(E_x KL(p(y|x) || p(y)))`` with ``p(y)`` the mean of
    ``p(y|x)`` over the split, computed on ``num_splits`` disjoint splits
    (Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016).
    With InceptionV3's ImageNet logits it is the Inception score; with a
    domain classifier's logits (e.g. MNIST) it is the classifier score, whose
    maximum is the number of classes.

    Args:
        logits: ``[N, K]`` classifier logits (pre-softmax).
        num_splits: number of splits (10 in the paper).

    Returns:
        ``(mean, std)`` over splits.

    Example:
        >>> classifier_score(np.eye(10)[np.arange(100) % 10] * 50, num_splits=1)
        (9.99..., 0.0)
    """
    logp = _log_softmax(logits)
    num_splits = int(num_splits)
    if not 1 <= num_splits <= len(logp):
        raise ValueError(f"num_splits must be in [1, {len(logp)}], got {num_splits}.")
    scores = []
    for part in np.array_split(logp, num_splits):
        p = np.exp(part)
        log_py = np.log(np.maximum(p.mean(0), 1e-300))
        kl = (p * (part - log_py[None, :])).sum(1).mean()
        scores.append(math.exp(kl))
    return float(np.mean(scores)), float(np.std(scores))


inception_score = classifier_score


# --- labelled image data -----------------------------------------------------

def kl_to_uniform(histogram):
    """``KL(p || uniform) = sum_i p_i log(K p_i)`` (natural log, 0 log 0 = 0).

    Args:
        histogram: counts or probabilities ``[K]``.

    Returns:
        float in ``[0, log K]``.

    Example:
        >>> kl_to_uniform([1, 0, 0, 0])  # log 4
        1.386...
    """
    h = np.asarray(histogram, np.float64)
    if h.ndim != 1 or len(h) < 1 or np.any(h < 0) or h.sum() <= 0:
        raise ValueError(f"histogram must be non-negative counts with a positive sum, got {h}.")
    p = h / h.sum()
    nz = p > 0
    return float(np.sum(p[nz] * np.log(len(p) * p[nz])))


@dataclasses.dataclass(frozen=True)
class ClassStatistics:
    """Class histogram of generated samples as judged by a classifier.

    Attributes:
        histogram: share of samples per class ``[K]`` (sums to 1).
        classes_present: classes predicted for at least one sample.
        kl_to_uniform: ``KL(histogram || uniform)``.
    """

    histogram: np.ndarray
    classes_present: int
    kl_to_uniform: float

    def to_dict(self, prefix=""):
        return {f"{prefix}classes_present": int(self.classes_present),
                f"{prefix}class_kl": float(self.kl_to_uniform),
                f"{prefix}class_histogram": [float(v) for v in self.histogram]}


def _predictions(logits_or_labels, num_classes):
    x = np.asarray(logits_or_labels)
    if x.ndim == 2:
        if x.shape[1] != num_classes:
            raise ValueError(f"logits have {x.shape[1]} classes, expected {num_classes}.")
        return x.argmax(1)
    if x.ndim == 1:
        if x.size and (x.min() < 0 or x.max() >= num_classes):
            raise ValueError(f"predicted labels must be in [0, {num_classes}).")
        return x.astype(np.int64)
    raise ValueError(f"expected logits [N, K] or labels [N], got shape {x.shape}.")


def class_statistics(logits_or_labels, num_classes):
    """Class histogram of generated samples and its KL to uniform.

    A generator that covers the classes of a balanced data set evenly has
    ``classes_present == K`` and ``kl_to_uniform`` near 0; mode collapse shows
    as missing classes and a large KL. (With N samples the sampling noise
    alone gives a KL of about ``(K - 1) / (2 N)``.)

    Args:
        logits_or_labels: classifier logits ``[N, K]`` or predicted labels
            ``[N]``.
        num_classes: K.

    Returns:
        :class:`ClassStatistics`.

    Example:
        >>> class_statistics(np.arange(100) % 10, 10).kl_to_uniform
        0.0
    """
    pred = _predictions(logits_or_labels, num_classes)
    if len(pred) == 0:
        raise ValueError("class_statistics needs at least one sample.")
    counts = np.bincount(pred, minlength=num_classes).astype(np.float64)
    return ClassStatistics(counts / counts.sum(), int((counts > 0).sum()), kl_to_uniform(counts))


def conditional_accuracy(logits_or_labels, requested_labels):
    """Share of generated samples that the classifier assigns to the label they were generated for.

    ``acc = mean_i [argmax_k logits_ik == y_i]`` for a conditional generator
    asked for labels ``y`` (the "accuracy of generated samples" of e.g.
    Odena et al., "Conditional Image Synthesis with Auxiliary Classifier
    GANs", ICML 2017).

    Args:
        logits_or_labels: classifier logits ``[N, K]`` or predicted labels ``[N]``.
        requested_labels: ``[N]`` labels the samples were generated for.

    Returns:
        float in [0, 1].

    Example:
        >>> conditional_accuracy([[0.1, 2.0], [3.0, 0.0]], [1, 1])
        0.5
    """
    x = np.asarray(logits_or_labels)
    y = np.asarray(requested_labels).reshape(-1)
    pred = x.argmax(1) if x.ndim == 2 else x.reshape(-1)
    if len(pred) != len(y) or len(y) == 0:
        raise ValueError(f"{len(pred)} predictions but {len(y)} requested labels.")
    return float(np.mean(pred == y))


# --- Gaussian mixtures (VEEGAN / PacGAN) ---------------------------------------

@dataclasses.dataclass(frozen=True)
class ModeStatistics:
    """Mode-collapse statistics of samples from a Gaussian-mixture benchmark.

    Attributes:
        modes: number of captured modes (>= 1 high-quality sample).
        high_quality: share of samples within ``num_std`` standard deviations
            of their nearest mode.
        reverse_kl: ``KL(generated mode histogram || true mode weights)``
            over the high-quality samples (``inf`` when there are none).
        counts: high-quality samples per mode ``[modes]``.
        num_samples: number of samples evaluated.
    """

    modes: int
    high_quality: float
    reverse_kl: float
    counts: np.ndarray
    num_samples: int

    def to_dict(self, prefix=""):
        return {f"{prefix}modes": int(self.modes),
                f"{prefix}high_quality": float(self.high_quality),
                f"{prefix}reverse_kl": float(self.reverse_kl)}


def mode_statistics(samples, mixture, num_std=3.0):
    """Modes captured, share of high-quality samples, and reverse KL.

    The measures of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al.
    2018, Table 1), as defined in DESIGN.md "Benchmark definitions":

    - a sample is *high quality* if its Euclidean distance to the nearest
      mode mean is at most ``num_std * std`` (3 standard deviations);
    - a mode is *captured* if at least one high-quality sample falls to it;
    - *reverse KL* is ``sum_i p_i log(p_i / q_i)`` where ``p`` is the
      histogram of high-quality samples over modes and ``q`` the true mode
      weights (uniform for these mixtures, so ``q_i = 1 / num_modes``);
      modes with ``p_i = 0`` add 0. Natural log.

    Note that even perfect 2-D samples are high quality only with probability
    ``1 - exp(-num_std^2 / 2)`` = 98.9 % (a 2-D Gaussian's radius is
    Rayleigh-distributed). The published figures use 2,500 samples.

    Args:
        samples: ``[N, dim]`` generated samples.
        mixture: a :class:`kgan.data.GaussianMixture`.
        num_std: the high-quality radius in standard deviations.

    Returns:
        :class:`ModeStatistics`.

    Example:
        >>> stats = mode_statistics(gan.generate(2500, seed=0), kgan.data.grid_mixture())
        >>> stats.modes, stats.high_quality, stats.reverse_kl
    """
    means = np.asarray(mixture.means, np.float64)
    x = np.asarray(samples, np.float64)
    if x.ndim != 2 or x.shape[1] != means.shape[1]:
        raise ValueError(f"samples: expected shape [N, {means.shape[1]}], got {x.shape}.")
    if len(x) == 0:
        raise ValueError("mode_statistics needs at least one sample.")
    finite = np.all(np.isfinite(x), axis=1)
    d2 = _sq_dists(np.where(finite[:, None], x, 0.0), means)
    nearest = d2.argmin(1)
    radius = float(num_std) * float(mixture.std)
    hq = finite & (d2[np.arange(len(x)), nearest] <= radius ** 2)
    counts = np.bincount(nearest[hq], minlength=len(means))
    if counts.sum() == 0:
        rkl = math.inf
    else:
        p = counts / counts.sum()
        q = np.full(len(means), 1.0 / len(means))
        nz = p > 0
        rkl = float(np.sum(p[nz] * np.log(p[nz] / q[nz])))
    return ModeStatistics(int((counts > 0).sum()), float(hq.mean()), rkl, counts, len(x))
