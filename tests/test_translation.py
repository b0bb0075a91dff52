"""Focused checks of the image-to-image families: networks, losses by hand, data, export, clients.

The shared battery (fit, 2 replicas = 1, round trip, resume, export in a fresh
process, bad input) runs in tests/test_families.py.
"""

import io
import os

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import data_pairs, export, export_translation
from kgan import image_networks as nets
from kgan import serving_client as sc
from kgan.families.pix2pix import hole_l1, hole_mask

from serving_double import ServingDouble

RNG = np.random.default_rng(0)


def images(n, shape, seed=0):
    return (np.tanh(np.random.default_rng(seed).normal(size=(n,) + shape)) * 0.9).astype("float32")


# ------------------------------------------------------------------ networks
@pytest.mark.parametrize("size,depth", [(28, 5), (16, 4), (7, 3), (64, 6), (256, 8), (1000, 8)])
def test_unet_depth_reaches_a_1x1_bottleneck(size, depth):
    assert nets.unet_depth(size) == depth


def test_unet_pads_to_a_1x1_bottleneck_that_sees_the_whole_image():
    g = nets.build_unet_generator((28, 28, 2), 1, base_filters=4, dropout=0.0)
    assert g.output.shape == (None, 28, 28, 1)
    assert g.get_layer("down4").output.shape == (None, 1, 1, 32)  # 28 -> 32 -> 1
    assert len([l for l in g.layers if isinstance(l, nets.ReplicaDropout)]) == 0
    # The padding is background (-1): an all -1 source equals its own padded frame.
    pad = keras.Model(g.input, g.get_layer("pad_unshift").output)
    np.testing.assert_array_equal(pad(-np.ones((1, 28, 28, 2), "float32")), -np.ones((1, 32, 32, 2)))
    # Every output pixel depends on the farthest input pixel (a 2-level U-Net saw ~10 pixels).
    x = tf.Variable(images(1, (28, 28, 2)))
    with tf.GradientTape() as tape:
        corner = g(x, training=False)[0, 0, 0, 0]
    assert abs(float(tape.gradient(corner, x)[0, 27, 27, 0])) > 0
    shallow = nets.build_unet_generator((28, 28, 2), 1, base_filters=4, depth=2, dropout=0.0)
    with tf.GradientTape() as tape:
        corner = shallow(x, training=False)[0, 0, 0, 0]
    assert float(tape.gradient(corner, x)[0, 27, 27, 0]) == 0


def test_unet_and_patchgan_shapes():
    g = nets.build_unet_generator((28, 28, 2), 1, base_filters=4)
    assert g.output.shape == (None, 28, 28, 1)
    assert len([l for l in g.layers if isinstance(l, nets.ReplicaDropout)]) == 3  # paper: 3
    g64 = nets.build_unet_generator((64, 64, 3), 3, base_filters=2)
    assert len([l for l in g64.layers if isinstance(l, nets.ReplicaDropout)]) == 3  # paper: 3
    d = nets.build_patchgan_discriminator((64, 64, 3), (64, 64, 1), base_filters=4)
    assert d.output.shape == (None, 8, 8, 1)  # 3 stride-2 layers, then stride 1
    with pytest.raises(ValueError, match="one size"):
        nets.build_patchgan_discriminator((28, 28, 1), (7, 7, 1))
    with pytest.raises(ValueError, match="expected 1 to 5 levels for a 28x28 source"):
        nets.build_unet_generator((28, 28, 1), 1, depth=6)


def test_replica_dropout_is_identity_at_inference_and_scales_in_training():
    layer = nets.ReplicaDropout(0.5, seed=1)
    x = np.ones((4, 8, 8, 2), "float32")
    np.testing.assert_array_equal(layer(x, training=False), x)
    y = np.asarray(layer(x, training=True))
    assert set(np.unique(y)) <= {0.0, 2.0} and 0.3 < (y == 0).mean() < 0.7


