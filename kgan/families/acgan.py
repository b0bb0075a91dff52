"""Odena et al., "Conditional Image Synthesis with Auxiliary Classifier GANs", ICML 2017."""

import keras

from kgan.core.gan import GAN
from kgan.core.pieces import Term, check_list
from kgan.objectives import AuxiliaryClassifier


@keras.saving.register_keras_serializable(package="kgan")
class ACGAN(GAN):
    """G conditioned on a class; D predicts the class instead of seeing it.

    D returns ``[scores, class_logits]`` (``d_conditioning="auxiliary"``;
    built discriminators get the class head) and both networks add the
    class cross-entropy (an ``AuxiliaryClassifier(1.0)`` term, added to any
    ``terms`` given unless they hold one; eqs. 2-3 of the paper).
    ``num_classes`` is required.

    Example:
        >>> gan = ACGAN(data_shape=(28, 28, 1), num_classes=10)
        >>> gan.compile()
        >>> gan.fit(images, labels, epochs=5, batch_size=64)
    """

    def __init__(self, generator=None, discriminator=None, *, num_classes=None, **kwargs):
        if not num_classes:
            raise ValueError("ACGAN needs num_classes (an int >= 2).")
        kwargs.setdefault("d_conditioning", "auxiliary")
        # The class loss is what makes the family: kept when other terms are given.
        terms = check_list(kwargs.pop("terms", None), Term, "terms")
        if not any(isinstance(t, AuxiliaryClassifier) for t in terms):
            terms.insert(0, AuxiliaryClassifier(1.0))
        kwargs["terms"] = terms
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)
