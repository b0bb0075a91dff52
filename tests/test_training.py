"""The train/ entry point, end to end, as a user runs it."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from shared_data import needs_mnist

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MNIST = os.path.join(ROOT, "..", "shared", "data", "mnist")


def train(*args, timeout=600):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(ROOT, "train", "train.py"), *args],
                          capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_dry_run_prints_resolved_config():
    r = train("--variant", "lsgan", "--dataset", "ring", "--dry-run")
    assert r.returncode == 0, r.stderr
    cfg = json.loads(r.stdout)
    assert cfg["loss"] == "least_squares" and cfg["dataset"] == "ring" and cfg["strategy"] == "default"


def test_recipes_are_the_defaults_of_their_runs_only():
    from kgan import cli

    quick = json.loads(train("--dry-run").stdout)  # the README's quickstart, as --dry-run shows it
    assert {k: quick[k] for k in cli.QUICKSTART_RECIPE} == cli.QUICKSTART_RECIPE
    assert {k: quick[k] for k in cli.QUICKSTART_NETWORKS} == cli.QUICKSTART_NETWORKS
    assert quick["base_filters"] == 32
    other = cli.resolve(cli.parse_args(["--dataset", "cifar10"])[0])
    assert {k: other[k] for k in cli.GENERAL_DEFAULTS} == cli.GENERAL_DEFAULTS
    assert (other["base_filters"], other["dense_units"]) == (32, 0)
    mnist = cli.resolve(cli.parse_args(["--dataset", "mnist"])[0])  # unconditional DCGAN on MNIST
    assert {k: mnist[k] for k in cli.UNCONDITIONAL_MNIST_RECIPE} == cli.UNCONDITIONAL_MNIST_RECIPE
    assert {k: mnist[k] for k in cli.UNCONDITIONAL_MNIST_NETWORKS} == cli.UNCONDITIONAL_MNIST_NETWORKS
    assert mnist["lr_schedule"] == "constant" and mnist["epochs"] == 40
    narrow = cli.resolve(cli.parse_args(["--dataset", "mnist", "--dense-units", "0",
                                         "--base-filters", "8"])[0])
    assert (narrow["base_filters"], narrow["dense_units"], narrow["g_lr"]) == (8, 0, 1e-3)
    mlp = cli.resolve(cli.parse_args(["--architecture", "mlp"])[0])
    assert mlp["r1_gamma"] == 0.0 and mlp["epochs"] == 40
    given = cli.resolve(cli.parse_args(["--epochs", "3", "--r1-gamma", "0"])[0])
    assert (given["epochs"], given["r1_gamma"], given["batch_size"]) == (3, 0.0, 32)
    for flags in (["--variant", "conditional", "--dataset", "mnist_idx", "--data-dir", "x"],
                  ["--variant", "dcgan", "--conditional", "--dataset", "mnist"]):
        cond = cli.resolve(cli.parse_args(flags)[0])
        assert {k: cond[k] for k in cli.CONDITIONAL_MNIST_RECIPE} == cli.CONDITIONAL_MNIST_RECIPE
        assert cond["epochs"] == 40 and cond["label_conditioning"] == "projection"
    for flags in (["--variant", "conditional", "--dataset", "mnist", "--label-conditioning", "input"],
                  ["--variant", "acgan", "--dataset", "mnist"],
                  ["--variant", "conditional", "--dataset", "mnist", "--architecture", "mlp"]):
        plain = cli.resolve(cli.parse_args(flags)[0])
        assert {k: plain[k] for k in cli.GENERAL_DEFAULTS} == cli.GENERAL_DEFAULTS, flags
    mixed = cli.resolve(cli.parse_args(["--variant", "conditional", "--dataset", "mnist",
                                        "--ema-decay", "0"])[0])
    assert (mixed["ema_decay"], mixed["lr_schedule"]) == (0.0, "cosine")


def test_bad_flag_is_rejected():
    r = train("--variant", "nope", "--dry-run")
    assert r.returncode == 2 and "invalid choice" in r.stderr
    r = train("--save-seconds", "-1", "--dry-run")
    assert r.returncode == 2 and "--save-seconds must be >= 0, got -1.0" in r.stderr


@needs_mnist
def test_train_conditional_dcgan_on_shared_mnist(tmp_path):
    out = tmp_path / "run"
    r = train("--variant", "conditional", "--dataset", "mnist_idx", "--data-dir", MNIST,
              "--architecture", "dcgan", "--base-filters", "8", "--max-samples", "256",
              "--batch-size", "32", "--epochs", "2", "--num-samples", "16", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    for name in ("config.json", "model.keras", "samples.png", "summary.json",
                 "samples/epoch_0001.png", "samples/epoch_0002.png", "checkpoints/model.keras"):
        assert (out / name).is_file(), name
    assert any((out / "logs").rglob("events.out.tfevents*"))
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["final_metrics"]) == {"g_loss", "d_loss", "d_acc_real", "d_acc_fake"}
    assert summary["export_matches_model"] is True
    assert (out / "export_samples.png").is_file()
    assert json.loads((out / "config.json").read_text())["conditional"] is True
    q = summary["quality"]  # the MNIST classifier judges 28x28 MNIST runs
    assert q["kind"] == "mnist" and q["num_samples"] == 2500 and q["fcd_num_real"] == 256
    assert q["fcd"] > 0 and len(q["class_histogram"]) == 10 and 0 <= q["label_accuracy"] <= 1
    assert "FCD" in r.stdout and "label accuracy" in r.stdout


def test_train_on_2d_mixture(tmp_path):
    out = tmp_path / "ring"
    r = train("--variant", "vanilla", "--dataset", "ring", "--num-points", "512", "--hidden-units", "32,32",
              "--batch-size", "64", "--epochs", "1", "--no-export", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    assert (out / "samples.png").is_file() and (out / "samples" / "epoch_0001.png").is_file()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["num_examples"] == 512 and summary["quality"]["kind"] == "mixture"
    assert (out / "metrics.csv").is_file() and (out / "curves.png").is_file()
    assert "modes captured" in r.stdout


def test_train_recipe_flags_cosine_schedule_no_bn_generator_and_ema(tmp_path):
    import keras

    out = tmp_path / "grid"
    r = train("--variant", "gan", "--dataset", "grid", "--num-points", "256", "--hidden-units", "16,16",
              "--batch-size", "64", "--epochs", "2", "--g-normalization", "none", "--lr-schedule", "cosine",
              "--g-lr", "1e-3", "--beta-2", "0.9", "--ema-decay", "0.9", "--num-samples", "32", "--out", str(out))
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert summary["sampled_network"] == "ema_generator" and summary["export_matches_model"] is True
    model = keras.saving.load_model(str(out / "model.keras"))
    assert not [l for l in model.generator.layers if isinstance(l, keras.layers.BatchNormalization)]
    g_opt = model.g_optimizer
    assert int(g_opt.iterations) == 8  # 256 / 64 x 2 epochs
    assert float(g_opt.learning_rate) == 0.0  # the cosine schedule has ended
    assert float(g_opt.beta_2) == 0.9
    # The average is inside model.keras, and it is what generate samples (not the raw G).
    assert model.ema_decay == 0.9 and model.ema_generator is not None
    assert not (out / "ema_generator.keras").exists()
    z = np.random.default_rng(0).normal(size=(4, model.latent_dim)).astype("float32")
    ema_out = np.asarray(model.ema_generator(z, training=False))
    assert not np.allclose(ema_out, np.asarray(model.generator(z, training=False)))
    np.testing.assert_allclose(model.generate(z=z), ema_out, atol=1e-6)


# --- issue 19: the command line ------------------------------------------------------

def _run_entry_in_python(script, *args):
    """Runs train/<script> in `python -c` and reports its exit code and whether TF got imported."""
    code = (
        "import runpy, sys\n"
        f"sys.path.insert(0, {os.path.join(ROOT, 'train')!r})\n"
        f"sys.argv = [{script!r}] + {list(args)!r}\n"
        "rc = 0\n"
        "try:\n"
        f"    runpy.run_path({os.path.join(ROOT, 'train', script)!r}, run_name='__main__')\n"
        "except SystemExit as e:\n"
        "    rc = e.code\n"
        "heavy = sorted({m.split('.')[0] for m in sys.modules} & {'tensorflow', 'keras', 'kgan'})\n"
        "print('RESULT', rc, ','.join(heavy) or '-')\n")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env=env, cwd=ROOT)
    line = [l for l in r.stdout.splitlines() if l.startswith("RESULT")][-1].split()
    return int(line[1]), line[2], r


@pytest.mark.parametrize("script,args,rc", [
    ("train.py", ["--help"], 0),
    ("train.py", ["--loss", "nope"], 2),
    ("train.py", ["--dataset", "MNIST"], 2),
    ("train.py", ["--dataset", "ring", "--dry-run"], 0),
    ("sample.py", ["--help"], 0),
    ("sample.py", ["no/such/model.keras"], 2),
])
def test_cli_answers_without_importing_tensorflow(script, args, rc):
    code, heavy, r = _run_entry_in_python(script, *args)
    assert code == rc, r.stderr[-2000:]
    assert heavy == "-", f"{script} {args} imported {heavy}"


def test_unknown_loss_is_a_usage_error():
    r = train("--loss", "nope")
    assert r.returncode == 2
    assert r.stderr.startswith("usage:") and "invalid choice: 'nope'" in r.stderr
    for name in ("non_saturating", "minimax", "least_squares", "wasserstein", "hinge"):
        assert name in r.stderr
    r = train("--dataset", "mnist.idx", "--dry-run")
    assert r.returncode == 2 and "neither an offline dataset" in r.stderr
    r = train("--dataset", "mnist_idx", "--dry-run")
    assert r.returncode == 2 and "needs --data-dir" in r.stderr


def test_every_flag_has_help_with_its_default_in_groups():
    from kgan import cli

    p = cli.build_parser()
    titles = [g.title for g in p._action_groups]
    for group in ("data", "model", "loss and regularizers", "optimisation", "distribution",
                  "output"):
        assert group in titles
    text = p.format_help()
    formatter = p._get_formatter()
    for action in p._actions:
        if isinstance(action, __import__("argparse")._HelpAction):
            continue
        assert action.help, action.option_strings
        shown = formatter._get_help_string(action)
        assert "default" in shown or "not given" in shown or action.dest == "dry_run" or \
            action.dest == "overwrite", (action.option_strings, shown)
        if action.choices:
            assert all(str(c) in text for c in action.choices)
    # every TrainConfig field is a flag
    flags = {s for a in p._actions for s in a.option_strings}
    for f in __import__("dataclasses").fields(cli.TrainConfig):
        assert "--" + f.name.replace("_", "-") in flags


def test_cli_choices_match_the_library():
    import kgan
    from kgan import cli, distribute, options

    assert tuple(kgan.losses.available()) == cli.LOSSES
    assert cli.ARCHITECTURES == ("auto",) + tuple(kgan.networks.ARCHITECTURES)
    assert cli.GRADIENT_PENALTIES == tuple(options.GRADIENT_PENALTIES)
    assert cli.STRATEGIES == tuple(distribute.STRATEGIES)
    assert cli.LABEL_CONDITIONING == kgan.networks.LABEL_CONDITIONING


def test_conditional_runs_get_the_projection_discriminator_unless_told_otherwise():
    from kgan import training

    def d_layers(*flags):
        c = training.resolve(training.parse_args(["--base-filters", "4", *flags])[0])
        return {l.name for l in training.build_model(c, (28, 28, 1), 10).discriminator.layers}

    assert "label_projection" in d_layers("--variant", "conditional")
    assert "label_projection" in d_layers("--variant", "dcgan", "--conditional")
    plain = d_layers("--variant", "conditional", "--label-conditioning", "input")
    assert "label_map" in plain and "label_projection" not in plain
    acgan = d_layers("--variant", "acgan")  # D predicts the label; it is not an input
    assert "label_projection" not in acgan and "label_map" not in acgan
    assert not {"label_projection", "label_map"} & d_layers("--variant", "dcgan")

    c = training.resolve(training.parse_args(["--dataset", "mnist", "--base-filters", "4",
                                              "--dense-units", "8"])[0])
    gan = training.build_model(c, (28, 28, 1), 10)
    assert gan.generator.get_layer("dense").units == gan.discriminator.get_layer("dense").units == 8


def test_config_file_reruns_and_explicit_flags_win(tmp_path):
    from kgan import cli

    stored = cli.resolve(cli.TrainConfig(variant="lsgan", dataset="ring", epochs=3, batch_size=32,
                                         hidden_units=(16, 16), seed=5, out=str(tmp_path / "a")))
    path = tmp_path / "config.json"
    path.write_text(json.dumps(stored))
    config, options = cli.parse_args(["--config", str(path)])
    assert cli.resolve(config) == stored  # an exact rerun
    # --batch-size 64 equals the parser's default: given explicitly, it still wins
    config, _ = cli.parse_args(["--config", str(path), "--epochs", "7", "--batch-size", "64",
                                "--out", str(tmp_path / "b")])
    c = cli.resolve(config)
    assert (c["epochs"], c["batch_size"], c["out"]) == (7, 64, str(tmp_path / "b"))
    assert (c["variant"], c["loss"], c["seed"], c["hidden_units"]) == ("lsgan", "least_squares", 5,
                                                                      [16, 16])
    r = train("--config", str(path), "--seed", "9", "--dry-run")
    assert r.returncode == 0, r.stderr
    shown = json.loads(r.stdout)
    assert shown["seed"] == 9 and shown["epochs"] == 3 and shown["dataset"] == "ring"
    path.write_text(json.dumps(dict(stored, bogus=1)))
    r = train("--config", str(path), "--dry-run")
    assert r.returncode == 2 and "unknown options: bogus" in r.stderr


class _CrashAtEpoch(__import__("keras").callbacks.Callback):
    """Simulates a crash at the start of an epoch (after the previous one was saved)."""

    def __init__(self, epoch):
        super().__init__()
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise KeyboardInterrupt("simulated crash")


def _ring_config(out, **kw):
    from kgan.training import TrainConfig

    base = dict(variant="vanilla", dataset="ring", num_points=128, hidden_units=(8, 8),
                batch_size=64, epochs=2, export=False, verbose=0, num_samples=16,
                eval_samples=500, out=str(out), save_seconds=0.0)  # state at every epoch end
    base.update(kw)
    return TrainConfig(**base)


def test_out_dir_resume_refuse_overwrite_and_metrics_csv(tmp_path):
    from kgan import report
    from kgan.run_dir import RunDirectoryError
    from kgan.training import main, run

    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(_ring_config(out), extra_callbacks=[_CrashAtEpoch(1)])
    assert len(report.read_metrics_csv(out / "metrics.csv")["epoch"]) == 1
    # the same config resumes, and metrics.csv is appended to, not restarted
    summary = run(_ring_config(out))
    assert summary["resumed_from_step"] == 2 and summary["steps"] == 4
    rows = (out / "metrics.csv").read_text().splitlines()
    assert rows[0].startswith("epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    assert (out / "curves.png").is_file() and summary["curves"].endswith("curves.png")
    q = summary["quality"]
    assert q["kind"] == "mixture" and q["num_samples"] == 500 and q["num_modes"] == 8
    assert set(q) >= {"modes", "high_quality", "reverse_kl", "mode_counts"}
    assert json.loads((out / "summary.json").read_text())["quality"] == q

    # another configuration into the same folder: refused before anything is written
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    config_text = (out / "config.json").read_text()
    with pytest.raises(RunDirectoryError, match="seed: 0 there, 1 now"):
        run(_ring_config(out, seed=1))
    assert main(["--dataset", "ring", "--seed", "1", "--out", str(out)]) == 2
    assert (out / "config.json").read_text() == config_text
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before

    # --overwrite starts over: old outputs go, files that are not run outputs stay
    (out / "samples" / "old_marker.png").write_bytes(b"x")
    (out / "notes.txt").write_text("mine")
    summary = run(_ring_config(out, seed=1, epochs=1), overwrite=True)
    assert summary["resumed_from_step"] == 0 and summary["steps"] == 2
    assert json.loads((out / "config.json").read_text())["seed"] == 1
    assert not (out / "samples" / "old_marker.png").exists() and (out / "notes.txt").is_file()
    assert len(report.read_metrics_csv(out / "metrics.csv")["epoch"]) == 1


def test_run_outputs_without_config_are_refused(tmp_path):
    from kgan.cli import resolve
    from kgan.run_dir import RunDirectoryError, prepare_run_directory

    out = tmp_path / "run"
    (out / "backup").mkdir(parents=True)
    c = resolve(_ring_config(out))
    with pytest.raises(RunDirectoryError, match="no config.json"):
        prepare_run_directory(c)
    assert prepare_run_directory(c, overwrite=True) == "overwrite" and not (out / "backup").exists()
    assert prepare_run_directory(c) == "new"


def test_sample_command_keras_and_export_agree(tmp_path):
    from kgan import sampling
    from kgan.training import TrainConfig, run

    out = tmp_path / "cgan"
    summary = run(TrainConfig(variant="conditional", dataset="digits", architecture="dcgan",
                              base_filters=8, epochs=1, max_samples=64, batch_size=32,
                              num_samples=8, eval_samples=40, verbose=0, out=str(out)))
    q = summary["quality"]
    assert q["kind"] == "digits" and q["num_samples"] == 40 and len(q["class_histogram"]) == 10
    assert 0.0 <= q["confident_share"] <= 1.0 and q["real_confident_share"] > 0.9
    assert 0.0 <= q["label_accuracy"] <= 1.0 and q["class_kl"] >= 0.0

    args = ["-n", "6", "--seed", "3", "--labels", "3,7"]
    assert sampling.main([str(out / "model.keras"), *args, "--out", str(tmp_path / "k")]) == 0
    assert sampling.main([str(out / "export"), *args, "--out", str(tmp_path / "e")]) == 0
    from_keras, from_export = np.load(tmp_path / "k.npy"), np.load(tmp_path / "e.npy")
    assert from_keras.shape == (6, 28, 28, 1)
    np.testing.assert_allclose(from_keras, from_export, atol=1e-4)
    np.testing.assert_array_equal(np.load(tmp_path / "k_labels.npy"), [3, 7, 3, 7, 3, 7])
    assert (tmp_path / "k.png").is_file() and (tmp_path / "e.png").is_file()

    # bad requests: clear messages, exit status 2
    r = subprocess.run([sys.executable, os.path.join(ROOT, "train", "sample.py"),
                        str(out / "model.keras"), "--labels", "12", "--out", str(tmp_path / "x")],
                       capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    assert r.returncode == 2 and "label 12 is out of range" in r.stderr
    with pytest.raises(SystemExit) as e:
        sampling.main([str(tmp_path / "missing.keras")])
    assert e.value.code == 2
    with pytest.raises(SystemExit):
        sampling.main([str(out / "model.keras"), "--labels", "a,b"])
    assert sampling.main([str(tmp_path), "-n", "2", "--out", str(tmp_path / "y")]) == 2


def test_cli_trains_on_a_tfds_split_resized_and_unlabelled(tmp_path):
    import tensorflow_datasets as tfds

    from kgan import cli, training

    config, _ = cli.parse_args(["--dataset", "celeb_a", "--split", "validation", "--image-size",
                                "32", "--epochs", "1", "--batch-size", "8", "--base-filters", "4",
                                "--num-samples", "4", "--eval-samples", "0", "--max-samples", "16",
                                "--no-export", "--verbose", "0", "--out", str(tmp_path / "faces")])
    with tfds.testing.mock_data(num_examples=16):  # celeb_a: images 218x178x3, no label
        summary = training.run(config)
    assert summary["num_examples"] == 16 and summary["steps"] == 2
    saved = json.loads((tmp_path / "faces" / "config.json").read_text())
    assert (saved["split"], saved["image_size"]) == ("validation", 32)


@pytest.mark.parametrize("variant", ["infogan", "began"])
def test_infogan_and_began_variants_train_and_export(tmp_path, variant):
    from kgan.training import TrainConfig, run

    summary = run(TrainConfig(variant=variant, dataset="digits", base_filters=4, epochs=1,
                              max_samples=64, batch_size=32, num_samples=4, eval_samples=20,
                              latent_dim=8, verbose=0, out=str(tmp_path / variant)))
    assert summary["export_matches_model"]
    metrics = summary["final_metrics"]
    assert ("info_loss" in metrics) if variant == "infogan" else {"m_global", "k_t"} <= set(metrics)
