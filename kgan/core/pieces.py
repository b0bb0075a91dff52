"""The protocols of the pluggable pieces, and their serialization.

A model takes its pieces as lists, the way Keras takes callbacks::

    kgan.GAN(data_shape=(2,), terms=[kgan.regularizers.R1(gamma=1.0)],
             transforms=[kgan.transforms.InstanceNoise(0.1, anneal_steps=5000)],
             step=kgan.steps.Unrolled(5))

Each piece has one job and one protocol:

* :class:`Term`: a term added to D's and/or G's loss (gradient penalties,
  R1, weight penalty, feature matching, the AC-GAN class loss). It reads a
  :class:`kgan.core.record.Record` of what the step produced and returns
  per-D-input values (``per_example = True``) or one whole-model scalar;
  the model, not the term, applies the distribution rule. A term may also
  reweight G's per-example adversarial values (``generator_weights``).
* :class:`Transform`: what is done to D's inputs (instance noise, packing,
  replay of old fakes): every D call goes through the model's ``view``,
  which applies them in order (StyleGAN2-ADA's one ``run_D`` hook).
* :class:`kgan.steps.StepStrategy`: the order of the updates (Algorithm 1,
  unrolled look-ahead, shared fakes).

Every piece stores its constructor arguments in ``get_config`` and is
registered with Keras, so a model that holds user-defined pieces saves and
reloads.
"""

from __future__ import annotations

import keras


class Piece:
    """Base of every pluggable piece: configuration and a build hook.

    Subclasses store their constructor arguments and return them from
    :meth:`get_config`; register them with
    ``@keras.saving.register_keras_serializable()`` so a saved model finds
    them again.
    """

    def build(self, model):
        """Creates state for ``model`` (inside its strategy scope).

        Returns:
            A ``keras.layers.Layer`` holding variables the model must track
            and save, or ``None``.
        """
        return None

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = object.__hash__


class Term(Piece):
    """A term added to the discriminator's and/or the generator's loss.

    ``per_example = True``: :meth:`discriminator` / :meth:`generator` return
    one value per D input (``[n]``); the model sums them and divides by the
    GLOBAL number of D inputs. ``False``: they return one scalar for the
    whole model, which the model divides by the replica count. Return
    ``None`` for the side a term does not touch.
    """

    per_example = True

    def discriminator(self, record):
        """D's share of the term, from a :class:`kgan.core.record.Record`."""
        return None

    def generator(self, record):
        """G's share of the term, from a :class:`kgan.core.record.Record`."""
        return None

    def generator_weights(self, record):
        """Per-D-input weights ``[n]`` of G's adversarial loss, or ``None``.

        The model multiplies G's per-example adversarial values by them
        before the terms are added (top-k training zeroes the worst fakes).
        """
        return None


class Transform(Piece):
    """What is done to the discriminator's inputs.

    :meth:`view` maps every batch D sees (real and fake, in D's and G's
    updates); :meth:`fakes` maps D's fake batch (and its labels) once per D
    update, before the view. ``samples_per_input`` is how many samples form
    one D input (PacGAN's packing).
    """

    samples_per_input = 1

    def view(self, x, model):
        return x

    def fakes(self, fake, labels, model):
        return fake, labels


def serialize(pieces):
    return [keras.saving.serialize_keras_object(p) for p in pieces]


def deserialize(configs):
    return [p if isinstance(p, Piece) else keras.saving.deserialize_keras_object(p)
            for p in (configs or [])]


def check_list(pieces, kind, where):
    """``pieces`` as a list of ``kind`` instances, or a clear TypeError."""
    if pieces is None:
        return []
    if isinstance(pieces, Piece):
        pieces = [pieces]
    pieces = deserialize(list(pieces))
    for p in pieces:
        if not isinstance(p, kind):
            raise TypeError(f"{where} takes kgan.{kind.__name__} objects (see kgan.{where}), got "
                            f"{type(p).__name__}: {p!r}")
    return pieces
