"""kgan: generative adversarial networks for Keras 3 / TensorFlow.

Example:
    >>> import kgan
    >>> gan = kgan.DCGAN(data_shape=(28, 28, 1))
    >>> gan.compile()
    >>> gan.fit(dataset, epochs=10)
"""

from kgan import data, layers, losses, networks, noise, regularizers, tricks
from kgan.models import (ACGAN, GAN, ConditionalGAN, DCGAN, LSGAN, NonFiniteLossError,
                         VanillaGAN, WGANGP)
from kgan.validation import DataError

__version__ = "0.1.0"

__all__ = ["GAN", "VanillaGAN", "ConditionalGAN", "DCGAN", "LSGAN", "WGANGP", "ACGAN",
           "DataError", "NonFiniteLossError", "data", "layers", "losses", "networks", "noise",
           "regularizers", "tricks"]
