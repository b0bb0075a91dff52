"""Layers: minibatch standard deviation, packing, sub-pixel upsampling, conditioning augmentation.

The first two are mode-collapse remedies that let D look at more than one
sample at a time; :class:`SubPixelConv2DTranspose` is a faster way for G to
compute a strided transposed convolution. All are ordinary serializable
Keras layers, usable in any network.
"""

from __future__ import annotations

import math

import keras
import tensorflow as tf
from keras import ops


def _static_dim(x, axis=0):
    d = x.shape[axis]
    return None if d is None else int(d)


@keras.saving.register_keras_serializable(package="kgan")
class MinibatchStdDev(keras.layers.Layer):
    """Appends the minibatch standard deviation as one extra feature.

    Splits the batch into groups of ``group_size`` CONSECUTIVE samples,
    takes each feature's standard deviation over the group, averages it over
    all features (and positions), and appends that scalar to every sample of
    the group as a constant extra channel. A collapsed generator produces
    batches with a low statistic, which D can then see.

    Karras et al., "Progressive Growing of GANs for Improved Quality,
    Stability, and Variation", ICLR 2018, section 3.

    Groups are consecutive rows (StyleGAN's code strides them instead) so that
    when the per-replica batch is a multiple of the group size, N replicas
    form exactly the groups one device forms. The batch must be a multiple
    of ``min(group_size, batch)``.

    Args:
        group_size: samples per group (4 in the paper).
        epsilon: added to the variance before the square root.

    Input: ``[batch, features]`` or ``[batch, H, W, C]``.
    Output: the same with one more feature / channel.

    Example:
        >>> MinibatchStdDev(2)(ops.convert_to_tensor([[0.0], [2.0]]))
        # [[0, 1], [2, 1]]: the std of {0, 2} is 1
    """

    def __init__(self, group_size=4, epsilon=1e-8, **kwargs):
        super().__init__(**kwargs)
        if int(group_size) < 1:
            raise ValueError(f"group_size must be >= 1, got {group_size}.")
        self.group_size = int(group_size)
        self.epsilon = float(epsilon)

    def call(self, x):
        batch = _static_dim(x)
        dyn_batch = ops.shape(x)[0]
        if batch is not None:
            g = min(self.group_size, batch)
            if batch % g:
                raise ValueError(
                    f"MinibatchStdDev: a batch of {batch} does not split into groups of {g}; "
                    f"use a batch size divisible by {self.group_size}.")
        else:
            g = ops.minimum(self.group_size, dyn_batch)
            check = tf.debugging.assert_equal(
                dyn_batch % g, 0,
                message=f"kgan: MinibatchStdDev needs a batch divisible by its group size "
                        f"{self.group_size}")
            with tf.control_dependencies([check]):
                x = tf.identity(x)
        rest = tuple(x.shape[1:])
        y = ops.reshape(ops.cast(x, "float32"), (-1, g) + rest)   # [groups, g, ...]
        var = ops.mean(ops.square(y - ops.mean(y, axis=1, keepdims=True)), axis=1)
        std = ops.sqrt(var + self.epsilon)                          # [groups, ...]
        stat = ops.mean(ops.reshape(std, (ops.shape(std)[0], -1)), axis=-1)  # [groups]
        stat = ops.repeat(stat, g, axis=0)                          # one per sample
        stat = ops.reshape(stat, (-1,) + (1,) * len(rest))
        extra = ops.broadcast_to(ops.cast(stat, x.dtype),
                                 (dyn_batch,) + rest[:-1] + (1,))
        return ops.concatenate([x, extra], axis=-1)

    def compute_output_shape(self, input_shape):
        last = input_shape[-1]
        return tuple(input_shape[:-1]) + (None if last is None else last + 1,)

    def get_config(self):
        return {**super().get_config(), "group_size": self.group_size, "epsilon": self.epsilon}


CONDITIONING_AUGMENTATION = "g_condition_augmentation"  # its name in kgan's generators


