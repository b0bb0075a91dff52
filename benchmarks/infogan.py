"""InfoGAN and BEGAN on MNIST: code accuracy, M_global and FCD against the real-vs-real floor.

Both train on the GAN half of the MNIST split (images 5,000-9,999, ``common.SPLITS``).

- InfoGAN (DCGAN networks, one 10-way categorical code, 2 continuous codes,
  62 noise dims as in the paper's MNIST setup): the categorical code's
  accuracy as a digit classifier after Hungarian matching of codes to
  classes (scipy's ``linear_sum_assignment``), judged two ways:
  (a) Q's code on held-out REAL digits (images 4,000-4,999, never seen by
  the GAN); (b) generated digits, code fixed to each category, labelled by
  kgan's MNIST classifier (``kgan.metrics.MnistClassifier``). Anchor: Chen et
  al. 2016, section 7.1, report about 5 % error (95 % accuracy) for (a)-style
  matching of the categorical code on MNIST.
- BEGAN (convolutional autoencoder D, gamma 0.5, lambda_k 0.001): the
  M_global and k_t curves (PNG) and the FCD of 2,500 samples against real
  images 7,500-9,999, next to the real-vs-real floor (5,000-7,499 vs
  7,500-9,999), computed as in ``benchmarks/quality.py``. InfoGAN gets the
  same FCD.

Writes ``results.json``, ``summary.md`` (the table, also printed),
``began_curves_seed<k>.png`` and sample grids to ``benchmarks/results/<name>/``.

Usage:
    python benchmarks/infogan.py --quick                 # smoke run (minutes on 2 CPUs)
    python benchmarks/infogan.py --seeds 3 --name full   # the full run (GPU)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

PAPER_INFOGAN_ERROR = ("Chen et al. 2016, sec. 7.1: the 10-way categorical code classifies "
                       "MNIST digits with about 5 % error")

CONFIG = {
    "infogan": {"noise_dim": 62, "categorical": [10], "continuous": 2, "base_filters": 64,
                "steps": 3000, "batch_size": 64, "g_lr": 1e-3, "d_lr": 2e-4},
    "began": {"latent_dim": 64, "embedding": 64, "filters": 32, "gamma": 0.5,
              "lambda_k": 0.001, "steps": 3000, "batch_size": 64, "lr": 1e-4},
    "eval_samples": 2500,
    "log_points": 30,
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Usage:")[1])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 seed, 2%% of the steps, small networks, 500 samples")
    p.add_argument("--models", default="infogan,began", help="comma list: infogan, began")
    p.add_argument("--steps-scale", type=float, default=1.0, help="multiply the training steps")
    p.add_argument("--name", default=None, help="run folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    return p.parse_args(argv)


def hungarian_accuracy(predicted, labels, k=10):
    """Accuracy of ``predicted`` cluster ids after the best one-to-one mapping to labels."""
    import numpy as np
    from scipy.optimize import linear_sum_assignment

    counts = np.zeros((k, k), np.int64)
    np.add.at(counts, (np.asarray(predicted), np.asarray(labels)), 1)
    rows, cols = linear_sum_assignment(-counts)
    return float(counts[rows, cols].sum() / max(1, len(labels))), dict(zip(rows.tolist(),
                                                                         cols.tolist()))


def line_plot(series, path, title, width=640, height=300):
    """Draws ``{name: [values]}`` as lines (PIL only)."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 50, 10, 24, 24
    values = [v for s in series.values() for v in s]
    lo, hi = min(values), max(values)
    hi = hi if hi > lo else lo + 1.0
    colors = [(200, 30, 30), (30, 80, 200), (30, 150, 60)]
    draw.rectangle((left, top, width - right, height - bottom), outline=(0, 0, 0))
    draw.text((left, 4), f"{title}  (y from {lo:.3g} to {hi:.3g})", fill=(0, 0, 0))
    for i, (name, s) in enumerate(series.items()):
        n = max(1, len(s) - 1)
        pts = [(left + j / n * (width - left - right),
                height - bottom - (v - lo) / (hi - lo) * (height - top - bottom))
               for j, v in enumerate(s)]
        if len(pts) > 1:
            draw.line(pts, fill=colors[i % 3], width=2)
        draw.text((width - right - 120, top + 4 + 12 * i), name, fill=colors[i % 3])
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path


