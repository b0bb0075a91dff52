"""Radford et al., "Unsupervised Representation Learning with Deep Convolutional GANs", ICLR 2016."""

import keras

from kgan.core.gan import GAN


@keras.saving.register_keras_serializable(package="kgan")
class DCGAN(GAN):
    """Convolutional G and D for 28, 32 or 64 pixel images with 1 or 3 channels.

    Same arguments as :class:`kgan.GAN`. Pass ``num_classes`` for a
    conditional DCGAN, ``loss="least_squares"`` for an LSGAN-DCGAN.

    Example:
        >>> gan = DCGAN(data_shape=(28, 28, 1), generator_options={"base_filters": 32})
    """

    default_architecture = "dcgan"
