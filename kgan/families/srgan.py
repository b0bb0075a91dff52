"""Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a Generative
Adversarial Network", CVPR 2017 (SRGAN and SRResNet)."""

from __future__ import annotations

import os

import keras
from keras import ops

from kgan import image_networks as nets
from kgan.core.translation import Translation, mse, per_example_mean

VGG19_WEIGHTS_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5"


def feature_extractor_from(network, layer="features"):
    """A frozen ``images -> activations`` model from ``network``'s layer ``layer``.

    Args:
        network: a Keras functional model taking images in [-1, 1] (e.g. a
            trained :func:`kgan.image_networks.build_feature_network`).
        layer: name of the layer whose output is the feature map.

    Example:
        >>> phi = feature_extractor_from(trained_feature_net)
        >>> SRGAN(source_shape=(7, 7, 1), feature_extractor=phi)
    """
    try:
        out = network.get_layer(layer).output
    except ValueError as e:
        raise ValueError(f"feature layer {layer!r} not found in {network.name}; its layers are "
                         f"{[l.name for l in network.layers]}.") from e
    model = keras.Model(network.input, out, name="feature_extractor")
    model.trainable = False
    return model


@keras.saving.register_keras_serializable(package="kgan")
class CaffeBGR(keras.layers.Layer):
    """RGB pixels in [0, 255] to VGG's input: BGR minus the ImageNet mean."""

    def call(self, x):
        return x[..., ::-1] - ops.convert_to_tensor([103.939, 116.779, 123.68], x.dtype)


def vgg19_features(image_shape, weights=None, layer="block5_conv4"):
    """VGG19 ImageNet features (the paper's phi_5,4) from a LOCAL weights file.

    Gray images are repeated to RGB, mapped from [-1, 1] to VGG's BGR
    mean-subtracted pixels and resized up to at least 32x32. Nothing is
    downloaded: without the file this raises the
    :class:`kgan.metrics.WeightsNotFoundError` that
    :class:`kgan.metrics.InceptionFeatures` gives.

    Args:
        image_shape: ``(H, W, C)`` of the high-resolution images.
        weights: path of ``vgg19_weights_tf_dim_ordering_tf_kernels_notop.h5``;
            default: the Keras cache (``~/.keras/models``, ``$KERAS_HOME``).
        layer: VGG19 layer (paper: ``block5_conv4``; ``block2_conv2`` is phi_2,2).

    Example:
        >>> phi = vgg19_features((96, 96, 3), "/data/vgg19_notop.h5")
    """
    from kgan.metrics.extractors import WeightsNotFoundError, _keras_cache_dirs

    path = weights
    if path is None:
        found = [os.path.join(os.path.expanduser(d), "models", VGG19_WEIGHTS_FILE)
                 for d in _keras_cache_dirs()]
        path = next((p for p in found if os.path.isfile(p)), None)
    if path is None or not os.path.isfile(path):
        raise WeightsNotFoundError(
            f"VGG19 ImageNet weights not found ({path or VGG19_WEIGHTS_FILE}). Put "
            f"{VGG19_WEIGHTS_FILE} (keras.applications) in ~/.keras/models or pass its path; "
            f"offline, pass feature_extractor=feature_extractor_from(your_trained_net) instead.")
    h, w, c = image_shape
    size = (max(32, h), max(32, w))
    x_in = keras.Input(image_shape, name="images")
    x = x_in if c == 3 else keras.layers.Concatenate()([x_in] * 3)
    x = keras.layers.Resizing(*size)(x) if size != (h, w) else x
    # [-1, 1] RGB -> caffe: BGR, 0..255, ImageNet mean subtracted.
    x = keras.layers.Rescaling(127.5, offset=127.5)(x)
    x = CaffeBGR()(x)
    vgg = keras.applications.VGG19(include_top=False, weights=path, input_shape=size + (3,))
    out = keras.Model(vgg.input, vgg.get_layer(layer).output)(x)
    model = keras.Model(x_in, out, name="vgg19_features")
    model.trainable = False
    return model


