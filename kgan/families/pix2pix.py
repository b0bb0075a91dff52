"""Isola et al., "Image-to-Image Translation with Conditional Adversarial Networks", CVPR 2017.

With ``inpainting=True``, the context-encoder setting of Pathak et al.,
"Context Encoders: Feature Learning by Inpainting", CVPR 2016.
"""

from __future__ import annotations

import keras
from keras import ops

from kgan import image_networks as nets
from kgan.core.translation import Translation, l1, per_example_mean


def hole_mask(source):
    """The hole mask in {0, 1} from an inpainting source's last channel ({-1, +1})."""
    return (ops.cast(source[..., -1:], "float32") + 1.0) * 0.5


def hole_l1(output, target, mask):
    """Per-example mean absolute error over the hole only, ``[n]``.

    ``sum(mask * |output - target|) / (sum(mask) * C)``: pixels outside the
    hole add nothing, and an example without a hole counts 0.

    Args:
        output, target: ``[n, H, W, C]``.
        mask: ``[n, H, W, 1]`` in {0, 1}, 1 in the hole.
    """
    diff = ops.abs(ops.cast(output, "float32") - ops.cast(target, "float32"))
    channels = float(diff.shape[-1])
    num = ops.sum(ops.reshape(diff * mask, (ops.shape(diff)[0], -1)), -1)
    den = ops.sum(ops.reshape(mask, (ops.shape(mask)[0], -1)), -1) * channels
    return num / ops.maximum(den, 1.0)


@keras.saving.register_keras_serializable(package="kgan")
class Pix2Pix(Translation):
    """Paired image-to-image translation: U-Net G, PatchGAN D on (source, output) pairs.

    G's loss is ``adversarial + l1_weight * L1(G(x), y)``; D's is half the
    adversarial D loss (the paper divides D's objective by 2 to slow D).
    The noise is the U-Net's dropout, as in the paper; dropout is on in
    training only, so a trained model (and its export) is deterministic.
    (The paper also keeps dropout at test time.)

    Defaults are the paper's: ``l1_weight=100``, the non-saturating loss,
    U-Net with 64 base filters and dropout 0.5 on the 3 innermost decoder
    layers, 70x70-style PatchGAN with 3 stride-2 layers, batch norm, and
    ``Adam(2e-4, beta_1=0.5)`` from ``compile()``.

    Inpainting (``inpainting=True``): the source holds the image with a hole
    plus a last mask channel (+1 in the hole, -1 elsewhere, so PNG alpha
    carries it), ``source_shape = target_shape[:-1] + (C + 1,)``. G's output
    is pasted into the hole (the known pixels are kept), D judges the filled
    image, and the reconstruction loss is the L1 over the hole only
    (:func:`hole_l1`), as the context encoder's loss is.

    Args:
        generator: a Keras model ``source -> image`` (built when omitted).
        discriminator: a Keras model ``[source, image] -> logits`` (built
            when omitted; unconditional with ``conditional_d=False``).
        source_shape: one source image ``(H, W, C_in)``.
        target_shape: one target image (default: ``source_shape``, minus the
            mask channel when inpainting).
        l1_weight: lambda of the L1 term (paper: 100).
        adversarial_weight: weight of G's adversarial term (paper: 1; 0 is
            the paper's "L1 only" ablation and trains no D).
        inpainting: the context-encoder setting above.
        conditional_d: D sees the source too (paper: yes).
        loss: adversarial pair (paper: ``"non_saturating"``).
        generator_options: ``build_unet_generator`` keywords
            (``base_filters``, ``depth``, ``dropout``, ``normalization`` ...).
        discriminator_options: ``build_patchgan_discriminator`` keywords.
        seed: seed of the model and of the dropout masks.

    Example:
        >>> model = Pix2Pix(source_shape=(28, 28, 1),
        ...                 generator_options={"base_filters": 16})
        >>> model.compile()
        >>> model.fit(edges, digits, batch_size=64, epochs=5)
        >>> out = model.translate(edges[:8])
    """

    metric_names = ("d_loss", "g_loss", "g_adversarial", "g_l1")

    def __init__(self, generator=None, discriminator=None, *, source_shape, target_shape=None,
                 l1_weight=100.0, adversarial_weight=1.0, inpainting=False, conditional_d=True, loss=None,
                 generator_options=None, discriminator_options=None, seed=None, **kwargs):
        source_shape = tuple(int(d) for d in source_shape)
        if target_shape is None:
            target_shape = source_shape[:-1] + (source_shape[-1] - (1 if inpainting else 0),)
        target_shape = tuple(int(d) for d in target_shape)
        if inpainting and source_shape != target_shape[:-1] + (target_shape[-1] + 1,):
            raise ValueError(f"inpainting: expected source_shape = target_shape plus a mask "
                             f"channel, {target_shape[:-1] + (target_shape[-1] + 1,)}, got "
                             f"{source_shape}.")
        super().__init__(source_shape=source_shape, target_shape=target_shape, loss=loss,
                         seed=seed, **kwargs)
        self.l1_weight, self.inpainting = float(l1_weight), bool(inpainting)
        self.adversarial_weight = float(adversarial_weight)
        if self.adversarial_weight < 0 or self.l1_weight < 0:
            raise ValueError("Pix2Pix's loss weights must be >= 0.")
        self.conditional_d = bool(conditional_d)
        self.generator_options = dict(generator_options or {})
        self.discriminator_options = dict(discriminator_options or {})
        self.generator = generator or nets.build_unet_generator(
            source_shape, target_shape[-1], seed=seed, **self.generator_options)
        self.discriminator = discriminator or nets.build_patchgan_discriminator(
            target_shape, source_shape if self.conditional_d else None,
            **self.discriminator_options)
        self.built = True

    def forward(self, source, training=False):
        out = self.generator(source, training=training)
        if not self.inpainting:
            return out
        mask = ops.cast(hole_mask(source), out.dtype)
        return mask * out + (1.0 - mask) * ops.cast(source[..., :-1], out.dtype)

    def d_inputs(self, source, images):
        return [source, images] if self.conditional_d else images

    def train_d(self):
        return self.adversarial_weight > 0

    def d_values(self, source, target, fake, training=True):
        return 0.5 * super().d_values(source, target, fake, training)

    def g_values(self, source, target, fake, training=True):
        adversarial = ops.zeros((ops.shape(fake)[0],), "float32")
        if self.adversarial_weight > 0:
            adversarial = self.adversarial_weight * per_example_mean(self.loss_pair.generator(
                self.critic(source, fake, training)))
        if self.inpainting:
            recon = hole_l1(fake, target, hole_mask(source))
        else:
            recon = l1(fake, target)
        return {"g_adversarial": adversarial, "g_l1": self.l1_weight * recon}

    def get_config(self):
        config = super().get_config()
        config.update({"l1_weight": self.l1_weight, "adversarial_weight": self.adversarial_weight,
                       "inpainting": self.inpainting,
                       "conditional_d": self.conditional_d,
                       "generator_options": self.generator_options,
                       "discriminator_options": self.discriminator_options})
        return config