def test_subpixel_upsampling_equals_depth_to_space_by_hand():
    r, c = 2, 3
    x = RNG.normal(size=(2, 3, 4, c * r * r)).astype("float32")
    want = np.zeros((2, 3 * r, 4 * r, c), "float32")
    for i in range(3):
        for j in range(4):
            for a in range(r):
                for b in range(r):
                    want[:, i * r + a, j * r + b, :] = x[:, i, j, (a * r + b) * c:(a * r + b + 1) * c]
    np.testing.assert_array_equal(nets.SubPixelUpsampling(r)(x), want)
    np.testing.assert_array_equal(tf.nn.depth_to_space(x, r), want)
    g = nets.build_srgan_generator((7, 7, 1), 4, filters=4, num_blocks=1)
    assert g.output.shape == (None, 28, 28, 1)
    assert sum(isinstance(l, nets.SubPixelUpsampling) for l in g.layers) == 2  # two x2 steps


# -------------------------------------------------------------------- losses
def test_pix2pix_loss_is_adversarial_plus_100_l1_by_hand():
    m = kgan.Pix2Pix(source_shape=(16, 16, 1), generator_options={"base_filters": 4},
                     discriminator_options={"base_filters": 4}, seed=0)
    src, tgt, fake = images(2, (16, 16, 1), 1), images(2, (16, 16, 1), 2), images(2, (16, 16, 1), 3)
    parts = m.g_values(src, tgt, fake, training=False)
    np.testing.assert_allclose(parts["g_l1"], 100 * np.abs(fake - tgt).mean((1, 2, 3)), rtol=1e-5)
    logits = np.asarray(m.discriminator([src, fake], training=False)).reshape(2, -1)
    np.testing.assert_allclose(parts["g_adversarial"],
                               np.log1p(np.exp(-logits)).mean(1), rtol=1e-5)  # -log sigmoid
    d = m.d_values(src, tgt, fake, training=False)
    real = np.asarray(m.discriminator([src, tgt], training=False)).reshape(2, -1)
    want = 0.5 * (np.log1p(np.exp(-real)).mean(1) + np.log1p(np.exp(logits)).mean(1))
    np.testing.assert_allclose(d, want, rtol=1e-5)  # the paper halves D's objective


def test_inpainting_loss_counts_only_the_hole():
    src, tgt = data_pairs.inpainting_pairs(images(3, (8, 8, 1)), hole=4, seed=0)
    mask = np.asarray(hole_mask(src))
    assert mask.sum((1, 2, 3)).tolist() == [16.0] * 3  # a 4x4 hole each
    out = images(3, (8, 8, 1), 5)
    want = (np.abs(out - tgt) * mask).sum((1, 2, 3)) / 16.0
    np.testing.assert_allclose(hole_l1(out, tgt, mask), want, rtol=1e-6)
    moved = np.where(mask > 0, out, out + 0.5)  # change only pixels outside the hole
    np.testing.assert_allclose(hole_l1(moved, tgt, mask), want, rtol=1e-6)
    m = kgan.Pix2Pix(source_shape=(8, 8, 2), inpainting=True, seed=0,
                     generator_options={"base_filters": 2}, discriminator_options={"base_filters": 2})
    filled = np.asarray(m.forward(src))
    np.testing.assert_array_equal(filled[mask == 0], src[..., :1][mask == 0])  # known pixels kept
    with pytest.raises(ValueError, match="mask channel"):
        kgan.Pix2Pix(source_shape=(8, 8, 1), target_shape=(8, 8, 1), inpainting=True)


class _Scale(keras.layers.Layer):
    def call(self, x):
        return 0.5 * x


def _half(shape, name):
    x = keras.Input(shape)
    return keras.Model(x, _Scale()(x), name=name)