@keras.saving.register_keras_serializable(package="kgan")
class ConditioningAugmentation(keras.layers.Layer):
    """StackGAN's conditioning augmentation: ``c = mu(h) + exp(logvar(h) / 2) * eps``.

    Zhang et al., "StackGAN: Text to Photo-realistic Image Synthesis with
    Stacked Generative Adversarial Networks", ICCV 2017, section 3.2: G is
    conditioned on a sample around the text embedding instead of the
    embedding itself, with ``KL(N(mu, sigma^2) || N(0, I))`` added to G's
    loss (:class:`kgan.objectives.ConditioningKL`), so that one sentence
    gives varied images. ``eps`` is the first ``units`` entries of the
    generator's latent ``z``, so a seed still fixes the image (exports,
    ``generate(seed=)``) and N replicas draw what one device draws.

    Args:
        units: size of ``c`` (at most the latent size).

    Input: ``[h, z]``: the condition features ``[batch, d]`` and the latents.
    Output: ``c``, ``[batch, units]``.

    Example:
        >>> ConditioningAugmentation(4)([ops.ones((2, 8)), ops.zeros((2, 16))]).shape
        (2, 4)   # z = 0: c = mu(h)
    """

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        if int(units) < 1:
            raise ValueError(f"ConditioningAugmentation units must be >= 1, got {units}.")
        self.units = int(units)
        self.moments_layer = keras.layers.Dense(2 * self.units, name="moments")

    def build(self, input_shape):
        h_shape, z_shape = input_shape
        if z_shape[-1] is not None and z_shape[-1] < self.units:
            raise ValueError(f"ConditioningAugmentation({self.units}) draws eps from the first "
                             f"{self.units} latent entries, but z has {z_shape[-1]}.")
        self.moments_layer.build(h_shape)

    def moments(self, h):
        """``(mu, logvar)``, each ``[batch, units]``."""
        out = ops.cast(self.moments_layer(h), "float32")
        return out[:, :self.units], out[:, self.units:]

    def call(self, inputs):
        h, z = inputs
        mu, logvar = self.moments(h)
        eps = ops.cast(z[:, :self.units], "float32")
        return ops.cast(mu + ops.exp(0.5 * logvar) * eps, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], self.units)

    def get_config(self):
        return {**super().get_config(), "units": self.units}


def packed_shape(sample_shape, packing):
    """Shape of one packed D input: ``m`` samples joined on the last axis.

    Example:
        >>> packed_shape((2,), 4), packed_shape((28, 28, 1), 2)
        ((8,), (28, 28, 2))
    """
    sample_shape = tuple(int(d) for d in sample_shape)
    return sample_shape[:-1] + (sample_shape[-1] * int(packing),)


def pack(x, packing):
    """Joins each run of ``m`` consecutive samples into one D input.

    ``[B, ..., C] -> [B/m, ..., m*C]``: samples ``m*i .. m*i+m-1`` become
    input ``i``, concatenated on the last axis (vectors end to end, images
    channel-wise) as in PacGAN.

    Lin et al., "PacGAN: The power of two samples in generative adversarial
    networks", NeurIPS 2018.

    Args:
        x: ``[batch, ...]`` with ``batch`` divisible by ``packing``.
        packing: ``m``.

    Returns:
        ``[batch / m, ..., m * C]``.

    Raises:
        ValueError: when the (static) batch is not divisible by ``m``.

    Example:
        >>> pack(ops.reshape(ops.arange(8.0), (4, 2)), 2)
        # [[0, 1, 2, 3], [4, 5, 6, 7]]
    """
    m = int(packing)
    if m == 1:
        return x
    batch = _static_dim(x)
    if batch is not None and batch % m:
        raise ValueError(f"Packing m={m} samples per D input needs a batch divisible by {m}, "
                         f"got a batch of {batch}.")
    rest = tuple(int(d) for d in x.shape[1:])
    y = ops.reshape(x, (-1, m) + rest)                      # [B/m, m, ..., C]
    perm = (0,) + tuple(range(2, len(rest) + 1)) + (1, len(rest) + 1)
    y = ops.transpose(y, perm)                              # [B/m, ..., m, C]
    return ops.reshape(y, (-1,) + rest[:-1] + (m * rest[-1],))


def unpack(x, packing):
    """Inverse of :func:`pack`: ``[B/m, ..., m*C] -> [B, ..., C]``.

    Example:
        >>> unpack(pack(x, 2), 2)  # == x
    """
    m = int(packing)
    if m == 1:
        return x
    rest = tuple(int(d) for d in x.shape[1:])
    c = rest[-1] // m
    y = ops.reshape(x, (-1,) + rest[:-1] + (m, c))          # [B/m, ..., m, C]
    perm = (0, len(rest)) + tuple(range(1, len(rest))) + (len(rest) + 1,)
    y = ops.transpose(y, perm)                              # [B/m, m, ..., C]
    return ops.reshape(y, (-1,) + rest[:-1] + (c,))


