"""Sample-quality benchmark: kgan's variants on the 2-D mixtures and MNIST.

Rows (one model configuration on one data set, several seeds each):

- ``ring/*`` and ``grid/*``: MLP GANs on the VEEGAN / PacGAN 8-mode ring
  and 25-mode grid (100k training points), judged on 2,500 samples by modes
  captured, share of high-quality samples and reverse KL
  (:func:`kgan.metrics.mode_statistics`), next to PacGAN's Table 1.
- ``mnist/*``: DCGANs trained on MNIST images 5,000-9,999 (the half that the
  judging classifier never saw), judged on 2,500 samples with the project's
  MNIST classifier: Fréchet classifier distance (FCD) against real images
  7,500-9,999, next to the real-vs-real floor (images 5,000-7,499 against
  7,500-9,999), KID, precision/recall, the class histogram (classes present,
  KL to uniform) and, for the conditional model, the share of samples
  classified as the label they were generated for.

Every run writes its metrics; a run directory holds ``results.json`` (every
metric of every seed, the configs, timings and the command),
``summary.md`` (the tables), scatter plots ``<row>_seed<k>.png`` for the 2-D
rows and sample grids for MNIST.

Usage:
    python benchmarks/quality.py --quick                      # smoke run, ~2 min
    python benchmarks/quality.py --seeds 3 --name full        # the README table
    python benchmarks/quality.py --rows grid/gan --seeds 1 --steps-scale 0.5
    python benchmarks/quality.py --list                       # rows and their configs
"""

from __future__ import annotations

import argparse
import copy
import datetime
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

# PacGAN Table 1 (Lin et al. 2018), averaged over 10 trials, from DESIGN.md.
PACGAN_TABLE1 = {
    "GAN": {"ring": (6.3, 98.2, 0.45), "grid": (17.3, 94.8, 0.70)},
    "ALI": {"ring": (6.6, 97.6, 0.36), "grid": (24.1, 95.7, 0.14)},
    "PacGAN2": {"ring": (7.9, 95.6, 0.07), "grid": (23.8, 91.3, 0.13)},
    "PacGAN3": {"ring": (7.8, 97.7, 0.10), "grid": (24.6, 94.2, 0.06)},
    "PacGAN4": {"ring": (7.8, 95.9, 0.07), "grid": (24.8, 93.6, 0.04)},
}

TARGETS = {
    "ring": "8/8 modes and >= 97% high quality on every seed",
    "grid": "25/25 modes, >= 97% high quality and reverse KL <= 0.02 on every seed",
    "mnist": "all 10 classes present and class KL to uniform <= 0.05",
    "mnist_cond": ">= 98% of generated digits classified as the requested label",
}

_MLP_2D = {
    "model": "GAN", "architecture": "mlp", "latent_dim": 16,
    "generator_options": {"hidden_units": [128, 128, 128], "normalization": "batch"},
    "discriminator_options": {"hidden_units": [128, 128, 128]},
    "g_optimizer": {"learning_rate": 1e-3, "beta_1": 0.5},
    "d_optimizer": {"learning_rate": 1e-3, "beta_1": 0.5},
    "lr_schedule": "cosine",  # decays both learning rates to 0 over the run
    "batch_size": 256, "steps": 4000, "steps_per_execution": 25, "ema_decay": 0.99,
    "num_points": 100_000,
}

_DCGAN = {
    "model": "DCGAN", "architecture": "dcgan", "latent_dim": 64,
    "generator_options": {"base_filters": 32},
    "discriminator_options": {"base_filters": 32},
    "g_optimizer": {"learning_rate": 4e-4, "beta_1": 0.5},
    "d_optimizer": {"learning_rate": 4e-4, "beta_1": 0.5},
    "batch_size": 64, "steps": 1500, "steps_per_execution": 1, "ema_decay": 0.99,
}


def _row(base, **overrides):
    cfg = copy.deepcopy(base)
    for k, v in overrides.items():
        cfg[k] = v
    return cfg


