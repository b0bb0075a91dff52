"""Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017."""

import keras

from kgan.core.gan import GAN


@keras.saving.register_keras_serializable(package="kgan")
class LSGAN(GAN):
    """The least-squares loss (a=0, b=c=1); DCGAN networks for supported images, else MLPs.

    Example:
        >>> gan = LSGAN(data_shape=(2,), latent_dim=8)
    """

    default_loss = "least_squares"
