"""Step strategies: the order of the updates inside one train step.

A strategy runs a model's updates (``discriminator_update``,
``generator_update``, ``joint_update``) in its order and returns what the
trackers log; the loss math stays in the model and its terms. Like the
phases of StyleGAN2-ADA's training loop, a schedule, not branches.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import ops

from kgan.core.pieces import Piece, Transform

_register = keras.saving.register_keras_serializable(package="kgan.steps")


class StepStrategy(Piece):
    """Base: ``run(model, batch) -> (d_loss, d_record, g_loss)``."""

    def after_compile(self, model):
        """Creates state that needs the optimizers (inside the strategy scope)."""

    def run(self, model, batch):
        raise NotImplementedError


@_register
class Alternating(StepStrategy):
    """Algorithm 1 of Goodfellow et al. (2014), the default.

    ``model.d_steps`` (k) discriminator updates, each on fresh noise, then
    one generator update on fresh noise, against the updated D.

    Example:
        >>> kgan.GAN(data_shape=(2,), step=Alternating())
    """

    def run(self, model, batch):
        for _ in range(model.d_steps):
            d_loss, record = model.discriminator_update(batch)
        return d_loss, record, model.generator_update(batch)


@_register
class Unrolled(Alternating):
    """The unrolled GAN's look-ahead for G's update (Metz et al. 2017).

    After D's k updates, a copy of D's optimizer (its slots copied from the
    real one) advances D ``steps`` more updates; G's update is computed
    against that unrolled D; then D's weights are restored exactly. First-
    order: G's gradient is taken at the unrolled D without differentiating
    through the unrolled updates. D's real optimizer state is never touched
    and replay buffers are left alone during the look-ahead.

    Metz et al., "Unrolled Generative Adversarial Networks", ICLR 2017.

    Args:
        steps: k, look-ahead updates.

    Example:
        >>> kgan.GAN(data_shape=(2,), step=Unrolled(5))
    """

    def __init__(self, steps=5):
        if int(steps) < 1:
            raise ValueError(f"Unrolled steps must be >= 1, got {steps}.")
        self.steps = int(steps)
        self._optimizer = self._backup = None

    def after_compile(self, model):
        d_opt = model.d_optimizer
        opt = d_opt.__class__.from_config(d_opt.get_config())
        opt.build(model.discriminator.trainable_variables)
        if len(opt.variables) != len(d_opt.variables):
            raise ValueError("Unrolled: could not mirror the discriminator optimizer's state.")
        # Scratch state, overwritten every step and not saved.
        self._optimizer = opt
        self._backup = [keras.Variable(ops.zeros(v.shape, v.dtype), dtype=v.dtype,
                                       trainable=False, name=f"lookahead_backup_{i}")
                        for i, v in enumerate(model.discriminator.variables)]

    def run(self, model, batch):
        for _ in range(model.d_steps):
            d_loss, record = model.discriminator_update(batch)
        d_vars = model.discriminator.variables
        for v, b in zip(d_vars, self._backup):
            b.assign(v)
        for src, dst in zip(model.d_optimizer.variables, self._optimizer.variables):
            dst.assign(src)
        for _ in range(self.steps):
            model.discriminator_update(batch, optimizer=self._optimizer, replay=False)
        g_loss = model.generator_update(batch)
        # G's update has read the unrolled D (automatic control dependencies
        # keep program order on D's variables); now D gets its weights back.
        for v, b in zip(d_vars, self._backup):
            v.assign(b)
        return d_loss, record, g_loss

    def get_config(self):
        return {"steps": self.steps}


@_register
class SharedFakes(StepStrategy):
    """One generator forward serves D's and G's update (the TF DCGAN tutorial's step).

    The last of the k D updates and G's update share one batch of fakes and
    one D pass over it; both gradients are taken from that forward and both
    updates applied, so G's gradient is computed against D before D's
    update (a simultaneous update). This saves a G forward and a D forward
    per step; Algorithm 1 (:class:`Alternating`) is the default because it
    is the published game.

    Example:
        >>> kgan.DCGAN(data_shape=(28, 28, 1), step=SharedFakes())
    """

    def run(self, model, batch):
        if any(type(t).fakes is not Transform.fakes for t in model.transforms):
            raise ValueError("SharedFakes cannot replay old fakes: G's update needs its own batch.")
        for _ in range(model.d_steps - 1):
            model.discriminator_update(batch)
        z = model.sample_noise(batch.size)
        with tf.GradientTape() as g_tape, tf.GradientTape() as d_tape:
            fake = model.generator(model.g_inputs(z, batch.labels), training=True)
            d_loss, record = model.discriminator_loss(batch.real, fake, batch.labels,
                                                      batch.global_size, batch=batch, z=z)
            g_loss = model.generator_loss(fake, batch.labels, batch.global_size, batch=batch,
                                          shared=record, z=z)
        model.apply(model.d_optimizer, d_loss, d_tape, model.discriminator.trainable_variables,
                    "discriminator")
        model.apply(model.g_optimizer, g_loss, g_tape, model.generator.trainable_variables,
                    "generator")
        return d_loss, record, g_loss


def get(identifier):
    """A :class:`StepStrategy` from an instance, a name or a config.

    Names: ``"alternating"``, ``"shared_fakes"``, ``"unrolled"`` (5 steps).

    Example:
        >>> get("shared_fakes")
        SharedFakes()
    """
    if identifier is None:
        return Alternating()
    if isinstance(identifier, StepStrategy):
        return identifier
    if isinstance(identifier, dict):
        return keras.saving.deserialize_keras_object(identifier)
    names = {"alternating": Alternating, "shared_fakes": SharedFakes, "unrolled": Unrolled}
    if identifier not in names:
        raise ValueError(f"step must be a kgan.steps.StepStrategy or one of {sorted(names)}, "
                         f"got {identifier!r}.")
    return names[identifier]()
