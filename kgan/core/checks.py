"""Constructor checks of a GAN's networks, with errors that say what does not fit."""

from __future__ import annotations

from keras import ops

from kgan.layers import pack


def infer_shapes(generator, latent_dim, data_shape):
    """``(latent_dim, data_shape)`` from the arguments and a given generator, checked."""
    if generator is not None:
        try:
            g_latent = int(generator.inputs[0].shape[-1])
            g_shape = tuple(int(d) for d in generator.outputs[0].shape[1:])
        except (AttributeError, TypeError, IndexError, ValueError):
            g_latent = g_shape = None
        if latent_dim is not None and g_latent is not None and int(latent_dim) != g_latent:
            raise ValueError(f"latent_dim={latent_dim} does not match the generator, whose "
                             f"noise input has {g_latent} features.")
        if data_shape is not None and g_shape is not None and tuple(data_shape) != g_shape:
            raise ValueError(f"data_shape={tuple(data_shape)} does not match the generator's "
                             f"output shape {g_shape}.")
        latent_dim, data_shape = latent_dim or g_latent, data_shape or g_shape
    if data_shape is None:
        raise ValueError("data_shape is required when no generator is given, "
                         "e.g. data_shape=(28, 28, 1).")
    return latent_dim, data_shape


def check_networks(self):
    """Runs both networks once on a tiny batch; a clear error when they do not fit."""
    m = self.packing
    z, labels = ops.zeros((2 * m, self.latent_dim)), self.example_conditions(2 * m)
    try:
        out = self.generator(self.g_inputs(z, labels), training=False)
    except Exception as e:
        raise ValueError(f"The generator could not run on z of shape (batch, {self.latent_dim})"
                         f"{' and labels (batch,)' if self.num_classes else ''}: {e}") from e
    if tuple(out.shape[1:]) != self.data_shape:
        raise ValueError(f"The generator outputs samples of shape {tuple(out.shape[1:])}, "
                         f"expected data_shape {self.data_shape}.")
    try:
        score = self.discriminator(self.d_inputs(pack(out, m), labels[:2]), training=False)
    except Exception as e:
        raise ValueError(f"The discriminator could not run on samples of shape "
                         f"{tuple(out.shape[1:])}{f' ({m} packed)' if m > 1 else ''}: {e}") from e
    extra = getattr(self, "extra_d_outputs", None)
    if extra:  # InfoGAN's Q head on D's trunk
        if not isinstance(score, (list, tuple)) or len(score) != 2:
            raise ValueError(f"{type(self).__name__} needs a discriminator that returns "
                             f"[scores, q_outputs]; got a single output.")
        score, q = score
        if tuple(q.shape) != (2, extra):
            raise ValueError(f"The discriminator's Q outputs must have shape (batch, {extra}), "
                             f"got {tuple(q.shape)}.")
    elif self.d_conditioning == "auxiliary":
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
