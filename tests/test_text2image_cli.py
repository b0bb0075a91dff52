"""--variant text2image end to end: the training command, samples, resume, kgan-sample, clients.

The family itself (terms by hand, encoder, export) is tested in tests/test_text2image.py.
Every run here is tiny (4 filters, latent 8, one encoder epoch, a few images).
"""

import json
import os

import keras
import numpy as np
import pytest

from shared_data import MNIST, needs_mnist

TINY = ["--base-filters", "4", "--latent-dim", "8", "--encoder-epochs", "1", "--batch-size", "16",
        "--verbose", "0"]
SENTENCES = ["a thick seven", "a thin 1 leaning left", "sketch of a big zero"]


def _config(out, *extra):
    from kgan import cli

    return cli.parse_args(["--variant", "text2image", "--data-dir", MNIST, *TINY, *extra,
                           "--out", str(out)])[0]


class _Crash(keras.callbacks.Callback):
    def on_epoch_begin(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt("simulated crash")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny mnist-captions run: 2 epochs of 20 images x 5 captions, 4 captions x 2 seeds."""
    if not os.path.isdir(MNIST):
        pytest.skip(f"{MNIST} not present")
    from kgan.training import run

    out = tmp_path_factory.mktemp("t2i") / "run"
    summary = run(_config(out, "--max-samples", "20", "--epochs", "2", "--num-samples", "8"))
    return out, summary


# ------------------------------------------------------------------- the flags
def test_text2image_flags_resolve_to_the_recipe():
    from kgan import cli, training_text

    c = cli.resolve(cli.parse_args(["--variant", "text2image", "--data-dir", "."])[0])
    assert (c["dataset"], c["base_filters"], c["latent_dim"], c["interpolation"]) == (
        "mnist-captions", training_text.RECIPE["base_filters"], training_text.RECIPE["latent_dim"],
        1.0)
    assert c["matching_aware"] and c["epochs"] is None  # None: the recipe's steps
    r = training_text.RECIPE
    assert (cli.TEXT_STEPS, cli.TEXT_BASE_FILTERS, cli.TEXT_LATENT_DIM) == (
        r["steps"], r["base_filters"], r["latent_dim"])
    assert cli.TEXT_RECIPE == {"epochs": None, "batch_size": r["batch_size"],
                               "g_lr": r["learning_rate"], "d_lr": r["learning_rate"],
                               "lr_schedule": "constant", "ema_decay": r["ema_decay"],
                               "r1_gamma": 0.0}
    assert c["beta_1"] == r["beta_1"]
    assert (c["condition_augmentation"], c["augmentation_kl"], c["mode_seeking"]) == (
        r["condition_augmentation"], r["augmentation_kl"], r["mode_seeking"])
    assert cli.TEXT_MODE_SEEKING == r["mode_seeking"] > 0
    assert c["label_conditioning"] == ("projection" if r["d_projection"] else "input")
    c = cli.resolve(cli.parse_args(["--variant", "text2image", "--data-dir", ".",
                                    "--no-matching-aware", "--interpolation", "0", "--epochs",
                                    "3", "--base-filters", "8"])[0])
    assert (c["matching_aware"], c["interpolation"], c["epochs"], c["base_filters"]) == (
        False, 0.0, 3, 8)
    other = cli.resolve(cli.parse_args([])[0])  # the other variants keep their defaults
    assert (other["dataset"], other["base_filters"], other["interpolation"]) == ("digits", 32, None)


@pytest.mark.parametrize("argv,msg", [
    (["--variant", "text2image", "--dataset", "digits"], "needs --captions FILE"),
    (["--variant", "dcgan", "--dataset", "mnist-captions"], "use it with --variant text2image"),
    (["--variant", "text2image", "--dataset", "edges"], "use --dataset mnist-captions"),
    (["--variant", "dcgan", "--condition-augmentation", "8"], "is a text-to-image option"),
    (["--variant", "text2image", "--data-dir", ".", "--augmentation-kl", "-1"],
     "--augmentation-kl must be >= 0"),
    (["--variant", "text2image", "--data-dir", ".", "--latent-dim", "8",
      "--condition-augmentation", "9"], "needs a latent at least that wide"),
    (["--variant", "text2image", "--data-dir", ".", "--condition-augmentation", "101"],
     "got --latent-dim 100"),
    (["--variant", "text2image", "--dataset", "ring"], "use --dataset mnist-captions"),
    (["--captions", "x.txt"], "use it with --variant text2image"),
    (["--variant", "dcgan", "--interpolation", "0.5"], "use it with --variant text2image"),
    (["--variant", "text2image", "--data-dir", ".", "--conditional"], "drop --conditional"),
    (["--variant", "text2image", "--data-dir", ".", "--architecture", "mlp"], "DCGAN networks"),
    (["--variant", "text2image", "--data-dir", ".", "--interpolation", "-1"], "must be >= 0"),
    (["--variant", "text2image", "--dataset", "digits", "--captions", "no/such.txt"],
     "no such file"),
    (["--variant", "text2image", "--data-dir", ".", "--captions", __file__], "drop --captions"),
])
def test_bad_text2image_combinations_are_usage_errors(argv, msg, capsys):
    from kgan import cli

    with pytest.raises(SystemExit) as e:
        cli.parse_args(argv)
    assert e.value.code == 2 and msg in capsys.readouterr().err


# --------------------------------------------------------------------- the run
@needs_mnist
def test_run_writes_caption_grids_captions_txt_and_an_export_equal_to_the_model(trained):
    from kgan import export_text

    out, summary = trained
    assert summary["steps"] == 2 * (20 * 5 // 16) and summary["num_images"] == 20
    assert summary["encoder_pretrained"] and summary["export_matches_model"]
    rows = (out / "captions.txt").read_text().splitlines()
    assert rows == summary["captions"] and len(rows) == 8  # 8 captions x 1 seed
    assert len(set(rows)) == 8
    for name in ("samples.png", "export_samples.png", "samples/epoch_0002.png", "model.keras",
                 "curves.png", "metrics.csv", "summary.json"):
        assert (out / name).is_file(), name
    model = keras.saving.load_model(str(out / "model.keras"))
    assert model.is_text_to_image and model.ema_generator is not None
    path = summary["export"]
    assert path.startswith(str(out / "export"))
    np.testing.assert_allclose(export_text.generate_from_text_export(path, SENTENCES, seed=4),
                               model.generate(SENTENCES, seed=4), atol=1e-5)
    saved = json.loads((out / "config.json").read_text())
    assert saved["dataset"] == "mnist-captions" and saved["data_dir"] == os.path.abspath(MNIST)


@needs_mnist
def test_a_resumed_run_restores_the_encoder_and_ends_with_the_same_weights(tmp_path, monkeypatch):
    from kgan import training_text
    from kgan.training import run

    def config(out):
        return _config(out, "--max-samples", "16", "--epochs", "2", "--num-samples", "2",
                       "--no-export", "--save-seconds", "0")  # the state at every epoch end

    whole = run(config(tmp_path / "a"))
    assert whole["steps"] == 10
    with pytest.raises(KeyboardInterrupt):
        run(config(tmp_path / "b"), extra_callbacks=[_Crash()])

    def no_retraining(*args, **kwargs):
        raise AssertionError("a resumed run pre-trained its encoder again")

    monkeypatch.setattr(training_text, "train_encoder", no_retraining)
    resumed = run(config(tmp_path / "b"))
    assert resumed["resumed_from_step"] == 5 and resumed["steps"] == 10
    assert not resumed["encoder_pretrained"]
    a = keras.saving.load_model(str(tmp_path / "a" / "model.keras"))
    b = keras.saving.load_model(str(tmp_path / "b" / "model.keras"))
    assert len(a.weights) == len(b.weights) and a.text_encoder.weights
    for u, v in zip(a.weights, b.weights):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=1e-5, atol=1e-6)
    for u, v in zip(a.text_encoder.weights, b.text_encoder.weights):  # the pre-trained encoder
        np.testing.assert_array_equal(np.asarray(u), np.asarray(v))
    assert (tmp_path / "b" / "samples" / "epoch_0002.png").is_file()
    assert (tmp_path / "b" / "captions.txt").read_text() == (
        tmp_path / "a" / "captions.txt").read_text()


def test_captions_file_trains_on_caption_image_pairs(tmp_path, capsys):
    from kgan import cli, training
    from kgan.training import run

    words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
    digits = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]  # sklearn digits come in order 0..9
    path = tmp_path / "captions.txt"
    path.write_text("".join(f"{i}\ta {'thick' if i % 2 else 'thin'} {words[d]}\n"
                            f"{i}\thandwritten {d}\n" for i, d in enumerate(digits)))
    argv = ["--variant", "text2image", "--dataset", "digits", "--captions", str(path),
            "--max-samples", "12", "--epochs", "1", "--num-samples", "4", "--no-export", *TINY,
            "--out", str(tmp_path / "run")]
    summary = run(cli.parse_args(argv)[0])
    assert summary["num_images"] == 12 and summary["num_examples"] == 24
    assert summary["steps"] == 24 // 16 and summary["encoder_pretrained"]
    assert summary["captions"] == ["a thin zero", "handwritten 0", "a thick one", "handwritten 1"]
    assert (tmp_path / "run" / "captions.txt").read_text().splitlines() == summary["captions"]
    assert (tmp_path / "run" / "samples.png").is_file()

    bad = tmp_path / "bad.txt"
    bad.write_text("a thin zero\n\nthree\n")
    argv[argv.index(str(path))] = str(bad)
    argv[-1] = str(tmp_path / "bad_run")
    assert training.main(argv) == 2
    assert f"{bad}:2: expected a caption, got an empty line" in capsys.readouterr().err


# ------------------------------------------------------------ kgan-sample
@needs_mnist
def test_sample_command_takes_sentences_for_a_model_and_its_export(trained, tmp_path, capsys):
    from kgan import sampling

    out, summary = trained
    file = tmp_path / "sentences.txt"
    file.write_text("sketch of a big zero\n\n")  # blank lines at the end are ignored
    args = ["--text", "a thick seven", "--text", "a thin 1 leaning left", "--text-file",
            str(file), "-n", "3", "--seed", "2"]
    assert sampling.main([str(out / "model.keras"), *args, "--out", str(tmp_path / "k")]) == 0
    assert sampling.main([str(out / "export"), *args, "--out", str(tmp_path / "e")]) == 0
    k, e = np.load(tmp_path / "k.npy"), np.load(tmp_path / "e.npy")
    assert k.shape == (9, 28, 28, 1)
    np.testing.assert_allclose(k, e, atol=1e-5)
    model = keras.saving.load_model(str(out / "model.keras"))
    np.testing.assert_allclose(k[3:6], model.generate(["a thin 1 leaning left"] * 3, seed=2),
                               atol=1e-6)  # row r: sentence r, column j: seed 2 + j
    assert (tmp_path / "k_texts.txt").read_text().splitlines() == SENTENCES
    assert (tmp_path / "k.png").is_file() and (tmp_path / "e.png").is_file()
    capsys.readouterr()

    for model_path in (out / "model.keras", out / "export"):
        for bad, msg in [([], "is a text-to-image model: pass sentences with --text"),
                         (["--text", "a 1", "--text", "  "],
                          "--text: expected non-empty texts, got an empty one at row 1."),
                         (["--text", "x" * 97], "--text: expected at most 96 characters, got 97")]:
            assert sampling.main([str(model_path), *bad, "--out", str(tmp_path / "x")]) == 2
            assert msg in capsys.readouterr().err, (model_path, bad)
    with pytest.raises(SystemExit):
        sampling.main([str(out / "model.keras"), "--text", "a 1", "--labels", "1"])
    with pytest.raises(SystemExit):
        sampling.main([str(out / "model.keras"), "--text-file", str(tmp_path / "missing.txt")])


def test_text_for_a_model_that_takes_no_text_is_refused(tmp_path):
    from kgan import sampling

    gan = __import__("kgan").DCGAN(data_shape=(28, 28, 1), latent_dim=4,
                                   generator_options={"base_filters": 2},
                                   discriminator_options={"base_filters": 2})
    gan.save(str(tmp_path / "g.keras"))
    with pytest.raises(sampling.SamplingError, match="not a text-to-image model"):
        sampling.sample(str(tmp_path / "g.keras"), 2, texts=["a thin 1"])


# ----------------------------------------------------------------- clients
@needs_mnist
@pytest.mark.parametrize("kind", ["rest", "grpc"])
def test_clients_send_sentences_to_a_text_export(trained, kind):
    from kgan import serving_client as sc

    from serving_double import ServingDouble

    out, _ = trained
    model = keras.saving.load_model(str(out / "model.keras"))
    double = ServingDouble({"t2i": str(out / "export" / "generator")})
    with double.start():
        client = (sc.RestClient(double.rest_url, "t2i", timeout=30) if kind == "rest"
                  else sc.GrpcClient(double.grpc_target, "t2i", timeout=30))
        np.testing.assert_allclose(client.text_to_image(SENTENCES, seeds=5),
                                   model.generate(SENTENCES, seed=5), atol=1e-5)
        np.testing.assert_allclose(client.text_to_image(SENTENCES),  # serving_default: seed i
                                   model.generate(SENTENCES, seed=0), atol=1e-5)
        np.testing.assert_allclose(client.text_to_image(["a thin 1", "a 7"], seeds=[9, 3])[1],
                                   model.generate(["a 7"], seed=3)[0], atol=1e-5)
        pngs = client.text_to_png(["a thick seven", "ünïcode 2"], seeds=[1, 2])
        assert len(pngs) == 2 and all(p.startswith(b"\x89PNG") for p in pngs)
        for bad, msg in [("a thin 1", "got a single string; wrap it in a list"),
                         ([], "expected at least one text, got none"),
                         (["a 1", 7], "expected strings, got int at row 1"),
                         (["a 1", " \t"], "expected non-empty texts, got an empty one at row 1")]:
            with pytest.raises(ValueError, match=msg):
                client.text_to_image(bad)
        with pytest.raises(ValueError, match="one seed per sentence"):
            client.text_to_image(["a 1", "a 2"], seeds=[1])
        with pytest.raises(sc.ServingError, match="at most 96 characters"):
            client.text_to_image(["x" * 97])
        with pytest.raises(ValueError, match="is a text-to-image model: use text_to_image"):
            client.generate(seeds=[0])
        client.close()


def test_recipe_condition_augmentation_is_capped_at_the_latent():
    from kgan import cli

    def resolved(*extra):
        c = cli.resolve(cli.parse_args(["--variant", "text2image", "--data-dir", ".", *extra])[0])
        return c["condition_augmentation"], c["augmentation_kl"]

    recipe = (cli.TEXT_CONDITION_AUGMENTATION, cli.TEXT_AUGMENTATION_KL)
    assert resolved() == recipe and cli.TEXT_CONDITION_AUGMENTATION <= cli.TEXT_LATENT_DIM
    assert resolved("--latent-dim", "3") == (min(3, recipe[0]), recipe[1])
    assert resolved("--latent-dim", "8", "--condition-augmentation", "8") == (8, recipe[1])
    assert resolved("--condition-augmentation", "0", "--augmentation-kl", "2") == (0, 2.0)


def test_condition_augmentation_flags_reach_the_model():
    from kgan import cli, text as text_lib, training_text_cli
    from kgan.objectives import ConditioningKL, ModeSeeking

    def built(*flags):
        c = cli.resolve(cli.parse_args(["--variant", "text2image", "--data-dir", ".",
                                        "--condition-augmentation", "3", "--augmentation-kl",
                                        "0.25", "--base-filters", "4", "--latent-dim", "8",
                                        *flags])[0])
        encoder = text_lib.build_text_encoder(max_chars=24, embedding_dim=6, filters=8,
                                              char_dim=4)
        return training_text_cli.build_model(c, encoder, (28, 28, 1))

    def weights(gan, kind):
        return [t.weight for t in gan.terms if isinstance(t, kind)]

    gan = built()
    assert gan.generator.get_layer("g_condition_augmentation").units == 3
    assert weights(gan, ConditioningKL) == [0.25]
    assert weights(gan, ModeSeeking) == [cli.TEXT_MODE_SEEKING]  # the recipe's, not given
    assert weights(built("--mode-seeking", "0"), ModeSeeking) == []


@pytest.mark.parametrize("how", ["input", "projection"])
def test_label_conditioning_picks_how_d_sees_the_sentence(how):
    from kgan import cli, text as text_lib, training_text_cli

    c = cli.resolve(cli.parse_args(["--variant", "text2image", "--data-dir", ".",
                                    "--label-conditioning", how, "--base-filters", "4",
                                    "--latent-dim", "8"])[0])
    encoder = text_lib.build_text_encoder(max_chars=24, embedding_dim=6, filters=8, char_dim=4)
    names = {layer.name for layer in training_text_cli.build_model(
        c, encoder, (28, 28, 1)).discriminator.layers}
    assert ("condition_projection_score" in names) == (how == "projection")
    assert ("features_and_condition" in names) == (how == "input")
