"""Every bad input gets a clear error before training (or stops it cleanly)."""

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan


@pytest.fixture(scope="module")
def dcgan():
    keras.utils.set_random_seed(0)
    gan = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=8, generator_options={"base_filters": 4},
                     discriminator_options={"base_filters": 4}, seed=0)
    gan.compile()
    return gan


@pytest.fixture(scope="module")
def cgan():
    keras.utils.set_random_seed(0)
    gan = kgan.ConditionalGAN(data_shape=(2,), num_classes=3, latent_dim=4,
                              generator_options={"hidden_units": (8,)},
                              discriminator_options={"hidden_units": (8,)}, seed=0)
    gan.compile()
    return gan


def unchanged(gan):
    before = [np.array(v) for v in gan.generator.weights]
    return lambda: all(np.array_equal(a, np.array(b)) for a, b in zip(before, gan.generator.weights))


def test_wrong_image_shape(dcgan):
    same = unchanged(dcgan)
    with pytest.raises(kgan.DataError, match=r"expected samples of shape \(batch,\) \+ \(28, 28, 1\).*got \(4, 32, 32, 1\)"):
        dcgan.fit(np.zeros((4, 32, 32, 1), "float32"), verbose=0)
    with pytest.raises(kgan.DataError, match=r"got \(4, 28, 28\)"):
        dcgan.fit(np.zeros((4, 28, 28), "float32"), verbose=0)  # wrong rank
    assert same()


def test_wrong_dtype_and_range(dcgan):
    with pytest.raises(kgan.DataError, match="expected floating-point.*got dtype uint8.*scale_images"):
        dcgan.fit(np.zeros((4, 28, 28, 1), "uint8"), verbose=0)
    with pytest.raises(kgan.DataError, match=r"scaled to \[-1, 1\].*got values in \[255, 255\]"):
        dcgan.fit(np.full((4, 28, 28, 1), 255.0, "float32"), verbose=0)
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28, 28, 1), "uint8")).batch(2)
    with pytest.raises(kgan.DataError, match="got dtype uint8"):
        dcgan.fit(ds, verbose=0)


def test_unbatched_dataset(dcgan):
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28, 28, 1), "float32"))
    with pytest.raises(kgan.DataError, match=r"BATCHED.*got unbatched elements of shape \(28, 28, 1\)"):
        dcgan.fit(ds, verbose=0)


def test_empty_dataset(dcgan):
    with pytest.raises(kgan.DataError, match="empty dataset"):
        dcgan.fit(np.zeros((0, 28, 28, 1), "float32"), verbose=0)
    empty = tf.data.Dataset.from_tensor_slices(np.zeros((0, 28, 28, 1), "float32")).batch(2)
    with pytest.raises(kgan.DataError, match="empty dataset"):
        dcgan.fit(empty, verbose=0)
    # unknown cardinality: filter() hides the size until iterated
    hidden = tf.data.Dataset.from_tensor_slices(np.zeros((4, 28, 28, 1), "float32")).filter(
        lambda x: False).batch(2)
    with pytest.raises(kgan.DataError, match="yielded no batch"):
        dcgan.fit(hidden, verbose=0)


def test_labels_out_of_range(cgan):
    x = np.zeros((8, 2), "float32")
    same = unchanged(cgan)
    with pytest.raises(kgan.DataError, match=r"expected labels in \[0, 3\), got values in \[0, 7\]"):
        cgan.fit(x, np.array([0, 1, 2, 7, 0, 1, 2, 0]), batch_size=4, verbose=0)
    with pytest.raises(kgan.DataError, match=r"got values in \[-1, 2\]"):
        cgan.fit(x, np.array([0, 1, 2, -1, 0, 1, 2, 0]), batch_size=4, verbose=0)
    with pytest.raises(kgan.DataError, match="expected labels `y`"):
        cgan.fit(x, batch_size=4, verbose=0)
    with pytest.raises(kgan.DataError, match=r"labels of shape \(8,\).*got \(7,\)"):
        cgan.fit(x, np.zeros(7, "int32"), batch_size=4, verbose=0)
    with pytest.raises(kgan.DataError, match="expected integer class labels"):
        cgan.fit(x, np.zeros(8, "float32"), batch_size=4, verbose=0)
    # inside a dataset the range is only known at run time: checked in the graph,
    # before any update, and reported the same way
    ds = tf.data.Dataset.from_tensor_slices((x, np.array([0, 1, 2, 3, 0, 1, 2, 0], "int32"))).batch(4)
    with pytest.raises(kgan.DataError, match=r"labels outside \[0, 3\)"):
        cgan.fit(ds, verbose=0)
    assert same()


def test_conditional_dataset_without_labels(cgan):
    ds = tf.data.Dataset.from_tensor_slices(np.zeros((8, 2), "float32")).batch(4)
    with pytest.raises(kgan.DataError, match="expected \\(images, labels\\) batches, got samples only"):
        cgan.fit(ds, verbose=0)


@pytest.mark.parametrize("jit", [False, True])
def test_nan_loss_stops_training_and_keeps_checkpoint(tmp_path, jit):
    keras.utils.set_random_seed(0)
    gan = kgan.VanillaGAN(data_shape=(2,), latent_dim=4, generator_options={"hidden_units": (8,)},
                          discriminator_options={"hidden_units": (8,)}, seed=0)
    gan.compile(jit_compile=jit)
    good = kgan.data.ring_mixture().sample(64, 0)[0]
    ckpt = str(tmp_path / "ckpt.keras")
    gan.fit(good, batch_size=16, epochs=1, verbose=0,
            callbacks=[keras.callbacks.ModelCheckpoint(ckpt)])
    saved_at = os.path.getmtime(ckpt)
    before = [np.array(v) for v in gan.discriminator.weights]
    bad = good.copy()
    bad[20] = np.nan  # second batch
    ds = tf.data.Dataset.from_tensor_slices(bad).batch(16)
    with pytest.raises(kgan.NonFiniteLossError, match="NaN or Inf.*not applied"):
        gan.fit(ds, epochs=1, verbose=0, callbacks=[keras.callbacks.ModelCheckpoint(ckpt)])
    # the first (good) batch was applied, the NaN one was not: weights are finite
    assert all(np.isfinite(np.array(v)).all() for v in gan.discriminator.weights)
    assert not all(np.array_equal(a, np.array(b)) for a, b in zip(before, gan.discriminator.weights))
    assert os.path.getmtime(ckpt) == saved_at  # the checkpoint was not overwritten
    restored = keras.saving.load_model(ckpt)
    for a, b in zip(before, restored.discriminator.weights):
        np.testing.assert_array_equal(a, np.array(b))
    # numpy input with NaN is caught before training
    with pytest.raises(kgan.DataError, match="finite"):
        gan.fit(bad, batch_size=16, verbose=0)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="data_shape is required"):
        kgan.GAN()
    with pytest.raises(ValueError, match="d_steps must be >= 1"):
        kgan.GAN(data_shape=(2,), d_steps=0)
    with pytest.raises(ValueError, match="ConditionalGAN needs num_classes"):
        kgan.ConditionalGAN(data_shape=(2,))
    with pytest.raises(ValueError, match="label smoothing.*hinge"):
        kgan.GAN(data_shape=(2,), loss=kgan.losses.GANLoss("hinge", real_label=0.9))
    with pytest.raises(RuntimeError, match="compile"):
        kgan.GAN(data_shape=(2,)).fit(np.zeros((4, 2), "float32"))
