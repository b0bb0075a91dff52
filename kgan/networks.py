"""Generator and discriminator architectures (architecture only, no training).

Every builder returns a functional ``keras.Model``. Conditional networks
(Mirza & Osindero 2014) take ``[inputs, labels]`` with integer labels of shape
``[batch]``; unconditional ones take a single tensor. Discriminators return
raw scores ``[batch, 1]`` (logits); the loss decides how to read them.
With ``aux_classes`` a discriminator returns ``[scores, class_logits]``
(AC-GAN, Odena et al. 2017) and takes no labels.
"""

from __future__ import annotations

import math

import keras
from keras import layers

from kgan.conditioning import (LABEL_CONDITIONING, check_label_conditioning,  # noqa: F401
                               condition_projection, generator_inputs, label_input,
                               project_condition, project_labels)
from kgan.layers import (CONDITIONING_AUGMENTATION, ConditioningAugmentation, MinibatchStdDev,
                         SubPixelConv2DTranspose, packed_shape)

ARCHITECTURES = ("mlp", "dcgan")
UPSAMPLING = ("transpose", "subpixel", "auto")


def _upsampling_layers(upsampling):
    """``(hidden, image)``: the layer class of G's hidden and image upsamplings.

    Both compute the same function with the same weights; only the speed
    differs. ``"auto"`` is the fastest per layer measured on CPU
    (``benchmarks/README.md``, Throughput): the sub-pixel form for the image
    layer, whose few output channels TensorFlow's transposed kernel handles
    slowly, and ``Conv2DTranspose`` for the wide hidden layers, where the
    sub-pixel form's extra multiply-adds (2.25x at 4x4, stride 2) cost more
    than its faster kernel saves.
    """
    if upsampling == "transpose":
        return layers.Conv2DTranspose, layers.Conv2DTranspose
    if upsampling == "subpixel":
        return SubPixelConv2DTranspose, SubPixelConv2DTranspose
    if upsampling == "auto":
        return layers.Conv2DTranspose, SubPixelConv2DTranspose
    raise ValueError(f"upsampling must be one of {UPSAMPLING}, got {upsampling!r}")


def _normalization(kind, synchronized=False, name=None):
    if kind in (None, "none"):
        return None
    if kind == "batch":
        return layers.BatchNormalization(synchronized=synchronized, name=name)
    if kind == "layer":
        return layers.LayerNormalization(name=name)
    raise ValueError(f"normalization must be 'batch', 'layer' or 'none', got {kind!r}")


def _maybe_spectral(layer, spectral_norm):
    return layers.SpectralNormalization(layer) if spectral_norm else layer


def _heads(x, aux_classes, spectral_norm, aux_features=None):
    """D's linear score head, plus a class-logit head for AC-GAN (on ``aux_features`` if given)."""
    score = _maybe_spectral(layers.Dense(1, name="score"), spectral_norm)(x)
    if not aux_classes:
        return score
    aux = x if aux_features is None else aux_features
    logits = _maybe_spectral(layers.Dense(int(aux_classes), name="class_logits"),
                             spectral_norm)(aux)
    return [score, logits]


def dcgan_plan(image_shape):
    """Returns ``(start_size, num_upsamples)`` for a square DCGAN image.

    The generator starts at 4x4 (or 7x7 for MNIST-like 28 pixel images) and
    doubles with each fractionally-strided convolution.

    Args:
        image_shape: ``(H, W, C)``.

    Returns:
        ``(start, n)`` with ``start * 2**n == H``.

    Example:
        >>> dcgan_plan((28, 28, 1))
        (7, 2)
    """
    if len(image_shape) != 3:
        raise ValueError(
            f"The DCGAN architecture needs images of shape (H, W, C); got data "
            f"shape {tuple(image_shape)}. Use architecture='mlp' for flat vectors.")
    h, w, c = image_shape
    if h != w:
        raise ValueError(f"DCGAN needs square images, got {h}x{w}.")
    for start in (4, 7):
        n = math.log2(h / start) if h >= start else -1
        if n >= 1 and n == int(n):
            return start, int(n)
    raise ValueError(f"DCGAN supports square sizes 4*2^n or 7*2^n (e.g. 28, 32, "
                     f"64), got {h}x{w}.")


