"""Text-to-image (GAN-CLS / GAN-INT): the family battery, the terms against
hand-computed losses, the tokenizer, the encoder's pre-training and the
text-in export's refusals."""

import json
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import export, export_text
from kgan import text as text_lib
from kgan.families.text2image import MismatchedText, TextInterpolation, partner

from gan_test_case import FamilyTestCase, run_fresh

WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def captions(n):
    return [f"a {'thick' if i % 3 else 'thin'} {WORDS[i % 10]}" for i in range(n)]


def tiny_encoder():
    keras.utils.set_random_seed(11)
    return text_lib.build_text_encoder(max_chars=24, embedding_dim=6, filters=8, char_dim=4)


TINY = dict(latent_dim=8, condition_units=4, data_shape=(8, 8, 1),
            generator_options={"base_filters": 4}, discriminator_options={"base_filters": 4})

FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    assert "kgan" not in sys.modules
    path, texts, seeds, out = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3]), sys.argv[4]
    sigs = tf.saved_model.load(path).signatures
    a = sigs["generate_from_seed"](text=tf.constant(texts), seed=tf.constant(seeds, tf.int64))
    b = sigs["serving_default"](text=tf.constant(texts))
    np.save(out, np.stack([a["images"].numpy(), b["images"].numpy()]))
""")


class TestTextToImageGAN(FamilyTestCase):
    family = kgan.TextToImageGAN
    kwargs = TINY
    # batch norm in both networks: synchronised statistics under 2 replicas
    replica_kwargs = {"generator_options": {"base_filters": 4, "sync_batch_norm": True},
                      "discriminator_options": {"base_filters": 4, "sync_batch_norm": True}}
    rtol = 1e-4

    def make(self, strategy=None, **extra):
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            encoder = tiny_encoder()
        return super().make(strategy, text_encoder=encoder, **extra)

    def data(self, n=32):
        x, _ = super().data(n)
        return x, np.array(captions(n))

    def stream(self, start_step=0):
        x, texts = self.data()
        tokens = text_lib.tokenize(list(texts), 24).numpy()
        return kgan.data.training_stream(x, tokens, batch_size=self.batch_size, seed=1,
                                         start_step=start_step)[0]

    def outputs(self, gan, n, seed):
        return gan.generate(captions(n), seed=seed)

    def refuse_bad_count(self, gan):
        with pytest.raises(kgan.DataError, match="expected at least one text, got none"):
            gan.generate([])

    def serve_in_fresh_process(self, gan, tmp_path):
        path = export.export_generator(gan, str(tmp_path / "export"), model_name="family")
        texts, seeds = captions(3), [0, 1, 2]
        out = str(tmp_path / "served.npy")
        run_fresh(FRESH, [path, json.dumps(texts), json.dumps(seeds), out], tmp_path)
        served = np.load(out)
        np.testing.assert_array_equal(served[0], served[1])  # default = seeds 0..n-1
        np.testing.assert_allclose(export_text.generate_from_text_export(path, texts, seed=0),
                                   served[0], atol=1e-6)
        return served[0], gan.generate(texts, seed=0)


class TestPlainConditioning(TestTextToImageGAN):
    """The paper's baseline: no mismatched pairs, no interpolation."""
    kwargs = {**TINY, "matching_aware": False, "interpolation": 0.0}


class TestConditioningAugmentation(TestTextToImageGAN):
    """StackGAN's conditioning augmentation: eps comes from z, so replicas, resume and export hold."""
    kwargs = {**TINY, "condition_augmentation": 3, "augmentation_kl": 0.5}


# ------------------------------------------------------------------ the terms
def _model(**kw):
    keras.utils.set_random_seed(5)
    return kgan.TextToImageGAN(text_encoder=tiny_encoder(), seed=1, **{**TINY, **kw})


def _softplus(x):
    return np.log1p(np.exp(x))


def test_partner_pairs_neighbours():
    x = np.arange(5)[:, None]
    np.testing.assert_array_equal(np.asarray(partner(x))[:, 0], [1, 0, 3, 2, 3])
    np.testing.assert_array_equal(np.asarray(partner(x[:4]))[:, 0], [1, 0, 3, 2])


