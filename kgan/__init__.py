"""kgan: generative adversarial networks for Keras 3 / TensorFlow.

Example:
    >>> import kgan
    >>> gan = kgan.DCGAN(data_shape=(28, 28, 1), terms=[kgan.regularizers.R1(1.0)])
    >>> gan.compile()
    >>> gan.fit(dataset, epochs=10)
"""

# Before anything imports TensorFlow: oneDNN's CPU kernels (kgan/_cpu.py).
from kgan import _cpu  # noqa: F401  isort: skip
from kgan import (conditioning, data, data_pairs, image_networks, latent, layers, losses,
                  networks, noise, objectives, options, regularizers, rejection, steps, text,
                  transforms)
from kgan.core.adversarial import AdversarialModel, NonFiniteLossError
from kgan.core.gan import GAN
from kgan.families import (ACGAN, BEGAN, DCGAN, LSGAN, WGANGP, ConditionalGAN, CycleGAN, InfoGAN,
                           Pix2Pix, SRGAN, TextToImageGAN, VanillaGAN)
from kgan.saving import ModelFileError, load_model
from kgan.validation import DataError

__version__ = "0.2.0"

__all__ = ["GAN", "AdversarialModel", "VanillaGAN", "ConditionalGAN", "DCGAN", "LSGAN", "WGANGP",
           "ACGAN", "InfoGAN", "BEGAN", "Pix2Pix", "SRGAN", "CycleGAN", "TextToImageGAN", "DataError",
           "NonFiniteLossError", "ModelFileError", "load_model", "conditioning", "data", "data_pairs",
           "image_networks", "latent", "layers", "losses", "networks", "noise", "objectives",
           "options", "regularizers", "rejection", "steps", "text", "transforms"]