@keras.saving.register_keras_serializable(package="kgan")
class Packing(keras.layers.Layer):
    """Layer form of :func:`pack` (PacGAN, Lin et al. 2018).

    Put it in front of a discriminator built for :func:`packed_shape` inputs
    to let it judge ``m`` samples at once. ``kgan.GAN(packing=m)`` does this
    itself and scales the loss per packed input.

    Args:
        packing: ``m``, samples per D input.

    Example:
        >>> Packing(2)(ops.zeros((8, 28, 28, 1))).shape
        (4, 28, 28, 2)
    """

    def __init__(self, packing=2, **kwargs):
        super().__init__(**kwargs)
        if int(packing) < 1:
            raise ValueError(f"packing must be >= 1, got {packing}.")
        self.packing = int(packing)

    def call(self, x):
        return pack(x, self.packing)

    def compute_output_shape(self, input_shape):
        b = input_shape[0]
        b = None if b is None else b // self.packing
        return (b,) + packed_shape(input_shape[1:], self.packing)

    def get_config(self):
        return {**super().get_config(), "packing": self.packing}


def subpixel_taps(kernel_size, stride):
    """Where each tap of a 1-D "same" transposed convolution lands in its sub-pixel form.

    A stride-``s`` transposed convolution writes output pixel ``s*q + r``
    from input pixels near ``q`` only, through the taps ``t`` with
    ``t = (r + pad) mod s``, ``(r + pad) mod s + s``, ... So each output phase
    ``r`` is an ordinary stride-1 correlation of the input, and all ``s``
    phases together are one stride-1 correlation with ``s`` times the output
    channels (taps a phase does not use are zero).

    Args:
        kernel_size: ``k`` of the transposed convolution.
        stride: ``s``.

    Returns:
        ``(lo, hi, index)``: the correlation reads input offsets
        ``lo .. hi`` (``lo <= 0 <= hi``) around each pixel, and
        ``index[a][r]`` is the transposed-convolution tap at offset
        ``lo + a`` of phase ``r``, or ``kernel_size`` where that phase has no
        tap (the row of zeros appended to the kernel).

    Example:
        >>> subpixel_taps(4, 2)  # phase 0 reads taps 3, 1; phase 1 taps 2, 0
        (-1, 1, [[3, 4], [1, 2], [4, 0]])
    """
    k, s = int(kernel_size), int(stride)
    # TensorFlow's "same" padding of the forward convolution this transposes:
    # max(k - s, 0) in all, the smaller half before.
    pad = max(k - s, 0) // 2
    taps = {}
    for r in range(s):
        base, phase = divmod(r + pad, s)
        for m in range(math.ceil((k - phase) / s)):
            taps[(base - m, r)] = s * m + phase
    lo = min([0] + [d for d, _ in taps])
    hi = max([0] + [d for d, _ in taps])
    index = [[taps.get((lo + a, r), k) for r in range(s)] for a in range(hi - lo + 1)]
    return lo, hi, index


