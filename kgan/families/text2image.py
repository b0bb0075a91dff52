"""Reed et al., "Generative Adversarial Text to Image Synthesis", ICML 2016 (GAN-CLS, GAN-INT).

Both networks see a sentence embedding from a frozen character-level text
encoder (:mod:`kgan.text`). The family is ``GAN`` with text as the condition
and two terms:

* :class:`MismatchedText` (GAN-CLS, Algorithm 1 of the paper): D also scores
  real images with the wrong sentence and must call them fake, so it learns
  whether image and text match, not only whether the image is real;
* :class:`TextInterpolation` (GAN-INT, eq. 5): G is also trained on
  interpolations of two sentences' embeddings, filling the embedding space
  between the training captions.

The mismatched partner of example ``i`` is example ``i XOR 1`` of the same
replica batch (the neighbour in a shuffled batch), so the pairs, and the
training run, are the same on one device and on N replicas.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import keras
from keras import ops

from kgan import networks
from kgan import text as text_lib
from kgan import validation
from kgan.core.gan import GAN
from kgan.objectives import ConditioningKL
from kgan.core.pieces import Term, check_list, serialize
from kgan.core.record import Batch
from kgan.core import replica


def partner(x):
    """Row ``i XOR 1`` of ``x`` (the last row of an odd batch pairs with the one before)."""
    n = ops.shape(x)[0]
    i = ops.arange(n)
    j = ops.bitwise_xor(i, 1)
    j = ops.where(j >= n, ops.maximum(i - 1, 0), j)
    return ops.take(x, j, axis=0)


@keras.saving.register_keras_serializable(package="kgan")
class MismatchedText(Term):
    """GAN-CLS: real image + mismatched sentence is scored as fake.

    With weight ``w`` D's loss becomes ``real + (1 - w) fake + w wrong``
    (``w = 0.5`` is Algorithm 1 of Reed et al. 2016), written as
    ``w * (L(real, wrong) - L(real, fake))`` on top of ``L(real, fake)``
    so it holds for every separable loss in :mod:`kgan.losses`.

    Args:
        weight: ``w`` in [0, 1].

    Example:
        >>> TextToImageGAN(terms=[MismatchedText(0.5)], matching_aware=False)
    """

    def __init__(self, weight=0.5):
        if not 0.0 <= float(weight) <= 1.0:
            raise ValueError(f"MismatchedText weight must be in [0, 1], got {weight}.")
        self.weight = float(weight)

    def discriminator(self, record):
        model, pair = record.model, record.model.loss_pair
        wrong, _ = model.critic(record.real, partner(record.labels), True)
        return self.weight * (pair.discriminator(record.real_scores, wrong)
                              - pair.discriminator(record.real_scores, record.fake_scores))

    def get_config(self):
        return {"weight": self.weight}


@keras.saving.register_keras_serializable(package="kgan")
class TextInterpolation(Term):
    """GAN-INT: G's adversarial loss on ``beta t1 + (1 - beta) t2`` embeddings (eq. 5).

    Args:
        weight: scale of the extra generator loss.
        beta: the interpolation weight (0.5 in the paper).

    Example:
        >>> TextToImageGAN(interpolation=1.0)  # adds TextInterpolation(1.0)
    """

    def __init__(self, weight=1.0, beta=0.5):
        if float(weight) < 0 or not 0.0 <= float(beta) <= 1.0:
            raise ValueError(f"TextInterpolation needs weight >= 0 and beta in [0, 1], got "
                             f"{weight}, {beta}.")
        self.weight, self.beta = float(weight), float(beta)

    def generator(self, record):
        model, t = record.model, record.labels
        mixed = self.beta * t + (1.0 - self.beta) * partner(t)
        z = model.sample_noise(ops.shape(t)[0])
        fake = model.generator(model.g_inputs(z, mixed), training=True)
        scores, _ = model.critic(model.view(fake), mixed, True)
        return self.weight * model.loss_pair.generator(scores)

    def get_config(self):
        return {"weight": self.weight, "beta": self.beta}


@keras.saving.register_keras_serializable(package="kgan")
class TextToImageGAN(GAN):
    """A GAN conditioned on sentences (GAN-CLS and GAN-INT, Reed et al. 2016).

    ``fit(images, captions)`` takes captions as strings (or token ids from
    :func:`kgan.text.tokenize`; a ``tf.data`` dataset may yield either);
    ``generate(texts)`` draws one image per sentence.

    Args:
        generator, discriminator: Keras models on ``[z, embedding]`` and
            ``[images, embedding]``; DCGAN networks with a projected
            condition are built when omitted.
        text_encoder: token ids -> embedding (:func:`kgan.text.build_text_encoder`),
            pre-trained (:func:`kgan.text.pretrain_on_labels`); it is frozen
            and saved with the model. A fresh, untrained one when omitted
            (random character features: tests, not quality).
        matching_aware: add :class:`MismatchedText` (GAN-CLS); ``False`` is
            plain conditioning, the paper's "GAN" baseline.
        interpolation: weight of :class:`TextInterpolation` (GAN-INT); 0: off.
        condition_units: size of the projected embedding in the built
            networks (128 in the paper).
        condition_augmentation: if set, the built G is conditioned on a
            sample of this size around the projected embedding (StackGAN's
            conditioning augmentation, :class:`kgan.layers.ConditioningAugmentation`)
            and :class:`kgan.objectives.ConditioningKL` is added; 0: off.
        augmentation_kl: that KL term's weight.
        **kwargs: as :class:`kgan.GAN` (``data_shape``, ``latent_dim``,
            ``loss``, ``terms``, ``ema_decay``, ``seed`` ...); no ``num_classes``.

    Example:
        >>> encoder = kgan.text.build_text_encoder()
        >>> kgan.text.pretrain_on_labels(encoder, captions, targets)
        >>> gan = TextToImageGAN(text_encoder=encoder, data_shape=(28, 28, 1))
        >>> gan.compile()
        >>> gan.fit(images, captions, epochs=5, batch_size=64)
        >>> gan.generate(["a thick seven leaning right"], seed=0).shape
        (1, 28, 28, 1)
    """

    is_text_to_image = True

    def __init__(self, generator=None, discriminator=None, *, text_encoder=None,
                 matching_aware=True, interpolation=1.0, condition_units=128,
                 condition_augmentation=0, augmentation_kl=1.0, **kwargs):
        if kwargs.get("num_classes"):
            raise ValueError("TextToImageGAN is conditioned on text, not num_classes.")
        kwargs.pop("num_classes", None)
        if text_encoder is None:
            text_encoder = text_lib.build_text_encoder()
        elif isinstance(text_encoder, dict):
            text_encoder = keras.saving.deserialize_keras_object(text_encoder)
        text_encoder.trainable = False
        self.max_chars = int(text_encoder.input_shape[-1])
        self.embedding_dim = int(text_encoder.output_shape[-1])
        self.matching_aware = bool(matching_aware)
        self.interpolation = float(interpolation)
        self.condition_units = int(condition_units)
        self.condition_augmentation = int(condition_augmentation)
        self.augmentation_kl = float(augmentation_kl)
        self.user_terms = check_list(kwargs.pop("terms", None), Term, "terms")
        family = ([MismatchedText(0.5)] if matching_aware else []) + \
            ([TextInterpolation(self.interpolation)] if self.interpolation else []) + \
            ([ConditioningKL(self.augmentation_kl)] if self.condition_augmentation else [])
        kwargs.setdefault("data_shape", (28, 28, 1))
        if generator is None or discriminator is None:
            generator, discriminator = self._build(generator, discriminator, kwargs)
        super().__init__(generator, discriminator, terms=self.user_terms + family, **kwargs)
        self.text_encoder = text_encoder  # after Model.__init__, so its weights are tracked

    def _build(self, generator, discriminator, kwargs):
        shape = tuple(kwargs["data_shape"])
        latent = kwargs.get("latent_dim") or (
            int(generator.inputs[0].shape[-1]) if generator is not None else 100)
        kwargs["latent_dim"] = latent
        opts = dict(kwargs.get("generator_options") or {})
        dopts = dict(kwargs.get("discriminator_options") or {})
        cond = {"condition_dim": self.embedding_dim, "condition_units": self.condition_units}
        g_cond = {**cond, "condition_augmentation": self.condition_augmentation}
        g = generator or networks.build_dcgan_generator(latent, shape, **{**g_cond, **opts})
        d = discriminator or networks.build_dcgan_discriminator(shape, **{**cond, **dopts})
        return g, d

    # ------------------------------------------------ text as the condition
    def g_inputs(self, z, condition):
        return [z, condition]

    def d_inputs(self, x, condition):
        return [x, condition]

    def example_conditions(self, n):
        return ops.zeros((n, self.embedding_dim))

    def embed(self, tokens):
        """Frozen embeddings of token ids (no gradient reaches the encoder)."""
        return ops.stop_gradient(ops.cast(self.text_encoder(tokens, training=False), "float32"))

    def unpack(self, data):
        x, y, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        real = ops.cast(x, self.compute_dtype)
        size = ops.shape(real)[0]
        return Batch(real, self.embed(tf.cast(y, "int32")), size,
                     ops.cast(replica.global_batch(size), "float32"))

    def prepare_data(self, x, y):
        """Strings become token ids, for arrays and for datasets alike."""
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if isinstance(spec, tuple) and len(spec) == 2 and spec[1].dtype == tf.string:
                n = self.max_chars
                x = x.map(lambda img, txt: (img, text_lib.tokenize(tf.reshape(txt, [-1]), n)))
            return x, y
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        if y is not None and not (isinstance(y, np.ndarray) and np.issubdtype(y.dtype, np.integer)):
            y = text_lib.tokenize(list(text_lib.check_texts(y, self.max_chars, "captions")),
                                  self.max_chars).numpy()
        return x, y

    def check_data(self, x, y, batch_size):
        validation.check_training_data(
            x, None, data_shape=self.data_shape, num_classes=None,
            num_replicas=self.distribute_strategy.num_replicas_in_sync)
        want = f"(batch, {self.max_chars})"
        if isinstance(x, tf.data.Dataset):
            spec = x.element_spec
            if not isinstance(spec, tuple) or len(spec) != 2:
                raise validation.DataError("expected (images, captions) batches, got "
                                           f"{spec}.")
            if not spec[1].dtype.is_integer or spec[1].shape[1:] != (self.max_chars,):
                raise validation.DataError(f"dataset captions: expected int token ids {want}, "
                                           f"got {spec[1].dtype.name} {tuple(spec[1].shape)}.")
            return
        if y is None:
            raise validation.DataError("fit() expected captions `y` (one per image), got none.")
        if y.shape != (len(x), self.max_chars):
            raise validation.DataError(f"captions: expected {len(x)} captions (token ids "
                                       f"{want}), one per image, got shape {y.shape}.")

    def conditions_for(self, labels, n):
        """Embeddings of ``labels`` (``n`` texts), for :func:`kgan.core.sampling.generate`."""
        if labels is None or len(labels) != n:
            raise ValueError(f"texts: expected {n} texts, got "
                             f"{'none' if labels is None else len(labels)}.")
        return text_lib.encode(self.text_encoder, labels)

    def generate(self, texts=None, seed=None, z=None, batch_size=256, raw=False):
        """One image per sentence, in [-1, 1].

        Args:
            texts: list of strings (at most ``max_chars`` characters each).
            seed: int; image ``i`` uses latent seed ``seed + i``, as the
                export's ``generate_from_seed`` does.
            z: explicit latents ``[n, latent_dim]`` instead of ``seed``.
            batch_size: generator batch size.
            raw: sample the trained weights even when an EMA is kept.

        Example:
            >>> gan.generate(["a thin 1", "a bold 8"], seed=0).shape
            (2, 28, 28, 1)
        """
        texts = text_lib.check_texts(texts, self.max_chars)
        return super().generate(len(texts), z=z, labels=list(texts), seed=seed,
                                batch_size=batch_size, raw=raw)

    # -------------------------------------------------------- serialization
    def get_config(self):
        config = super().get_config()
        config.update({"text_encoder": keras.saving.serialize_keras_object(self.text_encoder),
                       "terms": serialize(self.user_terms),
                       "matching_aware": self.matching_aware,
                       "interpolation": self.interpolation,
                       "condition_units": self.condition_units,
                       "condition_augmentation": self.condition_augmentation,
                       "augmentation_kl": self.augmentation_kl})
        config.pop("num_classes", None)
        return config
