"""The GAN base and its variants: fit, metrics, generate, k steps, save/reload/continue."""

import math

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan

METRICS = {"g_loss", "d_loss", "d_acc_real", "d_acc_fake"}
TINY_MLP = {"hidden_units": (16,)}
TINY_CONV = {"base_filters": 4}


def points(n=128, seed=0):
    return kgan.data.ring_mixture().sample(n, seed)


def images(n, shape, seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(-1, 1, (n,) + shape).astype("float32"), rng.integers(0, 3, n).astype("int32")


def tiny(cls, data_shape, **kw):
    keras.utils.set_random_seed(0)
    opts = TINY_CONV if len(data_shape) == 3 and cls is not kgan.VanillaGAN else TINY_MLP
    kw.setdefault("generator_options", opts)
    kw.setdefault("discriminator_options", opts)
    return cls(data_shape=data_shape, latent_dim=kw.pop("latent_dim", 8), seed=0, **kw)


CASES = [
    (kgan.VanillaGAN, (2,), {}),
    (kgan.VanillaGAN, (8, 8, 1), {}),
    (kgan.LSGAN, (2,), {}),
    (kgan.LSGAN, (28, 28, 1), {}),
    (kgan.DCGAN, (28, 28, 1), {}),
    (kgan.DCGAN, (32, 32, 3), {}),
    (kgan.DCGAN, (64, 64, 1), {}),
    (kgan.ConditionalGAN, (2,), {"num_classes": 3}),
    (kgan.ConditionalGAN, (28, 28, 1), {"num_classes": 3}),
    # a conditional DCGAN with the least-squares loss, no new class needed
    (kgan.DCGAN, (32, 32, 3), {"num_classes": 3, "loss": "least_squares"}),
    # the projection discriminator, convolutional and MLP
    (kgan.ConditionalGAN, (28, 28, 1), {"num_classes": 3, "discriminator_options": {
        "base_filters": 4, "label_conditioning": "projection"}}),
    (kgan.ConditionalGAN, (2,), {"num_classes": 3, "discriminator_options": {
        "hidden_units": (16,), "label_conditioning": "projection"}}),
]


@pytest.mark.parametrize("cls,shape,kw", CASES, ids=lambda v: getattr(v, "__name__", str(v)))
def test_variant_fits_and_generates(cls, shape, kw):
    gan = tiny(cls, shape, **kw)
    gan.compile()
    if len(shape) == 1:
        x, y = points(64)
        y = y % 3
    else:
        x, y = images(32, shape)
    hist = gan.fit(x, y if gan.num_classes else None, batch_size=16, epochs=1, verbose=0)
    assert set(hist.history) == METRICS
    for name in METRICS:
        assert all(math.isfinite(v) for v in hist.history[name]), name
    for name in ("d_acc_real", "d_acc_fake"):
        assert 0.0 <= hist.history[name][0] <= 1.0
    out = gan.generate(5, seed=3, **({"labels": [0, 1, 2, 2, 1]} if gan.num_classes else {}))
    assert out.shape == (5,) + shape and out.dtype == np.float32
    if len(shape) == 3:
        assert out.min() >= -1.0 and out.max() <= 1.0
    assert int(gan.g_optimizer.iterations) == len(x) // 16


def test_variant_defaults_are_defaults_over_one_base():
    assert tiny(kgan.DCGAN, (28, 28, 1)).loss_pair.name == "non_saturating"
    assert tiny(kgan.LSGAN, (2,)).loss_pair.name == "least_squares"
    assert tiny(kgan.LSGAN, (2,)).architecture == "auto"
    for cls in (kgan.VanillaGAN, kgan.DCGAN, kgan.LSGAN, kgan.ConditionalGAN):
        assert cls.train_step is kgan.GAN.train_step
    g = tiny(kgan.DCGAN, (28, 28, 1), num_classes=10, loss="lsgan")
    assert g.num_classes == 10 and g.loss_pair.name == "least_squares"
    assert [i.name for i in g.generator.inputs] == ["z", "labels"]


def test_dcgan_follows_radford_guidelines():
    g = kgan.networks.build_dcgan_generator(16, (32, 32, 3), base_filters=8)
    d = kgan.networks.build_dcgan_discriminator((32, 32, 3), base_filters=8)
    kinds = lambda m: [type(l).__name__ for l in m.layers]
    assert "Conv2DTranspose" in kinds(g) and "MaxPooling2D" not in kinds(d)
    assert all(l.strides == (2, 2) for l in d.layers if isinstance(l, keras.layers.Conv2D))
    assert g.layers[-1].activation.__name__ == "tanh"
    assert "LeakyReLU" in kinds(d) and "ReLU" in kinds(g) and "BatchNormalization" in kinds(g)
    with pytest.raises(ValueError, match="DCGAN supports square sizes"):
        kgan.networks.dcgan_plan((30, 30, 1))
    with pytest.raises(ValueError, match="needs images of shape"):
        kgan.DCGAN(data_shape=(2,))


def test_k_discriminator_steps_per_generator_step():
    gan = tiny(kgan.VanillaGAN, (2,), d_steps=3)
    gan.compile()
    x, _ = points(80)
    gan.fit(x, batch_size=16, epochs=1, verbose=0)  # 5 steps
    assert int(gan.g_optimizer.iterations) == 5
    assert int(gan.d_optimizer.iterations) == 15


def test_discriminator_step_uses_fresh_noise_each_time():
    gan = tiny(kgan.VanillaGAN, (2,))
    a = np.asarray(gan.sample_noise(4))
    b = np.asarray(gan.sample_noise(4))
    assert not np.allclose(a, b)


def test_user_networks_and_latent_mismatch():
    g = kgan.networks.build_mlp_generator(5, (2,), hidden_units=(8,))
    d = kgan.networks.build_mlp_discriminator((2,), hidden_units=(8,))
    gan = kgan.GAN(g, d)
    assert gan.latent_dim == 5 and gan.data_shape == (2,)
    assert gan.generator is g and gan.discriminator is d
    with pytest.raises(ValueError, match="latent_dim=7 does not match the generator.*5 features"):
        kgan.GAN(g, d, latent_dim=7)
    with pytest.raises(ValueError, match=r"data_shape=\(3,\) does not match.*\(2,\)"):
        kgan.GAN(g, d, data_shape=(3,))


def test_same_seed_same_samples_and_explicit_z():
    gan = tiny(kgan.DCGAN, (28, 28, 1))
    a, b = gan.generate(6, seed=11), gan.generate(6, seed=11)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, gan.generate(6, seed=12))
    # sample i uses latent seed s + i
    np.testing.assert_allclose(gan.generate(2, seed=12), a[1:3], atol=1e-6)
    z = kgan.noise.latents_from_seeds([11, 12], 8)
    np.testing.assert_allclose(gan.generate(z=z), a[:2], atol=1e-6)
    np.testing.assert_allclose(gan(z), a[:2], atol=1e-6)  # call(z) runs the generator
    with pytest.raises(ValueError, match=r"z: expected shape \(batch, 8\), got \(2, 3\)"):
        gan.generate(z=np.zeros((2, 3)))


