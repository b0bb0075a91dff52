"""GAN anomaly detection: AnoGAN (iterative) and f-AnoGAN (one forward pass).

A GAN trained on normal data only maps its latent space onto the normal
manifold; an image it cannot reproduce is anomalous.

* :class:`AnoGAN` (Schlegl et al. 2017): for each image, search ``z`` with
  Adam (:func:`kgan.latent.optimise_latents`) minimising
  ``(1 - lambda) * R + lambda * D_loss`` with the residual
  ``R = sum |x - G(z)|`` and the discrimination loss
  ``D_loss = sum |f(x) - f(G(z))|`` on D's last hidden features f (the
  paper's feature-matching variant); the final value is the score,
  ``lambda = 0.1``.
* :class:`FAnoGAN` (Schlegl et al. 2019): an encoder E trained AFTER the
  GAN, G and D frozen, with the izi_f loss
  ``||x - G(E(x))||^2 / n + kappa * ||f(x) - f(G(E(x)))||^2 / n_f``; the
  score is the same quantity, one forward pass per image.
  :func:`export_scorer` exports it for TF Serving (``images`` ->
  ``scores``, ``reconstructions``).
* :func:`discriminator_scores`: D's own judgement, ``-D(x)``, a baseline.

Example:
    >>> fano = FAnoGAN.from_gan(gan)
    >>> fano.compile()
    >>> fano.fit(normal_images, epochs=20, batch_size=64)
    >>> scores = fano.score(test_images)["scores"]
    >>> path = export_scorer(fano, "serving/models", model_name="digits_anomaly")
"""

from __future__ import annotations


import numpy as np
import tensorflow as tf
import keras
from keras import layers, ops

from kgan import latent as latent_lib
from kgan import validation
from kgan.core import replica
from kgan.core.adversarial import AdversarialModel

SCORE_SIGNATURE = "serving_default"
SCORE_UINT8_SIGNATURE = "score_uint8"


class _Untracked:
    """Holds a network that shares another's layers without Keras tracking it twice."""

    def __init__(self, net):
        self.net = net


def discriminator_features(discriminator, layer=None):
    """A model ``x -> f(x)``: D's last hidden features (the input of its score layer).

    Args:
        discriminator: a functional discriminator (``[scores, ...]`` outputs
            are fine: the first output's input is used).
        layer: name of another layer of D to read instead.

    Example:
        >>> f = discriminator_features(gan.discriminator)
    """
    try:
        inputs, outputs = discriminator.inputs, list(discriminator.outputs)
    except (AttributeError, ValueError) as e:
        raise ValueError("Anomaly scoring reads D's features: it needs a functional "
                         "discriminator (with .inputs and .outputs).") from e
    if len(inputs) != 1:
        raise ValueError("Anomaly scoring needs an unconditional discriminator (one input).")
    features = (discriminator.get_layer(layer).output if layer
                else outputs[0]._keras_history.operation.input)
    return keras.Model(inputs, layers.Flatten()(features) if len(features.shape) > 2
                       else features, name="discriminator_features")


def _per_example(t):
    return tf.reshape(t, [tf.shape(t)[0], -1])


def discriminator_scores(model, images, batch_size=256):
    """``-D(x)``: higher for images D finds less real (a baseline anomaly score).

    Example:
        >>> s = discriminator_scores(gan, test_images)
    """
    x = np.asarray(images, np.float32)
    out = []
    for i in range(0, len(x), batch_size):
        scores, _ = model.critic(x[i:i + batch_size], None, training=False)
        out.append(-np.asarray(scores, np.float32).reshape(-1))
    return np.concatenate(out) if out else np.zeros((0,), np.float32)