def fit_logged(model, x, steps, batch_size, seed, points):
    from kgan import data

    ds = data.as_dataset(x, None, batch_size=batch_size, seed=seed, repeat=True)
    epochs = max(1, min(points, steps))
    t0 = time.time()
    hist = model.fit(ds, steps_per_epoch=max(1, steps // epochs), epochs=epochs, verbose=0)
    return {k: [float(v) for v in vals] for k, vals in hist.history.items()}, time.time() - t0


def run_infogan(cfg, seed, parts, fm, clf, num_eval, out):
    import keras
    import numpy as np

    import kgan
    from kgan import data
    from kgan.images import save_grid

    keras.utils.set_random_seed(seed)
    opts = {"base_filters": cfg["base_filters"]}
    gan = kgan.InfoGAN(data_shape=(28, 28, 1), noise_dim=cfg["noise_dim"],
                       categorical=tuple(cfg["categorical"]), continuous=cfg["continuous"],
                       architecture="dcgan", generator_options=opts, discriminator_options=opts,
                       seed=seed)
    # The paper's MNIST setup: Adam, 1e-3 for G and 2e-4 for D.
    gan.compile(g_optimizer=keras.optimizers.Adam(cfg["g_lr"], beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(cfg["d_lr"], beta_1=0.5))
    x_gan = data.scale_images(parts["gan"][0])
    log, secs = fit_logged(gan, x_gan, cfg["steps"], cfg["batch_size"], seed, CONFIG["log_points"])
    x_test, y_test = parts["classifier_test"]
    q_codes = gan.infer_codes(data.scale_images(x_test))["categorical"][:, 0]
    q_acc, _ = hungarian_accuracy(q_codes, y_test)
    codes = np.arange(num_eval) % 10
    samples = gan.generate(num_eval, seed=10_000, codes={"categorical": codes})
    predicted = clf.predict(samples)
    g_acc, mapping = hungarian_accuracy(predicted, codes)
    feats = fm(samples)
    grid = np.concatenate([samples[codes == c][:10] for c in range(10)])
    save_grid(grid, os.path.join(out, f"infogan_codes_seed{seed}.png"), cols=10, scale=2)
    return {"seed": seed, "train_seconds": round(secs, 1), "q_accuracy_real": q_acc,
            "generated_accuracy": g_acc, "code_to_digit": mapping, "fcd": feats["fd"],
            "log": log}


def run_began(cfg, seed, parts, fm, num_eval, out):
    import keras

    import kgan
    from kgan import data
    from kgan.images import save_grid

    keras.utils.set_random_seed(seed)
    gan = kgan.BEGAN(data_shape=(28, 28, 1), latent_dim=cfg["latent_dim"],
                     embedding=cfg["embedding"], filters=cfg["filters"], gamma=cfg["gamma"],
                     lambda_k=cfg["lambda_k"], seed=seed)
    gan.compile(g_optimizer=keras.optimizers.Adam(cfg["lr"], beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(cfg["lr"], beta_1=0.5))
    log, secs = fit_logged(gan, data.scale_images(parts["gan"][0]), cfg["steps"],
                           cfg["batch_size"], seed, CONFIG["log_points"])
    png = line_plot({"m_global": log["m_global"], "k_t": log["k_t"]},
                    os.path.join(out, f"began_curves_seed{seed}.png"),
                    f"BEGAN seed {seed}: M_global and k_t per logging interval")
    samples = gan.generate(num_eval, seed=10_000)
    save_grid(samples[:100], os.path.join(out, f"began_samples_seed{seed}.png"), cols=10, scale=2)
    return {"seed": seed, "train_seconds": round(secs, 1), "fcd": fm(samples)["fd"],
            "final_m_global": log["m_global"][-1], "final_k_t": log["k_t"][-1],
            "curves_png": png, "log": log}


def _ms(values):
    import numpy as np

    v = np.asarray(values, np.float64)
    return f"{v.mean():.3f} ± {v.std():.3f}"


def summarize(results):
    lines = [f"# InfoGAN / BEGAN benchmark: {results['name']}", "",
             f"Command: `{results['command']}`; {results['environment']['cpus']} CPUs, "
             f"{results['environment']['gpus']} GPUs; wall time {results['total_seconds']:.0f} s.",
             "", "| model | seeds | steps | Q accuracy on held-out real digits | generated "
             "digits: code accuracy (MNIST classifier) | FCD | final M_global | final k_t | "
             "train s/seed |", "|---|---|---|---|---|---|---|---|---|"]
    floor = results["real_floor_fcd"]
    for name, row in results["rows"].items():
        runs = row["runs"]
        secs = sum(r["train_seconds"] for r in runs) / len(runs)
        if name == "infogan":
            lines.append(f"| kgan InfoGAN | {len(runs)} | {row['config']['steps']} | "
                         f"{_ms([r['q_accuracy_real'] for r in runs])} | "
                         f"{_ms([r['generated_accuracy'] for r in runs])} | "
                         f"{_ms([r['fcd'] for r in runs])} | | | {secs:.0f} |")
        else:
            lines.append(f"| kgan BEGAN | {len(runs)} | {row['config']['steps']} | | | "
                         f"{_ms([r['fcd'] for r in runs])} | "
                         f"{_ms([r['final_m_global'] for r in runs])} | "
                         f"{_ms([r['final_k_t'] for r in runs])} | {secs:.0f} |")
    lines.append(f"| real vs real (5,000-7,499 vs 7,500-9,999) | | | | | {floor:.3f} | | | |")
    lines.append("| InfoGAN paper (published) | | | about 0.95 (5 % error) | | | | | |")
    lines += ["", f"Anchor: {PAPER_INFOGAN_ERROR}. FCD: kgan's MNIST classifier features, "
              f"{results['num_eval']} samples vs {results['num_eval']} real images.", ""]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    import copy

    seeds = list(range(1 if args.quick else args.seeds))
    scale = args.steps_scale * (0.02 if args.quick else 1.0)
    num_eval = 500 if args.quick else CONFIG["eval_samples"]
    name = args.name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + (
        "-infogan-quick" if args.quick else "-infogan")
    out = os.path.join(args.out_root, name)
    os.makedirs(out, exist_ok=True)

    from kgan import data
    from kgan.metrics import FeatureMetrics, MnistClassifier

    t0 = time.time()
    parts = common.mnist_splits(args.data_dir)
    clf = MnistClassifier()
    fm = FeatureMetrics(clf, data.scale_images(parts["gan_b"][0][:num_eval]))
    floor = fm(data.scale_images(parts["gan_a"][0][:num_eval]))["fd"]
    results = {"name": name, "command": "python benchmarks/infogan.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "environment": common.environment(),
        "num_eval": num_eval, "real_floor_fcd": floor, "rows": {}, "anchor": PAPER_INFOGAN_ERROR}

    labeler = clf  # MnistClassifier.predict: the predicted digits
    for model in [m.strip() for m in args.models.split(",") if m.strip()]:
        cfg = copy.deepcopy(CONFIG[model])
        cfg["steps"] = max(1, int(round(cfg["steps"] * scale)))
        if args.quick:  # small networks for a smoke run on CPUs
            cfg["base_filters" if model == "infogan" else "filters"] = 8
        runs = []
        for seed in seeds:
            run = (run_infogan(cfg, seed, parts, fm, labeler, num_eval, out) if model == "infogan"
                   else run_began(cfg, seed, parts, fm, num_eval, out))
            runs.append(run)
            print(f"{model} seed {seed}: " + ", ".join(
                f"{k}={v:.4f}" for k, v in run.items() if isinstance(v, float)), flush=True)
        results["rows"][model] = {"config": cfg, "runs": runs}
    results["total_seconds"] = time.time() - t0
    return common.finish(results, out, summarize(results))


if __name__ == "__main__":
    main()
