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
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import distribute
from kgan import losses as losses_lib
from kgan import networks
from kgan import noise as noise_lib
from kgan import validation

_NONFINITE = "kgan: non-finite loss"
_LABEL_RANGE = "kgan: label out of range"


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss becomes NaN/Inf; the step's update is not applied."""


def _num_replicas():
    return tf.distribute.get_strategy().num_replicas_in_sync


@keras.saving.register_keras_serializable(package="kgan")
class GAN(keras.Model):
    """A generative adversarial network trained by ``model.fit``.

    Args:
        generator: a Keras model mapping ``z`` (or ``[z, labels]``) to
            samples. Built from ``architecture`` when omitted.
        discriminator: a Keras model mapping samples (or ``[samples,
            labels]``) to raw scores ``[batch, 1]``. Built when omitted.
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
        d_steps: k, discriminator updates per generator update.
        real_label: D's target for real data in sigmoid/least-squares
            losses; ``0.9`` is one-sided label smoothing (Salimans et al.
            2016).
        generator_options: keyword arguments for the generator builder
            (e.g. ``{"base_filters": 32}``).
        discriminator_options: keyword arguments for the discriminator
            builder.
        seed: seed of the noise ``SeedGenerator``.

    Example:
        >>> gan = GAN(data_shape=(2,), latent_dim=8, architecture="mlp")
        >>> gan.compile()
        >>> gan.fit(points, epochs=1, batch_size=64)
        >>> gan.generate(16, seed=0).shape
        (16, 2)
    """

    default_architecture = "auto"
    default_loss = "non_saturating"

    def __init__(self, generator=None, discriminator=None, *, data_shape=None,
                 latent_dim=None, num_classes=None, architecture=None, loss=None,
                 d_steps=1, real_label=1.0, generator_options=None,
                 discriminator_options=None, seed=None, **kwargs):
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
            g, d = networks.build_networks(
                architecture, self.latent_dim, self.data_shape, self.num_classes,
                self.generator_options, self.discriminator_options)
            generator = generator or g
            discriminator = discriminator or d
        self.generator = generator
        self.discriminator = discriminator
        self.seed_generator = keras.random.SeedGenerator(seed)
        self._check_networks()

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
        return [x, labels] if self.num_classes else x

    def _check_networks(self):
        z = ops.zeros((2, self.latent_dim))
        labels = ops.zeros((2,), "int32")
        try:
            out = self.generator(self._g_inputs(z, labels), training=False)
        except Exception as e:  # pragma: no cover - message path
            raise ValueError(
                f"The generator could not run on z of shape (batch, {self.latent_dim})"
                f"{' and labels (batch,)' if self.num_classes else ''}: {e}") from e
        if tuple(out.shape[1:]) != self.data_shape:
            raise ValueError(f"The generator outputs samples of shape {tuple(out.shape[1:])}, "
                             f"expected data_shape {self.data_shape}.")
        try:
            score = self.discriminator(self._d_inputs(out, labels), training=False)
        except Exception as e:  # pragma: no cover - message path
            raise ValueError(f"The discriminator could not run on samples of shape "
                             f"{self.data_shape}: {e}") from e
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

    def _make_optimizer(self, opt, name):
        if opt is None:
            opt = keras.optimizers.Adam(2e-4, beta_1=0.5, name=name)
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
        ctx = tf.distribute.get_replica_context()
        n = ctx.num_replicas_in_sync if ctx is not None else 1
        if n == 1:
            return keras.random.normal((batch_size, self.latent_dim), seed=self.seed_generator)
        z = keras.random.normal((batch_size * n, self.latent_dim), seed=self.seed_generator)
        start = ctx.replica_id_in_sync_group * batch_size
        return z[start:start + batch_size]

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
        ctx = tf.distribute.get_replica_context()
        n = ctx.num_replicas_in_sync if ctx is not None else 1
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

    def discriminator_loss(self, real, fake, labels, global_batch, training=True):
        """D's loss for one update, scaled for the global batch.

        Subclasses add terms (penalties) by overriding this method and adding
        ``extra / global_batch`` for per-example terms.

        Args:
            real: this replica's real samples.
            fake: this replica's generated samples (no gradient to G).
            labels: labels or ``None``.
            global_batch: float, the global batch size.
            training: forwarded to the discriminator.

        Returns:
            ``(loss, real_scores, fake_scores)``.
        """
        real_out = self.discriminator(self._d_inputs(real, labels), training=training)
        fake_out = self.discriminator(self._d_inputs(fake, labels), training=training)
        real_out = ops.cast(real_out, "float32")
        fake_out = ops.cast(fake_out, "float32")
        kwargs = {"real_label": self.real_label} if self.gan_loss.supports_label_smoothing else {}
        per_example = self.gan_loss.discriminator(real_out, fake_out, **kwargs)
        loss = ops.sum(per_example) / global_batch
        if self.discriminator.losses:
            loss = loss + self._replica_scale(ops.cast(ops.sum(self.discriminator.losses), "float32"))
        return loss, real_out, fake_out

    def generator_loss(self, fake_out, global_batch):
        """G's loss for one update, scaled for the global batch."""
        loss = ops.sum(self.gan_loss.generator(ops.cast(fake_out, "float32"))) / global_batch
        if self.generator.losses:
            loss = loss + self._replica_scale(ops.cast(ops.sum(self.generator.losses), "float32"))
        return loss

    def discriminator_step(self, real, labels, batch_size, global_batch):
        """One discriminator update on fresh noise; returns its statistics."""
        z = self.sample_noise(batch_size)
        # No tape: D's update needs no gradient through G.
        fake = ops.stop_gradient(self.generator(self._g_inputs(z, labels), training=True))
        d_vars = self.discriminator.trainable_variables
        with tf.GradientTape() as tape:
            loss, real_out, fake_out = self.discriminator_loss(real, fake, labels, global_batch)
            scaled = self.d_optimizer.scale_loss(loss)
        self._apply(self.d_optimizer, scaled, tape, d_vars, "discriminator")
        return loss, real_out, fake_out

    def generator_step(self, labels, batch_size, global_batch):
        """One generator update on fresh noise; returns G's loss."""
        z = self.sample_noise(batch_size)
        g_vars = self.generator.trainable_variables
        with tf.GradientTape() as tape:
            fake = self.generator(self._g_inputs(z, labels), training=True)
            fake_out = self.discriminator(self._d_inputs(fake, labels), training=True)
            loss = self.generator_loss(fake_out, global_batch)
            scaled = self.g_optimizer.scale_loss(loss)
        self._apply(self.g_optimizer, scaled, tape, g_vars, "generator")
        return loss

    def train_step(self, data):
        real, labels = self._unpack(data)
        real = ops.cast(real, self.compute_dtype)
        batch_size = ops.shape(real)[0]
        global_batch = ops.cast(self._global_batch(batch_size), "float32")
        for _ in range(self.d_steps):
            d_loss, real_out, fake_out = self.discriminator_step(real, labels, batch_size, global_batch)
        g_loss = self.generator_step(labels, batch_size, global_batch)
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
        acc_real = ops.mean(ops.cast(ops.mean(ops.reshape(real_out, (batch_size, -1)), -1) > thr, "float32"))
        acc_fake = ops.mean(ops.cast(ops.mean(ops.reshape(fake_out, (batch_size, -1)), -1) <= thr, "float32"))
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
            raise

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