class AnoGAN:
    """AnoGAN scoring by iterative latent search (Schlegl et al. 2017).

    For each image, Adam searches ``z`` minimising
    ``(1 - lam) * sum|x - G(z)| + lam * sum|f(x) - f(G(z))|`` (eqs. 3-5 of
    the paper, with the feature-matching discrimination loss on D's last
    hidden features); the final value is the anomaly score. Images of a
    batch are searched together but independently.

    Schlegl et al., "Unsupervised Anomaly Detection with Generative
    Adversarial Networks to Guide Marker Discovery", IPMI 2017.

    Args:
        model: a trained unconditional :class:`kgan.GAN` (its generator and
            discriminator are only read; the EMA generator when it keeps
            one, the network ``generate`` samples).
        lam: lambda, the weight of the discrimination loss (0.1 in the paper).
        steps: Adam steps per image (the paper uses 500 backpropagation steps).
        learning_rate: Adam's learning rate on z.
        feature_layer: D's layer whose output is f (default: its last hidden
            features).

    Example:
        >>> result = AnoGAN(gan, steps=500).score(test_images)
        >>> result["scores"], result["reconstructions"]
    """

    def __init__(self, model, lam=0.1, steps=500, learning_rate=0.05, feature_layer=None):
        if not 0.0 <= float(lam) <= 1.0:
            raise ValueError(f"lam must be in [0, 1], got {lam}.")
        if getattr(model, "num_classes", None):
            raise ValueError("AnoGAN needs an unconditional GAN.")
        self.model, self.lam, self.steps = model, float(lam), int(steps)
        self.generator = latent_lib.sampled_generator(model)
        self.learning_rate = float(learning_rate)
        self.features = discriminator_features(model.discriminator, feature_layer)

    def _parts(self, generated, x):
        residual = tf.reduce_sum(_per_example(tf.abs(x - generated)), -1)
        fx = tf.cast(self.features(x, training=False), tf.float32)
        fg = tf.cast(self.features(generated, training=False), tf.float32)
        return residual, tf.reduce_sum(_per_example(tf.abs(fx - fg)), -1)

    def objective(self, generated, x):
        """The per-image AnoGAN loss ``(1 - lam) * R + lam * D_loss``, ``[n]``."""
        residual, discrimination = self._parts(generated, x)
        return (1.0 - self.lam) * residual + self.lam * discrimination

    def score(self, images, seed=0, batch_size=256):
        """Scores ``images`` (``[n] + data_shape``); higher is more anomalous.

        Returns:
            dict of numpy arrays: ``scores``, ``residual``,
            ``discrimination``, ``z``, ``reconstructions``.
        """
        x = np.asarray(images, np.float32)
        data_shape = tuple(self.model.data_shape)
        if x.shape[1:] != data_shape:
            raise ValueError(f"images: expected shape (n,) + {data_shape}, got {x.shape}.")
        z0 = np.random.default_rng(seed).standard_normal(
            (len(x), self.model.latent_dim)).astype(np.float32)
        z, scores = latent_lib.optimise_latents(self.generator, x, z0, self.objective,
                                                self.steps, self.learning_rate, batch_size)
        recon = np.asarray(self.generator.predict(z, batch_size=batch_size, verbose=0),
                           np.float32)
        residual, discrimination = self._parts(tf.constant(recon), tf.constant(x))
        return {"scores": scores, "residual": residual.numpy(),
                "discrimination": discrimination.numpy(), "z": z, "reconstructions": recon}