def test_cycle_and_identity_losses_by_hand():
    # G(x) = F(x) = x / 2: cycle |x/4 - x| = 0.75|x|, identity |x/2 - x| = 0.5|x|
    s = (8, 8, 1)
    m = kgan.CycleGAN(_half(s, "gab"), _half(s, "gba"), source_shape=s, seed=0,
                      discriminator_options={"base_filters": 2, "num_layers": 1})
    a, b = images(2, s, 1), images(2, s, 2)
    parts, _, _ = m._g_parts(a, b, False)
    mean_abs = np.abs(a).mean((1, 2, 3)) + np.abs(b).mean((1, 2, 3))
    np.testing.assert_allclose(parts["cycle_loss"], 10 * 0.75 * mean_abs, rtol=1e-5)
    np.testing.assert_allclose(parts["identity_loss"], 5 * 0.5 * mean_abs, rtol=1e-5)
    db = np.asarray(m.discriminator_b(0.5 * a)).reshape(2, -1)
    da = np.asarray(m.discriminator_a(0.5 * b)).reshape(2, -1)
    # least squares with kgan's 1/2, times adversarial_weight 2: CycleGAN's MSE(D(G(a)), 1)
    want = ((db - 1) ** 2).mean(1) + ((da - 1) ** 2).mean(1)
    np.testing.assert_allclose(parts["g_adversarial"], want, rtol=1e-5)


def _linear_classifier(shape, classes=3, seed=0):
    x = keras.Input(shape)
    out = keras.layers.Dense(classes, kernel_initializer=keras.initializers.RandomNormal(
        seed=seed), name="logits")(keras.layers.Flatten()(x))
    return keras.Model(x, out, name="classifier")


def test_semantic_consistency_by_hand():
    # G(x) = F(x) = x / 2 and f linear: the term is CE(f(x/2), argmax f(x)) summed over both ways
    s = (8, 8, 1)
    f = _linear_classifier(s)
    m = kgan.CycleGAN(_half(s, "gab"), _half(s, "gba"), source_shape=s, seed=0,
                      semantic_classifier=f, semantic_weight=0.5,
                      discriminator_options={"base_filters": 2, "num_layers": 1})
    a, b = images(3, s, 1), images(3, s, 2)
    w = np.asarray(f.get_layer("logits").kernel)
    bias = np.asarray(f.get_layer("logits").bias)

    def ce(x):
        want = (x.reshape(3, -1) @ w + bias).argmax(1)
        z = (0.5 * x).reshape(3, -1) @ w + bias
        return np.log(np.exp(z).sum(1)) - z[np.arange(3), want]

    parts, _, _ = m._g_parts(a, b, False)
    np.testing.assert_allclose(parts["semantic_loss"], 0.5 * (ce(a) + ce(b)), rtol=1e-5)
    assert not f.trainable and m.semantic_classifier is f
    # no classifier: the term is zero and costs nothing
    plain = kgan.CycleGAN(_half(s, "gab2"), _half(s, "gba2"), source_shape=s, seed=0,
                          discriminator_options={"base_filters": 2, "num_layers": 1})
    np.testing.assert_array_equal(plain._g_parts(a, b, False)[0]["semantic_loss"], 0.0)


def test_semantic_classifier_that_does_not_fit_is_refused():
    with pytest.raises(ValueError, match=r"takes \(8, 8, 1\) images"):
        kgan.CycleGAN(source_shape=(8, 8, 1), semantic_classifier=_linear_classifier((6, 6, 1)))
    x = keras.Input((8, 8, 1))
    with pytest.raises(ValueError, match=r"\[batch, classes\] logits.*got shape \(None, 8, 8, 1\)"):
        kgan.CycleGAN(source_shape=(8, 8, 1), semantic_classifier=keras.Model(x, x))


def test_cyclegan_pools_are_replay_buffers_saved_with_the_model():
    m = kgan.CycleGAN(source_shape=(8, 8, 1), pool_size=50, seed=0,
                      generator_options={"base_filters": 2, "num_blocks": 1})
    assert isinstance(m.pool_a, kgan.transforms.ReplayBuffer) and m.pool_a.capacity == 50
    assert any("samples" in v.path for v in m.pool_b.weights)


