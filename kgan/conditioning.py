"""How the networks see a condition: class labels or a dense vector (a text embedding).

The pieces the builders in :mod:`kgan.networks` share: G's inputs with a
label embedding (Mirza & Osindero 2014), the compressed dense condition of
Reed et al. (2016), and the projection discriminator's inner products
(Miyato & Koyama 2018). Each returns Keras tensors of a functional model.
"""

from __future__ import annotations

import keras
from keras import layers

LABEL_CONDITIONING = ("input", "projection")


def check_label_conditioning(value):
    """Raises ``ValueError`` unless ``value`` is one of :data:`LABEL_CONDITIONING`."""
    if value not in LABEL_CONDITIONING:
        raise ValueError(f"label_conditioning must be one of {LABEL_CONDITIONING}, got {value!r}.")


def label_input():
    """The integer ``labels`` input, shape ``[batch]``."""
    return keras.Input(shape=(), dtype="int32", name="labels")


def generator_inputs(latent_dim, num_classes):
    """``([z] or [z, labels], x)``: G's inputs and z joined with a label embedding when conditional.

    Args:
        latent_dim: size of z.
        num_classes: ``None`` / 0 for an unconditional G.

    Example:
        >>> inputs, x = generator_inputs(8, 10)
        >>> [t.name for t in inputs], tuple(x.shape)
        (['z', 'labels'], (None, 28))
    """
    z = keras.Input(shape=(latent_dim,), name="z")
    if not num_classes:
        return [z], z
    labels = label_input()
    emb = layers.Embedding(num_classes, min(50, 2 * num_classes), name="label_embedding")(labels)
    return [z, labels], layers.Concatenate(name="z_and_label")([z, emb])


def condition_projection(condition_dim, units, prefix):
    """``(input, projected)``: a dense condition (a text embedding) compressed to ``units``.

    Reed et al. (2016) compress the sentence embedding with one fully
    connected layer and a leaky ReLU before each network uses it.

    Args:
        condition_dim: size of the condition input.
        units: size of the compressed condition.
        prefix: layer-name prefix (``"g"`` / ``"d"``).
    """
    cond = keras.Input(shape=(condition_dim,), name="condition")
    # No bias: the next layer is batch-normalised, which cancels (almost all
    # of) a constant shift, and Adam would turn that near-zero gradient into
    # lr-sized noise.
    x = layers.Dense(units, use_bias=False, name=f"{prefix}_condition_projection")(cond)
    return cond, layers.LeakyReLU(0.2, name=f"{prefix}_condition_lrelu")(x)


def add_to_score(out, inner):
    """The score (``out``, or its first entry for ``[score, class_logits]``) plus ``inner``."""
    if isinstance(out, list):
        return [layers.Add(name="score_and_projection")([out[0], inner])] + out[1:]
    return layers.Add(name="score_and_projection")([out, inner])


def project_labels(out, features, labels, num_classes):
    """Adds ``<embed(y), features>`` to the score (the projection discriminator).

    Args:
        out: D's score, or ``[score, class_logits]``.
        features: D's last features ``phi(x)``, ``[batch, F]``.
        labels: the integer label input.
        num_classes: number of classes.
    """
    dim = int(features.shape[-1])
    embedded = layers.Reshape((dim,), name="label_projection_vector")(
        layers.Embedding(num_classes, dim, name="label_projection")(labels))
    return add_to_score(out, layers.Dot(axes=1, name="label_projection_score")(
        [embedded, features]))


def project_condition(out, features, condition):
    """Adds ``<V c, features>`` to the score, for a dense condition ``c`` (its compressed form)."""
    mapped = layers.Dense(int(features.shape[-1]), use_bias=False,
                          name="condition_projection_map")(condition)
    return add_to_score(out, layers.Dot(axes=1, name="condition_projection_score")(
        [mapped, features]))