def test_matching_aware_loss_is_real_plus_half_fake_plus_half_wrong():
    gan = _model(interpolation=0.0)
    rng = np.random.default_rng(0)
    real, fake, emb = (tf.constant(rng.uniform(-1, 1, s).astype("float32"))
                       for s in [(4, 8, 8, 1), (4, 8, 8, 1), (4, 6)])
    loss, _ = gan.discriminator_loss(real, fake, emb, 4.0)
    d = lambda x, e: np.asarray(gan.discriminator([x, e], training=True))[:, 0]  # noqa: E731
    wrong = tf.gather(emb, [1, 0, 3, 2])
    want = np.mean(_softplus(-d(real, emb)) + 0.5 * _softplus(d(fake, emb))
                   + 0.5 * _softplus(d(real, wrong)))
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)
    plain = _model(matching_aware=False, interpolation=0.0)
    plain.set_weights(gan.get_weights())
    loss, _ = plain.discriminator_loss(real, fake, emb, 4.0)
    want = np.mean(_softplus(-d(real, emb)) + _softplus(d(fake, emb)))
    np.testing.assert_allclose(float(loss), want, rtol=1e-5)


def test_interpolation_term_scores_mixed_sentences(monkeypatch):
    gan = _model(matching_aware=False, interpolation=2.0)
    rng = np.random.default_rng(1)
    emb = tf.constant(rng.uniform(-1, 1, (4, 6)).astype("float32"))
    z = tf.constant(rng.normal(size=(4, 8)).astype("float32"))
    monkeypatch.setattr(gan, "sample_noise", lambda n, sg=None: z)
    record = kgan.core.record.Record(None, None, emb, emb, None, None, model=gan)
    term = next(t for t in gan.terms if isinstance(t, TextInterpolation))
    mixed = 0.5 * emb + 0.5 * tf.gather(emb, [1, 0, 3, 2])
    fake = gan.generator([z, mixed], training=True)
    scores = np.asarray(gan.discriminator([fake, mixed], training=True))[:, 0]
    np.testing.assert_allclose(np.asarray(term.generator(record)), 2.0 * _softplus(-scores),
                               rtol=1e-5)


def test_terms_are_validated_and_not_duplicated_by_a_round_trip(tmp_path):
    with pytest.raises(ValueError, match=r"weight must be in \[0, 1\], got 2"):
        MismatchedText(2.0)
    with pytest.raises(ValueError, match="not num_classes"):
        kgan.TextToImageGAN(num_classes=10)
    gan = _model()
    gan.compile()
    path = str(tmp_path / "m.keras")
    gan.save(path)
    again = keras.saving.load_model(path)
    assert [type(t) for t in again.terms] == [MismatchedText, TextInterpolation]
    np.testing.assert_array_equal(again.text_encoder(text_lib.tokenize(["a 7"], 24)),
                                  gan.text_encoder(text_lib.tokenize(["a 7"], 24)))


def test_fit_on_a_dataset_of_strings_equals_fit_on_token_ids():
    rng = np.random.default_rng(0)
    x = (np.tanh(rng.normal(size=(16, 8, 8, 1))) * 0.9).astype("float32")
    texts = captions(16)
    results = []
    for as_text in (True, False):
        gan = _model()
        gan.compile()
        y = np.array(texts) if as_text else text_lib.tokenize(texts, 24).numpy()
        ds = tf.data.Dataset.from_tensor_slices((x, y)).batch(8)
        gan.fit(ds, epochs=1, verbose=0)
        results.append(gan.generate(texts[:2], seed=0))
    np.testing.assert_array_equal(results[0], results[1])


def test_bad_captions_are_refused():
    gan = _model()
    gan.compile()
    x = np.zeros((4, 8, 8, 1), "float32")
    with pytest.raises(kgan.DataError, match="expected non-empty texts, got an empty one at row 2"):
        gan.fit(x, ["a 1", "a 2", "  ", "a 3"], batch_size=2, verbose=0)
    with pytest.raises(kgan.DataError, match="at most 24 characters, got 30 at row 0"):
        gan.fit(x, ["x" * 30, "a", "b", "c"], batch_size=2, verbose=0)
    with pytest.raises(kgan.DataError, match="expected 4 captions"):
        gan.fit(x, ["a 1", "a 2"], batch_size=2, verbose=0)
    with pytest.raises(kgan.DataError, match="got a single string"):
        gan.generate("a thin 1")


