"""Chen et al., "InfoGAN: Interpretable Representation Learning by Information Maximizing GANs", NeurIPS 2016."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import networks
from kgan import noise as noise_lib
from kgan.core import sampling
from kgan.core.gan import GAN
from kgan.core.pieces import Term, check_list
from kgan.objectives import MutualInformation

# Stateless stream ids of the codes drawn from a seed (the noise uses noise_lib.STREAM).
CODE_STREAM = noise_lib.STREAM + 1


def code_latents(seeds, noise_dim, categorical, continuous, category_ids=None, values=None):
    """``[noise(seed), one_hot(codes)..., continuous]`` per seed, with TensorFlow ops.

    What ``InfoGAN.generate(seed=...)`` and the export's seed signatures
    compute. Codes not given are drawn from their prior with stateless ops
    keyed on the seed (uniform categories, U(-1, 1) continuous values).

    Args:
        seeds: int ``[batch]``.
        noise_dim: width of the incompressible noise.
        categorical: category counts, one per categorical code.
        continuous: number of continuous codes.
        category_ids: optional int ``[batch, len(categorical)]``.
        values: optional float ``[batch, continuous]``.

    Returns:
        float32 ``[batch, noise_dim + sum(categorical) + continuous]``.

    Example:
        >>> code_latents([0, 1], 62, (10,), 2).shape
        TensorShape([2, 74])
    """
    seeds = tf.cast(tf.convert_to_tensor(seeds), tf.int64)
    parts = [noise_lib.latents_from_seeds(seeds, noise_dim)]

    def per_seed(draw, spec):
        return tf.map_fn(draw, seeds, fn_output_signature=spec)

    for j, k in enumerate(categorical):
        if category_ids is None:
            ids = per_seed(lambda s, j=j, k=k: tf.random.stateless_uniform(
                [], seed=tf.stack([s, tf.constant(CODE_STREAM + j, tf.int64)]), minval=0,
                maxval=k, dtype=tf.int64), tf.TensorSpec([], tf.int64))
        else:
            ids = tf.cast(category_ids[:, j], tf.int64)
        parts.append(tf.one_hot(ids, k, dtype=tf.float32))
    if continuous:
        if values is None:
            stream = tf.constant(CODE_STREAM + len(categorical), tf.int64)
            values = per_seed(lambda s: tf.random.stateless_uniform(
                [continuous], seed=tf.stack([s, stream]), minval=-1.0, maxval=1.0),
                tf.TensorSpec([continuous], tf.float32))
        parts.append(tf.cast(values, tf.float32))
    return tf.concat(parts, -1)


@keras.saving.register_keras_serializable(package="kgan")
class InfoGAN(GAN):
    """A GAN whose latent carries codes that Q must recover from the sample.

    G's input is ``z = [noise, one_hot(c_1), ..., one_hot(c_m), c_cont]``:
    categorical codes drawn uniformly, continuous codes from U(-1, 1). D
    returns ``[scores, q_outputs]``: Q is a head on D's trunk (the built
    networks add it; a custom D must return both), with one logit per
    category of every categorical code, then one mean per continuous code.
    Built convolutional networks follow the paper's MNIST setup: an FC 1024
    layer in G and in D's trunk, and an FC 128 hidden layer in Q
    (``generator_options`` / ``discriminator_options`` keys ``dense_units``
    and ``aux_hidden_units`` override them; 0 removes them).
    The :class:`kgan.objectives.MutualInformation` term (added unless
    ``terms`` hold one) adds the codes' negative log-likelihood under Q to
    G's and D's losses. Codes are drawn through ``model.draw`` (global
    batch, this replica's rows), so N replicas train as one device.

    ``fit`` also logs ``info_loss``: that negative log-likelihood on D's
    fakes (unweighted; ``H(c) - info_loss`` is the bound on the mutual
    information, ``log 10`` for one 10-way code at its best).

    Args:
        noise_dim: width of the incompressible noise (62 in the paper's MNIST
            setup).
        categorical: category counts of the categorical codes, e.g. ``(10,)``.
        continuous: number of continuous codes (2 in the paper's MNIST setup).
        latent_dim: optional; must equal ``noise_dim + sum(categorical) +
            continuous`` (it is stored by ``get_config``).
        **kwargs: :class:`kgan.GAN` arguments (``architecture``, ``loss``,
            ``terms``, options, ``seed``). No ``num_classes``: InfoGAN is
            unsupervised.

    Example:
        >>> gan = InfoGAN(data_shape=(28, 28, 1), categorical=(10,), continuous=2)
        >>> gan.compile()
        >>> gan.fit(images, epochs=5, batch_size=64)
        >>> sevens = gan.generate(10, seed=0, codes={"categorical": [3] * 10})
        >>> gan.infer_codes(images[:5])["categorical"]
    """

    metric_names = GAN.metric_names + ("info_loss",)

    def __init__(self, generator=None, discriminator=None, *, noise_dim=62, categorical=(10,),
                 continuous=2, latent_dim=None, num_classes=None, **kwargs):
        if num_classes:
            raise ValueError("InfoGAN is unsupervised: got num_classes; its categorical codes "
                             "(categorical=(10,)) play the role of labels.")
        categorical = tuple(int(k) for k in (categorical or ()))
        if any(k < 2 for k in categorical):
            raise ValueError(f"categorical codes need >= 2 categories each, got {categorical}.")
        if int(noise_dim) < 1 or int(continuous) < 0:
            raise ValueError(f"noise_dim must be >= 1 and continuous >= 0, got {noise_dim} "
                             f"and {continuous}.")
        if not categorical and not int(continuous):
            raise ValueError("InfoGAN needs at least one code (categorical or continuous).")
        total = int(noise_dim) + sum(categorical) + int(continuous)
        if latent_dim is not None and int(latent_dim) != total:
            raise ValueError(f"latent_dim={latent_dim} does not match noise_dim + codes = "
                             f"{noise_dim} + {sum(categorical)} + {continuous} = {total}.")
        q_dim = sum(categorical) + int(continuous)
        if generator is None or discriminator is None:
            data_shape = kwargs.get("data_shape")
            if data_shape is None:
                raise ValueError("data_shape is required when no networks are given, "
                                 "e.g. data_shape=(28, 28, 1).")
            arch = kwargs.get("architecture") or self.default_architecture
            g_opts = dict(kwargs.get("generator_options") or {})
            d_opts = {**(kwargs.get("discriminator_options") or {}), "aux_classes": q_dim}
            if networks.resolve_architecture(arch, data_shape) == "dcgan":
                # The paper's MNIST networks (appendix C.1): FC 1024 in G and in D's
                # trunk, and Q's own FC 128 layer. Measured in benchmarks/infogan.py:
                # without them Q's code matched the digit on 37-45 % of real digits.
                for opts, key, units in ((g_opts, "dense_units", 1024),
                                         (d_opts, "dense_units", 1024),
                                         (d_opts, "aux_hidden_units", 128)):
                    opts.setdefault(key, units)
            g, d = networks.build_networks(arch, total, data_shape, None, g_opts, d_opts)
            generator, discriminator = generator or g, discriminator or d
        terms = check_list(kwargs.pop("terms", None), Term, "terms")
        if not any(isinstance(t, MutualInformation) for t in terms):
            terms.insert(0, MutualInformation(1.0))
        self._layout = (int(noise_dim), categorical, int(continuous))
        super().__init__(generator, discriminator, latent_dim=total, terms=terms, **kwargs)
        self.noise_dim, self.categorical, self.continuous = self._layout

    # ------------------------------------------------------------- the codes
    @property
    def extra_d_outputs(self):
        """Width of Q's outputs (checked on the discriminator)."""
        return sum(self._layout[1]) + self._layout[2]

    def code_layout(self):
        """``(noise_dim, categorical, continuous)``: how ``z`` is laid out."""
        return self._layout

    def prior(self, n, seed):
        """``n`` latents from the prior, drawn from ``seed`` (a SeedGenerator)."""
        noise_dim, categorical, continuous = self._layout
        parts = [keras.random.normal((n, noise_dim), seed=seed)]
        for k in categorical:
            parts.append(ops.one_hot(keras.random.randint((n,), 0, k, seed=seed), k))
        if continuous:
            parts.append(keras.random.uniform((n, continuous), -1.0, 1.0, seed=seed))
        return ops.concatenate([ops.cast(p, "float32") for p in parts], -1)

    def sample_noise(self, batch_size, seed_generator=None):
        """Noise and codes for this replica's rows of the global batch."""
        sg = seed_generator or self.seed_generator
        return self.draw(lambda n: self.prior(n, sg), batch_size)

    def latents_from_seeds(self, seeds):
        """Per-seed latents (noise and codes), as ``generate(seed=)`` and the export draw them."""
        return code_latents(seeds, *self._layout)

    def critic(self, x, labels, training=True):
        """D on viewed inputs: ``(scores, q_outputs)``, float32."""
        scores, q = self.discriminator(x, training=training)
        return ops.cast(scores, "float32"), ops.cast(q, "float32")

    def _track(self, batch, d_loss, g_loss, record):
        if record.z is not None and record.fake_logits is not None:
            nll = MutualInformation(1.0, 1.0).values(record)
            n = ops.cast(batch.size, "float32")
            self.update_trackers({"info_loss": ops.sum(nll) / n}, n)
        return super()._track(batch, d_loss, g_loss, record)

    def check_codes(self, codes, n=None):
        """``(category_ids [n, m] or None, values [n, c] or None, n)`` from a ``codes`` dict.

        Raises:
            ValueError: unknown keys, wrong shapes, categories out of range,
                non-finite values.
        """
        if not isinstance(codes, dict) or set(codes) - {"categorical", "continuous"}:
            raise ValueError("codes must be a dict with 'categorical' and/or 'continuous', got "
                             f"{codes!r:.200}.")
        _, categorical, continuous = self._layout
        ids = values = None
        if codes.get("categorical") is not None:
            ids = np.asarray(codes["categorical"])
            if ids.ndim == 1 and len(categorical) == 1:
                ids = ids[:, None]
            if ids.ndim != 2 or ids.shape[1] != len(categorical) or \
                    not np.issubdtype(ids.dtype, np.integer):
                raise ValueError(f"codes['categorical']: expected integers of shape (n, "
                                 f"{len(categorical)}), got {ids.dtype} {ids.shape}.")
            for j, k in enumerate(categorical):
                if ids.size and (ids[:, j].min() < 0 or ids[:, j].max() >= k):
                    raise ValueError(f"codes['categorical'][:, {j}]: expected categories in "
                                     f"[0, {k}), got values in [{ids[:, j].min()}, "
                                     f"{ids[:, j].max()}].")
        if codes.get("continuous") is not None:
            values = np.asarray(codes["continuous"], np.float32)
            if values.ndim != 2 or values.shape[1] != continuous:
                raise ValueError(f"codes['continuous']: expected shape (n, {continuous}), got "
                                 f"{values.shape}.")
            if not np.isfinite(values).all():
                raise ValueError("codes['continuous']: expected finite values, got NaN or Inf.")
        rows = {a.shape[0] for a in (ids, values) if a is not None}
        if n is not None:
            rows.add(int(n))
        if len(rows) > 1:
            raise ValueError(f"codes and num_samples disagree on the number of samples: {rows}.")
        if not rows:
            raise ValueError("generate() needs num_samples or codes.")
        return ids, values, rows.pop()

    def generate(self, num_samples=None, z=None, labels=None, seed=None, batch_size=256,
                 raw=False, codes=None):
        """Generates samples; ``codes`` fix some or all codes.

        Args:
            num_samples: how many (optional when ``z`` or ``codes`` give it).
            z: explicit full latents ``[n, latent_dim]`` (noise then codes).
            labels: not supported (InfoGAN is unconditional); use ``codes``.
            seed: int; sample ``i`` uses seed ``seed + i`` for its noise and
                the codes not given, exactly as the export's
                ``generate_from_seed`` / ``generate_from_codes``.
            batch_size: generator batch size.
            raw: sample the trained generator, not the EMA one (``ema_decay``).
            codes: ``{"categorical": int [n] or [n, m], "continuous": float
                [n, c]}``; what is left out is drawn from the prior.

        Returns:
            numpy float32 ``[n] + data_shape``.

        Example:
            >>> gan.generate(10, seed=0, codes={"categorical": np.arange(10)})
        """
        if labels is not None:
            raise ValueError("labels were given but InfoGAN is unconditional; fix its codes "
                             "with codes={'categorical': ...}.")
        if codes is None and (z is not None or seed is not None):
            return super().generate(num_samples, z=z, seed=seed, batch_size=batch_size, raw=raw)
        if z is not None:
            raise ValueError("Pass either z or codes, not both.")
        ids, values, n = (self.check_codes(codes, num_samples) if codes is not None
                          else (None, None, num_samples))
        n = sampling.check_count(n, self.data_shape)
        if seed is not None:
            base = ops.convert_to_numpy(self.latents_from_seeds(
                np.arange(seed, seed + n, dtype=np.int64)))
        else:
            base = ops.convert_to_numpy(self.prior(n, self.seed_generator))
        z = np.array(base, np.float32)
        start = self.noise_dim
        for j, k in enumerate(self.categorical):
            if ids is not None:
                z[:, start:start + k] = np.eye(k, dtype=np.float32)[ids[:, j]]
            start += k
        if values is not None:
            z[:, start:start + self.continuous] = values
        return sampling.generate(self, self.sampling_network(raw), z=z, batch_size=batch_size)

    def infer_codes(self, x, batch_size=256):
        """Q's reading of samples ``x``: the most likely categories and the continuous means.

        Returns:
            dict: ``categorical`` int ``[n, m]``, ``probabilities`` (a list of
            ``[n, k]`` arrays, one per categorical code) and ``continuous``
            float ``[n, c]``.

        Example:
            >>> gan.infer_codes(real_digits)["categorical"][:, 0]
        """
        x = np.asarray(x, np.float32)
        qs = [ops.convert_to_numpy(self.critic(x[i:i + batch_size], None, training=False)[1])
              for i in range(0, len(x), batch_size)]
        q = np.concatenate(qs) if qs else np.zeros((0, self.extra_d_outputs), np.float32)
        probs, start = [], 0
        for k in self.categorical:
            logits = q[:, start:start + k]
            e = np.exp(logits - logits.max(-1, keepdims=True))
            probs.append(e / e.sum(-1, keepdims=True))
            start += k
        return {"categorical": np.stack([p.argmax(-1) for p in probs], -1) if probs else
                np.zeros((len(q), 0), np.int64),
                "probabilities": probs, "continuous": q[:, start:]}

    def get_config(self):
        config = super().get_config()
        config.update({"noise_dim": self.noise_dim, "categorical": list(self.categorical),
                       "continuous": self.continuous})
        config.pop("num_classes", None)
        return config
