"""Terms added to the adversarial objective that are not D regularisers.

:class:`FeatureMatching` adds to G's loss; :class:`AuxiliaryClassifier` (the
AC-GAN class loss) adds to both networks'; :class:`TopK` keeps G's loss on
the fakes D rates best. All are :class:`kgan.core.pieces.Term` objects for a
model's ``terms`` list.
"""

from __future__ import annotations

import keras
from keras import ops

from kgan import losses
from kgan.core import replica
from kgan.core.pieces import Term, Transform
from kgan.layers import CONDITIONING_AUGMENTATION
from kgan.regularizers import _count, _nonneg


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


@keras.saving.register_keras_serializable(package="kgan")
class MutualInformation(Term):
    """InfoGAN's variational lower bound on I(c; G(z, c)), added to G's and Q/D's losses.

    For each fake the term is the negative log-likelihood of the codes ``c``
    it was generated from under Q's posterior (eq. 5 of the paper, up to the
    constant entropy H(c)):

    * categorical codes: ``weight * CE(q_logits, c)`` summed over the codes;
    * continuous codes: a factored Gaussian with FIXED unit variance, so
      ``-log Q(c|x) = 0.5 * (c - mu)^2 + const``, times
      ``continuous_weight``, summed over the codes (the paper's MNIST setup
      also fixes the variance; learning it was found unstable).

    The paper sets lambda = 1 for discrete codes and notes a smaller lambda
    is typical for continuous ones; with the fixed-variance term above the
    continuous part is already half a squared error on codes in [-1, 1], so
    both default to 1. The same value is added to G's loss and to D's (D's
    update trains the Q head and the shared trunk; its fakes carry no
    gradient to G). It reads the codes from ``record.z`` and Q's outputs from
    ``record.fake_logits`` (the model's ``critic`` returns them), so it needs
    an :class:`kgan.InfoGAN`-style model with ``code_layout()``.

    Chen et al., "InfoGAN: Interpretable Representation Learning by
    Information Maximizing Generative Adversarial Nets", NeurIPS 2016, eqs.
    4-6.

    Args:
        weight: lambda of the categorical codes.
        continuous_weight: lambda of the continuous codes.

    Example:
        >>> kgan.InfoGAN(data_shape=(28, 28, 1), categorical=(10,), continuous=2,
        ...              terms=[MutualInformation(1.0, continuous_weight=0.5)])
    """

    def __init__(self, weight=1.0, continuous_weight=1.0):
        self.weight = _nonneg("MutualInformation weight", weight)
        self.continuous_weight = _nonneg("MutualInformation continuous_weight",
                                         continuous_weight)

    def build(self, model):
        if not hasattr(model, "code_layout"):
            raise ValueError("MutualInformation needs a model with latent codes "
                             "(kgan.InfoGAN); got " + type(model).__name__ + ".")
        if model.packing > 1 or any(type(t).fakes is not Transform.fakes
                                    for t in model.transforms):
            raise ValueError("MutualInformation cannot be used with packing or replayed fakes: "
                             "Q must see each fake with the codes it was made from.")

    def values(self, record):
        """Per-fake negative log-likelihood of the codes, ``[n]`` (float32)."""
        noise_dim, categorical, continuous = record.model.code_layout()
        z = ops.cast(record.z, "float32")
        q = ops.cast(record.fake_logits, "float32")
        total = ops.zeros((ops.shape(z)[0],), "float32")
        start = noise_dim
        for k in categorical:
            onehot = z[:, start:start + k]
            logp = ops.log_softmax(q[:, start - noise_dim:start - noise_dim + k], axis=-1)
            total = total - self.weight * ops.sum(onehot * logp, axis=-1)
            start += k
        if continuous:
            c = z[:, start:start + continuous]
            mu = q[:, start - noise_dim:start - noise_dim + continuous]
            total = total + self.continuous_weight * 0.5 * ops.sum(ops.square(c - mu), axis=-1)
        return total

    def discriminator(self, record):
        return self.values(record)

    def generator(self, record):
        return self.values(record)

    def get_config(self):
        return {"weight": self.weight, "continuous_weight": self.continuous_weight}


@keras.saving.register_keras_serializable(package="kgan")
class ModeSeeking(Term):
    """``weight / (d(G(c, z1), G(c, z2)) / d(z1, z2) + eps)`` added to G's loss, per example.

    Mao et al., "Mode Seeking Generative Adversarial Networks for Diverse
    Image Synthesis", CVPR 2019 (eq. 3, with mean absolute distances): a
    conditional G tends to ignore ``z`` (one image per condition); this term
    rewards two latents of the same condition for giving different samples.
    ``z1`` is the update's own latent, ``z2`` a fresh one; the samples are
    compared as D sees them (after the transforms).

    Args:
        weight: the term's weight (1.0 in the paper).
        eps: keeps the ratio's reciprocal finite.

    Example:
        >>> kgan.TextToImageGAN(terms=[ModeSeeking(1.0)])
    """

    def __init__(self, weight=1.0, eps=1e-5):
        self.weight = _nonneg("ModeSeeking weight", weight)
        self.eps = float(eps)

    def build(self, model):
        if model.packing > 1:
            raise ValueError("ModeSeeking compares samples one by one; it does not combine "
                             "with Packing.")

    def generator(self, record):
        model, z1 = record.model, record.z
        if z1 is None:
            return None
        n = ops.shape(z1)[0]
        z2 = model.sample_noise(n)
        fake2 = model.view(model.generator(model.g_inputs(z2, record.labels), training=True))

        def flat_mean_abs(a):
            return ops.mean(ops.abs(ops.reshape(ops.cast(a, "float32"), (n, -1))), -1)

        ratio = flat_mean_abs(record.fake - fake2) / ops.maximum(flat_mean_abs(z1 - z2), 1e-8)
        return self.weight / (ratio + self.eps)

    def get_config(self):
        return {"weight": self.weight, "eps": self.eps}