ROWS = {
    "ring/gan": _row(_MLP_2D, dataset="ring", loss="non_saturating"),
    "ring/pacgan2": _row(_MLP_2D, dataset="ring", loss="non_saturating",
                         model_options={"packing": 2}),
    "grid/gan": _row(_MLP_2D, dataset="grid", loss="non_saturating"),
    "grid/pacgan2": _row(_MLP_2D, dataset="grid", loss="non_saturating",
                         model_options={"packing": 2}),
    # The unconditional recipe (issue 17): InfoGAN's MNIST networks (Chen et al. 2016, appendix
    # C.1: FC 1024 in G and D, 64 base filters) and its learning rates (G 1e-3, D 2e-4).
    "mnist/dcgan": _row(_DCGAN, dataset="mnist", loss="non_saturating", steps=3000,
                        generator_options={"base_filters": 64, "dense_units": 1024},
                        discriminator_options={"base_filters": 64, "dense_units": 1024},
                        g_optimizer={"learning_rate": 1e-3, "beta_1": 0.5},
                        d_optimizer={"learning_rate": 2e-4, "beta_1": 0.5}),
    # The earlier unconditional row: 32 base filters, no dense layers, Adam 4e-4, 1,500 steps.
    "mnist/dcgan-small": _row(_DCGAN, dataset="mnist", loss="non_saturating"),
    # The conditional recipe (issue 17): the projection discriminator, cosine decay, 3,000 steps.
    "mnist/cdcgan": _row(_DCGAN, dataset="mnist", model="ConditionalGAN", num_classes=10,
                         loss="non_saturating", lr_schedule="cosine", steps=3000,
                         discriminator_options={"base_filters": 32,
                                                "label_conditioning": "projection"}),
    # The earlier conditional row: the label as an input channel of D, 1,500 constant-rate steps.
    "mnist/cdcgan-input": _row(_DCGAN, dataset="mnist", model="ConditionalGAN", num_classes=10,
                               loss="non_saturating"),
}
DEFAULT_ROWS = ["ring/gan", "grid/gan", "grid/pacgan2", "mnist/dcgan", "mnist/cdcgan"]

