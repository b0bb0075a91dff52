"""Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial
Networks", ICCV 2017."""

from __future__ import annotations

import types

import tensorflow as tf
import keras
from keras import ops

from kgan import image_networks as nets
from kgan.core.translation import Translation, l1, per_example_mean
from kgan.transforms import Replay


def _check_classifier(model, shape):
    """The semantic classifier must take ``shape`` images and return ``[N, classes]`` logits."""
    try:
        out = model.compute_output_shape((None,) + tuple(shape))
    except Exception as e:  # noqa: BLE001 - any failure means the shapes do not fit
        raise ValueError(f"semantic_classifier: expected a model that takes {tuple(shape)} "
                         f"images, it failed on them: {e}") from None
    if len(out) != 2 or not out[-1] or out[-1] < 2:
        raise ValueError(f"semantic_classifier: expected [batch, classes] logits with at least "
                         f"2 classes for {tuple(shape)} images, got shape {tuple(out)}.")


@keras.saving.register_keras_serializable(package="kgan")
class CycleGAN(Translation):
    """Two generators (A->B, B->A), two PatchGAN discriminators, trained in one ``fit``.

    G's loss (eq. 3 and section 5.2 of the paper)::

        adversarial_weight * (adv(D_B(G(a))) + adv(D_A(F(b))))
        + cycle_weight * (|F(G(a)) - a| + |G(F(b)) - b|)
        + identity_weight * (|G(b) - b| + |F(a) - a|)
        + semantic_weight * (CE(f(G(a)), argmax f(a)) + CE(f(F(b)), argmax f(b)))

    (per-example means of the absolute errors). The last term is optional:
    CyCADA's semantic consistency (Hoffman et al., "CyCADA: Cycle-Consistent
    Adversarial Domain Adaptation", ICML 2018, eq. 4), with ``f`` a frozen
    classifier trained on labelled domain-A images. The cycle loss alone lets
    classes swap (a 3 that becomes a 5 and comes back a 3 costs nothing);
    this term makes each translation keep the class ``f`` reads in its source.

    Each D is trained on real images and on a 50-image history of fakes
    (``kgan.transforms.Replay(50, 0.5)``: half of each fake batch comes from
    the pool once it is full).

    Defaults are the paper's: least-squares loss (kgan's pair carries Mao et
    al.'s 1/2, so ``adversarial_weight=2`` gives CycleGAN's
    ``MSE(D(G(a)), 1)`` for G and its halved D objective for D),
    ``cycle_weight=10``, ``identity_weight=5`` (0.5 x lambda, used for
    photo<->painting), ResNet generators with instance norm (6 blocks; or
    ``generator="unet"``), 70x70-style PatchGANs, ``Adam(2e-4, beta_1=0.5)``.

    One step: both generators update on the total G loss (one
    ``GradientTape``), then D_A and D_B update on real images and pooled fakes.
    Everything per example is divided by the GLOBAL batch, so N replicas
    equal one device; the pools mix the global batch
    (``kgan.transforms.Replay``).

    Args:
        generator_ab, generator_ba: Keras models (built when omitted).
        discriminator_a, discriminator_b: Keras models ``images -> patch logits``.
        source_shape: one image of domain A ``(H, W, C)``.
        target_shape: one image of domain B (default: ``source_shape``).
        generator: ``"resnet"`` (paper) or ``"unet"`` for built generators.
        cycle_weight, identity_weight, adversarial_weight: loss weights.
        pool_size: fakes kept per domain (paper: 50; 0 turns the pool off).
        loss: adversarial pair (paper: ``"least_squares"``).
        generator_options: options of the generator builder.
        discriminator_options: ``build_patchgan_discriminator`` keywords.
        semantic_classifier: ``None`` or a Keras model ``images -> class logits``
            accepting both domains' images (frozen here; saved with the model).
        semantic_weight: weight of the semantic term (CyCADA: 1).
        seed: the model's seed.

    Example:
        >>> cg = CycleGAN(source_shape=(28, 28, 1), generator_options={"base_filters": 16})
        >>> cg.compile()   # four Adam(2e-4, 0.5) optimizers
        >>> ds, steps = kgan.data_pairs.unpaired_stream(mnist, digits, 32)
        >>> cg.fit(ds, epochs=5, steps_per_epoch=steps)
        >>> cg.translate(mnist[:8], direction="a_to_b")
    """

    networks = {"g_ab_optimizer": "generator_ab", "g_ba_optimizer": "generator_ba",
                "d_a_optimizer": "discriminator_a", "d_b_optimizer": "discriminator_b"}
    metric_names = ("d_a_loss", "d_b_loss", "g_loss", "g_adversarial", "cycle_loss",
                    "identity_loss", "semantic_loss")
    default_loss = "least_squares"
    domains = ("domain A", "domain B")

    def __init__(self, generator_ab=None, generator_ba=None, discriminator_a=None,
                 discriminator_b=None, *, source_shape, target_shape=None, generator="resnet",
                 cycle_weight=10.0, identity_weight=5.0, adversarial_weight=2.0, pool_size=50,
                 loss=None, generator_options=None, discriminator_options=None,
                 semantic_classifier=None, semantic_weight=1.0, seed=None, **kwargs):
        source_shape = tuple(int(d) for d in source_shape)
        target_shape = tuple(int(d) for d in (target_shape or source_shape))
        super().__init__(source_shape=source_shape, target_shape=target_shape, loss=loss,
                         seed=seed, **kwargs)
        if generator not in ("resnet", "unet"):
            raise ValueError(f"generator: expected 'resnet' or 'unet', got {generator!r}.")
        self.generator_type = generator
        self.cycle_weight, self.identity_weight = float(cycle_weight), float(identity_weight)
        self.adversarial_weight, self.pool_size = float(adversarial_weight), int(pool_size)
        if self.identity_weight and source_shape[-1] != target_shape[-1]:
            raise ValueError("The identity loss needs domains with one channel count; set "
                             "identity_weight=0.")
        self.generator_options = dict(generator_options or {})
        self.discriminator_options = {"normalization": "instance",
                                      **(discriminator_options or {})}

        def make_g(src, dst, name):
            if generator == "unet":
                opts = {"normalization": "instance", "seed": seed, **self.generator_options}
                return nets.build_unet_generator(src, dst[-1], name=name, **opts)
            return nets.build_resnet_generator(src, dst[-1], name=name, **self.generator_options)

        self.generator_ab = generator_ab or make_g(source_shape, target_shape, "generator_ab")
        self.generator_ba = generator_ba or make_g(target_shape, source_shape, "generator_ba")
        self.discriminator_a = discriminator_a or nets.build_patchgan_discriminator(
            source_shape, name="discriminator_a", **self.discriminator_options)
        self.discriminator_b = discriminator_b or nets.build_patchgan_discriminator(
            target_shape, name="discriminator_b", **self.discriminator_options)
        # after the networks, so the model's weights list them first
        if isinstance(semantic_classifier, dict):
            semantic_classifier = keras.saving.deserialize_keras_object(semantic_classifier)
        if semantic_classifier is not None:
            for shape in {source_shape, target_shape}:
                _check_classifier(semantic_classifier, shape)
            semantic_classifier.trainable = False
        self.semantic_classifier, self.semantic_weight = semantic_classifier, float(semantic_weight)
        # The history pools: Replay's buffer, sized per domain; state saved with the model.
        self.replays = []
        for shape in (source_shape, target_shape):
            replay = Replay(max(1, self.pool_size), 0.5)
            replay.build(types.SimpleNamespace(data_shape=shape, num_classes=None))
            self.replays.append(replay)
        self.pool_a, self.pool_b = self.replays[0].buffer, self.replays[1].buffer
        self.built = True

    # ------------------------------------------------------------ inference
    @property
    def generator(self):
        return self.generator_ab

    def forward(self, source, training=False):
        return self.generator_ab(source, training=training)

    def backward(self, source, training=False):
        """B -> A: the second generator."""
        return self.generator_ba(source, training=training)

    def directions(self):
        return {"a_to_b": (self.source_shape, self.target_shape, self.forward),
                "b_to_a": (self.target_shape, self.source_shape, self.backward)}

    def exported_networks(self):
        return [self.generator_ab, self.generator_ba]

    # ------------------------------------------------------------- the step
    def _pool(self, i, fake):
        if self.pool_size < 1:
            return fake
        return self.replays[i].fakes(fake, None, self)[0]

    def _g_parts(self, a, b, training):
        fake_b, fake_a = self.generator_ab(a, training=training), self.generator_ba(b, training=training)
        adv = (self.loss_pair.generator(self.discriminator_b(fake_b, training=training))
               + self.loss_pair.generator(self.discriminator_a(fake_a, training=training)))
        cycle = (l1(self.generator_ba(fake_b, training=training), a)
                 + l1(self.generator_ab(fake_a, training=training), b))
        n = ops.shape(a)[0]
        identity = ops.zeros((n,), "float32")
        if self.identity_weight:
            identity = (l1(self.generator_ab(b, training=training), b)
                        + l1(self.generator_ba(a, training=training), a))
        semantic = ops.zeros((n,), "float32")
        if self.semantic_classifier is not None and self.semantic_weight:
            semantic = self._keeps_class(a, fake_b) + self._keeps_class(b, fake_a)
        parts = {"g_adversarial": self.adversarial_weight * per_example_mean(adv),
                 "cycle_loss": self.cycle_weight * cycle,
                 "identity_loss": self.identity_weight * identity,
                 "semantic_loss": self.semantic_weight * semantic}
        return parts, fake_a, fake_b

    def _keeps_class(self, source, translated):
        """Per example: CE of f(translated) against the class f reads in ``source``."""
        f = self.semantic_classifier
        want = ops.stop_gradient(ops.argmax(f(source, training=False), axis=-1))
        logits = ops.cast(f(translated, training=False), "float32")
        return keras.losses.sparse_categorical_crossentropy(want, logits, from_logits=True)

    def _d_value(self, d, real, fake, training):
        return self.loss_pair.discriminator(ops.cast(d(real, training=training), "float32"),
                                            ops.cast(d(fake, training=training), "float32"))

    def train_step(self, data):
        a, b, n, global_n = self.unpack(data)
        with tf.GradientTape(persistent=True) as g_tape:
            parts, fake_a, fake_b = self._g_parts(a, b, True)
            parts = {k: ops.sum(v) / global_n for k, v in parts.items()}
            g_loss = ops.sum(ops.stack(list(parts.values())))
        self.apply(self.g_ab_optimizer, g_loss, g_tape, self.generator_ab.trainable_variables,
                   "generator_ab")
        self.apply(self.g_ba_optimizer, g_loss, g_tape, self.generator_ba.trainable_variables,
                   "generator_ba")
        del g_tape
        d_losses = {}
        for i, (key, d, real, fake) in enumerate((("d_a", self.discriminator_a, a, fake_a),
                                                  ("d_b", self.discriminator_b, b, fake_b))):
            fake = self._pool(i, ops.stop_gradient(fake))
            with tf.GradientTape() as tape:
                loss = ops.sum(self._d_value(d, real, fake, True)) / global_n
            self.apply(getattr(self, f"{key}_optimizer"), loss, tape, d.trainable_variables,
                       f"discriminator_{key[-1]}")
            d_losses[f"{key}_loss"] = loss
        return self._track(n, global_n, {**d_losses, "g_loss": g_loss, **parts})

    def test_step(self, data):
        """The same losses on held-out unpaired batches, no update, no pool."""
        a, b, n, global_n = self.unpack(data)
        parts, fake_a, fake_b = self._g_parts(a, b, False)
        parts = {k: ops.sum(v) / global_n for k, v in parts.items()}
        values = {"d_a_loss": ops.sum(self._d_value(self.discriminator_a, a, fake_a, False)),
                  "d_b_loss": ops.sum(self._d_value(self.discriminator_b, b, fake_b, False))}
        values = {k: v / global_n for k, v in values.items()}
        g_loss = ops.sum(ops.stack(list(parts.values())))
        return self._track(n, global_n, {**values, "g_loss": g_loss, **parts})

    # -------------------------------------------------------- serialization
    def get_config(self):
        config = super(Translation, self).get_config()
        ser = keras.saving.serialize_keras_object
        config.update({
            "generator_ab": ser(self.generator_ab), "generator_ba": ser(self.generator_ba),
            "discriminator_a": ser(self.discriminator_a),
            "discriminator_b": ser(self.discriminator_b),
            "source_shape": list(self.source_shape), "target_shape": list(self.target_shape),
            "generator": self.generator_type, "cycle_weight": self.cycle_weight,
            "identity_weight": self.identity_weight,
            "adversarial_weight": self.adversarial_weight, "pool_size": self.pool_size,
            "loss": ser(self.loss_pair), "generator_options": self.generator_options,
            "discriminator_options": self.discriminator_options,
            "semantic_classifier": None if self.semantic_classifier is None
            else ser(self.semantic_classifier), "semantic_weight": self.semantic_weight,
            "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        for key in ("generator_ab", "generator_ba", "discriminator_a", "discriminator_b"):
            if config.get(key) is not None:
                config[key] = keras.saving.deserialize_keras_object(config[key])
        return cls(**config)
