"""Evaluation callbacks: generator weight averaging and periodic quality metrics.

- :class:`GeneratorEMA` keeps ``model.ema_generator``, an exponential moving
  average of the generator's weights, updated after every train batch.
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
import tensorflow as tf
import keras

from kgan.metrics import evaluation


def _same_structure(a, b):
    wa, wb = a.weights, b.weights
    return len(wa) == len(wb) and all(tuple(x.shape) == tuple(y.shape) for x, y in zip(wa, wb))


def attach_ema_generator(model):
    """Returns ``model.ema_generator``, creating it as a copy of the generator if needed.

    The copy is made under the model's distribution strategy and is NOT
    tracked by the model (see :class:`GeneratorEMA`).

    Args:
        model: a :class:`kgan.GAN`.

    Returns:
        the EMA generator (a ``keras.Model`` shaped like ``model.generator``).

    Example:
        >>> ema = attach_ema_generator(gan)
        >>> ema.load_weights("ema.weights.h5")
    """
    generator = model.generator
    ema = getattr(model, "ema_generator", None)
    if ema is None or not _same_structure(ema, generator):
        with model.distribute_strategy.scope():
            ema = keras.models.clone_model(generator)
            ema.set_weights(generator.get_weights())
        # Untracked on purpose (see GeneratorEMA): keras.Layer's __setattr__
        # would add the clone's weights to the GAN's own.
        object.__setattr__(model, "ema_generator", ema)
    return ema


class GeneratorEMA(keras.callbacks.Callback):
    """Exponential moving average of the generator's weights.

    At the start of training the callback clones ``model.generator`` (same
    architecture, same weights) into ``model.ema_generator``; after every
    train batch it updates

    ``ema <- decay * ema + (1 - decay) * w``

    for every trainable weight ``w`` of the generator and copies the
    non-trainable ones (batch-norm moving statistics). Averaging the
    generator over iterates (Yazıcı et al., "The Unusual Effectiveness of
    Averaging in GAN Training", ICLR 2019; Karras et al. 2018) gives
    smoother, usually better samples; evaluation (``GeneratorMetrics(...,
    use_ema=True)``) and export (``getattr(model, "ema_generator", None) or
    model.generator``) use it.

    The clone's variables are created under ``model.distribute_strategy``'s
    scope, so the callback works for models built under a ``tf.distribute``
    strategy. When one callback call covers several generator updates
    (``steps_per_execution > 1``), the update uses ``decay ** k`` for the
    ``k`` updates since the last call.

    ``ema_generator`` is deliberately NOT tracked by the GAN model: the
    model's weights and ``.keras`` files are unchanged by this callback.
    :class:`kgan.callbacks.TrainingState` saves and restores the average
    beside its state (place ``GeneratorEMA`` before it in the callback list,
    so the state holds the updated average); otherwise save
    ``model.ema_generator`` yourself (e.g.
    ``model.ema_generator.save("ema_generator.keras")``). A later ``fit`` on
    the same model continues the same average.

    Args:
        decay: the EMA decay in [0, 1); 0.999 averages over ~1,000 steps.
        start_step: until the generator has made this many updates, the EMA
            copies the generator instead of averaging (early weights are
            usually poor).

    Example:
        >>> gan.fit(ds, epochs=20, callbacks=[GeneratorEMA(0.999)])
        >>> images = gan.ema_generator(z, training=False)
    """

    def __init__(self, decay=0.999, start_step=0):
        super().__init__()
        decay = float(decay)
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"decay must be in [0, 1), got {decay}.")
        self.decay = decay
        self.start_step = int(start_step)
        self._update_fn = None
        self._last_iteration = None

    @staticmethod
    def _iterations(model):
        opt = getattr(model, "g_optimizer", None)
        if opt is None:
            raise RuntimeError("GeneratorEMA needs a compiled kgan GAN (model.g_optimizer).")
        return int(keras.ops.convert_to_numpy(opt.iterations))

    def on_train_begin(self, logs=None):
        model = self.model
        generator = model.generator
        ema = attach_ema_generator(model)
        pairs = list(zip(ema.trainable_weights, generator.trainable_weights))
        copies = list(zip(ema.non_trainable_weights, generator.non_trainable_weights))

        def update(decay):
            for e, w in pairs:
                d = tf.cast(decay, e.dtype)
                e.assign(d * e.value + (1.0 - d) * tf.cast(w.value, e.dtype))
            for e, w in copies:
                e.assign(w.value)

        self._update_fn = tf.function(update)
        self._last_iteration = self._iterations(model)

    def on_train_batch_end(self, batch, logs=None):
        it = self._iterations(self.model)
        k = it - self._last_iteration
        if k <= 0:
            return
        self._last_iteration = it
        decay = 0.0 if it <= self.start_step else self.decay ** k
        with self.model.distribute_strategy.scope():
            self._update_fn(tf.constant(decay, tf.float32))


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
        use_ema: evaluate ``model.ema_generator`` (needs
            :class:`GeneratorEMA` earlier in the callback list).
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