def test_srgan_content_loss_by_hand_and_srresnet_trains_no_d():
    phi = kgan.families.srgan.feature_extractor_from(
        nets.build_feature_network((16, 16, 1), filters=(2,)))
    m = kgan.SRGAN(source_shape=(4, 4, 1), feature_extractor=phi, seed=0,
                   generator_options={"filters": 2, "num_blocks": 1},
                   discriminator_options={"base_filters": 2, "num_blocks": 2, "dense_units": 4})
    tgt, fake = images(2, (16, 16, 1), 1), images(2, (16, 16, 1), 2)
    parts = m.g_values(None, tgt, fake, training=False)
    np.testing.assert_allclose(parts["g_mse"], ((fake - tgt) ** 2).mean((1, 2, 3)), rtol=1e-5)
    f = (np.asarray(phi(fake)) - np.asarray(phi(tgt))) ** 2
    np.testing.assert_allclose(parts["g_feature"], 0.006 * f.mean((1, 2, 3)), rtol=1e-4)
    sr = kgan.SRGAN(source_shape=(4, 4, 1), adversarial_weight=0.0, seed=0,
                    generator_options={"filters": 2, "num_blocks": 1},
                    discriminator_options={"base_filters": 2, "num_blocks": 2, "dense_units": 4})
    sr.compile()
    sr.fit(images(8, (4, 4, 1)), images(8, (16, 16, 1)), batch_size=4, verbose=0)
    assert sr.step == 2 and int(sr.d_optimizer.iterations.numpy()) == 0


def test_vgg19_without_weights_is_a_clear_error(tmp_path):
    from kgan.metrics.extractors import WeightsNotFoundError

    with pytest.raises(WeightsNotFoundError, match="VGG19 ImageNet weights not found"):
        kgan.families.srgan.vgg19_features((28, 28, 1), weights=str(tmp_path / "none.h5"))


# ---------------------------------------------------------------------- data
def test_offline_tasks():
    x = images(4, (28, 28, 1))
    lr, hr = data_pairs.super_resolution_pairs(x, 4)
    assert lr.shape == (4, 7, 7, 1)
    np.testing.assert_allclose(lr[:, 0, 0, 0], x[:, :4, :4, 0].mean((1, 2)), atol=1e-5)  # area
    edges, _ = data_pairs.edge_pairs(x)
    assert edges.min() >= -1 and edges.max() <= 1 and np.allclose(edges.max((1, 2, 3)), 1)
    src, _ = data_pairs.inpainting_pairs(x, seed=0)
    assert src.shape == (4, 28, 28, 2)
    assert ((src[..., 1] > 0).sum((1, 2)) == 14 * 14).all()  # a quarter of the image
    with pytest.raises(ValueError, match="expected one of"):
        data_pairs.make_pairs("sr3", x)


def test_inpainting_stream_draws_new_holes_and_resumes_exactly():
    x = images(6, (8, 8, 1))
    ds, steps = data_pairs.inpainting_stream(x, batch_size=3, seed=4, hole=4)
    assert steps == 2
    whole = [(s.numpy(), t.numpy()) for s, t in ds.take(6)]
    resumed = [s.numpy() for s, _ in data_pairs.inpainting_stream(x, 3, 4, start_step=4,
                                                                  hole=4)[0].take(2)]
    np.testing.assert_array_equal(resumed[0], whole[4][0])
    np.testing.assert_array_equal(resumed[1], whole[5][0])
    masks = []
    for src, tgt in whole:
        inside = src[..., 1:] > 0
        assert (inside.sum((1, 2, 3)) == 16).all()  # a 4x4 hole in each image
        np.testing.assert_array_equal(src[..., :1], np.where(inside, 0.0, tgt))
        assert set(np.unique(src[..., 1])) == {-1.0, 1.0}
        masks.append({t.tobytes(): m.tobytes() for t, m in zip(tgt, inside)})
    # The same image meets other holes on later passes (a fixed pair set would repeat them).
    first = masks[0]
    later = {k: v for m in masks[2:] for k, v in m.items() if k in first}
    assert later and any(later[k] != first[k] for k in later)
    with pytest.raises(ValueError, match=r"hole: expected a side in \[1, 8\], got 9"):
        data_pairs.inpainting_stream(x, 3, hole=9)


