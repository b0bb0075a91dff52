"""Terms added to the adversarial objective that are not D regularisers.

:class:`FeatureMatching` adds to G's loss; :class:`AuxiliaryClassifier` (the
AC-GAN class loss) adds to both networks'. Both are
:class:`kgan.core.pieces.Term` objects for a model's ``terms`` list.
"""

from __future__ import annotations

import keras
from keras import ops

from kgan import losses
from kgan.core import replica
from kgan.core.pieces import Term
from kgan.regularizers import _nonneg


@keras.saving.register_keras_serializable(package="kgan")
class FeatureMatching(Term):
    """``weight * ||E f(x) - E f(G(z))||^2`` added to G's loss.

    ``f`` is a layer of D; the expectations are means over the GLOBAL batch
    (all-reduced sums), so every replica holds the global value and, as a
    whole-model term, the model divides it by the replica count.

    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
    section 3.1, use it as G's only objective; here it is added to the
    adversarial loss, and a large weight approaches the paper's form.

    Args:
        weight: the term's weight.
        layer: name of D's layer whose output is ``f``; default: the input
            of D's score layer (its last hidden features). D must be a
            functional model.

    Example:
        >>> kgan.GAN(data_shape=(2,), terms=[FeatureMatching(1.0)])
    """

    per_example = False

    def __init__(self, weight=1.0, layer=None):
        self.weight = _nonneg("FeatureMatching weight", weight)
        self.layer = layer
        self._net = None

    def build(self, model):
        d = model.discriminator
        try:
            inputs, outputs = d.inputs, list(d.outputs)
        except (AttributeError, ValueError) as e:
            raise ValueError("FeatureMatching needs a functional discriminator (with .inputs and "
                             ".outputs) to read an intermediate layer from.") from e
        if self.layer:
            features = d.get_layer(self.layer).output
        else:  # the input of the layer that produces the score
            features = outputs[0]._keras_history.operation.input
        # Shares D's layers; kept on this piece (not tracked by the model), so
        # the weights are not saved twice.
        self._net = keras.Model(inputs, features, name="discriminator_features")

    def _features(self, record, x, labels):
        f = self._net(record.model.d_inputs(x, labels), training=True)
        return ops.cast(ops.reshape(f, (ops.shape(f)[0], -1)), "float32")

    def generator(self, record):
        real = record.model.view(record.batch.real)
        real_mean = ops.stop_gradient(
            replica.all_sum(ops.sum(self._features(record, real, record.labels), 0)) / record.count)
        fake_mean = replica.all_sum(
            ops.sum(self._features(record, record.fake, record.labels), 0)) / record.count
        return self.weight * losses.feature_matching_loss(real_mean, fake_mean)

    def get_config(self):
        return {"weight": self.weight, "layer": self.layer}


@keras.saving.register_keras_serializable(package="kgan")
class AuxiliaryClassifier(Term):
    """The AC-GAN class loss: D classifies real and fake samples, G's samples should be classified as asked.

    D adds ``weight * (CE(real) + CE(fake))``, G adds ``weight * CE(fake)``
    (eqs. 2-3 of the paper, with L_S from the adversarial loss). D must
    return ``[scores, class_logits]`` (``d_conditioning="auxiliary"``).

    Odena et al., "Conditional Image Synthesis with Auxiliary Classifier
    GANs", ICML 2017.

    Args:
        weight: weight of the class loss in both networks' losses.

    Example:
        >>> kgan.GAN(data_shape=(2,), num_classes=3, d_conditioning="auxiliary",
        ...          terms=[AuxiliaryClassifier(1.0)])
    """

    def __init__(self, weight=1.0):
        self.weight = _nonneg("AuxiliaryClassifier weight", weight)

    def build(self, model):
        if model.d_conditioning != "auxiliary":
            raise ValueError("AuxiliaryClassifier needs d_conditioning='auxiliary' (a D that "
                             "returns [scores, class_logits]).")

    def discriminator(self, record):
        return self.weight * (losses.auxiliary_classifier_loss(record.real_logits, record.labels)
                              + losses.auxiliary_classifier_loss(record.fake_logits,
                                                                 record.fake_labels))

    def generator(self, record):
        return self.weight * losses.auxiliary_classifier_loss(record.fake_logits, record.labels)

    def get_config(self):
        return {"weight": self.weight}
