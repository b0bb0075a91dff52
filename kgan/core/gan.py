"""``GAN``: the noise-to-sample game of Goodfellow et al. (2014) over the adversarial core.

One train step, in Keras's order (unpack, forward under a tape, loss, scale
for distribution, apply, track):

1. ``train_step`` unpacks the batch and checks the global batch splits;
2. the step strategy (``kgan.steps``, Algorithm 1 by default) runs
   ``discriminator_update`` k times and ``generator_update`` once, each on
   fresh noise;
3. each update builds its loss from the adversarial pair (``kgan.losses``)
   plus the model's ``terms``, on D inputs shown through the ``transforms``;
4. ``AdversarialModel.apply`` applies the gradients behind the NaN guard;
5. the trackers log global-batch values.

The distribution rule (``kgan.core.replica``) is applied here, once, for
every term: per-example values are summed and divided by the GLOBAL number
of D inputs, whole-model values are divided by the replica count.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import losses as losses_lib
from kgan import networks
from kgan import steps as steps_lib
from kgan import validation
from kgan.core import checks, ema, replica, sampling
from kgan.core.adversarial import AdversarialModel
from kgan.core.pieces import Term, Transform, check_list, serialize
from kgan.core.record import Batch, Record
from kgan.transforms import PACKING

LABEL_RANGE = "kgan: label out of range"
D_CONDITIONING = ("input", "auxiliary")


@keras.saving.register_keras_serializable(package="kgan")
class GAN(AdversarialModel):
    """A generative adversarial network trained by ``model.fit``.

    Args:
        generator: a Keras model mapping ``z`` (or ``[z, labels]``) to
            samples. Built from ``architecture`` when omitted.
        discriminator: a Keras model mapping samples (or ``[samples,
            labels]``) to raw scores ``[batch, 1]`` (``[scores,
            class_logits]`` with ``d_conditioning="auxiliary"``). Built when
            omitted.
        data_shape: shape of one sample, e.g. ``(28, 28, 1)`` or ``(2,)``.
            Inferred from ``generator`` when given.
        latent_dim: size of ``z``; inferred from ``generator``, else 100
            for images and 64 for vectors.
        num_classes: condition on integer labels in ``[0, num_classes)``
            (Mirza & Osindero 2014); ``None``: unconditional.
        architecture: ``"auto"``, ``"mlp"`` or ``"dcgan"`` for built networks.
        loss: a name from ``kgan.losses.available()`` or a
            ``kgan.losses.GANLoss`` (``GANLoss("non_saturating",
            real_label=0.9)`` for one-sided label smoothing).
        d_steps: k, D updates per G update (Algorithm 1; 5 for WGAN-GP).
        terms: ``kgan.core.pieces.Term`` objects added to the losses
            (``kgan.regularizers.GradientPenalty``, ``R1``,
            ``WeightPenalty``; ``kgan.objectives.FeatureMatching``,
            ``AuxiliaryClassifier``).
        transforms: ``kgan.core.pieces.Transform`` objects applied to D's
            inputs, in order (``kgan.transforms.InstanceNoise``, ``Replay``,
            ``Packing`` last).
        step: a ``kgan.steps.StepStrategy`` or its name: ``"alternating"``
            (Algorithm 1, default), ``"shared_fakes"``, or
            ``kgan.steps.Unrolled(k)``.
        d_conditioning: for conditional models, ``"input"`` (D takes
            ``[samples, labels]``) or ``"auxiliary"`` (D predicts the class,
            AC-GAN).
        generator_options / discriminator_options: keyword arguments for
            the network builders (``kgan.networks``), e.g.
            ``{"spectral_norm": True}`` (SNGAN) or ``{"minibatch_std": 4}``.
        ema_decay: keep ``ema_generator``, the exponential moving average of
            G's weights (``kgan.core.ema``); ``generate`` and the export use
            it, and it is saved and resumed with the model. 0: none.
        ema_start_step: the average copies G until G has made this many updates.
        seed: seed of the noise stream.

    Example:
        >>> gan = GAN(data_shape=(2,), latent_dim=8, architecture="mlp",
        ...           terms=[kgan.regularizers.R1(1.0)])
        >>> gan.compile()
        >>> gan.fit(points, epochs=1, batch_size=64)
        >>> gan.generate(16, seed=0).shape
        (16, 2)
    """

    networks = {"g_optimizer": "generator", "d_optimizer": "discriminator"}
    metric_names = ("g_loss", "d_loss", "d_acc_real", "d_acc_fake")
    default_architecture = "auto"
    default_loss = "non_saturating"

    def __init__(self, generator=None, discriminator=None, *, data_shape=None, latent_dim=None,
                 num_classes=None, architecture=None, loss=None, d_steps=1, terms=None,
                 transforms=None, step=None, d_conditioning="input", generator_options=None,
                 discriminator_options=None, ema_decay=0.0, ema_start_step=0, seed=None,
                 **kwargs):
        super().__init__(seed=seed, **kwargs)
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2 or None, got {num_classes}.")
        if d_conditioning not in D_CONDITIONING:
            raise ValueError(f"d_conditioning must be one of {D_CONDITIONING}, got {d_conditioning!r}.")
        if d_conditioning == "auxiliary" and not num_classes:
            raise ValueError("d_conditioning='auxiliary' (AC-GAN) needs num_classes.")
        self.num_classes = int(num_classes) if num_classes else None
        self.d_conditioning = d_conditioning
        self.loss_pair = losses_lib.get(loss or self.default_loss)
        self.d_steps = int(d_steps)
        self.terms = check_list(terms, Term, "terms")
        self.transforms = check_list(transforms, Transform, "transforms")
        self.step_strategy = steps_lib.get(step)
        self.architecture = architecture or self.default_architecture
        self.generator_options = dict(generator_options or {})
        self.discriminator_options = dict(discriminator_options or {})
        self.packing = int(np.prod([t.samples_per_input for t in self.transforms]))
        if any(t.samples_per_input > 1 for t in self.transforms[:-1]):
            raise ValueError("Packing must be the last transform (it changes what a D input is).")
        latent_dim, data_shape = checks.infer_shapes(generator, latent_dim, data_shape)
        self.data_shape = tuple(int(d) for d in data_shape)
        self.latent_dim = int(latent_dim or (100 if len(self.data_shape) == 3 else 64))
        if generator is None or discriminator is None:
            d_opts = {**self.default_discriminator_options(), **self.discriminator_options}
            g, d = networks.build_networks(
                self.architecture, self.latent_dim, self.data_shape, self.num_classes,
                self.generator_options, d_opts, packing=self.packing,
                aux_classifier=self.d_conditioning == "auxiliary")
            generator, discriminator = generator or g, discriminator or d
        self.generator = generator
        self.discriminator = discriminator
        checks.check_networks(self)
        self.ema_decay, self.ema_start_step = ema.check(ema_decay, ema_start_step)
        self.ema_generator = ema.clone(generator) if self.ema_decay else None
        # Built here, inside the strategy scope the model is created in; state
        # layers (replay buffers) are tracked and saved with the weights.
        pieces = self.terms + self.transforms + [self.step_strategy]
        self.state_layers = [s for s in (p.build(self) for p in pieces) if s is not None]
        self.eval_seed_generator = keras.random.SeedGenerator(None if seed is None else seed + 1)
        # Everything is built; fit must not build from a data batch (that
        # would call the generator on images).
        self.built = True

    # ---------------------------------------------------------------- setup
    def default_discriminator_options(self):
        """Builder options a family sets unless the user gives them."""
        return {}

    def g_inputs(self, z, labels):
        return [z, labels] if self.num_classes else z

    def d_inputs(self, x, labels):
        return [x, labels] if self.num_classes and self.d_conditioning == "input" else x

    def example_conditions(self, n):
        """Placeholder conditions for ``n`` samples (the constructor's network check)."""
        return ops.zeros((n,), "int32")

    def conditions_for(self, labels, n):
        """Checked conditions of ``n`` samples for ``generate``: labels or ``None``."""
        if not self.num_classes:
            if labels is not None:
                raise ValueError("labels were given but this model is not conditional.")
            return None
        labels = np.arange(n) % self.num_classes if labels is None else np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels: expected shape ({n},), got {labels.shape}.")
        validation.check_labels_in_range(labels, self.num_classes, "labels")
        return labels.astype("int32")

    def after_compile(self):
        self.step_strategy.after_compile(self)

    def call(self, inputs, training=False):
        """Runs the generator: ``inputs`` is ``z`` or ``[z, labels]``."""
        return self.generator(inputs, training=training)

    # --------------------------------------------------------- the D's view
    def sample_noise(self, batch_size, seed_generator=None):
        """``z`` for this replica's share of the global batch (drawn globally, sliced)."""
        sg = seed_generator or self.seed_generator
        return self.draw(lambda n: keras.random.normal((n, self.latent_dim), seed=sg), batch_size)

    def view(self, x):
        """What D is shown of samples ``x``: the transforms' views, in order."""
        for t in self.transforms:
            x = t.view(x, self)
        return x

    def critic(self, x, labels, training=True):
        """D on already-viewed inputs: ``(scores, class_logits or None)``, float32."""
        out = self.discriminator(self.d_inputs(x, labels), training=training)
        if self.d_conditioning == "auxiliary":
            return ops.cast(out[0], "float32"), ops.cast(out[1], "float32")
        return ops.cast(out, "float32"), None

    # --------------------------------------------------------------- losses
    def _total(self, adversarial, record, side, network):
        """Adversarial per-example values + the terms, scaled by the distribution rule."""
        per_example, whole = ops.sum(adversarial), []
        for term in self.terms:
            value = getattr(term, side)(record)
            if value is None:
                continue
            if term.per_example:
                per_example = per_example + ops.sum(ops.cast(value, "float32"))
            else:
                whole.append(ops.cast(value, "float32"))
        whole += [ops.cast(ops.sum(network.losses), "float32")] if network.losses else []
        loss = per_example / record.count
        return loss + replica.replica_scale(ops.sum(ops.stack(whole))) if whole else loss

    def discriminator_loss(self, real, fake, labels, global_batch, training=True,
                           fake_labels=None, batch=None, z=None):
        """D's loss for one update, scaled for the global batch; returns ``(loss, record)``.

        Args:
            real: this replica's real samples.
            fake: this replica's generated samples (no gradient to G).
            labels: labels of ``real`` or ``None``.
            global_batch: float, the global batch size.
            training: forwarded to D.
            fake_labels: labels of ``fake`` when they differ (replay).
            z: the latents ``fake`` was generated from (for latent-code terms).
        """
        fake_labels = labels if fake_labels is None else fake_labels
        real_in, fake_in = self.view(real), self.view(fake)
        real_scores, real_logits = self.critic(real_in, labels, training)
        fake_scores, fake_logits = self.critic(fake_in, fake_labels, training)
        record = Record(real_in, fake_in, labels, fake_labels, real_scores, fake_scores,
                        real_logits, fake_logits, model=self, batch=batch,
                        critic=lambda x: self.critic(x, labels, training)[0],
                        count=global_batch / float(self.packing), z=z)
        adversarial = self.loss_pair.discriminator(real_scores, fake_scores)
        return self._total(adversarial, record, "discriminator", self.discriminator), record

    def generator_loss(self, fake, labels, global_batch, batch=None, training=True,
                       shared=None, z=None):
        """G's loss on its samples ``fake`` (differentiable), scaled for the global batch.

        ``shared``: the record of a D update on these same fakes, whose view
        and scores are reused (``kgan.steps.SharedFakes``).
        """
        if shared is None:
            fake_in = self.view(fake)
            fake_scores, fake_logits = self.critic(fake_in, labels, training)
        else:
            fake_in, fake_scores, fake_logits = shared.fake, shared.fake_scores, shared.fake_logits
        record = Record(None, fake_in, labels, labels, None, fake_scores, None, fake_logits,
                        model=self, batch=batch, count=global_batch / float(self.packing), z=z)
        adversarial = self.loss_pair.generator(fake_scores)
        for term in self.terms:
            weights = term.generator_weights(record)
            if weights is not None:
                adversarial = adversarial * ops.cast(weights, adversarial.dtype)
        return self._total(adversarial, record, "generator", self.generator)

    # -------------------------------------------------------------- updates
    def _fakes(self, batch, replay=True):
        z = self.sample_noise(batch.size)
        # No tape: D's update needs no gradient through G.
        fake = ops.stop_gradient(self.generator(self.g_inputs(z, batch.labels), training=True))
        labels = batch.labels
        for t in self.transforms if replay else ():
            fake, labels = t.fakes(fake, labels, self)
        return fake, labels, z

    def discriminator_update(self, batch, optimizer=None, replay=True):
        """One D update on fresh noise; returns ``(loss, record)``.

        Args:
            batch: a :class:`kgan.core.record.Batch`.
            optimizer: default ``d_optimizer`` (the unrolled look-ahead passes its own).
            replay: pass the fakes through the transforms' ``fakes`` (replay).
        """
        fake, fake_labels, z = self._fakes(batch, replay)
        with tf.GradientTape() as tape:
            loss, record = self.discriminator_loss(batch.real, fake, batch.labels,
                                                   batch.global_size, fake_labels=fake_labels,
                                                   batch=batch, z=z)
        self.apply(optimizer or self.d_optimizer, loss, tape,
                   self.discriminator.trainable_variables, "discriminator")
        return loss, record

    def generator_update(self, batch):
        """One G update on fresh noise; returns G's loss."""
        z = self.sample_noise(batch.size)
        with tf.GradientTape() as tape:
            fake = self.generator(self.g_inputs(z, batch.labels), training=True)
            loss = self.generator_loss(fake, batch.labels, batch.global_size, batch=batch, z=z)
        self.apply(self.g_optimizer, loss, tape, self.generator.trainable_variables, "generator")
        return loss

    # ----------------------------------------------------------------- step
    def unpack(self, data):
        """A :class:`Batch` from a data element, labels checked in-graph."""
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        labels = None
        if self.num_classes:
            labels = tf.cast(tf.reshape(y, [-1]), "int32")
            with tf.control_dependencies([
                    tf.debugging.assert_non_negative(labels, message=LABEL_RANGE),
                    tf.debugging.assert_less(labels, self.num_classes, message=LABEL_RANGE)]):
                labels = tf.identity(labels)
        real = ops.cast(x, self.compute_dtype)
        size = ops.shape(real)[0]
        return Batch(real, labels, size, ops.cast(replica.global_batch(size), "float32"))

    def _track(self, batch, d_loss, g_loss, record):
        # Losses are replica shares of the global mean; undo the share and
        # weight by this replica's batch so the synced Mean is the global mean.
        n = ops.cast(batch.size, "float32")
        share = batch.global_size / n
        thr = self.loss_pair.decision_threshold

        def per_input(scores):  # one decision per D input (per pack under packing)
            return ops.mean(ops.reshape(scores, (ops.shape(scores)[0], -1)), -1)

        values = {"d_loss": d_loss * share,
                  "d_acc_real": ops.mean(ops.cast(per_input(record.real_scores) > thr, "float32")),
                  "d_acc_fake": ops.mean(ops.cast(per_input(record.fake_scores) <= thr, "float32"))}
        if g_loss is not None:
            values["g_loss"] = g_loss * share
        self.update_trackers(values, n)
        return self.logs()

    def train_step(self, data):
        batch = self.unpack(data)
        d_loss, record, g_loss = self.step_strategy.run(self, batch)
        if self.ema_generator is not None:
            ema.update(self.ema_generator, self.generator, self.ema_decay, self.ema_start_step,
                       self.g_optimizer.iterations)
        return self._track(batch, d_loss, g_loss, record)

    def test_step(self, data):
        """D's losses and accuracies on held-out real data and fresh fakes, no update.

        Terms are left out (they regularise training, not measure it); the
        noise comes from a separate seed stream, so evaluating during
        ``fit`` (``validation_data``) does not change the training run.
        """
        batch = self.unpack(data)
        z = self.sample_noise(batch.size, self.eval_seed_generator)
        fake = self.generator(self.g_inputs(z, batch.labels), training=False)
        real_scores, _ = self.critic(self.view(batch.real), batch.labels, training=False)
        fake_scores, fake_logits = self.critic(self.view(fake), batch.labels, training=False)
        count = batch.global_size / float(self.packing)
        d_loss = ops.sum(self.loss_pair.discriminator(real_scores, fake_scores)) / count
        g_loss = ops.sum(self.loss_pair.generator(fake_scores)) / count
        record = Record(None, None, None, None, real_scores, fake_scores,
                        fake_logits=fake_logits, model=self, count=count, z=z)
        return self._track(batch, d_loss, g_loss, record)

    # ------------------------------------------------------- checks, errors
    def check_data(self, x, y, batch_size):
        validation.check_training_data(
            x, y, data_shape=self.data_shape, num_classes=self.num_classes,
            num_replicas=self.distribute_strategy.num_replicas_in_sync)
        data = x[0] if isinstance(x, (tuple, list)) and y is None and len(x) == 2 else x
        for t in self.transforms:
            if hasattr(t, "check_data"):
                t.check_data(self, data, batch_size)

    def graph_errors(self):
        m, n = self.packing, self.distribute_strategy.num_replicas_in_sync
        return {**super().graph_errors(),
                LABEL_RANGE: lambda e: validation.DataError(
                    f"A batch held labels outside [0, {self.num_classes})."),
                PACKING: lambda e: ValueError(
                    f"packing={m}: a batch did not split into packs of {m} samples on every "
                    f"replica. Use a batch size divisible by {m * n} and drop_remainder=True.")}

    # ------------------------------------------------------------- generate
    def generate(self, num_samples=None, z=None, labels=None, seed=None, batch_size=256,
                 raw=False):
        """Generates samples in the data's range (images in [-1, 1]), batch by batch.

        The EMA generator is sampled when the model keeps one (``ema_decay``),
        as the export does; ``raw=True`` samples the trained weights.

        Args:
            num_samples: how many (a positive int); optional when ``z`` is given.
                A request whose output would not fit in memory is refused
                before any work.
            z: explicit latents ``[n, latent_dim]``.
            labels: int labels ``[n]`` for conditional models; by default
                ``0, 1, ..., num_classes-1, 0, ...``.
            seed: int. Sample ``i`` uses latent seed ``seed + i``
                (``kgan.noise``), so the same seed gives the same samples, here
                and from the exported ``generate_from_seed`` signature.
            batch_size: generator batch size.

        Returns:
            numpy float32 array ``[n] + data_shape``.

        Example:
            >>> images = gan.generate(16, seed=0)
        """
        return sampling.generate(self, self.sampling_network(raw), num_samples, z, labels, seed,
                                 batch_size)

    def sampling_network(self, raw=False):
        """The generator ``generate``, the export and latent search use.

        Args:
            raw: the trained weights even when the model keeps an EMA copy.

        Returns:
            ``ema_generator`` when the model keeps one and ``raw`` is false,
            else ``generator``.

        Example:
            >>> gan.sampling_network() is gan.ema_generator   # ema_decay > 0
        """
        return self.generator if raw or self.ema_generator is None else self.ema_generator

    # -------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "data_shape": list(self.data_shape), "latent_dim": self.latent_dim,
            "num_classes": self.num_classes, "architecture": self.architecture,
            "loss": keras.saving.serialize_keras_object(self.loss_pair),
            "d_steps": self.d_steps, "terms": serialize(self.terms),
            "transforms": serialize(self.transforms),
            "step": keras.saving.serialize_keras_object(self.step_strategy),
            "d_conditioning": self.d_conditioning,
            "generator_options": self.generator_options,
            "discriminator_options": self.discriminator_options, "ema_decay": self.ema_decay,
            "ema_start_step": self.ema_start_step, "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator", "discriminator"):
            config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