def test_paired_stream_jitters_both_images_by_one_offset():
    x = -np.ones((4, 9, 9, 1), np.float32)
    x[np.arange(4), 4, 4, 0] = 1.0  # one lit pixel at the centre
    y = x.copy()
    y[np.arange(4), 4, 5, 0] = 0.5  # the target: a second pixel beside it
    plain, steps = data_pairs.paired_stream(x, y, batch_size=2, seed=1)
    s, t = next(iter(plain))
    assert steps == 2 and np.isin(s.numpy(), x).all()  # jitter 0: the pairs as they are
    ds, _ = data_pairs.paired_stream(x, y, batch_size=2, seed=1, jitter=2)
    offsets = []
    for s, t in ds.take(8):
        s, t = s.numpy(), t.numpy()
        for a, b in zip(s, t):
            (r,), (c,) = np.nonzero(a[..., 0] == 1.0)[0], np.nonzero(a[..., 0] == 1.0)[1]
            assert abs(r - 4) <= 2 and abs(c - 4) <= 2
            assert b[r, c, 0] == 1.0 and b[r, c + 1, 0] == 0.5  # the same shift
            assert (a == -1.0).sum() == 80  # the padding is background
            offsets.append((r, c))
    assert len(set(offsets)) > 4
    resumed = next(iter(data_pairs.paired_stream(x, y, 2, 1, start_step=5, jitter=2)[0]))
    np.testing.assert_array_equal(resumed[0], list(ds.take(6))[5][0])
    with pytest.raises(ValueError, match="jitter: expected sources and targets of one size"):
        data_pairs.paired_stream(x[:, :7, :7], y, 2, jitter=1)


def test_unpaired_stream_resumes_exactly():
    a, b = images(10, (4, 4, 1), 1), images(7, (4, 4, 1), 2)
    ds, steps = data_pairs.unpaired_stream(a, b, batch_size=3, seed=0)
    assert steps == 3
    full = [(x.numpy(), y.numpy()) for x, y in ds.take(6)]
    later, _ = data_pairs.unpaired_stream(a, b, batch_size=3, seed=0, start_step=4)
    for (x, y), (u, v) in zip(full[4:], later.take(2)):
        np.testing.assert_array_equal(x, u.numpy())
        np.testing.assert_array_equal(y, v.numpy())


# -------------------------------------------------------------------- export
@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    base = str(tmp_path_factory.mktemp("models"))
    keras.utils.set_random_seed(0)
    p2p = kgan.Pix2Pix(source_shape=(16, 16, 1), generator_options={"base_filters": 4},
                       discriminator_options={"base_filters": 4}, seed=0)
    cg = kgan.CycleGAN(source_shape=(16, 16, 1), generator_options={"base_filters": 2,
                                                                    "num_blocks": 1}, seed=0)
    export.export_generator(p2p, base, "p2p", max_batch=4)
    export.export_generator(cg, base, "cg")
    return {"base": base, "p2p": p2p, "cg": cg}


def _sig(exported, name, sig="serving_default"):
    return export.load_export(os.path.join(exported["base"], name)).signatures[sig]


@pytest.mark.parametrize("bad,match", [
    (np.zeros((2, 16, 16, 3), "float32"), r"shape \[batch, 16, 16, 1\].*got shape \[2, 16, 16, 3\]"),
    (np.zeros((2, 8, 8, 1), "float32"), r"got shape \[2, 8, 8, 1\]"),
    (np.full((2, 16, 16, 1), 255.0, "float32"), r"values in \[-1, 1\], got values in \[255"),
    (np.zeros((5, 16, 16, 1), "float32"), r"at most 4 images per request.*got 5"),
])
def test_bad_requests_fail_inside_the_signature(exported, bad, match):
    with pytest.raises(tf.errors.InvalidArgumentError, match=match):
        _sig(exported, "p2p")(images=tf.constant(bad))