NUM_EVAL_SAMPLES = 2500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="kgan sample-quality benchmark",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Usage:")[1])
    p.add_argument("--rows", default="default",
                   help=f"comma-separated rows, 'default' ({', '.join(DEFAULT_ROWS)}) or 'all' "
                        f"({', '.join(ROWS)})")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per row")
    p.add_argument("--steps-scale", type=float, default=1.0,
                   help="multiply every row's training steps")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 seed, 5%% of the steps, 500 evaluation samples")
    p.add_argument("--name", default=None, help="run folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    p.add_argument("--list", action="store_true", help="print the rows' configs and exit")
    return p.parse_args(argv)


# --------------------------------------------------------------------- running

def build_model(cfg, seed):
    import keras
    import kgan

    cls = getattr(kgan, cfg["model"])
    kwargs = dict(data_shape=cfg["data_shape"], latent_dim=cfg["latent_dim"],
                  loss=kgan.losses.GANLoss(cfg["loss"], real_label=cfg.get("real_label", 1.0)),
                  architecture=cfg["architecture"], seed=seed,
                  generator_options=cfg["generator_options"],
                  discriminator_options=cfg["discriminator_options"],
                  d_steps=cfg.get("d_steps", 1), ema_decay=cfg.get("ema_decay") or 0.0)
    if cfg.get("num_classes"):
        kwargs["num_classes"] = cfg["num_classes"]
    kwargs.update(cfg.get("model_options", {}))
    kwargs.update(kgan.options.to_pieces(**cfg.get("options", {})))  # e.g. {"r1_gamma": 1.0}
    model = cls(**kwargs)

    def adam(options):
        options = dict(options)
        if cfg.get("lr_schedule") == "cosine":
            options["learning_rate"] = keras.optimizers.schedules.CosineDecay(
                options["learning_rate"], int(cfg["steps"]))
        return keras.optimizers.Adam(**options)

    model.compile(g_optimizer=adam(cfg["g_optimizer"]), d_optimizer=adam(cfg["d_optimizer"]),
                  steps_per_execution=cfg.get("steps_per_execution", 1))
    return model


def train(cfg, seed, samples, labels, epochs_log=10):
    """Trains one model; returns ``(model, seconds, loss log)``."""
    import keras

    from kgan import data
    keras.utils.set_random_seed(seed)
    model = build_model(cfg, seed)
    ds = data.as_dataset(samples, labels if cfg.get("num_classes") else None,
                         batch_size=cfg["batch_size"], seed=seed, repeat=True)
    steps = max(int(cfg["steps"]), cfg.get("steps_per_execution", 1))
    epochs = min(epochs_log, steps)
    t0 = time.time()
    hist = model.fit(ds, steps_per_epoch=steps // epochs, epochs=epochs, verbose=0,
                     )
    seconds = time.time() - t0
    log = {k: [round(float(v), 4) for v in vals] for k, vals in hist.history.items()}
    return model, seconds, log


def evaluate_2d(model, mixture, num_samples, out_png):
    from kgan.metrics import MixtureMetrics, generate_samples

    ev = MixtureMetrics(mixture, details=True)
    result = {}
    for which in ("raw", "ema"):
        if which == "ema" and getattr(model, "ema_generator", None) is None:
            continue
        x, _ = generate_samples(model, num_samples, seed=10_000, use_ema=which == "ema")
        result[which] = ev(x)
        if which == "ema" or getattr(model, "ema_generator", None) is None:
            common.save_mixture_scatter(x, out_png, mixture)
    result["reported"] = result.get("ema", result["raw"])
    return result


def evaluate_mnist(model, feature_metrics, num_samples, out_png):
    from kgan.images import save_grid
    from kgan.metrics import generate_samples

    result = {}
    for which in ("raw", "ema"):
        if which == "ema" and getattr(model, "ema_generator", None) is None:
            continue
        x, y = generate_samples(model, num_samples, seed=10_000, use_ema=which == "ema")
        result[which] = feature_metrics(x, y)
        if which == "ema" or getattr(model, "ema_generator", None) is None:
            save_grid(x[:100], out_png, cols=10, scale=2)
    result["reported"] = result.get("ema", result["raw"])
    return result


def _mean_std(values):
    import numpy as np

    v = np.asarray(values, np.float64)
    return float(v.mean()), float(v.std()), float(v.min()), float(v.max())


# --------------------------------------------------------------------- report

def _fmt(values, spec, scale=1.0):
    m, s, lo, hi = _mean_std([v * scale for v in values])
    return f"{m:{spec}} ± {s:{spec}}"


def summarize(results):
    lines = [f"# kgan quality benchmark: {results['name']}", "",
             f"Command: `{results['command']}`", "",
             f"Machine: {results['environment']['cpus']} CPUs, "
             f"{results['environment']['gpus']} GPUs; TF {results['environment']['tensorflow']}, "
             f"Keras {results['environment']['keras']}. Total wall time "
             f"{results['total_seconds'] / 60:.1f} min.", ""]
    rows2d = {k: v for k, v in results["rows"].items() if v["config"]["dataset"] in ("ring", "grid")}
    if rows2d:
        lines += ["## 2-D mixtures (2,500 samples per seed; mean ± std over seeds, worst seed)", "",
                  "| row | seeds | modes | high quality % | reverse KL | worst seed: modes / HQ % / KL "
                  "| target met on every seed | train s/seed |",
                  "|---|---|---|---|---|---|---|---|"]
        for name, row in rows2d.items():
            runs = [r["metrics"]["reported"] for r in row["runs"]]
            modes = [r["modes"] for r in runs]
            hq = [r["high_quality"] for r in runs]
            kl = [r["reverse_kl"] for r in runs]
            worst = min(runs, key=lambda r: (r["modes"], r["high_quality"], -r["reverse_kl"]))
            ds = row["config"]["dataset"]
            need_modes = 8 if ds == "ring" else 25
            met = all(r["modes"] == need_modes and r["high_quality"] >= 0.97
                      and (ds == "ring" or r["reverse_kl"] <= 0.02) for r in runs)
            secs = _mean_std([r["train_seconds"] for r in row["runs"]])[0]
            lines.append(
                f"| kgan {name} | {len(runs)} | {_fmt(modes, '.1f')} | {_fmt(hq, '.1f', 100)} | "
                f"{_fmt(kl, '.3f')} | {worst['modes']} / {100 * worst['high_quality']:.1f} / "
                f"{worst['reverse_kl']:.3f} | {'yes' if met else 'NO'} | {secs:.0f} |")
        for ds in ("ring", "grid"):
            if any(v["config"]["dataset"] == ds for v in rows2d.values()):
                for model, figs in PACGAN_TABLE1.items():
                    m, hqp, kl = figs[ds]
                    lines.append(f"| PacGAN Table 1: {ds} {model} (10 trials) | 10 | {m} | {hqp} | "
                                 f"{kl} | | | |")
        lines += ["", "Targets: ring " + TARGETS["ring"] + "; grid " + TARGETS["grid"] + ".", ""]
    rows_img = {k: v for k, v in results["rows"].items() if v["config"]["dataset"] == "mnist"}
    if rows_img:
        floor = results.get("mnist_real_floor", {})
        lines += ["## MNIST (2,500 samples per seed vs 2,500 real; judged by kgan's MNIST "
                  "classifier; mean ± std over seeds)", "",
                  "| row | seeds | FCD | KID | precision | recall | classes present | "
                  "class KL | label accuracy | classifier score | train s/seed |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, row in rows_img.items():
            runs = [r["metrics"]["reported"] for r in row["runs"]]
            secs = _mean_std([r["train_seconds"] for r in row["runs"]])[0]
            acc = (_fmt([r["label_accuracy"] for r in runs], ".4f")
                   if "label_accuracy" in runs[0] else "n/a")
            lines.append(
                f"| kgan {name} | {len(runs)} | {_fmt([r['fd'] for r in runs], '.2f')} | "
                f"{_fmt([r['kid'] for r in runs], '.3f')} | "
                f"{_fmt([r['precision'] for r in runs], '.3f')} | "
                f"{_fmt([r['recall'] for r in runs], '.3f')} | "
                f"{min(r['classes_present'] for r in runs)} (min) | "
                f"{_fmt([r['class_kl'] for r in runs], '.4f')} | {acc} | "
                f"{_fmt([r['classifier_score'] for r in runs], '.2f')} | {secs:.0f} |")
        if floor:
            lines.append(
                f"| real vs real (images 5,000-7,499 vs 7,500-9,999) | - | {floor['fd']:.2f} | "
                f"{floor['kid']:.3f} | {floor['precision']:.3f} | {floor['recall']:.3f} | "
                f"{floor['classes_present']} | {floor['class_kl']:.4f} | "
                f"{floor.get('label_accuracy', float('nan')):.4f} | "
                f"{floor['classifier_score']:.2f} | |")
        lines += ["", "Targets: unconditional " + TARGETS["mnist"] + "; conditional "
                  + TARGETS["mnist_cond"] + ". The real-vs-real row's label accuracy is the "
                  "classifier's accuracy on those real images.", ""]
    lines += ["Figures are for the EMA generator where a row uses one (``ema_decay``); "
              "``results.json`` also holds the raw generator's figures.", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------ main

def main(argv=None):
    args = parse_args(argv)
    if args.list:
        print(json.dumps(ROWS, indent=2))
        return None
    names = (DEFAULT_ROWS if args.rows == "default" else list(ROWS) if args.rows == "all"
             else [r.strip() for r in args.rows.split(",")])
    unknown = [n for n in names if n not in ROWS]
    if unknown:
        raise SystemExit(f"Unknown rows {unknown}; choose from {list(ROWS)}.")
    seeds = list(range(1 if args.quick else args.seeds))
    scale = args.steps_scale * (0.05 if args.quick else 1.0)
    num_eval = 500 if args.quick else NUM_EVAL_SAMPLES
    name = args.name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + ("-quick" if args.quick else "")
    out = os.path.join(args.out_root, name)
    os.makedirs(out, exist_ok=True)

    import keras  # noqa: F401  (after argument parsing: --help stays fast)
    import numpy as np

    from kgan import data
    from kgan.metrics import FeatureMetrics, MnistClassifier

    t_start = time.time()
    results = {"name": name, "command": "python benchmarks/quality.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "environment": common.environment(),
        "num_eval_samples": num_eval, "seeds": seeds, "rows": {}}

    mnist = None
    if any(ROWS[n]["dataset"] == "mnist" for n in names):
        parts = common.mnist_splits(args.data_dir)
        clf = MnistClassifier()
        x_gan, y_gan = parts["gan"]
        real_a, y_a = parts["gan_a"]
        real_b, _ = parts["gan_b"]
        kid_size = min(1000, num_eval)
        fm = FeatureMetrics(clf, data.scale_images(real_b[:num_eval]), kid=True,
                            precision_recall=True, kid_subsets=100, kid_subset_size=kid_size,
                            details=True)
        floor = fm(data.scale_images(real_a[:num_eval]), y_a[:num_eval])
        results["mnist_real_floor"] = floor
        results["mnist_classifier"] = clf.info
        mnist = (data.scale_images(x_gan), y_gan, fm)
        print(f"MNIST real-vs-real floor: FCD {floor['fd']:.3f}, KID {floor['kid']:.5f}, "
              f"classifier accuracy {floor['label_accuracy']:.4f}", flush=True)

    for row in names:
        cfg = copy.deepcopy(ROWS[row])
        cfg["steps"] = max(1, int(round(cfg["steps"] * scale)))
        ds_name = cfg["dataset"]
        entry = {"config": cfg, "runs": []}
        if ds_name in ("ring", "grid"):
            mixture = data.ring_mixture() if ds_name == "ring" else data.grid_mixture()
            cfg["data_shape"] = [2]
        else:
            cfg["data_shape"] = [28, 28, 1]
        for seed in seeds:
            if ds_name in ("ring", "grid"):
                samples, labels = mixture.sample(cfg["num_points"], seed=seed)
            else:
                samples, labels = mnist[0], mnist[1]
            keras.backend.clear_session()
            model, secs, log = train(cfg, seed, samples, labels)
            t_eval = time.time()
            png = os.path.join(out, f"{row.replace('/', '_')}_seed{seed}.png")
            if ds_name in ("ring", "grid"):
                metrics = evaluate_2d(model, mixture, num_eval, png)
            else:
                metrics = evaluate_mnist(model, mnist[2], num_eval, png)
            run = {"seed": seed, "train_seconds": round(secs, 1),
                   "eval_seconds": round(time.time() - t_eval, 1), "metrics": metrics,
                   "loss_log": log}
            entry["runs"].append(run)
            rep = {k: (round(v, 4) if isinstance(v, float) else v)
                   for k, v in metrics["reported"].items() if not isinstance(v, list)}
            print(f"{row} seed {seed}: {secs:.0f}s train, {rep}", flush=True)
        results["rows"][row] = entry
        results["total_seconds"] = time.time() - t_start
        common.write_json(results, os.path.join(out, "results.json"))

    results["total_seconds"] = time.time() - t_start
    return common.finish(results, out, summarize(results))


if __name__ == "__main__":
    main()
