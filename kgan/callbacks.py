"""Training callbacks: sample grids from fixed noise, crash-safe state, the latest model."""

from __future__ import annotations

import os
import time

import numpy as np
import tensorflow as tf
import keras

from kgan import distribute, images, noise


class SampleGrid(keras.callbacks.Callback):
    """Writes samples from a FIXED noise batch at the end of every epoch.

    Images go to ``<directory>/epoch_XXXX.png`` as a grid and, when
    ``log_dir`` is set, to TensorBoard as an image summary; 2-D samples are
    drawn as scatter plots. Only the chief writes under multi-worker training.

    Args:
        directory: folder for PNG files.
        num_samples: samples per grid.
        seed: latent seeds ``seed .. seed+num_samples-1`` (fixed across
            epochs, so grids are comparable).
        log_dir: TensorBoard log folder (``None``: no summary).
        reference: optional ``[M, 2]`` points drawn under 2-D scatter plots.

    Example:
        >>> gan.fit(ds, epochs=5, callbacks=[SampleGrid("runs/x/samples")])
    """

    def __init__(self, directory, num_samples=64, seed=1234, log_dir=None, reference=None):
        super().__init__()
        self.directory = directory
        self.num_samples = int(num_samples)
        self.seed = int(seed)
        self.log_dir = log_dir
        self.reference = reference
        self._writer = None
        self.written = []

    def _samples(self):
        m = self.model
        z = noise.latents_from_seeds(np.arange(self.seed, self.seed + self.num_samples), m.latent_dim)
        return m.generate(z=z)

    def on_epoch_end(self, epoch, logs=None):
        if not distribute.is_chief():
            return
        samples = self._samples()
        path = os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png")
        if samples.ndim == 4:
            images.save_grid(samples, path)
        elif samples.ndim == 2 and samples.shape[1] == 2:
            images.save_scatter(samples, path, self.reference)
        else:
            return
        self.written.append(path)
        if self.log_dir and samples.ndim == 4:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
            grid = images.make_grid(samples)[None]
            with self._writer.as_default():
                tf.summary.image("samples", grid, step=epoch + 1)
            self._writer.flush()


class _EpochSaves:
    """Epoch-end saves at most every ``min_seconds``, and always at a fit's last epoch.

    A save of a few MB costs about a second on a 2-core CPU; on a run of 5-second
    epochs, saving every epoch spends a sixth of the time on files.
    """

    def _init_epoch_saves(self, min_seconds):
        if min_seconds is None or float(min_seconds) < 0:
            raise ValueError(f"min_seconds must be >= 0, got {min_seconds}.")
        self.min_seconds = float(min_seconds)
        self._last_time = time.monotonic()

    def on_train_begin(self, logs=None):
        super().on_train_begin(logs)
        self._last_time = time.monotonic()

    def _epoch_save_due(self, epoch):
        last = epoch + 1 >= (self.params or {}).get("epochs", epoch + 1)
        if last or time.monotonic() - self._last_time >= self.min_seconds:
            self._last_time = time.monotonic()
            return True
        return False