def test_png_signature_round_trips_and_checks_size(exported):
    from PIL import Image

    x = images(2, (16, 16, 1))
    pixels = kgan.data.to_uint8(x)
    pngs = []
    for p in pixels:
        buf = io.BytesIO()
        Image.fromarray(p[..., 0]).save(buf, format="PNG")
        pngs.append(buf.getvalue())
    out = _sig(exported, "p2p", "translate_png")(png_bytes=tf.constant(pngs))["png_bytes"]
    got = np.stack([np.asarray(Image.open(io.BytesIO(b))) for b in out.numpy()])[..., None]
    want = kgan.data.to_uint8(exported["p2p"].translate(pixels.astype("float32") / 127.5 - 1))
    np.testing.assert_array_equal(got, want)
    rgb = io.BytesIO()
    Image.new("RGB", (8, 8)).save(rgb, format="PNG")
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"expected 16x16 PNGs with 1"):
        _sig(exported, "p2p", "translate_png")(png_bytes=tf.constant([rgb.getvalue()]))


def test_cyclegan_exports_both_directions(exported):
    meta = export.read_export_metadata(os.path.join(exported["base"], "cg"))
    assert {"a_to_b", "b_to_a", "a_to_b_png", "b_to_a_png", "serving_default"} <= set(
        meta["signatures"])
    x = images(3, (16, 16, 1))
    for name in ("a_to_b", "b_to_a"):
        np.testing.assert_allclose(
            export_translation.translate_from_export(os.path.join(exported["base"], "cg"), x, name),
            exported["cg"].translate(x, direction=name), atol=1e-5)


@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_clients_translate_through_a_server(exported, kind):
    double = ServingDouble({n: os.path.join(exported["base"], n) for n in ("p2p", "cg")})
    with double.start():
        if kind == "rest":
            client = sc.RestClient(double.rest_url, "p2p", timeout=30)
        else:
            client = sc.GrpcClient(double.grpc_target, "p2p", timeout=30)
        x = images(3, (16, 16, 1))
        np.testing.assert_allclose(client.translate(x), exported["p2p"].translate(x), atol=1e-5)
        pngs = client.translate_png([tf.io.encode_png(kgan.data.to_uint8(x[0])).numpy()])
        assert pngs[0].startswith(b"\x89PNG")
        with pytest.raises(sc.ServingError, match="at most 4 images"):
            client.translate(np.zeros((5, 16, 16, 1), "float32"))
        client.close()


# ----------------------------------------------------------------------- CLI
class _Crash(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated crash")


@pytest.mark.parametrize("variant,dataset", [("pix2pix", "inpaint"), ("cyclegan", "mnist2digits"),
                                             ("srgan", "sr4")])
def test_cli_trains_exports_and_resumes_exactly(tmp_path, variant, dataset):
    from kgan.training import TrainConfig, run
    from shared_data import MNIST

    if dataset == "mnist2digits" and not os.path.isdir(MNIST):
        pytest.skip(f"{MNIST} not present")

    def config(out):
        return TrainConfig(variant=variant, dataset=dataset, max_samples=32, batch_size=16,
                           epochs=2, base_filters=2, num_samples=4, verbose=0, out=str(out),
                           save_seconds=0.0,  # the state at every epoch end
                           data_dir=MNIST if dataset == "mnist2digits" else None)

    whole = run(config(tmp_path / "a"))
    assert whole["export_matches_model"] and whole["steps"] == 4
    with pytest.raises(KeyboardInterrupt):
        run(config(tmp_path / "b"), extra_callbacks=[_Crash()])
    resumed = run(config(tmp_path / "b"))
    assert resumed["resumed_from_step"] == 2 and resumed["steps"] == 4
    a = keras.saving.load_model(str(tmp_path / "a" / "model.keras"))
    b = keras.saving.load_model(str(tmp_path / "b" / "model.keras"))
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)
    assert (tmp_path / "b" / "samples" / "epoch_0002.png").is_file()


def test_cli_refuses_mismatched_variant_and_task(capsys):
    from kgan import cli

    for argv, msg in [(["--variant", "pix2pix", "--dataset", "digits"], "image-to-image"),
                      (["--variant", "dcgan", "--dataset", "edges"], "cannot train on"),
                      (["--variant", "pix2pix", "--dataset", "mnist2digits"], "unpaired"),
                      (["--variant", "srgan", "--dataset", "edges"], "trains on --dataset sr4")]:
        with pytest.raises(SystemExit):
            cli.parse_args(argv)
        assert msg in capsys.readouterr().err
