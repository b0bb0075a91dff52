"""Training callbacks: sample grids from fixed noise."""

from __future__ import annotations

import os

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
