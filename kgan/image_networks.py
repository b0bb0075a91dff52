"""Networks of the image-to-image families: U-Net, PatchGAN, ResNet and SRGAN builders.

Architecture only (no losses, no training): ``kgan.families.pix2pix``,
``cyclegan`` and ``srgan`` build their defaults from here, and users can pass
their own ``keras.Model`` instead. Every builder takes images in [-1, 1] and
the generators end in ``tanh``.

Normalisation (``normalization=``): ``"batch"`` (the papers' pix2pix / SRGAN
choice), ``"sync_batch"`` (batch statistics over all replicas), ``"instance"``
(CycleGAN's choice; per image, so N replicas equal one device) or ``"none"``.
"""

from __future__ import annotations

import keras
import tensorflow as tf
from keras import layers, ops

from kgan.core import replica

NORMALIZATIONS = ("batch", "sync_batch", "instance", "none")


def _norm(kind, name):
    if kind not in NORMALIZATIONS:
        raise ValueError(f"normalization must be one of {NORMALIZATIONS}, got {kind!r}.")
    if kind == "batch":
        return layers.BatchNormalization(name=name)
    if kind == "sync_batch":
        return layers.BatchNormalization(synchronized=True, name=name)
    if kind == "instance":
        return layers.GroupNormalization(groups=-1, name=name)
    return layers.Identity(name=name)