# --------------------------------------------------------------- tokenizer
def test_tokenizer_hand_values():
    got = text_lib.tokenize(["  Ab \t C", "\u00e9", "a\x00"], max_chars=6).numpy()
    np.testing.assert_array_equal(got, [[97, 98, 32, 99, 0, 0],
                                        [128 + 0xE9 % 128, 0, 0, 0, 0, 0],
                                        [97, 128, 0, 0, 0, 0]])
    assert text_lib.lengths(["  a  b "]).numpy().tolist() == [3]
    # Bytes that are not UTF-8 become U+FFFD instead of failing.
    assert text_lib.tokenize([b"\xff"], 2).numpy()[0, 0] == 128 + 0xFFFD % 128


def test_encoder_pretraining_learns_the_caption_labels():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 10, 400)
    thick = rng.integers(0, 2, 400)
    texts = [f"a {'thick' if t else 'thin'} {WORDS[d]}" for d, t in zip(digits, thick)]
    encoder = text_lib.build_text_encoder(max_chars=24, embedding_dim=16, filters=32)
    acc = text_lib.pretrain_on_labels(encoder, texts, {"digit": digits, "thick": thick},
                                      epochs=25, batch_size=32, learning_rate=3e-3)
    assert acc["digit"] > 0.95 and acc["thick"] > 0.95, acc
    assert not encoder.trainable
    with pytest.raises(kgan.DataError, match="expected 400 values, one per caption, got 3"):
        text_lib.pretrain_on_labels(encoder, texts, {"digit": [1, 2, 3]})


def test_contrastive_pretraining_lowers_the_loss():
    rng = np.random.default_rng(0)
    digits = rng.integers(0, 4, 128)
    images = np.zeros((128, 8, 8, 1), "float32") - 1.0
    for i, d in enumerate(digits):
        images[i, 2 * d:2 * d + 2] = 1.0  # a bar whose row says the digit
    texts = [f"bar {WORDS[d]}" for d in digits]
    encoder = text_lib.build_text_encoder(max_chars=24, embedding_dim=8, filters=16)
    first = text_lib.pretrain_on_images(encoder, texts, images, epochs=1, batch_size=32)
    last = text_lib.pretrain_on_images(encoder, texts, images, epochs=15, batch_size=32)
    assert last < first - 0.3, (first, last)


# ------------------------------------------------------------------ export
def test_export_refuses_bad_requests(tmp_path):
    gan = _model()
    path = export.export_generator(gan, str(tmp_path), model_name="t", max_batch=4)
    sigs = export.load_export(path).signatures
    cases = [
        ({"text": tf.constant(["a 1", ""])}, "expected non-empty sentences, got an empty one at row 1"),
        ({"text": tf.constant(["a" * 25])}, "at most 24 characters per sentence"),
        ({"text": tf.constant(["a"] * 5)}, "at most 4 sentences per request"),
        ({"text": tf.constant([["a"]])}, r"shape \[batch\], got shape \[1, 1\]"),
    ]
    for kwargs, message in cases:
        with pytest.raises(tf.errors.InvalidArgumentError, match=message):
            sigs["serving_default"](**kwargs)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"one seed per sentence, i.e. \[2\]"):
        sigs["generate_from_seed"](text=tf.constant(["a", "b"]), seed=tf.constant([1], tf.int64))
    png = sigs["generate_png"](text=tf.constant(["a 1"]), seed=tf.constant([3], tf.int64))
    decoded = tf.io.decode_png(png["png_bytes"][0]).numpy()
    want = kgan.data.to_uint8(gan.generate(["a 1"], seed=3))[0]
    np.testing.assert_array_equal(decoded, want)
    meta = export.read_export_metadata(path)
    assert meta["kind"] == "text_to_image" and meta["max_chars"] == 24


def test_mode_seeking_term_by_hand(monkeypatch):
    from kgan.objectives import ModeSeeking

    gan = _model(matching_aware=False, interpolation=0.0, terms=[ModeSeeking(2.0, eps=0.5)])
    rng = np.random.default_rng(3)
    emb = tf.constant(rng.uniform(-1, 1, (3, 6)).astype("float32"))
    z1, z2 = (tf.constant(rng.normal(size=(3, 8)).astype("float32")) for _ in range(2))
    monkeypatch.setattr(gan, "sample_noise", lambda n, sg=None: z2)
    fake1 = gan.generator([z1, emb], training=True)
    record = kgan.core.record.Record(None, fake1, emb, emb, None, None, model=gan, z=z1)
    fake2 = np.asarray(gan.generator([z2, emb], training=True))
    d_img = np.abs(np.asarray(fake1) - fake2).reshape(3, -1).mean(1)
    d_z = np.abs(np.asarray(z1) - np.asarray(z2)).mean(1)
    np.testing.assert_allclose(np.asarray(gan.terms[0].generator(record)),
                               2.0 / (d_img / d_z + 0.5), rtol=1e-5)
    # the same latent twice: the largest penalty, weight / eps
    monkeypatch.setattr(gan, "sample_noise", lambda n, sg=None: z1)
    np.testing.assert_allclose(np.asarray(gan.terms[0].generator(record)), [4.0] * 3, rtol=1e-5)
    with pytest.raises(ValueError, match="does not combine with Packing"):
        kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", terms=[ModeSeeking(1.0)],
                 transforms=[kgan.transforms.Packing(2)])


