"""``Translation``: the image-to-image game over the adversarial core.

A generator maps a SOURCE image to an image of the TARGET domain. Paired
families (pix2pix, SRGAN) train on ``(source, target)`` batches; CycleGAN on
unpaired ``(a, b)`` batches with its own step. What they share lives here:

* the data checks (shapes, dtype, [-1, 1] range, replica split) before ``fit``;
* ``unpack`` of a batch and the global batch size (``kgan.core.replica``);
* :meth:`Translation.translate` (checked, batched inference) and
  :meth:`Translation.forward`, the graph the export serves;
* the paired train step, in Keras's order, with one generator forward per
  step as in the papers' code: G runs under its tape, D is updated on the
  detached output (``stop_recording``), then G's loss reads the updated D.

The distribution rule: every loss is a per-example value ``[n]``, summed on
the replica and divided by the GLOBAL batch; the trackers log global means.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import losses as losses_lib
from kgan import validation
from kgan.core import replica
from kgan.core.adversarial import AdversarialModel
from kgan.core.sampling import check_count


def per_example_mean(x):
    """Mean over every axis but the first: ``[n, ...] -> [n]`` float32."""
    x = ops.cast(x, "float32")
    return ops.mean(ops.reshape(x, (ops.shape(x)[0], -1)), axis=-1)


def l1(a, b):
    """Per-example mean absolute error ``[n]`` (pix2pix's L1, CycleGAN's cycle loss)."""
    return per_example_mean(ops.abs(ops.cast(a, "float32") - ops.cast(b, "float32")))


def mse(a, b):
    """Per-example mean squared error ``[n]`` (SRGAN's pixel content loss)."""
    return per_example_mean(ops.square(ops.cast(a, "float32") - ops.cast(b, "float32")))


def _check_images(x, shape, where):
    """Array-like images checked against ``shape``; returns them as numpy."""
    if x is None:
        raise validation.DataError(f"{where}: expected images of shape (batch,) + {shape}, "
                                   f"got None.")
    x = np.asarray(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise validation.DataError(f"{where}: got no images (shape {x.shape}).")
    validation._check_sample_spec(tf.TensorShape(x.shape), x.dtype, shape, where)
    if not np.isfinite(x).all() or x.min() < -1.0 - 1e-3 or x.max() > 1.0 + 1e-3:
        raise validation.DataError(
            f"{where}: expected finite images scaled to [-1, 1], got values in "
            f"[{np.nanmin(x):.3g}, {np.nanmax(x):.3g}]. kgan.data.scale_images rescales uint8.")
    return x


def check_pairs(x, y, shapes, names, num_replicas):
    """Raises :class:`kgan.DataError` unless ``fit`` data are image pairs of ``shapes``.

    Args:
        x: a first-domain array, or a ``tf.data.Dataset`` of ``(first, second)``
            batches, or an ``(first, second)`` tuple.
        y: the second-domain array (``None`` for datasets / tuples).
        shapes: ``(first shape, second shape)``.
        names: what the two are called in messages (``("source", "target")``).
        num_replicas: replicas in sync; batches must split evenly.
    """
    if isinstance(x, tf.data.Dataset):
        if y is not None:
            raise validation.DataError(f"When x is a tf.data.Dataset it yields ({names[0]}, "
                                       f"{names[1]}) batches; got a separate `y` too.")
        spec = x.element_spec
        if not isinstance(spec, (tuple, list)) or len(spec) != 2:
            raise validation.DataError(f"dataset: expected ({names[0]}, {names[1]}) batches of "
                                       f"shapes {shapes[0]} and {shapes[1]}, got {spec}.")
        for s, shape, name in zip(spec, shapes, names):
            validation._check_sample_spec(s.shape, s.dtype, shape, f"dataset {name}s")
        b = spec[0].shape[0]
        if num_replicas > 1 and b is not None and b % num_replicas:
            raise validation.DataError(f"A global batch of {b} does not split evenly across "
                                       f"{num_replicas} replicas.")
        return
    if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
        x, y = x
    a = _check_images(x, shapes[0], f"x ({names[0]} images)")
    b = _check_images(y, shapes[1], f"y ({names[1]} images)")
    if len(a) != len(b):
        raise validation.DataError(
            f"x has {len(a)} {names[0]} images but y has {len(b)} {names[1]} images; fit(x, y) "
            f"needs one each (unpaired sets of other sizes: kgan.data_pairs.unpaired_stream).")


class Translation(AdversarialModel):
    """Base of the image-to-image families (pix2pix, SRGAN; CycleGAN owns its step).

    Subclasses build ``generator`` and ``discriminator`` and implement
    :meth:`d_values` / :meth:`g_values` (per-example loss parts).

    Args:
        source_shape: one source image ``(H, W, C)``.
        target_shape: one target image.
        loss: the adversarial pair (``kgan.losses`` name or ``GANLoss``).
        seed: the model's seed.
        **kwargs: forwarded to :class:`kgan.AdversarialModel`.
    """

    networks = {"g_optimizer": "generator", "d_optimizer": "discriminator"}
    default_loss = "non_saturating"
    is_translation = True
    domains = ("source", "target")

    def __init__(self, *, source_shape, target_shape, loss=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.source_shape = tuple(int(d) for d in source_shape)
        self.target_shape = tuple(int(d) for d in target_shape)
        for name, s in (("source_shape", self.source_shape), ("target_shape", self.target_shape)):
            if len(s) != 3:
                raise ValueError(f"{name}: expected an image shape (height, width, channels), "
                                 f"got {s}.")
        self.data_shape = self.target_shape
        self.latent_dim, self.num_classes = None, None
        self.loss_pair = losses_lib.get(loss or self.default_loss)

    # ------------------------------------------------------------ inference
    def forward(self, source, training=False):
        """The generator's output for ``source`` (a tensor): what is trained and served."""
        return self.generator(source, training=training)

    def call(self, source, training=False):
        """Translates a batch of source images (a tensor)."""
        return self.forward(source, training=training)

    def directions(self):
        """``{signature name: (source shape, target shape, forward fn)}`` for the export."""
        return {"serving_default": (self.source_shape, self.target_shape, self.forward)}

    def exported_networks(self):
        """The networks whose variables the export holds."""
        return [self.generator]

    def translate(self, source, batch_size=256, direction=None):
        """Translates source images, batch by batch, in inference mode.

        Args:
            source: float images ``[n] + source_shape`` in [-1, 1].
            batch_size: images per forward pass (a positive int).
            direction: the export signature name of the direction
                (CycleGAN: ``"a_to_b"`` or ``"b_to_a"``); default: the first
                (what ``serving_default`` serves).

        Returns:
            numpy float32 ``[n] + target_shape`` in [-1, 1].

        Example:
            >>> out = model.translate(sources[:16])
        """
        ways = self.directions()
        if direction in (None, "serving_default") and direction not in ways:
            direction = next(iter(ways))
        if direction not in ways:
            raise ValueError(f"direction: expected one of {sorted(ways)}, got {direction!r}.")
        src_shape, dst_shape, fn = ways[direction]
        check_count(batch_size, (1,), "batch_size")
        x = _check_images(source, src_shape, "source")
        out = np.empty((len(x),) + tuple(dst_shape), "float32")
        # One traced function per direction, kept: a fresh tf.function per call
        # retraced on every call (seconds each in a callback or a benchmark loop).
        cache = self.__dict__.setdefault("_translate_fns", {})
        if direction not in cache:
            cache[direction] = tf.function(
                lambda t: tf.clip_by_value(tf.cast(fn(t), tf.float32), -1.0, 1.0),
                reduce_retracing=True)
        run = cache[direction]
        for i in range(0, len(x), int(batch_size)):
            out[i:i + batch_size] = run(tf.constant(x[i:i + batch_size], tf.float32)).numpy()
        return out

    # ------------------------------------------------------------ the step
    def unpack(self, data):
        """``(source, target, n, global n)`` from a data element."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        x, y = ops.cast(x, self.compute_dtype), ops.cast(y, self.compute_dtype)
        n = ops.shape(x)[0]
        return x, y, n, ops.cast(replica.global_batch(n), "float32")

    def critic(self, source, images, training=True):
        """D's float32 logits on ``images`` (given ``source`` when D is conditional)."""
        return ops.cast(self.discriminator(self.d_inputs(source, images), training=training),
                        "float32")

    def d_inputs(self, source, images):
        return images

    def d_values(self, source, target, fake, training=True):
        """D's per-example loss ``[n]``."""
        real, fake = self.critic(source, target, training), self.critic(source, fake, training)
        return self.loss_pair.discriminator(real, fake)

    def g_values(self, source, target, fake, training=True):
        """``{metric name: weighted per-example value [n]}``; their sum is G's loss."""
        raise NotImplementedError

    def train_d(self):
        """Whether D is trained (``False`` for SRResNet: no adversarial term)."""
        return True

    def _track(self, n, global_n, values):
        share = global_n / ops.cast(n, "float32")
        self.update_trackers({k: v * share for k, v in values.items()}, ops.cast(n, "float32"))
        return self.logs()

    def train_step(self, data):
        source, target, n, global_n = self.unpack(data)
        with tf.GradientTape() as g_tape:
            fake = self.forward(source, training=True)
            d_loss = ops.zeros((), "float32")
            if self.train_d():
                with g_tape.stop_recording(), tf.GradientTape() as d_tape:
                    d_loss = ops.sum(self.d_values(source, target, ops.stop_gradient(fake)))
                    d_loss = d_loss / global_n
                self.apply(self.d_optimizer, d_loss, d_tape,
                           self.discriminator.trainable_variables, "discriminator")
            parts = {k: ops.sum(v) / global_n
                     for k, v in self.g_values(source, target, fake).items()}
            g_loss = ops.sum(ops.stack(list(parts.values())))
        self.apply(self.g_optimizer, g_loss, g_tape, self.generator.trainable_variables,
                   "generator")
        return self._track(n, global_n, {"d_loss": d_loss, "g_loss": g_loss, **parts})

    def test_step(self, data):
        """The same losses on held-out pairs, in inference mode, no update."""
        source, target, n, global_n = self.unpack(data)
        fake = self.forward(source, training=False)
        d_loss = ops.sum(self.d_values(source, target, fake, False)) / global_n
        parts = {k: ops.sum(v) / global_n
                 for k, v in self.g_values(source, target, fake, False).items()}
        g_loss = ops.sum(ops.stack(list(parts.values())))
        return self._track(n, global_n, {"d_loss": d_loss, "g_loss": g_loss, **parts})

    # ------------------------------------------------------------- checks
    def check_data(self, x, y, batch_size):
        check_pairs(x, y, (self.source_shape, self.target_shape), self.domains,
                    self.distribute_strategy.num_replicas_in_sync)

    # ------------------------------------------------------ serialization
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "source_shape": list(self.source_shape), "target_shape": list(self.target_shape),
            "loss": keras.saving.serialize_keras_object(self.loss_pair), "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
