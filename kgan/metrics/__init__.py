"""Sample-quality metrics for GANs.

Statistics are computed from activations (:mod:`kgan.metrics.statistics`,
numpy only); feature extractors that produce those activations are separate
classes (:mod:`kgan.metrics.extractors`); evaluators combine the two for the
periodic-evaluation callback and the benchmarks
(:mod:`kgan.metrics.evaluation`).

Example:
    >>> from kgan import metrics
    >>> clf = metrics.MnistClassifier()
    >>> metrics.frechet_distance(clf.features(real), clf.features(fake))
    >>> metrics.mode_statistics(samples, kgan.data.grid_mixture())
"""

from kgan.metrics.evaluation import FeatureMetrics, MixtureMetrics, generate_samples
from kgan.metrics.extractors import (DigitsClassifier, InceptionFeatures, MnistClassifier,
                                     WeightsNotFoundError,
                                     build_mnist_classifier, find_inception_weights,
                                     to_unit_range)
from kgan.metrics.statistics import (KID, ClassStatistics, ModeStatistics, PrecisionRecall,
                                     class_statistics, classifier_score, conditional_accuracy,
                                     feature_statistics, frechet_distance,
                                     frechet_distance_from_statistics, inception_score,
                                     kernel_inception_distance, kl_to_uniform, mmd2_unbiased,
                                     mode_statistics, precision_recall)

__all__ = [
    "KID", "ClassStatistics", "ModeStatistics", "PrecisionRecall",
    "class_statistics", "classifier_score", "conditional_accuracy", "feature_statistics",
    "frechet_distance", "frechet_distance_from_statistics", "inception_score",
    "kernel_inception_distance", "kl_to_uniform", "mmd2_unbiased", "mode_statistics",
    "precision_recall",
    "DigitsClassifier", "InceptionFeatures", "MnistClassifier", "WeightsNotFoundError",
    "build_mnist_classifier",
    "find_inception_weights", "to_unit_range",
    "FeatureMetrics", "MixtureMetrics", "generate_samples",
]
