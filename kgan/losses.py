"""GAN objectives as pure function pairs.

Every function takes the discriminator's raw outputs (logits for the
sigmoid-based families, unbounded scores for the others) and returns a
PER-EXAMPLE loss of shape ``[batch]``. Reduction is left to the caller: the
train step divides the per-replica sum by the GLOBAL batch size, which is
what makes the gradients correct under ``tf.distribute`` (gradients are
summed across replicas).

Naming follows TF-GAN: ``<family>_generator_loss`` /
``<family>_discriminator_loss``. ``get(name)`` returns a :class:`GANLoss`,
the serializable object a model holds.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import keras
from keras import ops

from kgan.core.pieces import Piece


def _flat(x):
    """Reshapes D's output ``[batch, ...]`` to ``[batch, n]`` (n >= 1)."""
    x = ops.convert_to_tensor(x)
    if len(x.shape) == 1:
        return ops.expand_dims(x, -1)
    return ops.reshape(x, (ops.shape(x)[0], -1))


def _per_example(x):
    return ops.mean(_flat(x), axis=-1)


# --- minimax / non-saturating (Goodfellow et al. 2014) ----------------------

def minimax_discriminator_loss(real_logits, fake_logits, real_label=1.0):
    """Discriminator loss of the original GAN game.

    ``L_D = -log D(x) - log(1 - D(G(z)))`` with ``D = sigmoid(logits)``,
    written with ``softplus`` for stability:
    ``softplus(-r) * t + softplus(r) * (1 - t) + softplus(f)`` where ``t`` is
    the real target (1, or less for one-sided label smoothing, Salimans et
    al. 2016).

    Goodfellow et al., "Generative Adversarial Nets", NeurIPS 2014, eq. 1.

    Args:
        real_logits: D's logits on real data, ``[batch, ...]``.
        fake_logits: D's logits on generated data, ``[batch, ...]``.
        real_label: target for real samples; ``0.9`` is one-sided smoothing.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> minimax_discriminator_loss([0.0], [0.0])  # 2*log(2)
    """
    r = _flat(real_logits)
    f = _flat(fake_logits)
    t = ops.cast(real_label, r.dtype)
    real_term = t * ops.softplus(-r) + (1.0 - t) * ops.softplus(r)
    return ops.mean(real_term, axis=-1) + ops.mean(ops.softplus(f), axis=-1)


def minimax_generator_loss(fake_logits):
    """Saturating generator loss: ``L_G = log(1 - D(G(z))) = -softplus(f)``.

    This is the min-max objective as written in Goodfellow et al. 2014; its
    gradient vanishes when D confidently rejects fakes, which is why the
    non-saturating form is the default.

    Args:
        fake_logits: D's logits on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> minimax_generator_loss([0.0])  # -log(2)
    """
    return -_per_example(ops.softplus(_flat(fake_logits)))


def non_saturating_generator_loss(fake_logits):
    """Non-saturating generator loss: ``L_G = -log D(G(z)) = softplus(-f)``.

    Goodfellow et al. 2014, section 3 ("maximize log D(G(z))").

    Args:
        fake_logits: D's logits on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> non_saturating_generator_loss([0.0])  # log(2)
    """
    return _per_example(ops.softplus(-_flat(fake_logits)))


# The non-saturating game uses the same discriminator loss as minimax.
non_saturating_discriminator_loss = minimax_discriminator_loss


# --- least squares (Mao et al. 2017) -----------------------------------------

def least_squares_discriminator_loss(real_outputs, fake_outputs, real_label=1.0,
                                     fake_label=0.0):
    """LSGAN discriminator loss with the a-b coding ``a=0, b=1``.

    ``L_D = 1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2``; D's output is linear.

    Mao et al., "Least Squares Generative Adversarial Networks", ICCV 2017,
    eq. 2 (the 0-1 coding of section 3.2.3).

    Args:
        real_outputs: D's raw outputs on real data.
        fake_outputs: D's raw outputs on generated data.
        real_label: ``b``; lower it for one-sided smoothing.
        fake_label: ``a``.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> least_squares_discriminator_loss([1.0], [0.0])  # 0
    """
    r = _flat(real_outputs)
    f = _flat(fake_outputs)
    return 0.5 * (ops.mean(ops.square(r - real_label), axis=-1)
                  + ops.mean(ops.square(f - fake_label), axis=-1))