def test_conditional_generate_on_requested_labels():
    gan = tiny(kgan.ConditionalGAN, (2,), num_classes=3)
    z = np.repeat(np.asarray(kgan.noise.latents_from_seeds([0], 8)), 3, 0)
    out = gan.generate(z=z, labels=[0, 1, 2])
    assert not np.allclose(out[0], out[1])  # the label changes the sample
    np.testing.assert_allclose(gan.generate(z=z[:1], labels=[2]), out[2:], atol=1e-6)
    with pytest.raises(kgan.DataError, match=r"labels in \[0, 3\), got values in \[0, 5\]"):
        gan.generate(z=z, labels=[0, 5, 1])
    with pytest.raises(ValueError, match="not conditional"):
        tiny(kgan.VanillaGAN, (2,)).generate(3, labels=[0, 1, 2])


@pytest.mark.parametrize("arch,shape,opts", [("dcgan", (28, 28, 1), TINY_CONV),
                                             ("mlp", (2,), TINY_MLP)])
def test_projection_discriminator_adds_the_label_embedding_inner_product(arch, shape, opts):
    gan = tiny(kgan.ConditionalGAN, shape, num_classes=3, architecture=arch,
               discriminator_options={**opts, "label_conditioning": "projection"})
    d = gan.discriminator
    assert "label_map" not in [l.name for l in d.layers] and "one_hot" not in [l.name for l in d.layers]
    x = images(5, shape)[0] if len(shape) == 3 else points(5)[0]
    y = np.array([0, 1, 2, 2, 0], np.int32)
    phi_layer = "flatten" if arch == "dcgan" else "lrelu_0"
    phi = np.asarray(keras.Model(d.inputs, d.get_layer(phi_layer).output)([x, y]))
    w, b = d.get_layer("score").get_weights()
    emb = d.get_layer("label_projection").get_weights()[0]
    rng = np.random.default_rng(3)  # a non-zero embedding, so the inner product counts
    emb = rng.normal(size=emb.shape).astype("float32")
    d.get_layer("label_projection").set_weights([emb])
    want = phi @ w + b + np.sum(emb[y] * phi, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(d([x, y], training=False)), want, rtol=1e-4, atol=1e-4)
    # the label changes the score only through the projection
    other = np.asarray(d([x, (y + 1) % 3], training=False))
    np.testing.assert_allclose(other - want, np.sum((emb[(y + 1) % 3] - emb[y]) * phi, 1, keepdims=True),
                               rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match=r"label_conditioning must be one of \('input', 'projection'\), got 'concat'"):
        kgan.networks.build_mlp_discriminator((2,), num_classes=3, label_conditioning="concat")


