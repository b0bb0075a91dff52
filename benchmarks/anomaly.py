"""GAN anomaly detection on MNIST: AnoGAN, f-AnoGAN, D's score and classical baselines.

Two protocols, each digit in turn (``--digits``), several seeds:

- ``one_class``: normal = one digit; its images from the GAN half (5,000-9,999)
  train the models; the test set is held-out images of all ten digits
  (images 0-4,999, never trained on; ``--test-size`` of them), the nine
  other digits being anomalies. Published anchors (mean AUROC over the ten
  digits, FULL 60k MNIST training sets; we train on about 500 images per
  digit): OCGAN 97.5, AnoGAN as re-run by Cheng et al. 2020 93.7, Deep SVDD
  94.8, GeoTrans 98.0 (as quoted in later papers' tables; DESIGN.md).
- ``one_anomalous``: normal = the nine other digits (GAN half), anomaly = the
  held-out digit; the GANomaly / EGBAD setting. No comparable published AUROC
  exists (GANomaly shows a plot selected on the test set, EGBAD reports AUPRC).

Methods, all scored in the same run on the same test images:
AnoGAN (Schlegl et al. 2017: iterative latent search, lambda 0.1),
f-AnoGAN (Schlegl et al. 2019: izi_f encoder, one forward pass), D's own
score (-D(x)), PCA reconstruction error, a one-class SVM and an isolation
forest (scikit-learn). Also the scoring time per image of AnoGAN and
f-AnoGAN (anchor: EGBAD reports its encoder "several hundred-fold faster"
than AnoGAN's search).

Writes ``results.json`` and ``summary.md`` (also printed) to
``benchmarks/results/<name>/``.

Usage:
    python benchmarks/anomaly.py --quick                  # smoke run (a few minutes on 2 CPUs)
    python benchmarks/anomaly.py --seeds 3 --name full    # every digit, both protocols (GPU)
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

ANCHORS = {"OCGAN (Perera et al. 2019)": 97.5, "AnoGAN re-run by Cheng et al. 2020": 93.7,
           "one-class Deep SVDD (Ruff et al. 2018)": 94.8, "GeoTrans (non-GAN)": 98.0}
METHODS = ("anogan", "fanogan", "d_score", "pca", "ocsvm", "iforest")
NON_GAN = ("pca", "ocsvm", "iforest")

CONFIG = {"latent_dim": 32, "base_filters": 32, "gan_steps": 1500, "encoder_steps": 1000,
          "batch_size": 64, "lr": 2e-4, "encoder_lr": 1e-3, "kappa": 1.0,
          "anogan_steps": 300, "anogan_lr": 0.05, "anogan_lambda": 0.1, "test_size": 1000,
          "pca_components": 32}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Usage:")[1])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--seed-list", default=None,
                   help="explicit comma-separated seeds, e.g. 1,2 (overrides --seeds)")
    p.add_argument("--digits", default="0,1,2,3,4,5,6,7,8,9", help="comma list of digits")
    p.add_argument("--protocols", default="one_class,one_anomalous")
    p.add_argument("--test-size", type=int, default=None,
                   help=f"held-out test images (default {CONFIG['test_size']})")
    p.add_argument("--anogan-steps", type=int, default=None,
                   help=f"AnoGAN search steps per image (default {CONFIG['anogan_steps']}; "
                        f"the paper uses 500)")
    p.add_argument("--quick", action="store_true",
                   help="smoke run: 1 seed, digits 0 and 1, one-class only, 5%% of the steps, "
                        "200 test images, 30 AnoGAN steps, small networks")
    p.add_argument("--name", default=None)
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None)
    p.add_argument("--merge", default=None,
                   help="comma-separated result folders (e.g. one per seed): write one summary "
                        "of all their runs into --name and exit")
    return p.parse_args(argv)


def train_models(cfg, x_normal, seed):
    import keras

    import kgan
    from kgan import anomaly, data

    keras.utils.set_random_seed(seed)
    opts = {"base_filters": cfg["base_filters"]}
    gan = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=cfg["latent_dim"],
                     generator_options=opts, discriminator_options=opts, seed=seed)
    gan.compile(g_optimizer=keras.optimizers.Adam(cfg["lr"], beta_1=0.5),
                d_optimizer=keras.optimizers.Adam(cfg["lr"], beta_1=0.5))
    t0 = time.time()
    ds = data.as_dataset(x_normal, None, batch_size=cfg["batch_size"], seed=seed, repeat=True)
    gan.fit(ds, steps_per_epoch=cfg["gan_steps"], epochs=1, verbose=0)
    fano = anomaly.FAnoGAN.from_gan(gan, kappa=cfg["kappa"], seed=seed,
                                    encoder_options={"base_filters": cfg["base_filters"]})
    fano.compile(e_optimizer=keras.optimizers.Adam(cfg["encoder_lr"], beta_1=0.5))
    ds = data.as_dataset(x_normal, None, batch_size=cfg["batch_size"], seed=seed + 1, repeat=True)
    fano.fit(ds, steps_per_epoch=cfg["encoder_steps"], epochs=1, verbose=0)
    return gan, fano, time.time() - t0


def score_all(cfg, gan, fano, x_normal, x_test, seed):
    import numpy as np
    from sklearn.decomposition import PCA
    from sklearn.ensemble import IsolationForest
    from sklearn.svm import OneClassSVM

    from kgan import anomaly

    scores, timing = {}, {}
    fano.score(x_test[:8])  # trace once; the timing below is scoring only
    t0 = time.time()
    scores["fanogan"] = fano.score(x_test)["scores"]
    timing["fanogan"] = (time.time() - t0) / len(x_test)
    ano = anomaly.AnoGAN(gan, lam=cfg["anogan_lambda"], steps=cfg["anogan_steps"],
                         learning_rate=cfg["anogan_lr"])
    ano.score(x_test[:8], seed=seed)
    t0 = time.time()
    scores["anogan"] = ano.score(x_test, seed=seed)["scores"]
    timing["anogan"] = (time.time() - t0) / len(x_test)
    scores["d_score"] = anomaly.discriminator_scores(gan, x_test)
    flat_n, flat_t = x_normal.reshape(len(x_normal), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(min(cfg["pca_components"], len(flat_n) - 1), random_state=seed).fit(flat_n)
    scores["pca"] = ((flat_t - pca.inverse_transform(pca.transform(flat_t))) ** 2).mean(1)
    scores["ocsvm"] = -OneClassSVM(gamma="scale", nu=0.1).fit(flat_n).decision_function(flat_t)
    scores["iforest"] = -IsolationForest(random_state=seed).fit(flat_n).score_samples(flat_t)
    return {k: np.asarray(v, np.float64) for k, v in scores.items()}, timing


def main(argv=None):
    args = parse_args(argv)
    import copy

    cfg = copy.deepcopy(CONFIG)
    digits = [int(d) for d in args.digits.split(",")]
    protocols = args.protocols.split(",")
    seeds = common.seeds(args.seed_list, args.seeds)
    if args.quick:
        digits, protocols, seeds = [0, 1], ["one_class"], [0]
        cfg.update(gan_steps=75, encoder_steps=50, base_filters=8, test_size=200,
                   anogan_steps=30)
    if args.test_size:
        cfg["test_size"] = args.test_size
    if args.anogan_steps:
        cfg["anogan_steps"] = args.anogan_steps
    name = args.name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S") + (
        "-anomaly-quick" if args.quick else "-anomaly")
    out = os.path.join(args.out_root, name)
    os.makedirs(out, exist_ok=True)
    if args.merge:
        return merge(args.merge.split(","), out, name, argv)

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from kgan import data

    t_start = time.time()
    parts = common.mnist_splits(args.data_dir)
    x_gan, y_gan = data.scale_images(parts["gan"][0]), parts["gan"][1]
    # Held-out test images: images 0-4,999 (never used for training here), a fixed sample.
    pool = np.random.default_rng(0).permutation(5000)[:cfg["test_size"]]
    x_all = data.scale_images(np.concatenate([parts["classifier_train"][0],
                                              parts["classifier_test"][0]]))
    y_all = np.concatenate([parts["classifier_train"][1], parts["classifier_test"][1]])
    x_test, y_test = x_all[pool], y_all[pool]
    results = {"name": name, "command": "python benchmarks/anomaly.py " + " ".join(
        argv if argv is not None else sys.argv[1:]), "environment": common.environment(),
        "config": cfg, "anchors_one_class_mean_auroc": ANCHORS, "runs": []}
    for protocol in protocols:
        for digit in digits:
            normal = (y_gan == digit) if protocol == "one_class" else (y_gan != digit)
            anomalous = (y_test != digit) if protocol == "one_class" else (y_test == digit)
            for seed in seeds:
                gan, fano, secs = train_models(cfg, x_gan[normal], seed)
                scores, timing = score_all(cfg, gan, fano, x_gan[normal], x_test, seed)
                auroc = {m: float(roc_auc_score(anomalous, s)) for m, s in scores.items()}
                run = {"protocol": protocol, "digit": digit, "seed": seed,
                       "train_seconds": round(secs, 1), "auroc": auroc,
                       "seconds_per_image": timing, "normal_train_images": int(normal.sum())}
                results["runs"].append(run)
                print(f"{protocol} digit {digit} seed {seed}: " + ", ".join(
                    f"{m} {a:.3f}" for m, a in auroc.items())
                    + f"; s/image AnoGAN {timing['anogan']:.2e}, f-AnoGAN {timing['fanogan']:.2e}",
                    flush=True)
                common.write_json(results, os.path.join(out, "results.json"))
    results["total_seconds"] = time.time() - t_start
    return common.finish(results, out, summarize(results))


def merge(folders, out, name, argv=None):
    """One record and summary from several runs' ``results.json`` (their runs concatenated)."""
    import json

    records = []
    for folder in folders:
        with open(os.path.join(folder, "results.json")) as f:
            records.append(json.load(f))
    configs = {json.dumps(r["config"], sort_keys=True) for r in records}
    if len(configs) > 1:
        raise SystemExit(f"--merge: the runs used different configs: {sorted(configs)}")
    results = dict(records[0], name=name, runs=[run for r in records for run in r["runs"]],
                   merged=[os.path.abspath(f) for f in folders],
                   commands=[r["command"] for r in records],
                   total_seconds=sum(r.get("total_seconds", 0) for r in records))
    results["command"] = "python benchmarks/anomaly.py " + " ".join(
        argv if argv is not None else sys.argv[1:])
    return common.finish(results, out, summarize(results))