def build_mlp_generator(latent_dim, output_shape, hidden_units=(256, 256),
                        num_classes=None, normalization="batch",
                        output_activation="auto", name="generator"):
    """MLP generator (Goodfellow et al. 2014 style).

    Args:
        latent_dim: size of the noise vector ``z``.
        output_shape: shape of one sample, e.g. ``(2,)`` or ``(28, 28, 1)``.
        hidden_units: width of each ReLU hidden layer.
        num_classes: if set, the generator is conditioned on integer labels
            (label embedding concatenated to ``z``).
        normalization: ``"batch"``, ``"layer"`` or ``"none"`` after each
            hidden layer.
        output_activation: ``"auto"`` gives ``tanh`` for images (data in
            [-1, 1]) and a linear output for flat vectors.
        name: model name.

    Returns:
        A ``keras.Model`` mapping ``z`` (or ``[z, labels]``) to samples.

    Example:
        >>> g = build_mlp_generator(8, (2,), hidden_units=(32,))
        >>> g(keras.random.normal((4, 8))).shape
        (4, 2)
    """
    output_shape = tuple(int(d) for d in output_shape)
    if output_activation == "auto":
        output_activation = "tanh" if len(output_shape) == 3 else None
    inputs, x = generator_inputs(latent_dim, num_classes)
    z = inputs[0]
    for i, units in enumerate(hidden_units):
        x = layers.Dense(units, use_bias=normalization in (None, "none"), name=f"dense_{i}")(x)
        norm = _normalization(normalization, name=f"norm_{i}")
        if norm is not None:
            x = norm(x)
        x = layers.ReLU(name=f"relu_{i}")(x)
    x = layers.Dense(math.prod(output_shape), activation=output_activation, name="output")(x)
    if len(output_shape) > 1:
        x = layers.Reshape(output_shape, name="to_sample")(x)
    return keras.Model(inputs if num_classes else z, x, name=name)


def build_mlp_discriminator(input_shape, hidden_units=(256, 256), num_classes=None,
                            dropout=0.0, spectral_norm=False, minibatch_std=0,
                            aux_classes=None, label_conditioning="input", name="discriminator"):
    """MLP discriminator with LeakyReLU(0.2) hidden layers and one raw score.

    Args:
        input_shape: shape of one sample.
        hidden_units: width of each hidden layer.
        num_classes: if set, the model takes ``[samples, labels]``.
        label_conditioning: ``"input"``: one-hot labels are concatenated to
            the input; ``"projection"``: the projection discriminator (see
            :func:`build_dcgan_discriminator`).
        dropout: dropout rate after each hidden layer.
        spectral_norm: wrap each Dense in ``SpectralNormalization``
            (Miyato et al., "Spectral Normalization for Generative
            Adversarial Networks", ICLR 2018).
        minibatch_std: group size of a :class:`kgan.layers.MinibatchStdDev`
            before the output layer (Karras et al. 2018); 0 for none.
        aux_classes: add an AC-GAN class head with this many classes; the
            model then returns ``[scores, class_logits]``.
        name: model name.

    Returns:
        A ``keras.Model`` mapping samples (or ``[samples, labels]``) to
        ``[batch, 1]`` scores (and ``[batch, aux_classes]`` logits).

    Example:
        >>> d = build_mlp_discriminator((2,), hidden_units=(32,))
        >>> d(keras.ops.zeros((4, 2))).shape
        (4, 1)
        >>> d = build_mlp_discriminator((2,), hidden_units=(32,), aux_classes=3)
        >>> [t.shape for t in d(keras.ops.zeros((4, 2)))]
        [(4, 1), (4, 3)]
    """
    x_in = keras.Input(shape=tuple(input_shape), name="samples")
    inputs = [x_in]
    x = layers.Flatten(name="flatten")(x_in) if len(input_shape) > 1 else x_in
    check_label_conditioning(label_conditioning)
    if num_classes:
        labels = label_input()
        inputs.append(labels)
    if num_classes and label_conditioning == "input":
        onehot = layers.CategoryEncoding(num_classes, output_mode="one_hot", name="one_hot")(labels)
        x = layers.Concatenate(name="sample_and_label")([x, onehot])
    for i, units in enumerate(hidden_units):
        x = _maybe_spectral(layers.Dense(units, name=f"dense_{i}"), spectral_norm)(x)
        x = layers.LeakyReLU(0.2, name=f"lrelu_{i}")(x)
        if dropout:
            x = layers.Dropout(dropout, name=f"dropout_{i}")(x)
    if minibatch_std:
        x = MinibatchStdDev(minibatch_std, name="minibatch_std")(x)
    out = _heads(x, aux_classes, spectral_norm)
    if num_classes and label_conditioning == "projection":
        out = project_labels(out, x, labels, num_classes)
    return keras.Model(inputs if num_classes else x_in, out, name=name)