def test_conditioning_augmentation_and_its_kl_by_hand():
    from kgan.layers import ConditioningAugmentation
    from kgan.objectives import ConditioningKL

    gan = _model(matching_aware=False, interpolation=0.0, condition_augmentation=3,
                 augmentation_kl=0.5)
    assert [type(t) for t in gan.terms] == [ConditioningKL]
    g, aug = gan.generator, gan.generator.get_layer("g_condition_augmentation")
    rng = np.random.default_rng(4)
    emb = rng.uniform(-1, 1, (5, 6)).astype("float32")
    z = rng.normal(size=(5, 8)).astype("float32")
    w = g.get_layer("g_condition_projection").get_weights()[0]
    h = emb @ w
    h = np.where(h > 0, h, 0.2 * h)  # LeakyReLU(0.2)
    k, b = aug.moments_layer.get_weights()
    k = rng.normal(scale=0.3, size=k.shape).astype("float32")  # non-trivial moments
    b = rng.normal(scale=0.3, size=b.shape).astype("float32")
    aug.moments_layer.set_weights([k, b])
    m = h @ k + b
    mu, logvar = m[:, :3], m[:, 3:]
    c = mu + np.exp(logvar / 2) * z[:, :3]  # eps: z's first 3 entries
    c_net = keras.Model(g.inputs, aug.output)([z, emb])
    np.testing.assert_allclose(np.asarray(c_net), c, rtol=1e-5, atol=1e-6)
    record = kgan.core.record.Record(None, None, emb, emb, None, None, model=gan, z=z)
    kl = 0.5 * 0.5 * np.sum(mu ** 2 + np.exp(logvar) - 1 - logvar, axis=1)
    np.testing.assert_allclose(np.asarray(gan.terms[0].generator(record)), kl, rtol=1e-5)
    with pytest.raises(ValueError, match="first 9 latent entries, but z has 8"):
        ConditioningAugmentation(9)([keras.Input((4,)), keras.Input((8,))])
    with pytest.raises(ValueError, match="needs a generator with a 'g_condition_augmentation'"):
        _model(terms=[ConditioningKL(1.0)])


def test_recipe_build_takes_a_cosine_schedule_r1_and_diff_augment():
    from kgan import training_text
    from kgan.regularizers import R1

    encoder = text_lib.build_text_encoder(embedding_dim=6)
    small = {"base_filters": 4, "latent_dim": 8, "condition_units": 4,
             "condition_augmentation": 0, "steps": 10, "learning_rate": 2e-4}
    gan = training_text.build(encoder, **small, lr_schedule="cosine", r1_gamma=0.5,
                              diff_augment="translation")
    assert [type(t).__name__ for t in gan.terms][:1] == ["R1"] and gan.terms[0].gamma == 0.5
    assert [(type(t).__name__, t.policy) for t in gan.transforms] == [
        ("DiffAugment", ("translation",))]
    for opt in (gan.g_optimizer, gan.d_optimizer):
        schedule = opt._learning_rate
        # cosine decay to 0 over the 10 steps: lr/2 halfway, 0 at the end
        np.testing.assert_allclose([float(schedule(0)), float(schedule(5)), float(schedule(10))],
                                   [2e-4, 1e-4, 0.0], atol=1e-10)
    gan = training_text.build(encoder, **small)  # the recipe: constant rate, no R1
    assert not any(isinstance(t, R1) for t in gan.terms) and not gan.transforms
    np.testing.assert_allclose(float(gan.g_optimizer.learning_rate), 2e-4)
    with pytest.raises(ValueError,
                       match=r"lr_schedule must be one of \('constant', 'cosine'\), got 'step'"):
        training_text.build(encoder, **small, lr_schedule="step")