def _check_image_shape(shape, what):
    shape = tuple(int(d) for d in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{what}: expected an image shape (height, width, channels), got {shape}.")
    return shape


@keras.saving.register_keras_serializable(package="kgan")
class ReplicaDropout(layers.Layer):
    """Dropout whose mask is drawn for the GLOBAL batch and sliced per replica.

    Keras's ``Dropout`` draws a mask per replica, so two replicas would not
    equal one device; this layer follows the distribution rule
    (``kgan.core.replica.draw``). Its seed state is a weight: saved and
    resumed with the model. Identity when ``training`` is false.

    Args:
        rate: share of units dropped.
        seed: seed of the layer's ``keras.random.SeedGenerator``.

    Example:
        >>> y = ReplicaDropout(0.5, seed=0)(x, training=True)
    """

    def __init__(self, rate=0.5, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= float(rate) < 1.0:
            raise ValueError(f"dropout rate must be in [0, 1), got {rate}.")
        self.rate, self.seed = float(rate), seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, x, training=False):
        if not training or self.rate == 0.0:
            return x
        shape = tuple(x.shape[1:])
        keep = replica.draw(lambda n: keras.random.uniform((n,) + shape, seed=self.seed_generator),
                            ops.shape(x)[0])
        mask = ops.cast(keep >= self.rate, x.dtype)
        return x * mask / ops.cast(1.0 - self.rate, x.dtype)

    def compute_output_shape(self, input_shape):
        return input_shape

    # Keras saves layer variables but not seed-generator states; the masks are
    # training state (a resumed run must draw what an uninterrupted one would).
    def save_own_variables(self, store):
        super().save_own_variables(store)
        store["seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        if "seed_state" in store.keys():
            self.seed_generator.state.assign(store["seed_state"])
        super().load_own_variables({k: store[k] for k in store.keys() if k != "seed_state"})

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


@keras.saving.register_keras_serializable(package="kgan")
class SubPixelUpsampling(layers.Layer):
    """Sub-pixel convolution's shuffle: ``[n, h, w, c*r*r] -> [n, h*r, w*r, c]``.

    Exactly ``tf.nn.depth_to_space(x, r)``: output pixel ``(i*r + a, j*r + b)``
    channel ``k`` is input pixel ``(i, j)`` channel ``(a*r + b)*c + k``.

    Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
    Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016.

    Args:
        scale: the factor ``r``.

    Example:
        >>> SubPixelUpsampling(2)(tf.zeros((1, 7, 7, 4))).shape
        TensorShape([1, 14, 14, 1])
    """

    def __init__(self, scale=2, **kwargs):
        super().__init__(**kwargs)
        self.scale = int(scale)

    def call(self, x):
        return tf.nn.depth_to_space(x, self.scale)

    def compute_output_shape(self, s):
        r = self.scale
        return (s[0], None if s[1] is None else s[1] * r, None if s[2] is None else s[2] * r,
                s[3] // (r * r))

    def get_config(self):
        return {**super().get_config(), "scale": self.scale}


def unet_depth(size, max_depth=8):
    """Halvings to a 1x1 bottleneck on side ``size`` (``ceil(log2(size))``, at most ``max_depth``).

    The paper's 256x256 U-Net has 8 levels, so its bottleneck sees the whole
    image; a side that is not a power of two is padded up (28 -> 32: 5 levels).
    """
    d = 0
    while d < max_depth and 2 ** d < size:
        d += 1
    return d


def build_unet_generator(source_shape, target_channels, base_filters=64, depth=None,
                         dropout=0.5, dropout_layers=3, normalization="batch", seed=None,
                         name="unet_generator"):
    """Pix2Pix's U-Net: 4x4 stride-2 encoder, mirrored decoder, skip connections.

    Encoder ``C64-C128-C256-C512-C512...`` (LeakyReLU 0.2, no norm on the
    first and the innermost layer), decoder with ReLU, dropout 0.5 on the first
    ``dropout_layers`` decoder layers (the paper's only noise source), each
    decoder layer concatenated with its mirror, ``tanh`` output.

    Isola et al., "Image-to-Image Translation with Conditional Adversarial
    Networks", CVPR 2017, appendix 6.1.1.

    Args:
        source_shape: ``(H, W, C_in)``; sides that are not multiples of
            ``2**depth`` are padded with -1 and the output cropped back.
        target_channels: output channels.
        base_filters: filters of the first layer (paper: 64), doubled per level up to 8x.
        depth: stride-2 levels (default :func:`unet_depth`: down to a 1x1
            bottleneck, at most 8, as the paper's 256x256 uses 8; a shallower
            U-Net cannot see far: 2 levels on 28x28 see about 10 pixels).
        dropout: dropout rate of the first decoder layers (paper: 0.5).
        dropout_layers: how many decoder layers get dropout (paper: 3).
        normalization: see the module docstring.
        seed: seed of the dropout masks.
        name: model name.

    Example:
        >>> g = build_unet_generator((28, 28, 1), 1, base_filters=16)
        >>> g.output.shape
        (None, 28, 28, 1)
    """
    h, w, _ = _check_image_shape(source_shape, "source_shape")
    most = unet_depth(min(h, w))
    depth = most if depth is None else int(depth)
    if not 1 <= depth <= max(1, most):
        raise ValueError(f"U-Net depth {depth}: expected 1 to {max(1, most)} levels for a "
                         f"{h}x{w} source (the last one reaches a 1x1 bottleneck).")
    x_in = keras.Input(source_shape, name="source")
    step = 2 ** depth
    pad_h, pad_w = -h % step, -w % step
    x = x_in
    if pad_h or pad_w:
        # Pad with -1 (the background of images in [-1, 1]) up to a multiple of 2**depth;
        # Rescaling's offset turns ZeroPadding2D's zeros into -1 with built-in layers only.
        x = layers.Rescaling(1.0, offset=1.0, name="pad_shift")(x)
        x = layers.ZeroPadding2D(((pad_h // 2, pad_h - pad_h // 2),
                                  (pad_w // 2, pad_w - pad_w // 2)), name="pad")(x)
        x = layers.Rescaling(1.0, offset=-1.0, name="pad_unshift")(x)
    skips = []
    for i in range(depth):
        f = base_filters * min(2 ** i, 8)
        x = layers.Conv2D(f, 4, strides=2, padding="same", use_bias=False, name=f"down{i}")(x)
        if 0 < i < depth - 1:  # as the paper's code: no norm first or innermost (a 1x1
            x = _norm(normalization, f"down{i}_norm")(x)  # instance norm would zero it)
        x = layers.LeakyReLU(0.2, name=f"down{i}_act")(x)
        skips.append(x)
    for j, i in enumerate(reversed(range(depth - 1))):
        f = base_filters * min(2 ** i, 8)
        x = layers.Conv2DTranspose(f, 4, strides=2, padding="same", use_bias=False,
                                   name=f"up{i}")(x)
        x = _norm(normalization, f"up{i}_norm")(x)
        if j < dropout_layers and dropout > 0:
            x = ReplicaDropout(dropout, seed=None if seed is None else seed + j,
                               name=f"up{i}_dropout")(x)
        x = layers.ReLU(name=f"up{i}_act")(x)
        x = layers.Concatenate(name=f"skip{i}")([x, skips[i]])
    out = layers.Conv2DTranspose(target_channels, 4, strides=2, padding="same",
                                 activation="tanh", name="output")(x)
    if pad_h or pad_w:
        out = layers.Cropping2D(((pad_h // 2, pad_h - pad_h // 2),
                                 (pad_w // 2, pad_w - pad_w // 2)), name="crop")(out)
    return keras.Model(x_in, out, name=name)


def build_patchgan_discriminator(image_shape, source_shape=None, base_filters=64, num_layers=3,
                                 normalization="batch", name="patchgan_discriminator"):
    """PatchGAN: one logit per overlapping patch, ``[n, h', w', 1]``.

    ``C64-C128-C256`` 4x4 stride-2 convolutions, one stride-1 ``C512``, a
    1-channel stride-1 convolution (the 70x70 PatchGAN at ``num_layers=3``
    on 256x256 images). With ``source_shape`` it is conditional, as in
    pix2pix: it judges ``concat(source, image)``.

    Isola et al. 2017, appendix 6.1.2.

    Args:
        image_shape: ``(H, W, C)`` of the judged images.
        source_shape: ``(H, W, C_src)`` for a conditional D (same ``H, W``), or ``None``.
        base_filters: filters of the first layer (paper: 64).
        num_layers: stride-2 layers (paper: 3).
        normalization: see the module docstring (never on the first layer).
        name: model name.

    Example:
        >>> d = build_patchgan_discriminator((28, 28, 1), (28, 28, 1), base_filters=8)
        >>> d.output.shape
        (None, 4, 4, 1)
    """
    image_shape = _check_image_shape(image_shape, "image_shape")
    img = keras.Input(image_shape, name="images")
    inputs, x = img, img
    if source_shape is not None:
        source_shape = _check_image_shape(source_shape, "source_shape")
        if source_shape[:2] != image_shape[:2]:
            raise ValueError(f"A conditional PatchGAN needs source and image of one size, got "
                             f"{source_shape} and {image_shape}.")
        src = keras.Input(source_shape, name="source")
        inputs, x = [src, img], layers.Concatenate(name="pair")([src, img])
    for i in range(num_layers + 1):
        last = i == num_layers
        f = base_filters * min(2 ** i, 8)
        x = layers.Conv2D(f, 4, strides=1 if last else 2, padding="same", use_bias=i == 0,
                          name=f"conv{i}")(x)
        if i > 0:
            x = _norm(normalization, f"conv{i}_norm")(x)
        x = layers.LeakyReLU(0.2, name=f"conv{i}_act")(x)
    out = layers.Conv2D(1, 4, padding="same", name="patch_logits", dtype="float32")(x)
    return keras.Model(inputs, out, name=name)


def build_resnet_generator(image_shape, target_channels=None, base_filters=64, num_blocks=6,
                           normalization="instance", name="resnet_generator"):
    """CycleGAN's ResNet generator: ``c7s1-64, d128, d256, R256 x n, u128, u64, c7s1``.

    Zero padding stands in for the paper's reflection padding.

    Zhu et al., "Unpaired Image-to-Image Translation using Cycle-Consistent
    Adversarial Networks", ICCV 2017, appendix 7.2 (6 blocks at 128x128, 9 at 256x256).

    Args:
        image_shape: ``(H, W, C)``; ``H`` and ``W`` divisible by 4.
        target_channels: output channels (default: ``C``).
        base_filters: filters of the first layer (paper: 64).
        num_blocks: residual blocks (paper: 6 or 9).
        normalization: see the module docstring (paper: instance).
        name: model name.

    Example:
        >>> build_resnet_generator((28, 28, 1), base_filters=8, num_blocks=2).output.shape
        (None, 28, 28, 1)
    """
    h, w, c = _check_image_shape(image_shape, "image_shape")
    if h % 4 or w % 4:
        raise ValueError(f"The ResNet generator downsamples twice: {h}x{w} must be divisible by 4.")
    x_in = keras.Input(image_shape, name="source")
    x = layers.Conv2D(base_filters, 7, padding="same", use_bias=False, name="c7s1")(x_in)
    x = layers.ReLU()(_norm(normalization, "c7s1_norm")(x))
    for i, f in enumerate((base_filters * 2, base_filters * 4)):
        x = layers.Conv2D(f, 3, strides=2, padding="same", use_bias=False, name=f"d{i}")(x)
        x = layers.ReLU()(_norm(normalization, f"d{i}_norm")(x))
    for b in range(num_blocks):
        y = layers.Conv2D(base_filters * 4, 3, padding="same", use_bias=False, name=f"r{b}a")(x)
        y = layers.ReLU()(_norm(normalization, f"r{b}a_norm")(y))
        y = layers.Conv2D(base_filters * 4, 3, padding="same", use_bias=False, name=f"r{b}b")(y)
        x = layers.Add(name=f"r{b}")([x, _norm(normalization, f"r{b}b_norm")(y)])
    for i, f in enumerate((base_filters * 2, base_filters)):
        x = layers.Conv2DTranspose(f, 3, strides=2, padding="same", use_bias=False, name=f"u{i}")(x)
        x = layers.ReLU()(_norm(normalization, f"u{i}_norm")(x))
    out = layers.Conv2D(target_channels or c, 7, padding="same", activation="tanh",
                        name="output")(x)
    return keras.Model(x_in, out, name=name)


def build_srgan_generator(lr_shape, scale=4, filters=64, num_blocks=16, normalization="batch",
                          target_channels=None, name="srgan_generator"):
    """SRResNet: residual blocks, then sub-pixel x2 upsampling steps.

    ``k9n64`` conv + PReLU; ``num_blocks`` residual blocks (conv-BN-PReLU-
    conv-BN + skip); conv-BN + a long skip; ``log2(scale)`` blocks of
    ``conv(4*filters) -> SubPixelUpsampling(2) -> PReLU``; ``k9`` conv to
    the output channels with ``tanh``.

    Ledig et al., "Photo-Realistic Single Image Super-Resolution Using a
    Generative Adversarial Network", CVPR 2017, figure 4 (16 blocks, 64 filters).

    Args:
        lr_shape: low-resolution input ``(h, w, C)``.
        scale: a power of 2 (paper: 4).
        filters: width (paper: 64).
        num_blocks: residual blocks (paper: 16).
        normalization: see the module docstring (paper: batch).
        target_channels: output channels (default: ``C``).
        name: model name.

    Example:
        >>> build_srgan_generator((7, 7, 1), 4, filters=8, num_blocks=1).output.shape
        (None, 28, 28, 1)
    """
    h, w, c = _check_image_shape(lr_shape, "lr_shape")
    steps = int(scale).bit_length() - 1
    if scale < 2 or 2 ** steps != scale:
        raise ValueError(f"scale must be a power of 2 >= 2, got {scale}.")
    bias = normalization == "none"  # a bias before normalisation is cancelled by it
    x_in = keras.Input(lr_shape, name="source")
    x = layers.Conv2D(filters, 9, padding="same", name="head")(x_in)
    head = x = layers.PReLU(shared_axes=[1, 2], name="head_act")(x)
    for b in range(num_blocks):
        y = layers.Conv2D(filters, 3, padding="same", use_bias=bias, name=f"res{b}a")(x)
        y = layers.PReLU(shared_axes=[1, 2])(_norm(normalization, f"res{b}a_norm")(y))
        y = layers.Conv2D(filters, 3, padding="same", use_bias=bias, name=f"res{b}b")(y)
        x = layers.Add(name=f"res{b}")([x, _norm(normalization, f"res{b}b_norm")(y)])
    x = layers.Conv2D(filters, 3, padding="same", use_bias=bias, name="trunk")(x)
    x = layers.Add(name="long_skip")([head, _norm(normalization, "trunk_norm")(x)])
    for s in range(steps):
        x = layers.Conv2D(filters * 4, 3, padding="same", name=f"up{s}_conv")(x)
        x = SubPixelUpsampling(2, name=f"up{s}_shuffle")(x)
        x = layers.PReLU(shared_axes=[1, 2], name=f"up{s}_act")(x)
    out = layers.Conv2D(target_channels or c, 9, padding="same", activation="tanh",
                        name="output")(x)
    return keras.Model(x_in, out, name=name)


def build_srgan_discriminator(image_shape, base_filters=64, num_blocks=8, dense_units=1024,
                              normalization="batch", name="srgan_discriminator"):
    """SRGAN's D: 3x3 conv blocks (strides 1, 2, 1, 2, ...; filters doubling every
    two), LeakyReLU 0.2, a dense layer and one logit.

    Ledig et al. 2017, figure 4 (8 blocks, 64 to 512 filters, dense 1024).

    Args:
        image_shape: high-resolution ``(H, W, C)``.
        base_filters: filters of the first block (paper: 64).
        num_blocks: conv blocks (paper: 8).
        dense_units: width of the dense layer (paper: 1024).
        normalization: see the module docstring (never on the first block).
        name: model name.

    Example:
        >>> build_srgan_discriminator((28, 28, 1), 8, 4, 32).output.shape
        (None, 1)
    """
    image_shape = _check_image_shape(image_shape, "image_shape")
    x_in = keras.Input(image_shape, name="images")
    x = x_in
    for b in range(num_blocks):
        f = base_filters * 2 ** (b // 2)
        x = layers.Conv2D(f, 3, strides=1 + b % 2, padding="same",
                          use_bias=b == 0 or normalization == "none", name=f"conv{b}")(x)
        if b > 0:
            x = _norm(normalization, f"conv{b}_norm")(x)
        x = layers.LeakyReLU(0.2)(x)
    x = layers.Flatten()(x)
    x = layers.LeakyReLU(0.2)(layers.Dense(dense_units, name="dense")(x))
    out = layers.Dense(1, name="logit", dtype="float32")(x)
    return keras.Model(x_in, out, name=name)


def build_feature_network(image_shape=(28, 28, 1), filters=(32, 64), num_classes=10,
                          name="feature_network"):
    """A small CNN whose last conv block gives SRGAN's offline feature loss.

    Train it as a classifier (its ``logits`` output) on images that neither
    the GANs nor the benchmark's judge use, then pass
    ``kgan.families.srgan.feature_extractor_from(net)`` to SRGAN: the
    offline stand-in for VGG19 features (Ledig et al. 2017, section 2.2.2).

    Args:
        image_shape: input shape.
        filters: filters of each two-conv block (3x3, ReLU, then 2x2 max-pool).
        num_classes: logits of the classification head.
        name: model name.

    Example:
        >>> net = build_feature_network()
        >>> net.get_layer("features").output.shape
        (None, 14, 14, 64)
    """
    x_in = keras.Input(image_shape, name="images")
    x = x_in
    for i, f in enumerate(filters):
        if i:
            x = layers.MaxPooling2D(name=f"pool{i}")(x)
        x = layers.Conv2D(f, 3, padding="same", activation="relu", name=f"conv{i}a")(x)
        x = layers.Conv2D(f, 3, padding="same", name="features" if i == len(filters) - 1
                          else f"conv{i}b")(x)
        x = layers.ReLU()(x)
    x = layers.GlobalAveragePooling2D()(x)
    out = layers.Dense(num_classes, name="logits")(x)
    return keras.Model(x_in, out, name=name)