def build_dcgan_generator(latent_dim, image_shape, base_filters=64, num_classes=None,
                          kernel_size=4, sync_batch_norm=False, upsampling="auto",
                          condition_dim=None, condition_units=128, dense_units=None,
                          condition_augmentation=0, name="generator"):
    """DCGAN generator (Radford et al. 2016).

    Dense projection to a ``start x start`` map, then fractionally-strided
    convolutions that double the size, batch norm + ReLU everywhere except
    the ``tanh`` output layer.

    Args:
        latent_dim: size of ``z``.
        image_shape: ``(H, W, C)``; H = W in {4*2^n, 7*2^n}, e.g. 28, 32, 64.
        base_filters: channels of the last hidden layer; earlier layers
            double it.
        num_classes: if set, a label embedding is concatenated to ``z``.
        kernel_size: transposed-convolution kernel size.
        condition_dim: if set, the model takes ``[z, condition]`` with a
            float vector ``condition`` (a text embedding), projected to
            ``condition_units`` and concatenated to ``z`` (Reed et al. 2016).
        condition_units: size of that projection.
        condition_augmentation: if set, the projected condition becomes a
            sample of this size around it, drawn with the first entries of
            ``z`` (:class:`kgan.layers.ConditioningAugmentation`, StackGAN).
        dense_units: if set, a dense layer of this width (batch norm, ReLU)
            before the projection, as in InfoGAN's and AC-GAN's MNIST
            generators (FC 1024; Chen et al. 2016, appendix C.1).
        sync_batch_norm: batch statistics over the GLOBAL batch under a
            distribution strategy (else each replica normalises its own).
        upsampling: how the stride-2 transposed convolutions are computed:
            ``"transpose"`` (``keras.layers.Conv2DTranspose``),
            ``"subpixel"`` (:class:`kgan.layers.SubPixelConv2DTranspose`)
            or ``"auto"`` (the faster of the two per layer as measured on
            CPU: sub-pixel for the image layer only). Every choice computes
            the same function with the same weights and variable names, so a
            checkpoint of one loads into another.
        name: model name.

    Returns:
        A ``keras.Model`` producing images in [-1, 1].

    Example:
        >>> g = build_dcgan_generator(16, (28, 28, 1), base_filters=8)
        >>> g(keras.random.normal((2, 16))).shape
        (2, 28, 28, 1)
    """
    start, n = dcgan_plan(image_shape)
    hidden_up, image_up = _upsampling_layers(upsampling)
    channels = image_shape[-1]
    inputs, x = generator_inputs(latent_dim, num_classes)
    z = inputs[0]
    if condition_dim:
        cond, proj = condition_projection(condition_dim, condition_units, "g")
        inputs.append(cond)
        if condition_augmentation:
            proj = ConditioningAugmentation(condition_augmentation,
                                            name=CONDITIONING_AUGMENTATION)([proj, z])
        x = layers.Concatenate(name="z_and_condition")([z, proj])
    if dense_units:
        x = layers.Dense(int(dense_units), use_bias=False, name="dense")(x)
        x = layers.BatchNormalization(synchronized=sync_batch_norm, name="dense_bn")(x)
        x = layers.ReLU(name="dense_relu")(x)
    filters = base_filters * 2 ** (n - 1)
    x = layers.Dense(start * start * filters, use_bias=False, name="project")(x)
    x = layers.BatchNormalization(synchronized=sync_batch_norm, name="project_bn")(x)
    x = layers.ReLU(name="project_relu")(x)
    x = layers.Reshape((start, start, filters), name="to_map")(x)
    for i in range(n - 1):
        filters //= 2
        x = hidden_up(filters, kernel_size, strides=2, padding="same",
                      use_bias=False, name=f"up_{i}")(x)
        x = layers.BatchNormalization(synchronized=sync_batch_norm, name=f"up_{i}_bn")(x)
        x = layers.ReLU(name=f"up_{i}_relu")(x)
    x = image_up(channels, kernel_size, strides=2, padding="same",
                 activation="tanh", name="to_image")(x)
    return keras.Model(inputs if len(inputs) > 1 else z, x, name=name)