def build_encoder(data_shape, latent_dim, base_filters=32, hidden_units=(256, 256),
                  name="encoder"):
    """f-AnoGAN's encoder ``x -> z``: a DCGAN-critic-like trunk and a linear latent head.

    Convolutional for square 28/32/64 px images (strided 4x4 convolutions,
    LeakyReLU 0.2, no normalisation), an MLP otherwise. The output is linear
    because kgan's latents are standard normal (the paper's tanh matches its
    U(-1, 1) latents).

    Example:
        >>> e = build_encoder((28, 28, 1), 64, base_filters=8)
        >>> e(keras.ops.zeros((2, 28, 28, 1))).shape
        (2, 64)
    """
    from kgan import networks

    arch = networks.resolve_architecture("auto", data_shape)
    x_in = keras.Input(tuple(data_shape), name="images")
    x = x_in
    if arch == "dcgan":
        _, n = networks.dcgan_plan(data_shape)
        for i in range(n):
            x = layers.Conv2D(base_filters * 2 ** i, 4, strides=2, padding="same",
                              name=f"down_{i}")(x)
            x = layers.LeakyReLU(0.2, name=f"down_{i}_lrelu")(x)
        x = layers.Flatten(name="flatten")(x)
    else:
        x = layers.Flatten(name="flatten")(x) if len(data_shape) > 1 else x
        for i, units in enumerate(hidden_units):
            x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(layers.Dense(units, name=f"dense_{i}")(x))
    return keras.Model(x_in, layers.Dense(latent_dim, name="z")(x), name=name)


