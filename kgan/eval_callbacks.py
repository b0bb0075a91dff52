"""Evaluation callbacks: periodic quality metrics during ``fit``.

(The exponential moving average of G's weights is a model option,
``ema_decay``, see :mod:`kgan.core.ema`.)

- :class:`GeneratorMetrics` (and its shortcuts :class:`ModeCoverage` and
  :class:`FrechetDistance`) generates samples every few epochs, computes
  metrics with a :mod:`kgan.metrics` evaluator and writes them into the epoch
  ``logs``, so ``History``, ``TensorBoard``, ``CSVLogger`` and
  ``EarlyStopping`` see them. Place these callbacks BEFORE ``TensorBoard`` /
  ``CSVLogger`` in the ``callbacks`` list (callbacks run in list order; the
  ``History`` object returned by ``fit`` always runs last).
"""

from __future__ import annotations

import numbers

import numpy as np
import keras

from kgan.metrics import evaluation


class GeneratorMetrics(keras.callbacks.Callback):
    """Evaluates generated samples every few epochs and logs the metrics.

    At the end of every ``every_n_epochs``-th epoch (and of the last epoch)
    the callback draws ``num_samples`` samples with fixed latent seeds
    ``seed, seed+1, ...`` (so epochs are comparable), runs ``evaluator`` on
    them and writes the scalar results into the epoch's ``logs`` under
    ``prefix + name``. Epochs that are skipped get no entry (like Keras's
    ``validation_freq``). Every evaluation is also kept in
    :attr:`history` as ``{"epoch": e, name: value, ...}``.

    Args:
        evaluator: a callable ``(samples, labels) -> dict``, e.g.
            :class:`kgan.metrics.MixtureMetrics` or
            :class:`kgan.metrics.FeatureMetrics`.
        num_samples: samples per evaluation.
        every_n_epochs: evaluation period in epochs.
        seed: first latent seed.
        labels: requested labels for conditional models (default
            ``0, 1, ..., K-1, 0, ...``).
        use_ema: evaluate ``model.ema_generator`` (a model built with
            ``ema_decay``).
        prefix: key prefix; default ``"ema_"`` with ``use_ema`` else ``""``.
        verbose: print the metrics after each evaluation.

    Example:
        >>> metrics = GeneratorMetrics(kgan.metrics.MixtureMetrics(ring), num_samples=2500)
        >>> history = gan.fit(ds, epochs=10, callbacks=[metrics])
        >>> history.history["modes"]
    """

    def __init__(self, evaluator, num_samples=2500, every_n_epochs=1, seed=0, labels=None,
                 use_ema=False, prefix=None, verbose=0):
        super().__init__()
        if int(every_n_epochs) < 1:
            raise ValueError(f"every_n_epochs must be >= 1, got {every_n_epochs}.")
        self.evaluator = evaluator
        self.num_samples = int(num_samples)
        self.every_n_epochs = int(every_n_epochs)
        self.seed = int(seed)
        self.labels = labels
        self.use_ema = bool(use_ema)
        self.prefix = ("ema_" if use_ema else "") if prefix is None else prefix
        self.verbose = verbose
        self.history = []

    def evaluate(self):
        """Runs one evaluation now and returns ``{prefix + name: float}``."""
        samples, labels = evaluation.generate_samples(
            self.model, self.num_samples, seed=self.seed, labels=self.labels,
            use_ema=self.use_ema)
        values = self.evaluator(samples, labels)
        return {self.prefix + k: float(v) for k, v in values.items()
                if isinstance(v, (numbers.Number, np.number))}

    def on_epoch_end(self, epoch, logs=None):
        last = self.params.get("epochs") if self.params else None
        if (epoch + 1) % self.every_n_epochs and (last is None or epoch + 1 != last):
            return
        values = self.evaluate()
        if logs is not None:
            logs.update(values)
        self.history.append({"epoch": epoch + 1, **values})
        if self.verbose:
            print(f"epoch {epoch + 1}: " + ", ".join(f"{k}={v:.4g}" for k, v in values.items()))


class ModeCoverage(GeneratorMetrics):
    """Logs ``modes``, ``high_quality`` and ``reverse_kl`` for a 2-D mixture.

    The VEEGAN / PacGAN measures (see :func:`kgan.metrics.mode_statistics`)
    on ``num_samples`` samples (2,500 in the published tables).

    Args:
        mixture: a :class:`kgan.data.GaussianMixture`.
        num_samples: samples per evaluation.
        **kwargs: see :class:`GeneratorMetrics`.

    Example:
        >>> gan.fit(ds, epochs=10, callbacks=[ModeCoverage(kgan.data.grid_mixture())])
    """

    def __init__(self, mixture, num_samples=2500, **kwargs):
        super().__init__(evaluation.MixtureMetrics(mixture), num_samples, **kwargs)


class FrechetDistance(GeneratorMetrics):
    """Logs ``fd`` (and ``kid``, ``kid_std``) against real samples.

    With an extractor that has logits (:class:`kgan.metrics.MnistClassifier`,
    :class:`kgan.metrics.InceptionFeatures`) it also logs
    ``classifier_score``, ``classes_present``, ``class_kl`` and, for
    conditional models, ``label_accuracy`` (see
    :class:`kgan.metrics.FeatureMetrics`).

    Args:
        extractor: a feature extractor (:class:`kgan.metrics.InceptionFeatures`,
            :class:`kgan.metrics.MnistClassifier`, anything with
            ``features(x)``) or ``None`` for raw samples.
        real_samples: real data; its features are computed once.
        num_samples: generated samples per evaluation (use the same number
            as real samples: the Fréchet distance is biased by sample size).
        kid: also log KID.
        kid_subsets: KID subsets.
        kid_subset_size: samples per KID subset.
        **kwargs: see :class:`GeneratorMetrics`.

    Example:
        >>> fd = FrechetDistance(kgan.metrics.MnistClassifier(), real_images[:2500])
        >>> gan.fit(ds, epochs=10, callbacks=[fd])
    """

    def __init__(self, extractor, real_samples, num_samples=2500, kid=True, kid_subsets=50,
                 kid_subset_size=1000, **kwargs):
        evaluator = evaluation.FeatureMetrics(extractor, real_samples, kid=kid,
                                              kid_subsets=kid_subsets,
                                              kid_subset_size=kid_subset_size)
        super().__init__(evaluator, num_samples, **kwargs)
