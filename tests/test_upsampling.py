"""SubPixelConv2DTranspose computes Conv2DTranspose's function with its weights.

The sub-pixel form only changes how the output is computed, so every check
here compares it with ``keras.layers.Conv2DTranspose`` holding the same
weights: outputs, gradients (input, kernel, bias), XLA, and checkpoints of
DCGAN generators moved between the two forms.
"""

import numpy as np
import pytest
import keras
import tensorflow as tf

from kgan import networks
from kgan.layers import SubPixelConv2DTranspose, subpixel_taps

# (kernel, stride, in channels, out channels, bias): the DCGAN generator's 4x4
# and the TF tutorial's 5x5 at stride 2 and 1, an odd 3x3, and kernels equal
# to or not dividing the stride. No 1x1 kernel at stride 2: TensorFlow's
# oneDNN gradient of that case crashes intermittently (a segfault, or "could
# not create a primitive descriptor for the reorder primitive" in
# Conv2DBackpropFilter; about 1 run in 3, in a fresh process too), and no
# kgan network uses it.
CASES = [(4, 2, 6, 5, False), (4, 2, 5, 1, True), (5, 2, 6, 3, True), (5, 1, 6, 4, False),
         (3, 2, 4, 4, True), (2, 2, 3, 2, False), (6, 3, 3, 2, True)]


def _pair(k, s, cin, cout, bias, activation=None):
    ref = keras.layers.Conv2DTranspose(cout, k, strides=s, padding="same", use_bias=bias,
                                       activation=activation, bias_initializer="random_normal")
    sub = SubPixelConv2DTranspose(cout, k, strides=s, padding="same", use_bias=bias,
                                  activation=activation)
    x = tf.random.stateless_normal([3, 7, 6, cin], seed=[k, s])
    ref(x)
    sub(x)
    sub.set_weights(ref.get_weights())
    return ref, sub, x


def _forward_and_grads(layer, x, dy):
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    return [y] + tape.gradient(y, [x] + layer.trainable_variables, output_gradients=dy)


def test_taps_by_hand():
    # 4x4, stride 2, "same" pads 1 before: output 2q reads x[q] through tap 1
    # and x[q-1] through tap 3; output 2q+1 reads x[q+1] (tap 0) and x[q] (tap 2).
    assert subpixel_taps(4, 2) == (-1, 1, [[3, 4], [1, 2], [4, 0]])
    # Stride 1 is a correlation with the flipped kernel.
    assert subpixel_taps(3, 1) == (-1, 1, [[2], [1], [0]])


@pytest.mark.parametrize("k, s, cin, cout, bias", CASES)
def test_forward_and_gradients_equal_conv2d_transpose(k, s, cin, cout, bias):
    ref, sub, x = _pair(k, s, cin, cout, bias, activation="tanh")
    dy = tf.random.stateless_normal([3, 7 * s, 6 * s, cout], seed=[1, k])
    expected = _forward_and_grads(ref, x, dy)
    got = _forward_and_grads(sub, x, dy)
    assert got[0].shape == expected[0].shape == (3, 7 * s, 6 * s, cout)
    assert len(got) == len(expected) == 3 + bias
    for g, e in zip(got, expected):  # output, d/dx, d/dkernel (, d/dbias)
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def test_same_variables_and_config_round_trip():
    ref, sub, _ = _pair(4, 2, 6, 5, True)
    assert [(v.name, v.shape) for v in sub.weights] == [(v.name, v.shape) for v in ref.weights]
    config = sub.get_config()
    again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(sub))
    assert isinstance(again, SubPixelConv2DTranspose) and again.get_config() == config


@pytest.mark.parametrize("kwargs", [{"padding": "valid"}, {"strides": (2, 1)},
                                    {"dilation_rate": 2}, {"output_padding": 1, "strides": 2}])
def test_rejects_what_it_does_not_compute(kwargs):
    with pytest.raises(ValueError):
        SubPixelConv2DTranspose(4, 3, **{"padding": "same", **kwargs})


def test_xla_forward_and_gradients_equal():
    ref, sub, x = _pair(4, 2, 6, 5, True)
    dy = tf.random.stateless_normal([3, 14, 12, 5], seed=[2, 2])
    expected = _forward_and_grads(ref, x, dy)
    got = tf.function(lambda x, dy: _forward_and_grads(sub, x, dy), jit_compile=True)(x, dy)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-5)


def _generators(first, second, **kwargs):
    # No global reseeding here: tf.random.set_seed clears TensorFlow's caches, which crashed
    # (a segfault, twice) right after the XLA test above. Unseeded initial weights differ
    # between the two builds, so loading must still fill them (checked below).
    a = networks.build_dcgan_generator(8, (28, 28, 1), base_filters=4, upsampling=first, **kwargs)
    b = networks.build_dcgan_generator(8, (28, 28, 1), base_filters=4, upsampling=second, **kwargs)
    return a, b


@pytest.mark.parametrize("first, second", [("transpose", "subpixel"), ("subpixel", "transpose"),
                                           ("auto", "transpose")])
@pytest.mark.parametrize("fmt", ["weights.h5", "keras"])
def test_generator_checkpoint_loads_into_the_other_form(tmp_path, first, second, fmt):
    a, b = _generators(first, second, kernel_size=5)
    z = tf.random.stateless_normal([4, 8], seed=[0, 5])
    path = str(tmp_path / f"g.{fmt}")
    if fmt == "keras":
        a.save(path)
    else:
        a.save_weights(path)
    assert not np.allclose(b(z), a(z))
    b.load_weights(path)
    np.testing.assert_allclose(b(z, training=False), a(z, training=False), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(b(z, training=True), a(z, training=True), rtol=1e-5, atol=1e-5)


def test_subpixel_generator_keras_round_trip(tmp_path):
    g, _ = _generators("subpixel", "subpixel", num_classes=3)
    assert isinstance(g.get_layer("up_0"), SubPixelConv2DTranspose)
    path = str(tmp_path / "g.keras")
    g.save(path)
    again = keras.saving.load_model(path)
    assert isinstance(again.get_layer("to_image"), SubPixelConv2DTranspose)
    inputs = [tf.random.stateless_normal([4, 8], seed=[0, 6]), tf.constant([0, 1, 2, 1])]
    np.testing.assert_allclose(again(inputs), g(inputs), rtol=1e-6, atol=1e-6)


def test_auto_uses_subpixel_for_the_image_layer_only():
    g = networks.build_dcgan_generator(8, (32, 32, 3), base_filters=4)
    kinds = {layer.name: type(layer) for layer in g.layers if "Conv2DTranspose" in type(layer).__name__}
    assert kinds == {"up_0": keras.layers.Conv2DTranspose, "up_1": keras.layers.Conv2DTranspose,
                     "to_image": SubPixelConv2DTranspose}
    with pytest.raises(ValueError, match="upsampling"):
        networks.build_dcgan_generator(8, (28, 28, 1), upsampling="pixelshuffle")


def test_second_order_gradients_equal():
    # A gradient penalty through G differentiates the custom backward again.
    ref, sub, x = _pair(4, 2, 4, 3, True)

    def penalty_grads(layer):
        with tf.GradientTape() as outer:
            with tf.GradientTape() as inner:
                inner.watch(x)
                y = tf.reduce_sum(tf.sin(layer(x)))
            g = inner.gradient(y, x)
            penalty = tf.reduce_sum(g * g)
        return outer.gradient(penalty, layer.trainable_variables)

    for g, e in zip(penalty_grads(sub), penalty_grads(ref)):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-4)