@keras.saving.register_keras_serializable(package="kgan")
class FAnoGAN(AdversarialModel):
    """f-AnoGAN: an encoder trained after the GAN; scoring is one forward pass.

    ``fit`` trains only the encoder E, with G and D frozen (run in inference
    mode, never updated), on normal images, minimising the izi_f loss

        A(x) = ||x - G(E(x))||^2 / n + kappa * ||f(x) - f(G(E(x)))||^2 / n_f

    (mean squared residual over the n pixel values plus kappa times the mean
    squared residual of D's last hidden features f), which is also the
    anomaly score. The core's plumbing applies: keyword ``compile``
    (``e_optimizer=``), the NaN guard, the distribution rule (per-image sums
    over the GLOBAL batch) and saving. Logged: ``izif_loss``, ``residual``
    and ``feature_residual``.

    Schlegl et al., "f-AnoGAN: Fast unsupervised anomaly detection with
    generative adversarial networks", Medical Image Analysis 2019, eqs. 6-8.

    Args:
        generator, discriminator: the trained GAN's networks (unconditional).
        encoder: ``x -> z``; built with :func:`build_encoder` when omitted.
        kappa: weight of the feature residual (1 in the paper).
        feature_layer: D's layer for f (default: its last hidden features).
        encoder_options: :func:`build_encoder` keyword arguments.
        seed: seed of the model's seed generator.

    Example:
        >>> fano = FAnoGAN.from_gan(gan, kappa=1.0)
        >>> fano.compile(e_optimizer=keras.optimizers.Adam(1e-3))
        >>> fano.fit(normal_images, epochs=20, batch_size=64)
        >>> fano.score(test_images)["scores"]
    """

    networks = {"e_optimizer": "encoder"}
    metric_names = ("izif_loss", "residual", "feature_residual")
    default_optimizer = {"learning_rate": 1e-3, "beta_1": 0.5}

    def __init__(self, generator, discriminator, encoder=None, *, kappa=1.0, feature_layer=None,
                 encoder_options=None, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        if float(kappa) < 0:
            raise ValueError(f"kappa must be >= 0, got {kappa}.")
        self.generator, self.discriminator = generator, discriminator
        self.latent_dim = int(generator.inputs[0].shape[-1])
        self.data_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        self.kappa, self.feature_layer = float(kappa), feature_layer
        self.encoder_options = dict(encoder_options or {})
        self.encoder = encoder or build_encoder(self.data_shape, self.latent_dim,
                                                **self.encoder_options)
        out = self.encoder(ops.zeros((2,) + self.data_shape))
        if tuple(out.shape) != (2, self.latent_dim):
            raise ValueError(f"The encoder must map images {self.data_shape} to latents of "
                             f"width {self.latent_dim}, got outputs {tuple(out.shape)}.")
        self._features = _Untracked(discriminator_features(discriminator, feature_layer))
        self.built = True

    @classmethod
    def from_gan(cls, gan, **kwargs):
        """An f-AnoGAN over a trained GAN's networks (shared, never updated).

        G is the network ``gan.generate`` samples: the EMA generator when the
        GAN keeps one (:func:`kgan.latent.sampled_generator`).

        Example:
            >>> fano = FAnoGAN.from_gan(gan, encoder_options={"base_filters": 32})
        """
        if getattr(gan, "num_classes", None):
            raise ValueError("f-AnoGAN needs an unconditional GAN.")
        return cls(latent_lib.sampled_generator(gan), gan.discriminator, **kwargs)

    def parts(self, x, training=False):
        """``(reconstructions, residual [n], feature_residual [n])`` for images ``x``."""
        x = ops.cast(x, "float32")
        recon = ops.cast(self.generator(self.encoder(x, training=training), training=False),
                         "float32")
        residual = ops.mean(_per_example(ops.square(x - recon)), -1)
        f = self._features.net
        fx = ops.cast(f(x, training=False), "float32")
        fr = ops.cast(f(recon, training=False), "float32")
        return recon, residual, ops.mean(_per_example(ops.square(fx - fr)), -1)

    def call(self, x, training=False):
        """The anomaly scores of images ``x`` (``[n]``)."""
        _, residual, feature = self.parts(x, training)
        return residual + self.kappa * feature

    def train_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)):
            x = x[0]
        size = ops.shape(x)[0]
        global_size = ops.cast(replica.global_batch(size), "float32")
        with tf.GradientTape() as tape:
            _, residual, feature = self.parts(x, training=True)
            per = residual + self.kappa * feature
            loss = ops.sum(per) / global_size  # the distribution rule
        self.apply(self.e_optimizer, loss, tape, self.encoder.trainable_variables, "encoder")
        return self._track(size, per, residual, feature)

    def test_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)):
            x = x[0]
        _, residual, feature = self.parts(x)
        return self._track(ops.shape(x)[0], residual + self.kappa * feature, residual, feature)

    def _track(self, size, per, residual, feature):
        n = ops.cast(size, "float32")
        self.update_trackers({"izif_loss": ops.sum(per) / n, "residual": ops.sum(residual) / n,
                              "feature_residual": ops.sum(feature) / n}, n)
        return self.logs()

    def check_data(self, x, y, batch_size):
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        validation.check_training_data(
            x, None, data_shape=self.data_shape, num_classes=None,
            num_replicas=self.distribute_strategy.num_replicas_in_sync)

    def score(self, images, batch_size=256):
        """Scores images in one forward pass each; higher is more anomalous.

        Returns:
            dict of numpy arrays: ``scores``, ``residual``,
            ``feature_residual``, ``reconstructions``.

        Example:
            >>> fano.score(test_images)["scores"]
        """
        x = np.asarray(images, np.float32)
        if x.shape[1:] != self.data_shape:
            raise ValueError(f"images: expected shape (n,) + {self.data_shape}, got {x.shape}.")
        outs = {"scores": [], "residual": [], "feature_residual": [], "reconstructions": []}
        for i in range(0, len(x), batch_size):
            recon, residual, feature = _score_batch(self, tf.constant(x[i:i + batch_size]))
            outs["reconstructions"].append(recon.numpy())
            outs["residual"].append(residual.numpy())
            outs["feature_residual"].append(feature.numpy())
            outs["scores"].append((residual + self.kappa * feature).numpy())
        return {k: (np.concatenate(v) if v else np.zeros((0,), np.float32))
                for k, v in outs.items()}

    def get_config(self):
        config = super().get_config()
        config.update({k: keras.saving.serialize_keras_object(getattr(self, k))
                       for k in ("generator", "discriminator", "encoder")})
        config.update(kappa=self.kappa, feature_layer=self.feature_layer,
                      encoder_options=self.encoder_options, seed=self.seed)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator", "encoder"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)


@tf.function(reduce_retracing=True)
def _score_batch(model, x):
    return model.parts(x)


# The serving side lives in kgan/anomaly_serving.py; its public names stay reachable here.
from kgan.anomaly_serving import (export_scorer, load_scorer, read_images,  # noqa: E402,F401
                                  score_from_export, score_main)
