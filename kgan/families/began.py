"""Berthelot et al., "BEGAN: Boundary Equilibrium Generative Adversarial Networks", 2017."""

from __future__ import annotations

import tensorflow as tf
import keras
from keras import ops

from kgan import began_networks as networks
from kgan import steps as steps_lib
from kgan.core import replica
from kgan.core.gan import GAN


def reconstruction_loss(x, reconstruction):
    """BEGAN's L(v) = |v - D(v)| per example: the mean absolute error over its values (eta = 1).

    Example:
        >>> reconstruction_loss(np.ones((2, 3)), np.zeros((2, 3)))  # [1., 1.]
    """
    x = ops.cast(x, "float32")
    diff = ops.abs(x - ops.cast(reconstruction, "float32"))
    return ops.mean(ops.reshape(diff, (ops.shape(diff)[0], -1)), axis=-1)


@keras.saving.register_keras_serializable(package="kgan")
class BEGAN(GAN):
    """An autoencoder D and an equilibrium controller k_t (eq. 4 of the paper).

    Per step, with per-example L1 reconstruction losses L(v) = |v - D(v)|:

    * D minimises ``L(x) - k_t * L(G(z_D))``; G minimises ``L(G(z_G))``
      (both gradients from one forward pass, as in the paper);
    * ``k_{t+1} = clip(k_t + lambda_k * (gamma * L(x) - L(G(z_G))), 0, 1)``;
    * ``M_global = L(x) + |gamma * L(x) - L(G(z_G))|``, the convergence
      measure.

    ``k_t`` is a model variable: saved with the weights, restored on resume,
    updated exactly once per step from the GLOBAL-batch means of L(x) and
    L(G(z_G)) (all-reduced), so N replicas update it as one device would.
    ``fit`` logs ``g_loss``, ``d_loss``, ``m_global``, ``k_t`` (after the
    step's update), ``loss_real`` (L(x)) and ``loss_fake`` (L(G(z_G))),
    global-batch values averaged over the epoch like every Keras metric, so
    ``keras.callbacks.TensorBoard`` plots the M_global curve.

    Networks (built when not given): G is the decoder, D an encoder, an
    ``embedding``-unit code and a decoder (``kgan.networks.build_began_*``),
    convolutional for square 28/32/64 px images, MLPs otherwise. A custom D
    must return a reconstruction of its input's shape; each step feeds it the
    real batch and both fake batches as one batch.

    Args:
        gamma: diversity ratio gamma = E[L(G(z))] / E[L(x)] (0.5 default;
            the paper shows 0.3-0.7).
        lambda_k: proportional gain of k_t (0.001 in the paper).
        k_initial: k_0 (0 in the paper).
        embedding: D's embedding width h (64 in the paper).
        filters: convolution channels n of both networks.
        hidden_units: MLP widths of both networks.
        **kwargs: ``data_shape``, ``latent_dim`` (default 64, N_z),
            ``architecture``, ``seed``. The adversarial ``loss``, ``terms``,
            ``transforms``, ``step`` and ``d_steps`` of other families do not
            apply and are refused.

    Example:
        >>> gan = BEGAN(data_shape=(28, 28, 1), gamma=0.5)
        >>> gan.compile()
        >>> hist = gan.fit(images, epochs=5, batch_size=64)
        >>> hist.history["m_global"], hist.history["k_t"]
    """

    metric_names = ("g_loss", "d_loss", "m_global", "k_t", "loss_real", "loss_fake")
    # Adam(1e-4) as in the paper (beta_1 0.5, as common implementations use).
    default_optimizer = {"learning_rate": 1e-4, "beta_1": 0.5}

    def __init__(self, generator=None, discriminator=None, *, gamma=0.5, lambda_k=0.001,
                 k_initial=0.0, embedding=64, filters=32, hidden_units=(128, 128),
                 latent_dim=None, num_classes=None, **kwargs):
        if num_classes:
            raise ValueError("BEGAN is unconditional here; got num_classes.")
        for key in ("terms", "transforms"):
            if kwargs.get(key):
                raise ValueError(f"BEGAN does not take {key}: its game is the reconstruction "
                                 f"losses and k_t, got {kwargs[key]!r}.")
        if int(kwargs.get("d_steps", 1)) != 1:
            raise ValueError(f"BEGAN updates D and G once per step; got d_steps="
                             f"{kwargs['d_steps']}.")
        step = steps_lib.get(kwargs.pop("step", None))
        if type(step) is not steps_lib.Alternating:
            raise ValueError(f"BEGAN runs its own step; got step={step!r}.")
        if isinstance(kwargs.get("loss"), str) or isinstance(kwargs.get("loss"),
                                                               keras.losses.Loss):
            raise ValueError("BEGAN's loss is its L1 reconstruction game; loss= is not used.")
        if not 0.0 <= float(gamma) <= 1.0:
            raise ValueError(f"gamma must be in [0, 1], got {gamma}.")
        if float(lambda_k) < 0 or not 0.0 <= float(k_initial) <= 1.0:
            raise ValueError(f"lambda_k must be >= 0 and k_initial in [0, 1], got {lambda_k} "
                             f"and {k_initial}.")
        if latent_dim is None:  # N_z = 64 in the paper; a given G says its own
            latent_dim = int(generator.inputs[0].shape[-1]) if generator is not None else 64
        latent_dim = int(latent_dim)
        self._settings = dict(gamma=float(gamma), lambda_k=float(lambda_k),
                              k_initial=float(k_initial), embedding=int(embedding),
                              filters=int(filters), hidden_units=tuple(int(u) for u in hidden_units))
        if generator is None or discriminator is None:
            data_shape = kwargs.get("data_shape")
            if data_shape is None:
                raise ValueError("data_shape is required when no networks are given, "
                                 "e.g. data_shape=(28, 28, 1).")
            arch = kwargs.get("architecture") or "auto"
            generator = generator or networks.build_began_generator(
                latent_dim, data_shape, arch, filters, hidden_units)
            discriminator = discriminator or networks.build_began_discriminator(
                data_shape, arch, filters, embedding, hidden_units)
        super().__init__(generator, discriminator, latent_dim=latent_dim, **kwargs)
        for key, value in self._settings.items():
            setattr(self, key, value)
        out = self.discriminator(ops.zeros((2,) + self.data_shape), training=False)
        if tuple(out.shape[1:]) != self.data_shape:
            raise ValueError(f"BEGAN's discriminator must reconstruct its input (shape "
                             f"{self.data_shape}), got outputs of shape {tuple(out.shape[1:])}.")
        # Read and written once per step by every replica with the same
        # all-reduced value; ONLY_FIRST_REPLICA lets a replica context assign it.
        self.k_t = keras.Variable(self.k_initial, dtype="float32", trainable=False, name="k_t",
                                  aggregation="only_first_replica")

    def reconstruction(self, x, training=True):
        """L(x) per example: D's L1 reconstruction error (float32 ``[n]``)."""
        return reconstruction_loss(x, self.discriminator(x, training=training))

    def _global_mean(self, per_example, batch):
        """The GLOBAL-batch mean of per-example values, the same on every replica."""
        return replica.all_sum(ops.sum(ops.stop_gradient(per_example))) / batch.global_size

    def _log(self, batch, d_loss, g_loss, l_real, l_fake, k):
        n = ops.cast(batch.size, "float32")
        share = batch.global_size / n
        balance = self.gamma * l_real - l_fake
        self.update_trackers({"d_loss": d_loss * share, "g_loss": g_loss * share,
                              "m_global": l_real + ops.abs(balance), "k_t": k,
                              "loss_real": l_real, "loss_fake": l_fake}, n)
        return self.logs()

    def train_step(self, data):
        batch = self.unpack(data)
        z_d = self.sample_noise(batch.size)
        z_g = self.sample_noise(batch.size)
        k = ops.convert_to_tensor(self.k_t.value)
        with tf.GradientTape() as d_tape, tf.GradientTape() as g_tape:
            fake_d = ops.stop_gradient(self.generator(z_d, training=True))
            fake_g = self.generator(z_g, training=True)
            # One pass of D over the three batches (D has no batch statistics, so
            # each example's reconstruction is what three passes would give).
            n = ops.shape(fake_g)[0]
            losses = self.reconstruction(
                ops.concatenate([ops.cast(batch.real, fake_g.dtype), fake_d, fake_g], 0))
            l_real, l_fake_d, l_fake_g = losses[:n], losses[n:2 * n], losses[2 * n:]
            # Per-example sums over the GLOBAL batch (the distribution rule).
            d_loss = (ops.sum(l_real) - k * ops.sum(l_fake_d)) / batch.global_size
            g_loss = ops.sum(l_fake_g) / batch.global_size
            d_loss = d_loss + self._layer_losses(self.discriminator)
            g_loss = g_loss + self._layer_losses(self.generator)
        self.apply(self.d_optimizer, d_loss, d_tape, self.discriminator.trainable_variables,
                   "discriminator")
        self.apply(self.g_optimizer, g_loss, g_tape, self.generator.trainable_variables,
                   "generator")
        real_mean = self._global_mean(l_real, batch)
        fake_mean = self._global_mean(l_fake_g, batch)
        k_next = ops.clip(k + self.lambda_k * (self.gamma * real_mean - fake_mean), 0.0, 1.0)
        self.k_t.assign(k_next)
        return self._log(batch, d_loss, g_loss, real_mean, fake_mean, k_next)

    def _layer_losses(self, network):
        return (replica.replica_scale(ops.cast(ops.sum(network.losses), "float32"))
                if network.losses else 0.0)

    def test_step(self, data):
        """The losses, M_global and k_t on held-out real data and fresh fakes; no update."""
        batch = self.unpack(data)
        z = self.sample_noise(batch.size, self.eval_seed_generator)
        fake = self.generator(z, training=False)
        k = ops.convert_to_tensor(self.k_t.value)
        l_real = self.reconstruction(batch.real, training=False)
        l_fake = self.reconstruction(fake, training=False)
        d_loss = (ops.sum(l_real) - k * ops.sum(l_fake)) / batch.global_size
        g_loss = ops.sum(l_fake) / batch.global_size
        return self._log(batch, d_loss, g_loss, self._global_mean(l_real, batch),
                         self._global_mean(l_fake, batch), k)

    def get_config(self):
        config = super().get_config()
        config.update({**self._settings, "hidden_units": list(self._settings["hidden_units"])})
        for key in ("num_classes", "terms", "transforms", "step", "d_steps", "loss",
                    "d_conditioning"):
            config.pop(key, None)
        return config