def least_squares_generator_loss(fake_outputs, target=1.0):
    """LSGAN generator loss: ``L_G = 1/2 (D(G(z)) - c)^2`` with ``c = 1``.

    Mao et al. 2017, eq. 2.

    Args:
        fake_outputs: D's raw outputs on generated data.
        target: ``c``, the value G wants D to believe for fakes.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> least_squares_generator_loss([0.0])  # 0.5
    """
    return 0.5 * _per_example(ops.square(_flat(fake_outputs) - target))


# --- Wasserstein (Arjovsky et al. 2017) --------------------------------------

def wasserstein_discriminator_loss(real_outputs, fake_outputs):
    """Critic loss ``L_D = D(G(z)) - D(x)``.

    Arjovsky et al., "Wasserstein GAN", ICML 2017. Needs a Lipschitz
    constraint on D (gradient penalty, Gulrajani et al. 2017).

    Args:
        real_outputs: critic scores on real data.
        fake_outputs: critic scores on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> wasserstein_discriminator_loss([2.0], [0.5])  # -1.5
    """
    return _per_example(fake_outputs) - _per_example(real_outputs)


def wasserstein_generator_loss(fake_outputs):
    """Generator loss ``L_G = -D(G(z))`` (Arjovsky et al. 2017).

    Args:
        fake_outputs: critic scores on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> wasserstein_generator_loss([0.5])  # -0.5
    """
    return -_per_example(fake_outputs)


# --- hinge (Lim & Ye 2017; Miyato et al. 2018) -------------------------------

def hinge_discriminator_loss(real_outputs, fake_outputs):
    """Hinge loss ``L_D = relu(1 - D(x)) + relu(1 + D(G(z)))``.

    Lim & Ye, "Geometric GAN", 2017; used by SNGAN (Miyato et al. 2018).

    Args:
        real_outputs: D's raw outputs on real data.
        fake_outputs: D's raw outputs on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> hinge_discriminator_loss([0.0], [0.0])  # 2
    """
    return (_per_example(ops.relu(1.0 - _flat(real_outputs)))
            + _per_example(ops.relu(1.0 + _flat(fake_outputs))))


def hinge_generator_loss(fake_outputs):
    """Generator side of the hinge game: ``L_G = -D(G(z))``.

    Args:
        fake_outputs: D's raw outputs on generated data.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> hinge_generator_loss([0.5])  # -0.5
    """
    return -_per_example(fake_outputs)


# --- auxiliary objectives ----------------------------------------------------

def feature_matching_loss(real_features_mean, fake_features_mean):
    """Feature matching: ``||E_x f(x) - E_z f(G(z))||_2^2``.

    ``f`` is an intermediate layer of D. G is trained to match the mean
    activation of real data rather than to maximise D's output, which keeps
    it from over-training on the current D.

    Salimans et al., "Improved Techniques for Training GANs", NeurIPS 2016,
    section 3.1.

    The inputs are MEANS over the batch (the global batch under
    ``tf.distribute``; ``kgan.GAN`` all-reduces the feature sums first), so
    the result is one scalar, not a per-example loss.

    Args:
        real_features_mean: ``[features]`` (or ``[..., features]``) mean of
            ``f`` on real data.
        fake_features_mean: the same on generated data.

    Returns:
        A scalar.

    Example:
        >>> feature_matching_loss([1.0, 2.0], [0.0, 0.0])  # 5
    """
    r = ops.convert_to_tensor(real_features_mean)
    f = ops.convert_to_tensor(fake_features_mean)
    return ops.sum(ops.square(ops.cast(r, f.dtype) - f))


def auxiliary_classifier_loss(class_logits, labels):
    """Cross-entropy of D's auxiliary class prediction (AC-GAN).

    ``L_C = -log P(C = c | X)`` per example; D minimises it on real and
    generated samples, G on generated samples (Odena et al., "Conditional
    Image Synthesis with Auxiliary Classifier GANs", ICML 2017, eqs. 2-3).

    Args:
        class_logits: ``[batch, num_classes]`` unnormalised class scores.
        labels: int ``[batch]`` true (or requested) classes.

    Returns:
        Per-example loss, ``[batch]``.

    Example:
        >>> auxiliary_classifier_loss([[0.0, 0.0]], [1])  # log(2)
    """
    logits = ops.convert_to_tensor(class_logits)
    labels = ops.cast(ops.reshape(ops.convert_to_tensor(labels), (-1,)), "int32")
    return ops.sparse_categorical_crossentropy(labels, logits, from_logits=True)