def per_seed_means(runs):
    """``{method: {seed: mean AUROC over the digits}}`` of one protocol's runs."""
    import numpy as np

    seeds = sorted({r["seed"] for r in runs})
    return {m: {s: float(np.mean([r["auroc"][m] for r in runs if r["seed"] == s]))
                for s in seeds} for m in METHODS}


def summarize(results):
    import numpy as np

    runs = results["runs"]
    lines = [f"# Anomaly-detection benchmark: {results['name']}", "",
             f"Command: `{results['command']}`; {results['environment']['cpus']} CPUs, "
             f"{results['environment']['gpus']} GPUs; wall time "
             f"{results.get('total_seconds', 0):.0f} s. AUROC in %, mean ± std over seeds.", ""]
    for protocol in sorted({r["protocol"] for r in runs}):
        rows = [r for r in runs if r["protocol"] == protocol]
        digits = sorted({r["digit"] for r in rows})
        lines += [f"## {protocol}", "", "| method | " + " | ".join(f"digit {d}" for d in digits)
                  + " | mean |", "|---" * (len(digits) + 2) + "|"]
        for m in METHODS:
            cells, means = [], []
            for d in digits:
                v = np.array([r["auroc"][m] for r in rows if r["digit"] == d]) * 100
                cells.append(f"{v.mean():.1f} ± {v.std():.1f}")
                means.append(v.mean())
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.mean(means):.1f} |")
        if protocol == "one_class":
            for k, v in ANCHORS.items():
                lines.append(f"| {k}, published (full MNIST) | " + " | ".join(
                    [""] * len(digits)) + f" | {v} |")
        means = per_seed_means(rows)
        lines += ["", "Per seed, the mean over the digits (seeds " + " / ".join(
            str(k) for k in means["fanogan"]) + "):", ""]
        lines += [f"- {m}: " + " / ".join(f"{100 * v:.1f}" for v in means[m].values())
                  for m in METHODS]
        beaten = {s: [b for b in NON_GAN if means[b][s] >= v]
                  for s, v in means["fanogan"].items()}
        lines.append("- f-AnoGAN above every non-GAN baseline on every seed: " + (
            "yes" if not any(beaten.values()) else "no (" + "; ".join(
                f"seed {s}: {', '.join(b)} at or above" for s, b in beaten.items() if b) + ")"))
        lines.append("")
    a = np.mean([r["seconds_per_image"]["anogan"] for r in runs])
    f = np.mean([r["seconds_per_image"]["fanogan"] for r in runs])
    lines += [f"Scoring time per image: AnoGAN {a * 1e3:.3f} ms "
              f"({results['config']['anogan_steps']} steps), f-AnoGAN {f * 1e3:.4f} ms: "
              f"{a / f:.0f}x faster (EGBAD reports 'several hundred-fold').", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
