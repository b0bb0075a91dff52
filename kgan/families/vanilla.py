"""Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014."""

import keras

from kgan.core.gan import GAN


@keras.saving.register_keras_serializable(package="kgan")
class VanillaGAN(GAN):
    """MLP generator and discriminator; same arguments as :class:`kgan.GAN`.

    Example:
        >>> gan = VanillaGAN(data_shape=(2,), latent_dim=8)
    """

    default_architecture = "mlp"
