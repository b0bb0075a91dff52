"""The ``GAN`` base model and its variants.

``GAN`` is a ``keras.Model`` whose ``train_step`` runs Algorithm 1 of
Goodfellow et al. (2014): ``d_steps`` discriminator updates, each on fresh
noise, then one generator update on fresh noise. Variants are sets of
defaults over this one class (architecture, loss, conditioning), so
``DCGAN(num_classes=10, loss="least_squares")`` is a conditional LSGAN-DCGAN
without a new class.

Distribution: every per-replica loss is a SUM over the replica's examples
divided by the GLOBAL batch size, and additive terms (layer losses,
penalties) are divided by the replica count, so the gradients that
``tf.distribute`` sums across replicas are those of the global-batch loss.
Noise is drawn for the global batch with the same seed on every replica and
sliced by replica id, so N replicas see exactly the noise one device sees.

The stabilisation tricks follow the same two rules:

* per-example terms (gradient penalty, R1, AC-GAN class loss) are summed
  over the replica's D inputs and divided by the GLOBAL number of D inputs
  (``global_batch / packing``);
* per-replica scalar terms (D layer losses, D weight penalty, feature
  matching computed on all-reduced means) are divided by the replica count
  (:meth:`GAN._replica_scale`).

Every random draw a trick needs (interpolation weights, instance noise) goes
through :meth:`GAN._replica_draw`, the one place that draws for the global
batch and keeps the replica's slice. The replay buffer mixes the GLOBAL
fake batch (all-gathered) with randomness shared by all replicas. So N
replicas equal one device with any combination of options.

The math lives elsewhere: penalties in :mod:`kgan.regularizers`, layers in
:mod:`kgan.layers`, the replay buffer and instance-noise schedule in
:mod:`kgan.tricks`; this module only wires them into the train step.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import distribute
from kgan import layers as layers_lib
from kgan import losses as losses_lib
from kgan import networks
from kgan import noise as noise_lib
from kgan import regularizers
from kgan import tricks
from kgan import validation

_NONFINITE = "kgan: non-finite loss"
_LABEL_RANGE = "kgan: label out of range"
_PACKING = "kgan: packing"

GRADIENT_PENALTIES = ("wgan-gp", "wgan-lp")
D_CONDITIONING = ("input", "auxiliary")


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss becomes NaN/Inf; the step's update is not applied."""


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


def _replica():
    """``(replica_context or None, replicas in sync)`` where the step runs."""
    ctx = tf.distribute.get_replica_context()
    return ctx, (ctx.num_replicas_in_sync if ctx is not None else 1)


def _all_sum(x):
    """Sum over replicas (differentiable: the gradient is all-reduced too)."""
    ctx, n = _replica()
    return x if n == 1 else ctx.all_reduce("SUM", x)


def _all_gather(x):
    """Concatenates every replica's rows in replica order (the global batch)."""
    ctx, n = _replica()
    return x if n == 1 else ctx.all_gather(x, axis=0)


def _slice_for_replica(x, batch_size):
    ctx, n = _replica()
    if n == 1:
        return x
    start = ctx.replica_id_in_sync_group * batch_size
    return x[start:start + batch_size]


