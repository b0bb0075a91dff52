"""Mirza & Osindero, "Conditional Generative Adversarial Nets", 2014."""

import keras

from kgan.core.gan import GAN


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalGAN(GAN):
    """G and D both conditioned on class labels; ``num_classes`` is required.

    Trains on ``(images, labels)`` batches and generates on requested labels.

    Example:
        >>> gan = ConditionalGAN(data_shape=(28, 28, 1), num_classes=10)
        >>> gan.generate(labels=[3, 3, 7], num_samples=3, seed=0)
    """

    def __init__(self, generator=None, discriminator=None, *, num_classes=None, **kwargs):
        if not num_classes:
            raise ValueError("ConditionalGAN needs num_classes (an int >= 2).")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)
