"""Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017."""

import keras

from kgan import networks
from kgan.core.gan import GAN
from kgan.regularizers import GradientPenalty


@keras.saving.register_keras_serializable(package="kgan")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty: the defaults of the paper's Algorithm 1.

    The Wasserstein loss, ``terms=[GradientPenalty(10.0)]`` (uniform
    per-sample interpolation weights, NaN-safe norm), ``d_steps=5`` critic
    updates per generator update, layer norm instead of batch norm in DCGAN
    critics (batch norm couples the samples whose gradients are penalised),
    and ``Adam(1e-4, beta_1=0.0, beta_2=0.9)`` when ``compile()`` gets no
    optimizer. Every default can be overridden by keyword.

    Example:
        >>> gan = WGANGP(data_shape=(28, 28, 1))
        >>> gan.compile()
        >>> gan.fit(images, epochs=5, batch_size=64)
    """

    default_loss = "wasserstein"
    default_optimizer = {"learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9}

    def __init__(self, generator=None, discriminator=None, **kwargs):
        kwargs.setdefault("terms", [GradientPenalty(10.0)])
        kwargs.setdefault("d_steps", 5)
        super().__init__(generator, discriminator, **kwargs)

    def default_discriminator_options(self):
        if networks.resolve_architecture(self.architecture, self.data_shape) == "dcgan":
            return {"normalization": "layer"}
        return {}
