"""BEGAN's networks: a decoder generator and an autoencoder discriminator.

Berthelot et al., "BEGAN: Boundary Equilibrium Generative Adversarial
Networks", 2017, section 3.5. Also reachable as ``kgan.networks.build_began_*``.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from kgan.networks import dcgan_plan, resolve_architecture


def _began_decoder_layers(x, data_shape, architecture, filters, hidden_units, name,
                          output_activation):
    """BEGAN's decoder: from a vector ``x`` to a sample (ELU, nearest upsampling, no norm)."""
    data_shape = tuple(int(d) for d in data_shape)
    if architecture == "dcgan":
        start, n = dcgan_plan(data_shape)
        x = layers.Dense(start * start * filters, name=f"{name}_project")(x)
        x = layers.Reshape((start, start, filters), name=f"{name}_to_map")(x)
        for i in range(n + 1):
            x = layers.Conv2D(filters, 3, padding="same", activation="elu",
                              name=f"{name}_conv_{i}")(x)
            if i < n:
                x = layers.UpSampling2D(2, interpolation="nearest", name=f"{name}_up_{i}")(x)
        return layers.Conv2D(data_shape[-1], 3, padding="same", activation=output_activation,
                             name=f"{name}_to_image")(x)
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, activation="elu", name=f"{name}_dense_{i}")(x)
    x = layers.Dense(math.prod(data_shape), activation=output_activation, name=f"{name}_output")(x)
    return layers.Reshape(data_shape, name=f"{name}_to_sample")(x) if len(data_shape) > 1 else x


def build_began_generator(latent_dim, data_shape, architecture="auto", filters=32,
                          hidden_units=(128, 128), name="generator"):
    """BEGAN's generator: the decoder of its autoencoder D (Berthelot et al. 2017, fig. 1).

    Convolutional ("dcgan"): a dense projection to a 7x7 or 4x4 map, then
    3x3 ELU convolutions with nearest-neighbour upsampling (no batch norm),
    ``tanh`` output. MLP: ELU dense layers.

    Args:
        latent_dim: size of ``z`` (N_z, 64 in the paper).
        data_shape: shape of one sample.
        architecture: ``"auto"``, ``"mlp"`` or ``"dcgan"``.
        filters: convolution channels (n in the paper).
        hidden_units: MLP widths.
        name: model name.

    Example:
        >>> g = build_began_generator(16, (28, 28, 1), filters=8)
        >>> g(keras.ops.zeros((2, 16))).shape
        (2, 28, 28, 1)
    """
    arch = resolve_architecture(architecture, data_shape)
    z = keras.Input((latent_dim,), name="z")
    out = _began_decoder_layers(z, data_shape, arch, filters, hidden_units, "decoder",
                                "tanh" if len(data_shape) == 3 else None)
    return keras.Model(z, out, name=name)


def build_began_discriminator(data_shape, architecture="auto", filters=32, embedding=64,
                              hidden_units=(128, 128), name="discriminator"):
    """BEGAN's discriminator: an autoencoder that returns its reconstruction of the input.

    Convolutional ("dcgan"): 3x3 ELU convolutions, stride-2 subsampling with
    the channels growing linearly (n, 2n, 3n, ...), a dense embedding of
    ``embedding`` units (h), and a decoder shaped like the generator's.
    MLP: ELU dense encoder, embedding, mirrored decoder. No batch norm, as
    in the paper. The output is linear (a reconstruction, not a score).

    Berthelot et al., "BEGAN: Boundary Equilibrium Generative Adversarial
    Networks", 2017, section 3.5.

    Example:
        >>> d = build_began_discriminator((28, 28, 1), filters=8, embedding=16)
        >>> d(keras.ops.zeros((2, 28, 28, 1))).shape
        (2, 28, 28, 1)
    """
    arch = resolve_architecture(architecture, data_shape)
    data_shape = tuple(int(d) for d in data_shape)
    x_in = keras.Input(data_shape, name="samples")
    x = x_in
    if arch == "dcgan":
        _, n = dcgan_plan(data_shape)
        x = layers.Conv2D(filters, 3, padding="same", activation="elu", name="encoder_conv_in")(x)
        for i in range(n):
            x = layers.Conv2D(filters * (i + 1), 3, padding="same", activation="elu",
                              name=f"encoder_conv_{i}")(x)
            x = layers.Conv2D(filters * (i + 2), 3, strides=2, padding="same", activation="elu",
                              name=f"encoder_down_{i}")(x)
        x = layers.Flatten(name="encoder_flatten")(x)
    else:
        x = layers.Flatten(name="encoder_flatten")(x) if len(data_shape) > 1 else x
        for i, units in enumerate(reversed(tuple(hidden_units))):
            x = layers.Dense(units, activation="elu", name=f"encoder_dense_{i}")(x)
    h = layers.Dense(embedding, name="embedding")(x)
    out = _began_decoder_layers(h, data_shape, arch, filters, hidden_units, "decoder", None)
    return keras.Model(x_in, out, name=name)