class TrainingState(_EpochSaves, keras.callbacks.Callback):
    """Crash-safe training state for automatic resume (an exact BackupAndRestore).

    Every ``every`` steps and at each epoch end it writes the model's weights
    (both networks, both optimizers' state, the noise generator's state) to
    ``<directory>/state.weights.h5`` atomically: a new file is written beside
    the old one and renamed over it, so a SIGKILL at any moment leaves a
    complete state. The global step is the generator optimizer's iteration
    count, saved with the weights.

    Keras's own ``BackupAndRestore`` restarts a partly done epoch from its
    first batch with the partly trained weights, so a resumed run differs
    from an uninterrupted one; :func:`kgan.training.run` instead resumes at
    the exact step with ``kgan.data.training_stream``.

    Args:
        directory: folder for the state (one per worker).
        every: steps between saves (``None``: epoch ends only).
        min_seconds: epoch-end saves at most this often (a fit's last epoch
            is always saved); 0: every epoch.

    Example:
        >>> state = TrainingState("runs/x/backup", every=100)
        >>> start_step = state.restore(model)
    """

    FILE = "state.weights.h5"

    def __init__(self, directory, every=None, min_seconds=0.0):
        super().__init__()
        self.directory = directory
        self.every = int(every) if every else None
        self._last_saved = None
        self._init_epoch_saves(min_seconds)

    @property
    def path(self):
        return os.path.join(self.directory, self.FILE)

    def restore(self, model):
        """Loads the last state into ``model`` if there is one; returns the global step.

        The state holds every variable of the model, the EMA generator's too
        (``ema_decay``), so the average also resumes exactly.
        """
        if os.path.exists(self.path):
            model.load_weights(self.path)
        return model.step

    def save(self):
        os.makedirs(self.directory, exist_ok=True)
        tmp = os.path.join(self.directory, "incoming." + self.FILE)
        self.model.save_weights(tmp, overwrite=True)
        os.replace(tmp, self.path)
        self._last_saved = self.model.step

    def on_train_batch_end(self, batch, logs=None):
        if not self.every:
            return
        step = self.model.step
        if self._last_saved is None:
            self._last_saved = step - step % self.every
        if step - self._last_saved >= self.every:
            self.save()

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_save_due(epoch):
            self.save()


class LatestModel(_EpochSaves, keras.callbacks.ModelCheckpoint):
    """``keras.callbacks.ModelCheckpoint`` of the whole model, throttled like :class:`TrainingState`.

    Args:
        filepath: the ``.keras`` file, overwritten by each save.
        min_seconds: epoch-end saves at most this often (a fit's last epoch
            is always saved); 0: every epoch, as ``ModelCheckpoint``.

    Example:
        >>> gan.fit(ds, epochs=80, callbacks=[LatestModel("runs/x/checkpoints/model.keras", 60)])
    """

    def __init__(self, filepath, min_seconds=0.0):
        super().__init__(filepath)
        self._init_epoch_saves(min_seconds)

    def on_epoch_end(self, epoch, logs=None):
        if self._epoch_save_due(epoch):
            super().on_epoch_end(epoch, logs)


class TranslationGrid(keras.callbacks.Callback):
    """Writes ``source | output | target`` rows for fixed held-out images every epoch.

    For image-to-image models (pix2pix, SRGAN, CycleGAN): PNGs go to
    ``<directory>/epoch_XXXX.png`` and, with ``log_dir``, to TensorBoard.

    Args:
        directory: folder for PNG files.
        source: held-out source images ``[n, ...]`` in [-1, 1].
        target: their targets (``None`` for unpaired data: two columns).
        log_dir: TensorBoard log folder (``None``: no summary).

    Example:
        >>> model.fit(ds, callbacks=[TranslationGrid("runs/p2p/samples", edges[:8], digits[:8])])
    """

    def __init__(self, directory, source, target=None, log_dir=None):
        super().__init__()
        self.directory, self.log_dir = directory, log_dir
        self.source = np.asarray(source, np.float32)
        self.target = None if target is None else np.asarray(target, np.float32)
        self._writer = None
        self.written = []

    def on_epoch_end(self, epoch, logs=None):
        if not distribute.is_chief():
            return
        rows = images.side_by_side(self.source, self.model.translate(self.source), self.target)
        cols = 2 if self.target is None else 3
        path = images.save_grid(rows, os.path.join(self.directory, f"epoch_{epoch + 1:04d}.png"),
                                cols=cols, scale=2)
        self.written.append(path)
        if self.log_dir:
            if self._writer is None:
                self._writer = tf.summary.create_file_writer(os.path.join(self.log_dir, "samples"))
            with self._writer.as_default():
                tf.summary.image("source | output | target", images.make_grid(rows, cols)[None],
                                 step=epoch + 1)
            self._writer.flush()