def _weights(model):
    return [np.array(v) for v in model.generator.weights + model.discriminator.weights]


def test_save_reload_continue_round_trip(tmp_path):
    x, _ = points(96)
    ds = kgan.data.as_dataset(x, batch_size=16, shuffle=False)

    def fresh():
        gan = tiny(kgan.VanillaGAN, (2,), d_steps=2)
        gan.compile(g_optimizer=keras.optimizers.Adam(1e-3, beta_1=0.5),
                        d_optimizer=keras.optimizers.Adam(2e-3, beta_1=0.5))
        return gan

    # uninterrupted: 2 epochs
    a = fresh()
    a.fit(ds, epochs=2, verbose=0)
    # interrupted: 1 epoch, save, reload, 1 more epoch
    b = fresh()
    b.fit(ds, epochs=1, verbose=0)
    path = str(tmp_path / "gan.keras")
    b.save(path)
    c = keras.saving.load_model(path)
    assert type(c) is kgan.VanillaGAN and c.d_steps == 2
    np.testing.assert_array_equal(c.generate(4, seed=0), b.generate(4, seed=0))
    assert int(c.d_optimizer.iterations) == 12 and int(c.g_optimizer.iterations) == 6
    assert float(c.d_optimizer.learning_rate) == pytest.approx(2e-3)
    for u, v in zip(b.d_optimizer.variables, c.d_optimizer.variables):
        np.testing.assert_array_equal(np.array(u), np.array(v))
    c.fit(ds, epochs=1, verbose=0)
    # optimizer moments and the noise stream came back, so the runs agree
    for u, v in zip(_weights(a), _weights(c)):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_config_round_trip_keeps_every_argument():
    gan = tiny(kgan.DCGAN, (28, 28, 1), num_classes=4, d_steps=2,
               loss=kgan.losses.GANLoss("least_squares", real_label=0.9))
    cfg = gan.get_config()
    clone = kgan.DCGAN.from_config(cfg)
    assert clone.loss_pair == kgan.losses.GANLoss("least_squares", real_label=0.9)
    for key in ("data_shape", "latent_dim", "num_classes", "loss", "d_steps", "seed"):
        assert clone.get_config()[key] == cfg[key], key
    z = np.asarray(kgan.noise.latents_from_seeds([1, 2], 8))
    clone.generator.set_weights(gan.generator.get_weights())
    np.testing.assert_allclose(clone.generate(z=z, labels=[0, 3]), gan.generate(z=z, labels=[0, 3]), atol=1e-6)


def test_projection_discriminator_for_a_dense_condition_is_the_inner_product_with_V_c():
    d = kgan.networks.build_dcgan_discriminator(
        (28, 28, 1), base_filters=4, condition_dim=6, condition_units=5,
        label_conditioning="projection")
    names = [l.name for l in d.layers]
    assert "joint" not in names and "condition_map" not in names  # no Reed concat
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (4, 28, 28, 1)).astype("float32")
    c = rng.normal(size=(4, 6)).astype("float32")
    phi = np.asarray(keras.Model(d.inputs, d.get_layer("flatten").output)([x, c]))
    w, b = d.get_layer("score").get_weights()
    p = c @ d.get_layer("d_condition_projection").get_weights()[0]
    p = np.where(p > 0, p, 0.2 * p)  # LeakyReLU(0.2)
    v = rng.normal(size=(5, phi.shape[1])).astype("float32")
    d.get_layer("condition_projection_map").set_weights([v])
    want = phi @ w + b + np.sum((p @ v) * phi, axis=1, keepdims=True)
    np.testing.assert_allclose(np.asarray(d([x, c], training=False)), want, rtol=1e-4, atol=1e-4)
    # the default keeps Reed et al.'s concatenation
    reed = kgan.networks.build_dcgan_discriminator((28, 28, 1), base_filters=4, condition_dim=6)
    assert "joint" in [l.name for l in reed.layers]
    assert "condition_projection_map" not in [l.name for l in reed.layers]