@dataclasses.dataclass(frozen=True)
class _Pair:
    generator: Callable
    discriminator: Callable
    decision_threshold: float = 0.0
    supports_label_smoothing: bool = True


_REGISTRY = {
    "non_saturating": _Pair(non_saturating_generator_loss, non_saturating_discriminator_loss),
    "minimax": _Pair(minimax_generator_loss, minimax_discriminator_loss),
    "least_squares": _Pair(least_squares_generator_loss, least_squares_discriminator_loss,
                           decision_threshold=0.5),
    "wasserstein": _Pair(wasserstein_generator_loss, wasserstein_discriminator_loss,
                         supports_label_smoothing=False),
    "hinge": _Pair(hinge_generator_loss, hinge_discriminator_loss,
                   supports_label_smoothing=False),
}
_ALIASES = {"nonsaturating": "non_saturating", "ns": "non_saturating",
            "lsgan": "least_squares", "ls": "least_squares", "wgan": "wasserstein"}


def _canonical(name):
    if not isinstance(name, str):
        raise TypeError(f"loss must be a name or a kgan.losses.GANLoss, got "
                        f"{type(name).__name__}: {name!r}")
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in _REGISTRY:
        raise ValueError(f"Unknown GAN loss {name!r}; expected one of {available()}")
    return key


@keras.saving.register_keras_serializable(package="kgan")
class GANLoss(Piece):
    """The adversarial loss pair of a model, as a serializable object.

    Built-in pairs are chosen by name; a user-defined loss subclasses this
    class, overrides :meth:`generator` / :meth:`discriminator` (per-example
    values, ``[batch]``) and ``get_config``, and is registered with
    ``keras.saving.register_keras_serializable`` so a saved model reloads it.

    Args:
        name: a name from :func:`available` or an alias (``"lsgan"``).
        real_label: D's target for real data in sigmoid / least-squares
            losses; ``0.9`` is one-sided label smoothing (Salimans et al.
            2016, section 3.4). Fake targets stay 0.

    Attributes:
        decision_threshold: D output above which a sample counts as "real"
            for the accuracy metrics (0 for logits, 0.5 for LSGAN's 0/1 code).

    Example:
        >>> loss = GANLoss("non_saturating", real_label=0.9)
        >>> gan = kgan.GAN(data_shape=(2,), loss=loss)
    """

    def __init__(self, name="non_saturating", real_label=1.0):
        self.name = _canonical(name)
        self._pair = _REGISTRY[self.name]
        self.real_label = float(real_label)
        if self.real_label != 1.0 and not self._pair.supports_label_smoothing:
            raise ValueError(f"real_label (label smoothing) does not apply to the {self.name} loss.")

    @property
    def decision_threshold(self):
        return self._pair.decision_threshold

    def generator(self, fake_scores):
        """G's per-example loss from D's scores on generated samples."""
        return self._pair.generator(fake_scores)

    def discriminator(self, real_scores, fake_scores):
        """D's per-example loss from its scores on real and generated samples."""
        if self._pair.supports_label_smoothing:
            return self._pair.discriminator(real_scores, fake_scores, real_label=self.real_label)
        return self._pair.discriminator(real_scores, fake_scores)

    def get_config(self):
        return {"name": self.name, "real_label": self.real_label}


def available():
    """Names accepted by :func:`get`.

    Example:
        >>> "least_squares" in available()
    """
    return sorted(_REGISTRY)


def get(identifier, **kwargs):
    """Returns a :class:`GANLoss` for a name, a config, or passes one through.

    Args:
        identifier: a name from :func:`available`, an alias such as
            ``"lsgan"``, a serialized loss, or a :class:`GANLoss`.
        **kwargs: constructor arguments for a named loss (``real_label``).

    Returns:
        A :class:`GANLoss`.

    Example:
        >>> get("lsgan").name
        'least_squares'
    """
    if isinstance(identifier, GANLoss):
        return identifier
    if isinstance(identifier, dict):
        loss = keras.saving.deserialize_keras_object(identifier)
        if not isinstance(loss, GANLoss):
            raise TypeError(f"loss config does not describe a kgan.losses.GANLoss: {identifier}")
        return loss
    return GANLoss(identifier, **kwargs)
