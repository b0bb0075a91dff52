"""Evaluators: generate samples from a GAN and compute a set of metrics.

An evaluator is a callable ``evaluator(samples, labels=None) -> dict`` of
float metrics. The same evaluators serve the periodic-evaluation callback
(:class:`kgan.eval_callbacks.GeneratorMetrics`) and ``benchmarks/quality.py``,
so a number in a training log and a number in a benchmark table are
computed the same way.
"""

from __future__ import annotations

import numpy as np

from kgan.metrics import statistics as st


def generate_samples(model, num_samples, seed=0, labels=None, use_ema=False, batch_size=500):
    """Draws samples from a GAN (or its EMA generator) with per-sample seeds.

    Sample ``i`` uses latent seed ``seed + i`` (``kgan.noise``), exactly like
    ``model.generate(num_samples, seed=seed)``, so the raw and EMA generators
    are compared on the same latents.

    Args:
        model: a :class:`kgan.GAN`.
        num_samples: how many samples.
        seed: first latent seed.
        labels: requested labels ``[num_samples]`` for conditional models;
            default ``0, 1, ..., K-1, 0, ...``.
        use_ema: sample ``model.ema_generator`` (a model built with
            ``ema_decay``); an error if absent. ``False``: the raw generator.
        batch_size: generator batch size.

    Returns:
        ``(samples float32 [N, ...], labels int32 [N] or None)``.

    Example:
        >>> x, y = generate_samples(gan, 2500, seed=0)
    """
    n = int(num_samples)
    if model.num_classes:
        labels = np.arange(n) % model.num_classes if labels is None else np.asarray(labels)
        labels = labels.astype(np.int32)
    elif labels is not None:
        raise ValueError("labels were given but the model is not conditional.")
    if not use_ema:
        return model.generate(n, seed=seed, labels=labels, batch_size=batch_size, raw=True), labels
    generator = getattr(model, "ema_generator", None)
    if generator is None:
        raise ValueError("use_ema=True but the model keeps no ema_generator; build it with "
                         "ema_decay > 0 (e.g. kgan.DCGAN(..., ema_decay=0.999)).")
    import tensorflow as tf

    from kgan import noise

    z = noise.model_latents(model, np.arange(seed, seed + n, dtype=np.int64))
    outs = []
    for i in range(0, n, batch_size):
        zi = z[i:i + batch_size]
        inputs = [zi, tf.convert_to_tensor(labels[i:i + batch_size])] if model.num_classes else zi
        outs.append(np.asarray(generator(inputs, training=False), np.float32))
    return np.concatenate(outs, 0), labels


class MixtureMetrics:
    """Mode-collapse metrics for a Gaussian-mixture benchmark.

    Returns ``{"modes", "high_quality", "reverse_kl"}`` from
    :func:`kgan.metrics.mode_statistics` (with ``details=True`` also
    ``"mode_counts"``, the high-quality samples per mode).

    Args:
        mixture: a :class:`kgan.data.GaussianMixture`.
        num_std: high-quality radius in standard deviations.
        details: add non-scalar entries (for JSON reports, not for logs).

    Example:
        >>> MixtureMetrics(kgan.data.ring_mixture())(gan.generate(2500, seed=0))
        {'modes': 8, 'high_quality': 0.98..., 'reverse_kl': 0.004...}
    """

    def __init__(self, mixture, num_std=3.0, details=False):
        self.mixture = mixture
        self.num_std = float(num_std)
        self.details = bool(details)

    def __call__(self, samples, labels=None):
        stats = st.mode_statistics(samples, self.mixture, self.num_std)
        out = stats.to_dict()
        if self.details:
            out["mode_counts"] = [int(c) for c in stats.counts]
        return out


class FeatureMetrics:
    """Distances between generated and real samples in an extractor's feature space.

    Computes, as configured:

    - ``fd``: Fréchet distance (FID with :class:`InceptionFeatures`, a
      Fréchet classifier distance with :class:`MnistClassifier`);
    - ``kid`` and ``kid_std``: Kernel Inception Distance over subsets;
    - ``precision`` and ``recall``: improved precision and recall (k-NN);
    - with an extractor that has logits: ``classifier_score``,
      ``classes_present``, ``class_kl`` (class histogram's KL to uniform)
      and, when requested labels are given (conditional models),
      ``label_accuracy``.

    Real features are computed once, on first use, and cached.

    Args:
        extractor: an object with ``features(x)`` (and optionally
            ``features_and_logits(x)``), or ``None`` to use the flattened
            samples themselves as features (e.g. 2-D data).
        real_samples: real data to compare with.
        kid: compute KID.
        precision_recall: compute precision and recall.
        kid_subsets: KID subsets.
        kid_subset_size: samples per KID subset.
        k: neighbourhood size for precision/recall.
        num_classes: classes of the extractor's logits (default: their width).
        details: add non-scalar entries (``class_histogram``).

    Example:
        >>> metrics = FeatureMetrics(MnistClassifier(), real_images)
        >>> metrics(gan.generate(2500, seed=0))
        {'fd': 3.1, 'kid': 0.02, ...}
    """

    def __init__(self, extractor, real_samples, kid=True, precision_recall=False,
                 kid_subsets=100, kid_subset_size=1000, k=3, num_classes=None,
                 details=False, seed=0):
        self.extractor = extractor
        self.real_samples = real_samples
        self.kid = bool(kid)
        self.precision_recall = bool(precision_recall)
        self.kid_subsets = int(kid_subsets)
        self.kid_subset_size = int(kid_subset_size)
        self.k = int(k)
        self.num_classes = num_classes
        self.details = bool(details)
        self.seed = seed
        self._real = None

    def extract(self, samples):
        """Returns ``(features, logits or None)`` for samples."""
        if self.extractor is None:
            x = np.asarray(samples, np.float64)
            return x.reshape(len(x), -1), None
        if hasattr(self.extractor, "features_and_logits") and getattr(
                self.extractor, "has_logits", True):
            return self.extractor.features_and_logits(samples)
        return self.extractor.features(samples), None

    def real_features(self):
        if self._real is None:
            self._real = self.extract(self.real_samples)[0]
        return self._real

    def __call__(self, samples, labels=None):
        real = self.real_features()
        feats, logits = self.extract(samples)
        out = {"fd": st.frechet_distance(real, feats)}
        if self.kid:
            kid = st.kernel_inception_distance(real, feats, self.kid_subsets,
                                               self.kid_subset_size, seed=self.seed)
            out.update(kid=kid.mean, kid_std=kid.std)
        if self.precision_recall:
            pr = st.precision_recall(real, feats, k=self.k)
            out.update(precision=pr.precision, recall=pr.recall)
        if logits is not None:
            k = self.num_classes or logits.shape[1]
            out["classifier_score"] = st.classifier_score(logits, num_splits=1)[0]
            cs = st.class_statistics(logits, k)
            out.update(classes_present=cs.classes_present, class_kl=cs.kl_to_uniform)
            if self.details:
                out["class_histogram"] = [float(v) for v in cs.histogram]
            if labels is not None:
                out["label_accuracy"] = st.conditional_accuracy(logits, labels)
        return out