@keras.saving.register_keras_serializable(package="kgan")
class Conv2DTranspose(keras.layers.Conv2DTranspose):
    """``Conv2DTranspose`` ("same", channels-last) computed in sub-pixel form.

    Also exported as ``SubPixelConv2DTranspose``. The class is named
    ``Conv2DTranspose`` on purpose: Keras's weight files (``save_weights``,
    ``.keras``) address a layer by its class name and position, so this name
    is what lets a checkpoint move between the two forms.

    Same weights (``kernel`` of shape ``(kh, kw, filters, in)``, ``bias``),
    same variable names and the same output as
    ``keras.layers.Conv2DTranspose(filters, kernel_size, strides, padding="same")``
    to float rounding, so either layer loads the other's checkpoints. The
    output is computed as one stride-1 convolution producing
    ``strides**2 * filters`` channels followed by ``depth_to_space`` (Shi et
    al. 2016), with the kernel rearranged on every call (a few KB of
    gathers); the backward pass is ``Conv2DTranspose``'s own (a strided
    convolution and its filter gradient). Whether this is faster depends on
    the machine and the shape: on TensorFlow's CPU kernels it is for
    transposed convolutions with few output channels, such as a generator's
    image layer, and for stride 1 (``benchmarks/README.md``, Throughput).
    Where the transposed kernel does not divide into the stride (e.g. 4x4 or
    5x5 at stride 2), phases that lack a tap read a zero, so the convolution
    does up to ``(ceil(k/s) + 1)**2 * s**2 / k**2`` times the multiply-adds.

    Shi et al., "Real-Time Single Image and Video Super-Resolution Using an
    Efficient Sub-Pixel Convolutional Neural Network", CVPR 2016; Odena et
    al., "Deconvolution and Checkerboard Artifacts", Distill 2016.

    Args:
        filters, kernel_size, strides, activation, use_bias, initializers,
            regularizers, constraints: as for ``keras.layers.Conv2DTranspose``.
            Both strides must be equal.
        padding: only ``"same"``.

    Only ``data_format="channels_last"``, ``dilation_rate=1`` and
    ``output_padding=None`` are supported (``ValueError`` otherwise).

    Example:
        >>> up = SubPixelConv2DTranspose(64, 4, strides=2, padding="same")
        >>> type(up).__name__  # as keras.layers.Conv2DTranspose, for checkpoints
        'Conv2DTranspose'
        >>> up(ops.zeros((2, 7, 7, 128))).shape
        (2, 14, 14, 64)
    """

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="same", **kwargs):
        super().__init__(filters, kernel_size, strides=strides, padding=padding, **kwargs)
        if self.padding != "same":
            raise ValueError(f"kgan's sub-pixel Conv2DTranspose supports padding='same' only, got {padding!r}.")
        if self.data_format != "channels_last":
            raise ValueError("kgan's sub-pixel Conv2DTranspose supports data_format='channels_last' only.")
        if tuple(self.dilation_rate) != (1, 1) or self.output_padding is not None:
            raise ValueError("kgan's sub-pixel Conv2DTranspose supports dilation_rate=1 and output_padding=None only.")
        if self.strides[0] != self.strides[1]:
            raise ValueError(f"kgan's sub-pixel Conv2DTranspose needs equal strides, got {self.strides}.")
        s = self.strides[0]
        (self._lo_h, self._hi_h, idx_h) = subpixel_taps(self.kernel_size[0], s)
        (self._lo_w, self._hi_w, idx_w) = subpixel_taps(self.kernel_size[1], s)
        # Python lists, not tensors: a layer must not hold graph constants.
        self._idx_h = [t for row in idx_h for t in row]
        self._idx_w = [t for row in idx_w for t in row]

    def subpixel_kernel(self, kernel=None):
        """The stride-1 kernel ``(A_h, A_w, in, s*s*filters)`` equivalent to ``kernel``."""
        k = self.kernel if kernel is None else kernel
        s = self.strides[0]
        a_h, a_w = self._hi_h - self._lo_h + 1, self._hi_w - self._lo_w + 1
        cout, cin = k.shape[2], k.shape[3]
        k = tf.pad(k, [[0, 1], [0, 1], [0, 0], [0, 0]])         # a zero tap at index kh / kw
        k = tf.gather(k, self._idx_h, axis=0)                   # [a_h*s, kw+1, out, in]
        k = tf.gather(k, self._idx_w, axis=1)                   # [a_h*s, a_w*s, out, in]
        k = tf.reshape(k, [a_h, s, a_w, s, cout, cin])
        k = tf.transpose(k, [0, 2, 5, 1, 3, 4])                 # [a_h, a_w, in, r_h, r_w, out]
        return tf.reshape(k, [a_h, a_w, cin, s * s * cout])     # depth_to_space's channel order

    def call(self, inputs):
        s = self.strides[0]
        pads = [[0, 0], [-self._lo_h, self._hi_h], [-self._lo_w, self._hi_w], [0, 0]]

        @tf.custom_gradient
        def upsample(x, kernel):
            y = tf.nn.conv2d(tf.pad(x, pads), self.subpixel_kernel(kernel), strides=1, padding="VALID")
            if s > 1:
                y = tf.nn.depth_to_space(y, s)

            def grad(dy):
                # Conv2DTranspose's own backward: a strided convolution for the
                # input, and the filter gradient of that convolution. Autodiff
                # of the forward above would run the slow transposed kernel
                # here instead, and over s**2 times the channels.
                dx = tf.nn.conv2d(dy, kernel, strides=s, padding="SAME")
                dk = tf.compat.v1.nn.conv2d_backprop_filter(
                    dy, tf.shape(kernel), x, [1, s, s, 1], "SAME")
                return dx, dk

            return y, grad

        # A tensor, not the variable: custom_gradient returns the kernel's gradient itself.
        y = upsample(inputs, tf.convert_to_tensor(self.kernel))
        if self.use_bias:
            # As Keras's Conv2DTranspose adds it (a broadcast add, not bias_add,
            # whose bfloat16 gradient sums in bfloat16 and loses the bias's step).
            y = ops.add(y, ops.reshape(self.bias, (1, 1, 1, -1)))
        return self.activation(y) if self.activation is not None else y


SubPixelConv2DTranspose = Conv2DTranspose

__all__ = ["MinibatchStdDev", "Packing", "Conv2DTranspose", "SubPixelConv2DTranspose", "pack", "subpixel_taps", "unpack", "packed_shape"]
