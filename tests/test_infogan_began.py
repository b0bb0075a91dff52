"""InfoGAN and BEGAN by hand: the mutual-information term, code sampling per
replica, export with codes, k_t's controller and M_global."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export
from kgan.core.record import Record
from kgan.objectives import MutualInformation

from test_distributed import mirrored_strategy

MLP = {"hidden_units": (16,), "normalization": "none"}


def info_gan(**kw):
    kw = {"data_shape": (2,), "noise_dim": 1, "categorical": (3,), "continuous": 2,
          "architecture": "mlp", "generator_options": MLP,
          "discriminator_options": {"hidden_units": (16,)}, "seed": 0, **kw}
    return kgan.InfoGAN(**kw)


def test_mutual_information_term_by_hand():
    gan = info_gan()
    z = np.array([[0.3, 0, 1, 0, 0.5, -0.5]], np.float32)
    q = np.array([[1.0, 2.0, 3.0, 0.1, -0.2]], np.float32)
    record = Record(None, None, None, None, None, None, fake_logits=q, model=gan, z=z)
    # CE of category 1 under logits (1, 2, 3): logsumexp - 2
    ce = math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 2.0
    gauss = 0.5 * ((0.5 - 0.1) ** 2 + (-0.5 + 0.2) ** 2)  # fixed unit variance
    term = MutualInformation(2.0, continuous_weight=0.5)
    np.testing.assert_allclose(term.discriminator(record), [2.0 * ce + 0.5 * gauss], rtol=1e-6)
    np.testing.assert_allclose(term.generator(record), [2.0 * ce + 0.5 * gauss], rtol=1e-6)


def test_infogan_adds_the_term_and_refuses_what_breaks_it():
    assert isinstance(info_gan().terms[0], MutualInformation)
    with pytest.raises(ValueError, match="unsupervised"):
        info_gan(num_classes=3)
    with pytest.raises(ValueError, match="packing or replayed"):
        info_gan(transforms=[kgan.transforms.Replay(16)])
    with pytest.raises(ValueError, match="latent_dim=5 does not match"):
        info_gan(latent_dim=5)
    gan = info_gan()
    with pytest.raises(ValueError, match=r"categories in \[0, 3\), got values in \[0, 3\]"):
        gan.generate(2, seed=0, codes={"categorical": [0, 3]})
    with pytest.raises(ValueError, match=r"expected shape \(n, 2\)"):
        gan.generate(2, seed=0, codes={"continuous": np.zeros((2, 1))})


def test_codes_are_drawn_globally_and_sliced_per_replica():
    one = info_gan(seed=5)
    want = np.array(one.sample_noise(8))
    strategy = mirrored_strategy()
    with strategy.scope():
        two = info_gan(seed=5)
    per_replica = strategy.run(tf.function(lambda: two.sample_noise(4)))
    got = np.concatenate([np.array(t) for t in strategy.experimental_local_results(per_replica)])
    np.testing.assert_allclose(got, want, rtol=1e-6)
    onehot, cont = want[:, 1:4], want[:, 4:]
    assert np.all(onehot.sum(1) == 1) and set(np.unique(onehot)) <= {0.0, 1.0}
    assert np.all(np.abs(cont) <= 1.0)


def test_generate_with_codes_matches_the_export(tmp_path):
    gan = info_gan()
    codes = {"categorical": np.array([2, 0, 1]), "continuous": np.array(
        [[0.5, -1.0], [0.0, 0.2], [1.0, 1.0]], np.float32)}
    path = export.export_generator(gan, str(tmp_path), model_name="info")
    np.testing.assert_allclose(export.generate_from_export(path, 3, seed=4, codes=codes),
                               gan.generate(3, seed=4, codes=codes), atol=1e-6)
    # codes left out are drawn from the seed, in the export as in generate
    part = {"categorical": np.array([2, 0, 1])}
    np.testing.assert_allclose(export.generate_from_export(path, 3, seed=4, codes=part),
                               gan.generate(3, seed=4, codes=part), atol=1e-6)
    # the codes really are the codes: z's one-hot and continuous columns
    z = np.array(gan.latents_from_seeds([4]))
    assert z.shape == (1, 6) and z[0, 1:4].sum() == 1.0
    fn = export.load_export(path).signatures["generate_from_codes"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"shape \[batch, 1\]"):
        fn(seed=tf.constant([1, 2], tf.int64), categorical=tf.constant([[0, 1], [1, 1]], tf.int64),
           continuous=tf.zeros((2, 2)))
    with pytest.raises(tf.errors.InvalidArgumentError, match="finite"):
        fn(seed=tf.constant([1], tf.int64), categorical=tf.constant([[0]], tf.int64),
           continuous=tf.constant([[np.nan, 0.0]]))
    assert export.read_export_metadata(path)["codes"] == {"noise_dim": 1, "categorical": [3],
                                                          "continuous": 2}


def test_infer_codes_reads_q():
    gan = info_gan()
    x = np.zeros((3, 2), np.float32)
    out = gan.infer_codes(x)
    q = np.array(gan.discriminator(x)[1])
    np.testing.assert_array_equal(out["categorical"][:, 0], q[:, :3].argmax(1))
    np.testing.assert_allclose(out["continuous"], q[:, 3:], rtol=1e-6)


# ------------------------------------------------------------------- BEGAN
def constant_networks(g_value, d_kernel=0.0):
    """G(z) = g_value for every z; D(x) = d_kernel * x (a fixed 'autoencoder')."""
    z = keras.Input((2,))
    g = keras.Model(z, keras.layers.Dense(2, kernel_initializer="zeros",
                                          bias_initializer=keras.initializers.Constant(
                                              g_value))(z))
    x = keras.Input((2,))
    d = keras.Model(x, keras.layers.Dense(2, use_bias=False, kernel_initializer=keras.initializers.Identity(
        d_kernel))(x))
    return g, d


def began(k, gamma, lambda_k, g_value=0.2):
    g, d = constant_networks(g_value)
    gan = kgan.BEGAN(g, d, gamma=gamma, lambda_k=lambda_k, k_initial=k, seed=0)
    gan.compile(g_optimizer=keras.optimizers.SGD(0.0), d_optimizer=keras.optimizers.SGD(0.0))
    return gan


@pytest.mark.parametrize("k, gamma, lambda_k", [(0.3, 0.5, 0.1), (0.0, 0.5, 10.0),
                                                (0.9, 0.7, 10.0)])
def test_k_t_and_m_global_by_hand(k, gamma, lambda_k):
    # D(x) = 0, so L(x) = mean |x| per example; G(z) = 0.2, so L(G(z)) = 0.2.
    x = np.array([[0.5, -1.0], [0.25, 0.0]], np.float32)
    gan = began(k, gamma, lambda_k)
    hist = gan.fit(x, batch_size=2, epochs=1, verbose=0).history
    l_real = np.abs(x).mean()             # 0.4375
    l_fake = 0.2
    k1 = min(max(k + lambda_k * (gamma * l_real - l_fake), 0.0), 1.0)
    assert float(gan.k_t.numpy()) == pytest.approx(k1, abs=1e-6)
    assert 0.0 <= k1 <= 1.0
    want = {"k_t": k1, "m_global": l_real + abs(gamma * l_real - l_fake),
            "d_loss": l_real - k * l_fake, "g_loss": l_fake, "loss_real": l_real,
            "loss_fake": l_fake}
    for key, value in want.items():
        assert hist[key][0] == pytest.approx(value, abs=1e-6), key


def test_k_t_is_updated_once_per_step_with_global_statistics():
    x = np.array([[0.5, -1.0], [0.25, 0.0], [1.0, 1.0], [0.0, 0.1]], np.float32)
    strategy = mirrored_strategy()
    with strategy.scope():
        gan = began(0.3, 0.5, 0.1)
    hist = gan.fit(x, batch_size=4, epochs=2, verbose=0).history
    l_real, k = np.abs(x).mean(), 0.3
    for step in range(2):
        k = k + 0.1 * (0.5 * l_real - 0.2)
        assert hist["k_t"][step] == pytest.approx(k, abs=1e-6)
    assert float(gan.k_t.numpy()) == pytest.approx(k, abs=1e-6)


def test_k_t_is_saved_and_restored(tmp_path):
    gan = began(0.0, 0.5, 0.1)
    gan.k_t.assign(0.7)
    path = str(tmp_path / "began.keras")
    gan.save(path)
    assert float(keras.saving.load_model(path).k_t.value) == pytest.approx(0.7)
    gan.save_weights(str(tmp_path / "w.weights.h5"))
    other = began(0.0, 0.5, 0.1)
    other.load_weights(str(tmp_path / "w.weights.h5"))
    assert float(other.k_t.value) == pytest.approx(0.7)


def test_began_refuses_what_it_does_not_use():
    with pytest.raises(ValueError, match="does not take terms"):
        kgan.BEGAN(data_shape=(2,), terms=[kgan.regularizers.R1(1.0)])
    with pytest.raises(ValueError, match="gamma must be in"):
        kgan.BEGAN(data_shape=(2,), gamma=2.0)
    with pytest.raises(ValueError, match="reconstruct its input"):
        kgan.BEGAN(*constant_networks(0.0)[:1], keras.Sequential([keras.Input((2,)),
                                                                 keras.layers.Dense(1)]))


def test_convolutional_infogan_builds_the_papers_networks():
    """FC 1024 in G and D's trunk and Q's own FC 128 layer (Chen et al. 2016, appendix C.1),
    each overridable; Q's logits read the Q layer, the score reads the shared trunk."""
    gan = kgan.InfoGAN(data_shape=(28, 28, 1), noise_dim=4, categorical=(10,), continuous=2,
                       architecture="dcgan", generator_options={"base_filters": 4},
                       discriminator_options={"base_filters": 4}, seed=0)
    d, g = gan.discriminator, gan.generator
    assert g.get_layer("dense").units == 1024 and g.get_layer("dense").input.shape[-1] == 16
    assert d.get_layer("dense").units == 1024 and d.get_layer("aux_hidden").units == 128
    assert d.get_layer("class_logits").input.shape[-1] == 128
    assert d.get_layer("score").input.shape[-1] == 1024
    small = kgan.InfoGAN(data_shape=(28, 28, 1), noise_dim=4, categorical=(10,), continuous=2,
                         architecture="dcgan",
                         generator_options={"base_filters": 4, "dense_units": 0},
                         discriminator_options={"base_filters": 4, "dense_units": 0,
                                                "aux_hidden_units": 32}, seed=0)
    names = [layer.name for layer in small.discriminator.layers]
    assert "dense" not in names and "dense" not in [l.name for l in small.generator.layers]
    assert small.discriminator.get_layer("aux_hidden").units == 32
    assert small.discriminator.get_layer("score").input.shape[-1] == 7 * 7 * 8
    scores, q = small.discriminator(np.zeros((3, 28, 28, 1), np.float32))
    assert scores.shape == (3, 1) and q.shape == (3, 12)