def build_dcgan_discriminator(image_shape, base_filters=64, num_classes=None,
                              normalization="batch", sync_batch_norm=False,
                              dropout=0.0, spectral_norm=False, kernel_size=4,
                              minibatch_std=0, aux_classes=None, condition_dim=None,
                              condition_units=128, dense_units=None, aux_hidden_units=None,
                              label_conditioning="input", name="discriminator"):
    """DCGAN discriminator (Radford et al. 2016).

    Strided convolutions (no pooling), LeakyReLU(0.2), batch norm on every
    layer but the first, and a single linear score.

    Args:
        image_shape: ``(H, W, C)``.
        base_filters: channels of the first convolution; each later one
            doubles.
        num_classes: if set, the model takes ``[images, labels]`` and is
            conditioned as ``label_conditioning`` says.
        label_conditioning: ``"input"``: a learned ``H x W`` label map is
            concatenated to the image channels (Mirza & Osindero 2014);
            ``"projection"``: the score gains ``<embed(y), phi(x)>``, the
            inner product of a learned class embedding with D's last
            features (Miyato & Koyama, "cGANs with Projection
            Discriminator", ICLR 2018), which ties the score to the label
            far more strongly than an input channel.
        normalization: ``"batch"``, ``"layer"`` or ``"none"``.
        sync_batch_norm: synchronise batch statistics across replicas
            (``BatchNormalization(synchronized=True)``).
        dropout: dropout rate after each convolution block.
        spectral_norm: wrap each convolution and the head in
            ``SpectralNormalization``.
        kernel_size: convolution kernel size.
        minibatch_std: group size of a :class:`kgan.layers.MinibatchStdDev`
            after the last convolution (Karras et al. 2018); 0 for none.
        aux_classes: add an AC-GAN class head with this many classes; the
            model then returns ``[scores, class_logits]``.
        condition_dim: if set, the model takes ``[images, condition]``. With
            ``label_conditioning="input"`` the projected condition is
            replicated over the last feature map, concatenated, and mixed by
            a 1x1 convolution (Reed et al. 2016); with ``"projection"`` the
            score gains ``<V c, phi(x)>``, a learned linear map of the
            projected condition dotted with D's last features (Miyato &
            Koyama 2018, their continuous-condition form).
        condition_units: size of that projection.
        dense_units: if set, a dense layer of this width (normalization,
            LeakyReLU) on the flattened features, shared by the heads: the
            FC 1024 trunk of InfoGAN's MNIST discriminator (Chen et al. 2016,
            appendix C.1).
        aux_hidden_units: if set (with ``aux_classes``), the auxiliary head
            gets its own hidden layer of this width (normalization,
            LeakyReLU): InfoGAN's Q head, FC 128 then the code outputs.
        name: model name.

    Returns:
        A ``keras.Model`` mapping images (or ``[images, labels]``) to
        ``[batch, 1]`` scores (and ``[batch, aux_classes]`` logits).

    Example:
        >>> d = build_dcgan_discriminator((28, 28, 1), base_filters=8)
        >>> d(keras.ops.zeros((2, 28, 28, 1))).shape
        (2, 1)
    """
    _, n = dcgan_plan(image_shape)
    h, w = image_shape[:2]
    x_in = keras.Input(shape=tuple(image_shape), name="samples")
    inputs = [x_in]
    x = x_in
    check_label_conditioning(label_conditioning)
    if num_classes:
        labels = label_input()
        inputs.append(labels)
    if num_classes and label_conditioning == "input":
        lmap = layers.Embedding(num_classes, h * w, name="label_map")(labels)
        lmap = layers.Reshape((h, w, 1), name="label_map_2d")(lmap)
        x = layers.Concatenate(name="image_and_label")([x, lmap])
    filters = base_filters
    for i in range(n):
        # Batch norm subtracts each channel's mean, so a bias before it gets a zero
        # gradient; Adam would turn that numerical noise into lr-sized steps.
        bias = not (i > 0 and normalization == "batch")
        x = _maybe_spectral(layers.Conv2D(filters, kernel_size, strides=2, padding="same",
                                          use_bias=bias, name=f"down_{i}"), spectral_norm)(x)
        x = _norm_lrelu(x, f"down_{i}", normalization if i > 0 else "none", sync_batch_norm)
        if dropout:
            x = layers.Dropout(dropout, name=f"down_{i}_dropout")(x)
        filters *= 2
    if minibatch_std:
        x = MinibatchStdDev(minibatch_std, name="minibatch_std")(x)
    if condition_dim:
        cond, proj = condition_projection(condition_dim, condition_units, "d")
        inputs.append(cond)
    if condition_dim and label_conditioning == "input":
        fh, fw = x.shape[1], x.shape[2]
        tiled = layers.Reshape((fh, fw, condition_units), name="condition_map")(
            layers.RepeatVector(fh * fw, name="condition_tiled")(proj))
        x = layers.Concatenate(name="features_and_condition")([x, tiled])
        x = _maybe_spectral(layers.Conv2D(filters // 2, 1, use_bias=normalization != "batch",
                                          name="joint"), spectral_norm)(x)
        x = _norm_lrelu(x, "joint", normalization, sync_batch_norm)
    x = layers.Flatten(name="flatten")(x)
    block = dict(normalization=normalization, sync_batch_norm=sync_batch_norm,
                 spectral_norm=spectral_norm)
    if dense_units:
        x = _dense_block(x, dense_units, "dense", **block)
    aux = _dense_block(x, aux_hidden_units, "aux_hidden", **block) if (
        aux_classes and aux_hidden_units) else x
    out = _heads(x, aux_classes, spectral_norm, aux)
    if num_classes and label_conditioning == "projection":
        out = project_labels(out, x, labels, num_classes)
    if condition_dim and label_conditioning == "projection":
        out = project_condition(out, x, proj)
    return keras.Model(inputs if len(inputs) > 1 else x_in, out, name=name)