def _check_nonneg(name, value):
    if value is None or float(value) < 0:
        raise ValueError(f"{name} must be >= 0, got {value}.")
    return float(value)


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """A generative adversarial network trained by ``model.fit``.

    Args:
        generator: a Keras model mapping ``z`` (or ``[z, labels]``) to
            samples. Built from ``architecture`` when omitted.
        discriminator: a Keras model mapping samples (or ``[samples,
            labels]``) to raw scores ``[batch, 1]`` (``[scores,
            class_logits]`` for AC-GAN). Built when omitted.
        data_shape: shape of one sample, e.g. ``(28, 28, 1)`` or ``(2,)``.
            Inferred from ``generator`` when given.
        latent_dim: size of ``z``. Inferred from ``generator`` when given,
            else defaults to 100 (64 for flat vectors).
        num_classes: condition both networks on integer labels in
            ``[0, num_classes)`` (Mirza & Osindero 2014). ``None``: not
            conditional.
        architecture: ``"auto"``, ``"mlp"`` or ``"dcgan"`` for built networks.
        loss: a name from ``kgan.losses.available()`` or a
            ``kgan.losses.GANLoss``. ``"non_saturating"`` by default;
            ``"minimax"`` is the saturating form of Goodfellow et al.
        d_steps: k, discriminator updates per generator update (Goodfellow
            et al. 2014, Algorithm 1; 5 for WGAN-GP).
        real_label: D's target for real data in sigmoid/least-squares
            losses; ``0.9`` is one-sided label smoothing (Salimans et al.
            2016, section 3.4). Fake targets stay 0.
        gradient_penalty: ``None``, ``"wgan-gp"`` (two-sided,
            ``(||grad D(x_hat)|| - 1)^2`` on uniform interpolates, Gulrajani
            et al. 2017) or ``"wgan-lp"`` (one-sided, Petzka et al. 2018).
            See :func:`kgan.regularizers.gradient_penalty`.
        gp_weight: lambda of the gradient penalty (10 in the paper).
        r1_gamma: R1 penalty ``gamma/2 ||grad D(x)||^2`` on real data
            (Mescheder et al. 2018); 0 turns it off.
        d_weight_penalty: coefficient of ``sum ||W||^2`` over D's weight
            matrices (see :func:`kgan.regularizers.weight_penalty`).
        instance_noise: initial std of Gaussian noise added to every sample
            D sees, real and fake (Sønderby et al. 2017); 0 turns it off.
        instance_noise_steps: generator steps over which that std decays
            linearly to 0 (:class:`kgan.tricks.InstanceNoise`); ``None``
            keeps it constant.
        replay_buffer_size: keep this many past fakes and mix them into D's
            fake batch (Shrivastava et al. 2017,
            :class:`kgan.tricks.ReplayBuffer`); 0 turns it off.
        replay_fraction: share of D's fake batch taken from the buffer.
        feature_matching: weight of the feature-matching term
            ``||E f(x) - E f(G(z))||^2`` added to G's loss (Salimans et al.
            2016, section 3.1, use it as G's only objective; here it is
            added to the adversarial loss, and a large weight approaches the
            paper's form). ``f`` is a layer of D. 0 turns it off.
        feature_matching_layer: name of D's layer whose output is ``f``;
            default: the input of D's score layer (its last hidden
            features). D must be a functional model.
        packing: ``m``, samples D judges together (PacGAN, Lin et al. 2018).
            Built discriminators take :func:`kgan.layers.packed_shape`
            inputs; a given D must. Per-replica batches must be divisible by
            ``m``. Not for conditional models.
        unrolled_steps: ``k`` of the unrolled GAN (Metz et al. 2017): G's
            loss is computed against a copy of D advanced ``k`` steps with
            D's optimizer. This uses the first-order approximation (G's
            gradient is taken at the unrolled D without differentiating
            through the unrolled updates); D's real weights are restored
            exactly after G's step, and D's optimizer state is never touched
            (a copy runs the look-ahead). 0 turns it off.
        d_conditioning: for conditional models, ``"input"`` (D takes
            ``[samples, labels]``, Mirza & Osindero 2014) or ``"auxiliary"``
            (D takes samples and returns ``[scores, class_logits]``, AC-GAN,
            Odena et al. 2017).
        aux_weight: weight of the AC-GAN class loss in both D's and G's loss.
        generator_options: keyword arguments for the generator builder
            (e.g. ``{"base_filters": 32}``).
        discriminator_options: keyword arguments for the discriminator
            builder, e.g. ``{"spectral_norm": True}`` (SNGAN, Miyato et al.
            2018) or ``{"minibatch_std": 4}`` (Karras et al. 2018).
        seed: seed of the noise ``SeedGenerator``.

    Two time-scale update rule (Heusel et al. 2017): G and D have separate
    optimizers, so ``compile(Adam(1e-4, 0.0, 0.9), Adam(4e-4, 0.0, 0.9))``
    gives D a larger learning rate. The exponential moving average of G's
    weights is a callback (``kgan.eval_callbacks``).

    Example:
        >>> gan = GAN(data_shape=(2,), latent_dim=8, architecture="mlp")
        >>> gan.compile()
        >>> gan.fit(points, epochs=1, batch_size=64)
        >>> gan.generate(16, seed=0).shape
        (16, 2)
        >>> pac = GAN(data_shape=(2,), packing=2, r1_gamma=1.0,
        ...           discriminator_options={"minibatch_std": 4})
    """

    default_architecture = "auto"
    default_loss = "non_saturating"
    # compile()'s optimizer when none is given: Adam(2e-4, beta_1=0.5), Radford et al. 2016.
    default_optimizer = {"learning_rate": 2e-4, "beta_1": 0.5}

    def __init__(self, generator=None, discriminator=None, *, data_shape=None,
                 latent_dim=None, num_classes=None, architecture=None, loss=None,
                 d_steps=1, real_label=1.0, gradient_penalty=None, gp_weight=10.0,
                 r1_gamma=0.0, d_weight_penalty=0.0, instance_noise=0.0,
                 instance_noise_steps=None, replay_buffer_size=0, replay_fraction=0.5,
                 feature_matching=0.0, feature_matching_layer=None, packing=1,
                 unrolled_steps=0, d_conditioning="input", aux_weight=1.0,
                 generator_options=None, discriminator_options=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        architecture = architecture or self.default_architecture
        loss = loss or self.default_loss
        if int(d_steps) < 1:
            raise ValueError(f"d_steps must be >= 1, got {d_steps}.")
        if num_classes is not None and int(num_classes) < 2:
            raise ValueError(f"num_classes must be >= 2 or None, got {num_classes}.")
        self.num_classes = int(num_classes) if num_classes else None
        self.gan_loss = losses_lib.get(loss)
        if real_label != 1.0 and not self.gan_loss.supports_label_smoothing:
            raise ValueError(f"real_label (label smoothing) does not apply to the "
                             f"{self.gan_loss.name} loss.")
        self.d_steps = int(d_steps)
        self.real_label = float(real_label)
        self._set_trick_options(
            gradient_penalty=gradient_penalty, gp_weight=gp_weight, r1_gamma=r1_gamma,
            d_weight_penalty=d_weight_penalty, instance_noise=instance_noise,
            instance_noise_steps=instance_noise_steps, replay_buffer_size=replay_buffer_size,
            replay_fraction=replay_fraction, feature_matching=feature_matching,
            feature_matching_layer=feature_matching_layer, packing=packing,
            unrolled_steps=unrolled_steps, d_conditioning=d_conditioning, aux_weight=aux_weight)
        self.architecture = architecture
        self.generator_options = dict(generator_options or {})
        self.discriminator_options = dict(discriminator_options or {})
        self.seed = seed

        if generator is not None:
            g_latent, g_shape = self._infer_from_generator(generator)
            if latent_dim is not None and g_latent is not None and int(latent_dim) != g_latent:
                raise ValueError(f"latent_dim={latent_dim} does not match the generator, whose "
                                 f"noise input has {g_latent} features.")
            if data_shape is not None and g_shape is not None and tuple(data_shape) != g_shape:
                raise ValueError(f"data_shape={tuple(data_shape)} does not match the generator's "
                                 f"output shape {g_shape}.")
            latent_dim = latent_dim or g_latent
            data_shape = data_shape or g_shape
        if data_shape is None:
            raise ValueError("data_shape is required when no generator is given, "
                             "e.g. data_shape=(28, 28, 1).")
        self.data_shape = tuple(int(d) for d in data_shape)
        if latent_dim is None:
            latent_dim = 100 if len(self.data_shape) == 3 else 64
        self.latent_dim = int(latent_dim)

        if generator is None or discriminator is None:
            d_opts = {**self._default_discriminator_options(architecture),
                      **self.discriminator_options}
            g, d = networks.build_networks(
                architecture, self.latent_dim, self.data_shape, self.num_classes,
                self.generator_options, d_opts, packing=self.packing,
                aux_classifier=self.d_conditioning == "auxiliary")
            generator = generator or g
            discriminator = discriminator or d
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._check_networks()
        self.replay_buffer = None
        if self.replay_buffer_size:
            # Created here, so inside the strategy scope the model is built in.
            self.replay_buffer = tricks.ReplayBuffer(
                self.replay_buffer_size, self.data_shape, self.replay_fraction,
                self.num_classes, name="replay_buffer")
        self._instance_noise = (tricks.InstanceNoise(self.instance_noise, self.instance_noise_steps)
                                if self.instance_noise > 0 else None)
        # Untracked (object.__setattr__): it shares D's layers and must not be
        # saved as a second copy of them.
        object.__setattr__(self, "_feature_net", self._build_feature_net()
                           if self.feature_matching > 0 else None)

        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.d_acc_real_tracker = keras.metrics.Mean(name="d_acc_real")
        self.d_acc_fake_tracker = keras.metrics.Mean(name="d_acc_fake")
        self.g_optimizer = None
        self.d_optimizer = None
        # Everything is built now; fit must not try to build from a data batch
        # (that would call the generator on images).
        self.built = True

    # ------------------------------------------------------------------ setup
    def _set_trick_options(self, *, gradient_penalty, gp_weight, r1_gamma, d_weight_penalty,
                           instance_noise, instance_noise_steps, replay_buffer_size,
                           replay_fraction, feature_matching, feature_matching_layer, packing,
                           unrolled_steps, d_conditioning, aux_weight):
        if gradient_penalty is not None and gradient_penalty not in GRADIENT_PENALTIES:
            raise ValueError(f"gradient_penalty must be None or one of {GRADIENT_PENALTIES}, "
                             f"got {gradient_penalty!r}.")
        self.gradient_penalty = gradient_penalty
        self.gp_weight = _check_nonneg("gp_weight", gp_weight)
        self.r1_gamma = _check_nonneg("r1_gamma", r1_gamma)
        self.d_weight_penalty = _check_nonneg("d_weight_penalty", d_weight_penalty)
        self.instance_noise = _check_nonneg("instance_noise", instance_noise)
        if instance_noise_steps is not None and int(instance_noise_steps) < 1:
            raise ValueError(f"instance_noise_steps must be >= 1 or None, got {instance_noise_steps}.")
        self.instance_noise_steps = None if instance_noise_steps is None else int(instance_noise_steps)
        if int(replay_buffer_size) < 0:
            raise ValueError(f"replay_buffer_size must be >= 0, got {replay_buffer_size}.")
        self.replay_buffer_size = int(replay_buffer_size)
        if not 0.0 <= float(replay_fraction) <= 1.0:
            raise ValueError(f"replay_fraction must be in [0, 1], got {replay_fraction}.")
        self.replay_fraction = float(replay_fraction)
        self.feature_matching = _check_nonneg("feature_matching", feature_matching)
        self.feature_matching_layer = feature_matching_layer
        if int(packing) < 1:
            raise ValueError(f"packing must be >= 1, got {packing}.")
        self.packing = int(packing)
        if self.packing > 1 and self.num_classes:
            raise ValueError("packing (PacGAN) is for unconditional models: a pack of samples "
                             "has no single label. Use num_classes=None or packing=1.")
        if int(unrolled_steps) < 0:
            raise ValueError(f"unrolled_steps must be >= 0, got {unrolled_steps}.")
        self.unrolled_steps = int(unrolled_steps)
        if d_conditioning not in D_CONDITIONING:
            raise ValueError(f"d_conditioning must be one of {D_CONDITIONING}, got {d_conditioning!r}.")
        if d_conditioning == "auxiliary" and not self.num_classes:
            raise ValueError("d_conditioning='auxiliary' (AC-GAN) needs num_classes.")
        self.d_conditioning = d_conditioning
        self.aux_weight = _check_nonneg("aux_weight", aux_weight)

    def _default_discriminator_options(self, architecture):
        """Builder options a variant sets unless the user gives them."""
        return {}

    def _build_feature_net(self):
        d = self.discriminator
        try:
            inputs, outputs = d.inputs, list(d.outputs)
        except (AttributeError, ValueError) as e:
            raise ValueError("feature_matching needs a functional discriminator (with .inputs "
                             "and .outputs) to read an intermediate layer from.") from e
        if self.feature_matching_layer:
            features = d.get_layer(self.feature_matching_layer).output
        else:
            # The input of the layer that produces the score: D's last hidden features.
            score_layer = outputs[0]._keras_history.operation
            features = score_layer.input
        return keras.Model(inputs, outputs + [features], name="discriminator_features")

    @staticmethod
    def _infer_from_generator(generator):
        try:
            inputs = generator.inputs
            z_shape = inputs[0].shape
            out_shape = generator.outputs[0].shape
        except (AttributeError, TypeError, IndexError, ValueError):
            return None, None
        return int(z_shape[-1]), tuple(int(d) for d in out_shape[1:])

    def _g_inputs(self, z, labels):
        return [z, labels] if self.num_classes else z

    def _d_inputs(self, x, labels):
        return [x, labels] if self.num_classes and self.d_conditioning == "input" else x

    def _check_networks(self):
        m = self.packing
        z = ops.zeros((2 * m, self.latent_dim))
        labels = ops.zeros((2 * m,), "int32")
        try:
            out = self.generator(self._g_inputs(z, labels), training=False)
        except Exception as e:  # pragma: no cover - message path
            raise ValueError(
                f"The generator could not run on z of shape (batch, {self.latent_dim})"
                f"{' and labels (batch,)' if self.num_classes else ''}: {e}") from e
        if tuple(out.shape[1:]) != self.data_shape:
            raise ValueError(f"The generator outputs samples of shape {tuple(out.shape[1:])}, "
                             f"expected data_shape {self.data_shape}.")
        d_shape = layers_lib.packed_shape(self.data_shape, m)
        try:
            score = self.discriminator(self._d_inputs(layers_lib.pack(out, m), labels[:2]),
                                       training=False)
        except Exception as e:  # pragma: no cover - message path
            raise ValueError(f"The discriminator could not run on samples of shape "
                             f"{d_shape}{f' ({m} samples packed)' if m > 1 else ''}: {e}") from e
        if self.d_conditioning == "auxiliary":
            if not isinstance(score, (list, tuple)) or len(score) != 2:
                raise ValueError("With d_conditioning='auxiliary' (AC-GAN) the discriminator must "
                                 "return [scores, class_logits].")
            score, logits = score
            if tuple(logits.shape) != (2, self.num_classes):
                raise ValueError(f"The discriminator's class logits must have shape (batch, "
                                 f"{self.num_classes}), got {tuple(logits.shape)}.")
        if score.shape[0] != 2:
            raise ValueError(f"The discriminator must return one score per sample, got "
                             f"shape {tuple(score.shape)} for a batch of 2.")

    def compile(self, g_optimizer=None, d_optimizer=None, *, jit_compile=False,
                steps_per_execution=1, run_eagerly=False, **kwargs):
        """Configures the two optimizers and builds their state.

        Both optimizers are built here, inside the current strategy scope,
        because a MirroredStrategy train step that creates optimizer slots
        lazily fails on its first step.

        Args:
            g_optimizer: generator optimizer (instance, name or config).
                Default: Adam(2e-4, beta_1=0.5) (Radford et al. 2016).
            d_optimizer: discriminator optimizer. Same default.
            jit_compile: compile the train step with XLA.
            steps_per_execution: train steps per compiled call.
            run_eagerly: debug mode.
            **kwargs: forwarded to ``keras.Model.compile``.

        Separate optimizers are the two time-scale update rule (TTUR,
        Heusel et al. 2017): give D a larger learning rate than G.

        Example:
            >>> gan.compile(keras.optimizers.Adam(1e-4), keras.optimizers.Adam(4e-4))
        """
        self.g_optimizer = self._make_optimizer(g_optimizer, "generator_optimizer")
        self.d_optimizer = self._make_optimizer(d_optimizer, "discriminator_optimizer")
        if self.g_optimizer is self.d_optimizer:
            raise ValueError("g_optimizer and d_optimizer must be different objects.")
        super().compile(optimizer=None, jit_compile=jit_compile,
                        steps_per_execution=steps_per_execution,
                        run_eagerly=run_eagerly, **kwargs)
        self.g_optimizer.build(self.generator.trainable_variables)
        self.d_optimizer.build(self.discriminator.trainable_variables)
        self._build_look_ahead()

    def _build_look_ahead(self):
        """State of the unrolled GAN's look-ahead, built in the strategy scope.

        A second D optimizer of the same configuration runs the k look-ahead
        updates (its slots are copied from the real one first, so the update
        rule and its moments are D's own), and a backup of every D variable
        restores D exactly afterwards. Neither is tracked: they are scratch
        state, overwritten at every step, and not saved.
        """
        opt = backup = None
        if self.unrolled_steps:
            opt = self.d_optimizer.__class__.from_config(self.d_optimizer.get_config())
            opt.build(self.discriminator.trainable_variables)
            if len(opt.variables) != len(self.d_optimizer.variables):
                raise ValueError("unrolled_steps: could not mirror the discriminator optimizer's "
                                 "state for the look-ahead.")
            backup = [keras.Variable(ops.zeros(v.shape, v.dtype), dtype=v.dtype, trainable=False,
                                     name=f"lookahead_backup_{i}")
                      for i, v in enumerate(self.discriminator.variables)]
        object.__setattr__(self, "_lookahead_optimizer", opt)
        object.__setattr__(self, "_d_backup", backup)

    def _make_optimizer(self, opt, name):
        if opt is None:
            opt = keras.optimizers.Adam(name=name, **self.default_optimizer)
        else:
            opt = keras.optimizers.get(opt)
        if (self.dtype_policy.name == "mixed_float16"
                and not isinstance(opt, keras.optimizers.LossScaleOptimizer)):
            opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale")
        return opt

    @property
    def step(self):
        """Completed train steps (generator updates), restored with the weights."""
        return int(ops.convert_to_numpy(self.g_optimizer.iterations.value))

    @property
    def metrics(self):
        return [self.g_loss_tracker, self.d_loss_tracker,
                self.d_acc_real_tracker, self.d_acc_fake_tracker]

    # ---------------------------------------------------------------- forward
    def call(self, inputs, training=False):
        """Runs the generator: ``inputs`` is ``z`` or ``[z, labels]``."""
        return self.generator(inputs, training=training)

    # ----------------------------------------------------------------- noise
    def sample_noise(self, batch_size):
        """Draws ``z`` for this replica's share of the global batch.

        All replicas draw the global batch from the same seed state and keep
        their own slice: no two replicas share noise, and the union equals
        what one device draws.

        Args:
            batch_size: this replica's batch size.

        Returns:
            ``[batch_size, latent_dim]`` float tensor.
        """
        return self._replica_draw(
            lambda n: keras.random.normal((n, self.latent_dim), seed=self.seed_generator),
            batch_size)

    def _replica_draw(self, draw, batch_size):
        """Runs ``draw(global_batch)`` and returns this replica's rows.

        Every random tensor of the train step goes through here: all
        replicas draw the same global tensor from the shared seed state and
        keep their own slice, so N replicas see what one device sees.

        Args:
            draw: ``n -> tensor [n, ...]`` using ``self.seed_generator``.
            batch_size: this replica's number of rows.
        """
        _, n = _replica()
        if n == 1:
            return draw(batch_size)
        return _slice_for_replica(draw(batch_size * n), batch_size)

    # ------------------------------------------------------------ train step
    def _unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        labels = None
        if self.num_classes:
            labels = tf.cast(tf.reshape(y, [-1]), "int32")
            with tf.control_dependencies([
                    tf.debugging.assert_non_negative(labels, message=_LABEL_RANGE),
                    tf.debugging.assert_less(labels, self.num_classes, message=_LABEL_RANGE)]):
                labels = tf.identity(labels)
        return x, labels

    def _global_batch(self, batch_size):
        """Global batch size, checked to split evenly across replicas."""
        ctx, n = _replica()
        if n == 1:
            return batch_size
        total = ctx.all_reduce("SUM", batch_size)
        with tf.control_dependencies([tf.debugging.assert_equal(
                total, batch_size * n,
                message=f"kgan: the global batch does not split evenly across {n} replicas; "
                        f"use a batch size divisible by {n} and drop_remainder=True")]):
            return tf.identity(total)

    def _apply(self, optimizer, loss, tape, variables, what):
        grads = tape.gradient(loss, variables)
        # Dense label-embedding gradients: sparse IndexedSlices all-reduce with
        # replica-dependent shapes under MirroredStrategy, and the tables are small.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        if not self.jit_compile:
            # Stop before the update: the weights stay as the last good step left
            # them. The explicit dependency orders the check before the update
            # (automatic control deps only order ops sharing a resource).
            check = tf.debugging.assert_all_finite(loss, f"{_NONFINITE} ({what})")
            with tf.control_dependencies([check]):
                grads = [None if g is None else tf.identity(g) for g in grads]
        optimizer.apply(grads, variables)

    def _replica_scale(self, term):
        return term / tf.cast(_num_replicas(), term.dtype)

    def instance_noise_stddev(self):
        """Current std of the instance noise (0 when it is off or annealed away)."""
        if self._instance_noise is None:
            return ops.convert_to_tensor(0.0, "float32")
        step = self.g_optimizer.iterations if self.g_optimizer is not None else 0
        return self._instance_noise.stddev_at(step)

    def _d_view(self, x):
        """What D is shown of samples ``x``: instance noise added, then packed."""
        if self._instance_noise is not None:
            noise = self._replica_draw(
                lambda n: keras.random.normal((n,) + self.data_shape, seed=self.seed_generator),
                ops.shape(x)[0])
            x = self._instance_noise(x, self.g_optimizer.iterations, noise=noise)
        return layers_lib.pack(x, self.packing)

    def _critic(self, x, labels, training=True):
        """D on already-viewed inputs: ``(scores, class_logits or None)``, float32."""
        out = self.discriminator(self._d_inputs(x, labels), training=training)
        if self.d_conditioning == "auxiliary":
            score, logits = out
            return ops.cast(score, "float32"), ops.cast(logits, "float32")
        return ops.cast(out, "float32"), None

    def _critic_features(self, x, labels, training=True):
        """Like :meth:`_critic`, plus D's feature-matching features."""
        outs = self._feature_net(self._d_inputs(x, labels), training=training)
        feats = ops.cast(ops.reshape(outs[-1], (ops.shape(outs[-1])[0], -1)), "float32")
        logits = ops.cast(outs[1], "float32") if self.d_conditioning == "auxiliary" else None
        return ops.cast(outs[0], "float32"), logits, feats

    def _d_count(self, global_batch):
        """Global number of D inputs: samples, or packs of ``packing`` samples."""
        return global_batch / float(self.packing)

    def discriminator_loss(self, real, fake, labels, global_batch, training=True,
                           fake_labels=None):
        """D's loss for one update, scaled for the global batch.

        The adversarial loss, the AC-GAN class loss and the gradient
        penalties are per D input: summed here and divided by the global
        number of D inputs. D's layer losses and weight penalty are whole-model
        terms: divided by the replica count.

        Args:
            real: this replica's real samples.
            fake: this replica's generated samples (no gradient to G).
            labels: labels or ``None``.
            global_batch: float, the global batch size.
            training: forwarded to the discriminator.
            fake_labels: labels of ``fake`` when they differ from ``labels``
                (replayed fakes of a conditional model).

        Returns:
            ``(loss, real_scores, fake_scores)``.
        """
        fake_labels = labels if fake_labels is None else fake_labels
        real_in, fake_in = self._d_view(real), self._d_view(fake)
        real_out, real_cls = self._critic(real_in, labels, training)
        fake_out, fake_cls = self._critic(fake_in, fake_labels, training)
        kwargs = {"real_label": self.real_label} if self.gan_loss.supports_label_smoothing else {}
        total = ops.sum(self.gan_loss.discriminator(real_out, fake_out, **kwargs))
        if real_cls is not None:
            total = total + self.aux_weight * (
                ops.sum(losses_lib.auxiliary_classifier_loss(real_cls, labels))
                + ops.sum(losses_lib.auxiliary_classifier_loss(fake_cls, fake_labels)))
        d_fn = lambda x: self._critic(x, labels, training)[0]  # noqa: E731
        if self.gradient_penalty:
            eps = self._replica_draw(
                lambda n: regularizers.uniform_epsilon(n, seed=self.seed_generator),
                ops.shape(real_in)[0])
            gp = regularizers.gradient_penalty(d_fn, real_in, fake_in, eps,
                                               one_sided=self.gradient_penalty == "wgan-lp")
            total = total + self.gp_weight * ops.sum(gp)
        if self.r1_gamma:
            total = total + ops.sum(regularizers.r1_penalty(d_fn, real_in, self.r1_gamma))
        loss = total / self._d_count(global_batch)
        if self.discriminator.losses:
            loss = loss + self._replica_scale(ops.cast(ops.sum(self.discriminator.losses), "float32"))
        if self.d_weight_penalty:
            loss = loss + self._replica_scale(
                self.d_weight_penalty * regularizers.weight_penalty(self.discriminator.trainable_variables))
        return loss, real_out, fake_out

    def generator_loss(self, fake_out, global_batch):
        """G's adversarial loss for one update, scaled for the global batch."""
        loss = (ops.sum(self.gan_loss.generator(ops.cast(fake_out, "float32")))
                / self._d_count(global_batch))
        if self.generator.losses:
            loss = loss + self._replica_scale(ops.cast(ops.sum(self.generator.losses), "float32"))
        return loss

    def _feature_matching_term(self, real_features, fake_features, global_batch):
        """``lambda ||mean f(x) - mean f(G(z))||^2`` over the GLOBAL batch.

        Means come from all-reduced sums, so every replica holds the global
        value; as a per-replica scalar it is divided by the replica count
        (the all-reduce's gradient is all-reduced as well, so the summed
        gradients are those of the global term).
        """
        count = self._d_count(global_batch)
        real_mean = ops.stop_gradient(_all_sum(ops.sum(real_features, axis=0)) / count)
        fake_mean = _all_sum(ops.sum(fake_features, axis=0)) / count
        fm = losses_lib.feature_matching_loss(real_mean, fake_mean)
        return self._replica_scale(self.feature_matching * fm)

    def _replay(self, fake, labels, batch_size):
        """Mixes old fakes into this replica's fake batch (global buffer)."""
        all_fake = _all_gather(ops.cast(fake, "float32"))
        all_labels = None if labels is None else _all_gather(labels)
        mixed, mixed_labels = self.replay_buffer.mix(all_fake, all_labels, seed=self.seed_generator)
        mixed = ops.cast(_slice_for_replica(mixed, batch_size), fake.dtype)
        if mixed_labels is not None:
            mixed_labels = _slice_for_replica(mixed_labels, batch_size)
        return mixed, mixed_labels

    def discriminator_step(self, real, labels, batch_size, global_batch, optimizer=None,
                           replay=True):
        """One discriminator update on fresh noise; returns its statistics.

        Args:
            real, labels, batch_size, global_batch: as in ``train_step``.
            optimizer: the optimizer that applies the update (the unrolled
                look-ahead passes its own); default ``d_optimizer``.
            replay: mix replayed fakes in (the look-ahead leaves the buffer
                alone).
        """
        optimizer = optimizer or self.d_optimizer
        z = self.sample_noise(batch_size)
        # No tape: D's update needs no gradient through G.
        fake = ops.stop_gradient(self.generator(self._g_inputs(z, labels), training=True))
        fake_labels = labels
        if replay and self.replay_buffer is not None:
            fake, fake_labels = self._replay(fake, labels, batch_size)
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss, real_out, fake_out = self.discriminator_loss(real, fake, labels, global_batch,
                                                               fake_labels=fake_labels)
            scaled = optimizer.scale_loss(loss)
        self._apply(optimizer, scaled, tape, d_vars, "discriminator")
        return loss, real_out, fake_out

    def _look_ahead(self, real, labels, batch_size, global_batch):
        """Advances D ``unrolled_steps`` steps after backing it up (Metz et al. 2017)."""
        for v, b in zip(self.discriminator.variables, self._d_backup):
            b.assign(v)
        for src, dst in zip(self.d_optimizer.variables, self._lookahead_optimizer.variables):
            dst.assign(src)
        for _ in range(self.unrolled_steps):
            self.discriminator_step(real, labels, batch_size, global_batch,
                                    optimizer=self._lookahead_optimizer, replay=False)

    def _restore_discriminator(self):
        for v, b in zip(self.discriminator.variables, self._d_backup):
            v.assign(b)

    def generator_step(self, labels, batch_size, global_batch, real=None):
        """One generator update on fresh noise; returns G's loss.

        ``real`` is needed by feature matching and the unrolled look-ahead.
        """
        if self.unrolled_steps:
            self._look_ahead(real, labels, batch_size, global_batch)
        real_feats = None
        if self._feature_net is not None:
            _, _, real_feats = self._critic_features(self._d_view(real), labels)
        z = self.sample_noise(batch_size)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(self._g_inputs(z, labels), training=True)
            fake_in = self._d_view(fake)
            if self._feature_net is not None:
                fake_out, fake_cls, fake_feats = self._critic_features(fake_in, labels)
            else:
                fake_out, fake_cls = self._critic(fake_in, labels)
            loss = self.generator_loss(fake_out, global_batch)
            if fake_cls is not None:
                loss = loss + self.aux_weight * ops.sum(
                    losses_lib.auxiliary_classifier_loss(fake_cls, labels)) / self._d_count(global_batch)
            if real_feats is not None:
                loss = loss + self._feature_matching_term(real_feats, fake_feats, global_batch)
            scaled = self.g_optimizer.scale_loss(loss)
        self._apply(self.g_optimizer, scaled, tape, g_vars, "generator")
        if self.unrolled_steps:
            # G's update has read the unrolled D (automatic control dependencies
            # keep program order on D's variables); now D gets its weights back.
            self._restore_discriminator()
        return loss

    def _check_packing(self, real, batch_size):
        """Checks the replica's batch splits into packs; returns ``(real, batch_size)``."""
        m = self.packing
        if m == 1:
            return real, batch_size
        static = real.shape[0]
        if static is not None:
            if int(static) % m:
                raise ValueError(f"packing={m}: each replica's batch must be divisible by {m}, "
                                 f"got a batch of {int(static)}.")
            return real, batch_size
        if self.jit_compile:
            return real, batch_size
        check = tf.debugging.assert_equal(
            batch_size % m, 0,
            message=f"{_PACKING}: each replica's batch must be divisible by packing={m}")
        # Both outputs depend on the check, so no pack (of real or fake) runs before it.
        with tf.control_dependencies([check]):
            return tf.identity(real), tf.identity(batch_size)

    def train_step(self, data):
        real, labels = self._unpack(data)
        real = ops.cast(real, self.compute_dtype)
        batch_size = ops.shape(real)[0]
        real, batch_size = self._check_packing(real, batch_size)
        global_batch = ops.cast(self._global_batch(batch_size), "float32")
        for _ in range(self.d_steps):
            d_loss, real_out, fake_out = self.discriminator_step(real, labels, batch_size, global_batch)
        g_loss = self.generator_step(labels, batch_size, global_batch, real=real)
        self._update_trackers(d_loss, g_loss, real_out, fake_out, batch_size, global_batch)
        logs = {m.name: m.result() for m in self.metrics}
        if distribute.in_multi_worker_mode(self.distribute_strategy):
            # Keras reduces multi-worker step outputs with
            # strategy.reduce("MEAN", v, axis=0), which rejects scalars
            # (keras #20585, tensorflow #72388). Every replica holds the same
            # synced value, so a [1] vector reduces to it exactly.
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Workaround for keras #20585 / tensorflow #72388: the base method
        # reduces a first data batch with strategy.reduce in eager mode, which
        # fails under MultiWorkerMirroredStrategy. A kgan model is fully built
        # in __init__ and compile(), so there is nothing for it to build.
        # Remove when Keras fixes the upstream issues.
        if self.built and self.g_optimizer is not None and self.g_optimizer.built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    def _update_trackers(self, d_loss, g_loss, real_out, fake_out, batch_size, global_batch):
        # Losses are replica shares of the global mean; undo the share and
        # weight by this replica's batch so the synced Mean is the global mean.
        n = ops.cast(batch_size, "float32")
        share = global_batch / n
        thr = self.gan_loss.decision_threshold
        # One decision per D input (per pack under packing).
        acc_real = ops.mean(ops.cast(ops.mean(ops.reshape(real_out, (ops.shape(real_out)[0], -1)), -1) > thr,
                                     "float32"))
        acc_fake = ops.mean(ops.cast(ops.mean(ops.reshape(fake_out, (ops.shape(fake_out)[0], -1)), -1) <= thr,
                                     "float32"))
        self.d_loss_tracker.update_state(d_loss * share, sample_weight=n)
        self.g_loss_tracker.update_state(g_loss * share, sample_weight=n)
        self.d_acc_real_tracker.update_state(acc_real, sample_weight=n)
        self.d_acc_fake_tracker.update_state(acc_fake, sample_weight=n)

    # -------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """``keras.Model.fit`` with input checks and clear failures.

        The data is checked before the first step (shape, dtype, label range,
        emptiness, replica split). A NaN/Inf loss stops training with
        :class:`NonFiniteLossError` before the bad update is applied.

        Example:
            >>> gan.fit(dataset, epochs=5)
        """
        if self.g_optimizer is None:
            raise RuntimeError("Call compile() before fit().")
        validation.check_training_data(
            x, y, data_shape=self.data_shape, num_classes=self.num_classes,
            num_replicas=self.distribute_strategy.num_replicas_in_sync)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        self._check_packing_batches(x, batch_size)
        if isinstance(x, tf.data.Dataset):
            kwargs.setdefault("shuffle", False)  # a dataset brings its own order
        try:
            return super().fit(x, y, batch_size=batch_size, **kwargs)
        except tf.errors.InvalidArgumentError as e:
            if _NONFINITE in str(e):
                raise NonFiniteLossError(
                    "Training stopped: the loss became NaN or Inf. The update that produced it "
                    "was not applied, and checkpoints written before it are untouched. Lower "
                    "the learning rate or add a penalty. (" + str(e.message).splitlines()[0] + ")"
                ) from None
            if _LABEL_RANGE in str(e):
                raise validation.DataError(
                    f"A batch held labels outside [0, {self.num_classes}).") from None
            if "does not split evenly across" in str(e):
                n = self.distribute_strategy.num_replicas_in_sync
                raise validation.DataError(
                    f"A global batch did not split evenly across {n} replicas (a partial last "
                    f"batch?). Use a batch size divisible by {n} and drop_remainder=True.") from None
            if _PACKING in str(e):
                raise ValueError(
                    f"packing={self.packing}: a batch did not split into packs of {self.packing} "
                    f"samples on every replica. Use a batch size divisible by "
                    f"{self.packing * self.distribute_strategy.num_replicas_in_sync} and "
                    f"drop_remainder=True.") from None
            raise

    def _check_packing_batches(self, x, batch_size):
        """Fails before training when batches cannot be packed."""
        m = self.packing
        if m == 1:
            return
        unit = m * self.distribute_strategy.num_replicas_in_sync
        hint = (f"packing={m} needs every batch divisible by {unit} ({m} samples per D input"
                f"{f' on each of {unit // m} replicas' if unit > m else ''})")
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            spec = spec[0] if isinstance(spec, (tuple, list)) else spec
            b = spec.shape[0] if spec.shape.rank else None
            if b is not None and b % unit:
                raise ValueError(f"{hint}; the dataset yields batches of {b}.")
            return
        n = len(x)
        bs = batch_size or 32
        if bs % unit or (n % bs) % unit:
            raise ValueError(f"{hint}; batch_size={bs} with {n} samples gives batches of "
                             f"{bs}{f' and a last batch of {n % bs}' if n % bs else ''}.")

    # ------------------------------------------------------------- generate
    def generate(self, num_samples=None, z=None, labels=None, seed=None, batch_size=256):
        """Generates samples in the data's range (images in [-1, 1]).

        Args:
            num_samples: how many samples; optional when ``z`` is given.
            z: explicit latents ``[n, latent_dim]``.
            labels: int labels ``[n]`` for conditional models; by default
                ``0, 1, ..., num_classes-1, 0, ...``.
            seed: int. Sample ``i`` uses latent seed ``seed + i`` (see
                ``kgan.noise``), so the same seed gives the same samples, here
                and from the exported ``generate_from_seed`` signature.
            batch_size: generator batch size.

        Returns:
            numpy float32 array ``[n] + data_shape``.

        Example:
            >>> images = gan.generate(16, seed=0)
        """
        if z is None:
            if num_samples is None:
                raise ValueError("generate() needs num_samples or z.")
            n = int(num_samples)
            if seed is not None:
                z = noise_lib.latents_from_seeds(np.arange(seed, seed + n, dtype=np.int64), self.latent_dim)
            else:
                z = keras.random.normal((n, self.latent_dim), seed=self.seed_generator)
        else:
            if seed is not None:
                raise ValueError("Pass either z or seed, not both.")
            z = ops.convert_to_tensor(z, "float32")
            if len(z.shape) != 2 or z.shape[1] != self.latent_dim:
                raise ValueError(f"z: expected shape (batch, {self.latent_dim}), got {tuple(z.shape)}.")
            if num_samples is not None and int(num_samples) != z.shape[0]:
                raise ValueError(f"num_samples={num_samples} but z has {z.shape[0]} rows.")
        n = int(z.shape[0])
        if self.num_classes:
            if labels is None:
                labels = np.arange(n) % self.num_classes
            labels = np.asarray(labels)
            if labels.shape != (n,):
                raise ValueError(f"labels: expected shape ({n},), got {labels.shape}.")
            validation.check_labels_in_range(labels, self.num_classes, "labels")
            labels = labels.astype("int32")
        elif labels is not None:
            raise ValueError("labels were given but this model is not conditional.")
        outs = []
        for i in range(0, n, batch_size):
            zi = z[i:i + batch_size]
            li = labels[i:i + batch_size] if self.num_classes else None
            outs.append(ops.convert_to_numpy(self._generate_fn(self._g_inputs(zi, li))))
        return np.concatenate(outs, 0).astype("float32") if outs else np.zeros((0,) + self.data_shape, "float32")

    @tf.function(reduce_retracing=True)
    def _generate_fn(self, inputs):
        return tf.cast(self.generator(inputs, training=False), tf.float32)

    # --------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        config.update({
            "generator": keras.saving.serialize_keras_object(self.generator),
            "discriminator": keras.saving.serialize_keras_object(self.discriminator),
            "data_shape": list(self.data_shape),
            "latent_dim": self.latent_dim,
            "num_classes": self.num_classes,
            "architecture": self.architecture,
            "loss": self.gan_loss.name,
            "d_steps": self.d_steps,
            "real_label": self.real_label,
            "gradient_penalty": self.gradient_penalty,
            "gp_weight": self.gp_weight,
            "r1_gamma": self.r1_gamma,
            "d_weight_penalty": self.d_weight_penalty,
            "instance_noise": self.instance_noise,
            "instance_noise_steps": self.instance_noise_steps,
            "replay_buffer_size": self.replay_buffer_size,
            "replay_fraction": self.replay_fraction,
            "feature_matching": self.feature_matching,
            "feature_matching_layer": self.feature_matching_layer,
            "packing": self.packing,
            "unrolled_steps": self.unrolled_steps,
            "d_conditioning": self.d_conditioning,
            "aux_weight": self.aux_weight,
            "generator_options": self.generator_options,
            "discriminator_options": self.discriminator_options,
            "seed": self.seed,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["discriminator"] = keras.saving.deserialize_keras_object(config["discriminator"])
        return cls(**config)

    def save_own_variables(self, store):
        # The noise stream is training state too: without it a resumed run
        # would replay noise it has already used and diverge from an
        # uninterrupted one.
        super().save_own_variables(store)
        store["noise_seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if "noise_seed_state" in keys:
            self.seed_generator.state.assign(store["noise_seed_state"])
        own = {k: store[k] for k in keys if k != "noise_seed_state"}
        super().load_own_variables(own)

    def get_compile_config(self):
        if self.g_optimizer is None:
            return None
        return {
            "g_optimizer": keras.saving.serialize_keras_object(self.g_optimizer),
            "d_optimizer": keras.saving.serialize_keras_object(self.d_optimizer),
            "jit_compile": bool(self.jit_compile),
            "steps_per_execution": self.steps_per_execution,
        }

    def compile_from_config(self, config):
        config = dict(config)
        config["g_optimizer"] = keras.saving.deserialize_keras_object(config["g_optimizer"])
        config["d_optimizer"] = keras.saving.deserialize_keras_object(config["d_optimizer"])
        self.compile(**config)


@keras.saving.register_keras_serializable(package="kgan")
class VanillaGAN(GAN):
    """Goodfellow et al. (2014): MLP generator and discriminator.

    Same arguments as :class:`GAN`, with ``architecture="mlp"``.

    Example:
        >>> gan = VanillaGAN(data_shape=(2,), latent_dim=8)
    """

    default_architecture = "mlp"


@keras.saving.register_keras_serializable(package="kgan")
class DCGAN(GAN):
    """Radford et al. (2016): convolutional G and D for square images.

    Same arguments as :class:`GAN`, with ``architecture="dcgan"`` (28, 32 or
    64 pixel images with 1 or 3 channels). Pass ``num_classes`` for a
    conditional DCGAN, ``loss="least_squares"`` for an LSGAN-DCGAN.

    Example:
        >>> gan = DCGAN(data_shape=(28, 28, 1), generator_options={"base_filters": 32})
    """

    default_architecture = "dcgan"


@keras.saving.register_keras_serializable(package="kgan")
class LSGAN(GAN):
    """Mao et al. (2017): the least-squares loss (a=0, b=c=1).

    Same arguments as :class:`GAN`, with ``loss="least_squares"``; the
    architecture is DCGAN for supported images and an MLP otherwise.

    Example:
        >>> gan = LSGAN(data_shape=(2,), latent_dim=8)
    """

    default_loss = "least_squares"


@keras.saving.register_keras_serializable(package="kgan")
class ConditionalGAN(GAN):
    """Mirza & Osindero (2014): G and D both conditioned on class labels.

    Trains on ``(images, labels)`` batches and generates on requested labels.
    ``num_classes`` is required.

    Example:
        >>> gan = ConditionalGAN(data_shape=(28, 28, 1), num_classes=10)
        >>> gan.generate(labels=[3, 3, 7], num_samples=3, seed=0)
    """

    def __init__(self, generator=None, discriminator=None, *, num_classes=None, **kwargs):
        if not num_classes:
            raise ValueError("ConditionalGAN needs num_classes (an int >= 2).")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)


@keras.saving.register_keras_serializable(package="kgan")
class WGANGP(GAN):
    """Wasserstein GAN with gradient penalty (Gulrajani et al. 2017).

    Defaults over :class:`GAN` from the paper's Algorithm 1: the Wasserstein
    loss, ``gradient_penalty="wgan-gp"`` with ``gp_weight=10`` (uniform
    per-sample interpolation weights, NaN-safe norm), ``d_steps=5`` critic
    updates per generator update, and, for DCGAN critics, layer norm instead
    of batch norm (batch norm couples the samples whose gradients are
    penalised). Every default can be overridden by keyword.

    Optimizers are chosen in ``compile()``; with none given it uses the
    paper's ``Adam(1e-4, beta_1=0.0, beta_2=0.9)`` for both networks.

    Gulrajani et al., "Improved Training of Wasserstein GANs", NeurIPS 2017.

    Example:
        >>> gan = WGANGP(data_shape=(28, 28, 1))
        >>> gan.compile()  # Adam(1e-4, 0.0, 0.9) for G and the critic
        >>> gan.fit(images, epochs=5, batch_size=64)
    """

    default_loss = "wasserstein"
    default_optimizer = {"learning_rate": 1e-4, "beta_1": 0.0, "beta_2": 0.9}

    def __init__(self, generator=None, discriminator=None, **kwargs):
        kwargs.setdefault("gradient_penalty", "wgan-gp")
        kwargs.setdefault("gp_weight", 10.0)
        kwargs.setdefault("d_steps", 5)
        super().__init__(generator, discriminator, **kwargs)

    def _default_discriminator_options(self, architecture):
        if networks.resolve_architecture(architecture, self.data_shape) == "dcgan":
            return {"normalization": "layer"}
        return {}


@keras.saving.register_keras_serializable(package="kgan")
class ACGAN(GAN):
    """Auxiliary classifier GAN (Odena et al. 2017).

    G is conditioned on a class label; D is NOT given the label, and instead
    returns ``[scores, class_logits]``: the real/fake score and a prediction
    of the class. D minimises the adversarial loss plus the class
    cross-entropy on real and generated samples; G minimises its adversarial
    loss plus the class cross-entropy of its samples (eqs. 2-3 of the paper,
    weighted by ``aux_weight``). Built discriminators get the class head
    (``networks.build_*_discriminator(aux_classes=...)``); a given D must
    return the two outputs. Same arguments as :class:`GAN`, with
    ``num_classes`` required and ``d_conditioning="auxiliary"``.

    Odena et al., "Conditional Image Synthesis with Auxiliary Classifier
    GANs", ICML 2017.

    Example:
        >>> gan = ACGAN(data_shape=(28, 28, 1), num_classes=10)
        >>> gan.compile()
        >>> gan.fit(images, labels, epochs=5, batch_size=64)
        >>> gan.generate(labels=[3, 3, 7], num_samples=3, seed=0)
    """

    def __init__(self, generator=None, discriminator=None, *, num_classes=None, **kwargs):
        if not num_classes:
            raise ValueError("ACGAN needs num_classes (an int >= 2).")
        kwargs.setdefault("d_conditioning", "auxiliary")
        super().__init__(generator, discriminator, num_classes=num_classes, **kwargs)