@keras.saving.register_keras_serializable(package="kgan")
class ConditioningKL(Term):
    """``weight * KL(N(mu, sigma^2) || N(0, I))`` of G's conditioning augmentation, per example.

    Zhang et al., "StackGAN", ICCV 2017, eq. 3 (``lambda`` = ``weight``):
    keeps the sampled condition of :class:`kgan.layers.ConditioningAugmentation`
    spread out, so that nearby conditions give varied images. The KL of a
    diagonal Gaussian is ``0.5 * sum(mu^2 + sigma^2 - 1 - log sigma^2)``.

    Args:
        weight: the term's weight.
        layer: name of the augmentation layer in G.

    Example:
        >>> kgan.TextToImageGAN(condition_augmentation=64)  # adds ConditioningKL(1.0)
    """

    def __init__(self, weight=1.0, layer=CONDITIONING_AUGMENTATION):
        self.weight = _nonneg("ConditioningKL weight", weight)
        self.layer = str(layer)
        self._aug = self._features = None

    def build(self, model):
        g = model.generator
        try:
            aug = g.get_layer(self.layer)
        except ValueError as e:
            raise ValueError(f"ConditioningKL needs a generator with a {self.layer!r} layer "
                             f"(kgan.layers.ConditioningAugmentation).") from e
        # G's inputs -> the augmentation's features h; shares G's layers, kept off the model.
        self._aug = aug
        self._features = keras.Model(g.inputs, aug.input[0])

    def generator(self, record):
        if record.z is None:
            return None
        h = self._features(record.model.g_inputs(record.z, record.labels), training=True)
        mu, logvar = self._aug.moments(h)
        return self.weight * 0.5 * ops.sum(ops.square(mu) + ops.exp(logvar) - 1.0 - logvar, -1)

    def get_config(self):
        return {"weight": self.weight, "layer": self.layer}


@keras.saving.register_keras_serializable(package="kgan")
class TopK(Term):
    """Top-k training: G's update learns only from the fakes D scores as most realistic.

    Sinha et al., "Top-k Training of GANs: Improving GAN Performance by
    Throwing Away Bad Samples", NeurIPS 2020: the gradient of the worst-scored
    fakes can push them AWAY from their nearest mode, so G's adversarial loss
    is the mean over the ``k`` best-scored of the batch's fakes. ``k`` starts
    at the whole batch and is annealed: the kept fraction is
    ``max(min_fraction, decay ** floor(t / decay_steps))`` after ``t`` G
    updates (the paper: decay 0.99 per epoch, at least half the batch, the
    defaults here with ``decay_steps`` = your steps per epoch).

    The ``k`` best are chosen over the GLOBAL batch (D's scores gathered
    from every replica), so N replicas train as one device does. Only G's
    loss changes; D's update is untouched.

    Args:
        min_fraction: the smallest kept share of the batch, in (0, 1].
        decay: the kept share's factor per ``decay_steps`` G updates, in (0, 1].
        decay_steps: G updates per decay (the paper: one epoch).

    Example:
        >>> kgan.GAN(data_shape=(2,), terms=[TopK(0.5, 0.99, decay_steps=390)])
    """

    def __init__(self, min_fraction=0.5, decay=0.99, decay_steps=1):
        for name, value in (("min_fraction", min_fraction), ("decay", decay)):
            if value is None or not 0.0 < float(value) <= 1.0:
                raise ValueError(f"TopK {name} must be in (0, 1], got {value}.")
        self.min_fraction, self.decay = float(min_fraction), float(decay)
        self.decay_steps = _count("TopK decay_steps", decay_steps)

    def kept_fraction(self, g_step):
        """The share of the batch G learns from after ``g_step`` G updates."""
        epochs = ops.floor(ops.cast(g_step, "float32") / float(self.decay_steps))
        return ops.maximum(self.min_fraction, ops.power(self.decay, epochs))

    def generator_weights(self, record):
        score = ops.stop_gradient(losses._per_example(record.fake_scores))
        everyone = replica.all_gather(score)
        total = ops.shape(everyone)[0]
        k = ops.cast(ops.ceil(self.kept_fraction(record.model.g_optimizer.iterations)
                              * ops.cast(total, "float32") - 1e-4), "int32")
        k = ops.clip(k, 1, total)
        threshold = ops.take(ops.sort(everyone), total - k)
        # Kept fakes weigh total / k: the model divides the sum by the global
        # count, so G's loss is the mean over the k kept.
        return ops.cast(score >= threshold, "float32") * ops.cast(total, "float32") / ops.cast(
            k, "float32")

    def get_config(self):
        return {"min_fraction": self.min_fraction, "decay": self.decay,
                "decay_steps": self.decay_steps}