def _dense_block(x, units, name, normalization, sync_batch_norm, spectral_norm):
    """Dense (no bias before batch norm), normalization, LeakyReLU(0.2)."""
    x = _maybe_spectral(layers.Dense(int(units), use_bias=normalization != "batch", name=name),
                        spectral_norm)(x)
    return _norm_lrelu(x, name, normalization, sync_batch_norm)


def _norm_lrelu(x, name, normalization, sync_batch_norm):
    """``<name>_norm`` (none for ``"none"``), then D's ``<name>_lrelu`` LeakyReLU(0.2)."""
    norm = _normalization(normalization, synchronized=sync_batch_norm, name=f"{name}_norm")
    x = norm(x) if norm is not None else x
    return layers.LeakyReLU(0.2, name=f"{name}_lrelu")(x)


def resolve_architecture(architecture, data_shape):
    """Picks ``"dcgan"`` for square images it supports, else ``"mlp"``.

    Args:
        architecture: ``"auto"``, ``"mlp"`` or ``"dcgan"``.
        data_shape: shape of one sample.

    Returns:
        ``"mlp"`` or ``"dcgan"``.

    Example:
        >>> resolve_architecture("auto", (2,))
        'mlp'
    """
    if architecture == "auto":
        try:
            dcgan_plan(data_shape)
            return "dcgan"
        except ValueError:
            return "mlp"
    if architecture not in ARCHITECTURES:
        raise ValueError(f"architecture must be 'auto' or one of {ARCHITECTURES}, "
                         f"got {architecture!r}")
    return architecture


def build_networks(architecture, latent_dim, data_shape, num_classes=None,
                   generator_options=None, discriminator_options=None, packing=1,
                   aux_classifier=False):
    """Builds a ``(generator, discriminator)`` pair for an architecture name.

    Args:
        architecture: ``"auto"``, ``"mlp"`` or ``"dcgan"``.
        latent_dim: size of ``z``.
        data_shape: shape of one sample.
        num_classes: condition both networks on labels when set.
        generator_options: extra keyword arguments for the generator builder.
        discriminator_options: extra keyword arguments for the discriminator
            builder (e.g. ``{"spectral_norm": True, "minibatch_std": 4}``).
        packing: D judges this many samples at once (PacGAN); its input is
            :func:`kgan.layers.packed_shape` of ``data_shape``.
        aux_classifier: AC-GAN: D takes no labels and returns
            ``[scores, class_logits]`` over ``num_classes``; G is still
            conditional.

    Returns:
        ``(generator, discriminator)``.

    Example:
        >>> g, d = build_networks("mlp", 8, (2,))
        >>> g, d = build_networks("dcgan", 16, (28, 28, 1), num_classes=10, aux_classifier=True)
    """
    arch = resolve_architecture(architecture, data_shape)
    g_opts = dict(generator_options or {})
    d_opts = dict(discriminator_options or {})
    d_shape = packed_shape(data_shape, packing)
    if aux_classifier:
        if not num_classes:
            raise ValueError("aux_classifier needs num_classes.")
        d_opts.setdefault("aux_classes", num_classes)
    d_classes = None if aux_classifier else num_classes
    if arch == "dcgan":
        g = build_dcgan_generator(latent_dim, data_shape, num_classes=num_classes, **g_opts)
        d = build_dcgan_discriminator(d_shape, num_classes=d_classes, **d_opts)
    else:
        g = build_mlp_generator(latent_dim, data_shape, num_classes=num_classes, **g_opts)
        d = build_mlp_discriminator(d_shape, num_classes=d_classes, **d_opts)
    return g, d


# The BEGAN autoencoder builders live in kgan.began_networks; re-exported here.
from kgan.began_networks import build_began_discriminator, build_began_generator  # noqa: E402,F401