@keras.saving.register_keras_serializable(package="kgan")
class SRGAN(Translation):
    """Super-resolution GAN: SRResNet generator, SRGAN discriminator, content + adversarial.

    G's loss (the paper's perceptual loss, eq. 3):
    ``pixel_weight * MSE(G(x), y) + feature_weight * MSE(phi(G(x)), phi(y))
    + adversarial_weight * adversarial``. ``phi`` is a frozen feature
    extractor: VGG19 (``vgg19_features``, local weights) or an offline
    network of your own (``feature_extractor_from``). ``feature_weight``
    0.006 is the paper's rescaling of VGG features by 1/12.75 (squared).
    ``adversarial_weight=0`` is SRResNet (no D is trained).

    Paper defaults: x4, 16 residual blocks of 64 filters, batch norm,
    sub-pixel upsampling, ``adversarial_weight=1e-3``, the non-saturating
    loss, Adam(1e-4, beta_1=0.9) (the ``compile()`` default here).

    Args:
        generator: ``low-res -> high-res`` Keras model (built when omitted).
        discriminator: ``high-res -> logit`` Keras model (built when omitted).
        source_shape: one low-resolution image ``(h, w, C)``.
        scale: upscaling factor, a power of 2 (paper: 4).
        target_shape: default ``(h * scale, w * scale, C)``.
        adversarial_weight: weight of the adversarial term (paper: 1e-3; 0: SRResNet).
        pixel_weight: weight of the pixel MSE.
        feature_weight: weight of the feature MSE (used with ``feature_extractor``).
        feature_extractor: ``None``, a Keras model ``images -> features``, or
            ``"vgg19"`` (weights from the Keras cache).
        loss: adversarial pair (paper: ``"non_saturating"``).
        generator_options: ``build_srgan_generator`` keywords (``filters``, ``num_blocks``, ...).
        discriminator_options: ``build_srgan_discriminator`` keywords.
        seed: the model's seed.

    Example:
        >>> sr = SRGAN(source_shape=(7, 7, 1), scale=4,
        ...            generator_options={"filters": 32, "num_blocks": 4})
        >>> sr.compile()
        >>> sr.fit(low_res, high_res, batch_size=64, epochs=5)
        >>> srresnet = SRGAN(source_shape=(7, 7, 1), adversarial_weight=0.0)
    """

    metric_names = ("d_loss", "g_loss", "g_adversarial", "g_mse", "g_feature")
    default_optimizer = {"learning_rate": 1e-4, "beta_1": 0.9}

    def __init__(self, generator=None, discriminator=None, *, source_shape, scale=4,
                 target_shape=None, adversarial_weight=1e-3, pixel_weight=1.0,
                 feature_weight=0.006, feature_extractor=None, loss=None,
                 generator_options=None, discriminator_options=None, seed=None, **kwargs):
        source_shape = tuple(int(d) for d in source_shape)
        target_shape = tuple(target_shape or (source_shape[0] * int(scale),
                                              source_shape[1] * int(scale), source_shape[2]))
        super().__init__(source_shape=source_shape, target_shape=target_shape, loss=loss,
                         seed=seed, **kwargs)
        if float(adversarial_weight) < 0 or float(pixel_weight) < 0 or float(feature_weight) < 0:
            raise ValueError("SRGAN's loss weights must be >= 0.")
        self.scale = int(scale)
        self.adversarial_weight = float(adversarial_weight)
        self.pixel_weight, self.feature_weight = float(pixel_weight), float(feature_weight)
        self.generator_options = dict(generator_options or {})
        self.discriminator_options = dict(discriminator_options or {})
        self.generator = generator or nets.build_srgan_generator(
            source_shape, self.scale, **self.generator_options)
        self.discriminator = discriminator or nets.build_srgan_discriminator(
            target_shape, **self.discriminator_options)
        if isinstance(feature_extractor, dict):
            feature_extractor = keras.saving.deserialize_keras_object(feature_extractor)
        if feature_extractor == "vgg19":
            feature_extractor = vgg19_features(target_shape)
        if feature_extractor is not None:
            feature_extractor.trainable = False
        self.feature_extractor = feature_extractor
        out = tuple(self.generator.outputs[0].shape[1:])
        if out != self.target_shape:
            raise ValueError(f"The generator outputs {out}, expected target_shape "
                             f"{self.target_shape}.")
        self.built = True

    def train_d(self):
        return self.adversarial_weight > 0

    def g_values(self, source, target, fake, training=True):
        n = ops.shape(fake)[0]
        parts = {"g_adversarial": ops.zeros((n,), "float32"),
                 "g_mse": self.pixel_weight * mse(fake, target),
                 "g_feature": ops.zeros((n,), "float32")}
        if self.adversarial_weight > 0:
            parts["g_adversarial"] = self.adversarial_weight * per_example_mean(
                self.loss_pair.generator(self.critic(source, fake, training)))
        if self.feature_extractor is not None and self.feature_weight > 0:
            phi = self.feature_extractor
            parts["g_feature"] = self.feature_weight * mse(phi(fake, training=False),
                                                           phi(target, training=False))
        return parts

    def get_config(self):
        config = super().get_config()
        fe = self.feature_extractor
        config.update({"scale": self.scale, "adversarial_weight": self.adversarial_weight,
                       "pixel_weight": self.pixel_weight, "feature_weight": self.feature_weight,
                       "feature_extractor": None if fe is None
                       else keras.saving.serialize_keras_object(fe),
                       "generator_options": self.generator_options,
                       "discriminator_options": self.discriminator_options})
        return config
