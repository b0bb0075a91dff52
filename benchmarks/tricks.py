"""Mode-collapse benchmark of the stabilisation tricks on the 2-D mixtures.

Each row is one ``kgan.GAN`` option (or a published combination) on top of
the same MLP GAN; it is trained on the VEEGAN / PacGAN 8-mode ring and
25-mode grid (100k points) for several seeds and judged on 2,500 samples by
:func:`kgan.metrics.mode_statistics`: modes captured, share of
high-quality samples (within 3 std of a mode) and reverse KL of the mode
histogram to uniform, next to PacGAN's Table 1.

Everything but the trick is held fixed (networks, optimizer, batch, steps),
so a row shows what the trick does to this baseline at this budget, not
the best result the trick can reach with its own tuned settings. No EMA of
G's weights is used, to keep the tricks isolated.

Usage:
    python benchmarks/tricks.py --quick                    # smoke run
    python benchmarks/tricks.py --seeds 3 --steps 2000     # the TRICKS.md table
    python benchmarks/tricks.py --tricks gan,pacgan2 --datasets grid --seeds 2
    python benchmarks/tricks.py --list
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

# PacGAN Table 1 (Lin et al. 2018), 10 trials: modes, high quality %, reverse KL.
PACGAN_TABLE1 = {
    "GAN": {"ring": (6.3, 98.2, 0.45), "grid": (17.3, 94.8, 0.70)},
    "PacGAN2": {"ring": (7.9, 95.6, 0.07), "grid": (23.8, 91.3, 0.13)},
    "PacGAN4": {"ring": (7.8, 95.9, 0.07), "grid": (24.8, 93.6, 0.04)},
}

BASE = {
    "latent_dim": 16,
    "generator_options": {"hidden_units": [128, 128, 128], "normalization": "batch"},
    "discriminator_options": {"hidden_units": [128, 128, 128]},
    "optimizer": {"learning_rate": 1e-3, "beta_1": 0.5},
    "batch_size": 256,
    "steps_per_execution": 25,
}

# trick -> (GAN keyword overrides, what it is)
TRICKS = {
    "gan": ({}, "baseline: non-saturating loss"),
    "label_smoothing": ({"real_label": 0.9}, "one-sided label smoothing 0.9 (Salimans 2016)"),
    "pacgan2": ({"packing": 2}, "PacGAN, m=2 (Lin 2018)"),
    "pacgan4": ({"packing": 4}, "PacGAN, m=4 (Lin 2018)"),
    "minibatch_std": ({"discriminator_options": {"hidden_units": [128, 128, 128], "minibatch_std": 4}},
                      "minibatch stddev, groups of 4 (Karras 2018)"),
    "wgan_gp": ({"loss": "wasserstein", "gradient_penalty": "wgan-gp", "gp_weight": 10.0, "d_steps": 5},
                "WGAN-GP, lambda=10, 5 critic steps (Gulrajani 2017)"),
    "r1": ({"r1_gamma": 1.0}, "R1 penalty, gamma=1 (Mescheder 2018)"),
    "sngan_hinge": ({"loss": "hinge",
                     "discriminator_options": {"hidden_units": [128, 128, 128], "spectral_norm": True}},
                    "spectral norm + hinge loss (Miyato 2018)"),
    "instance_noise": ({"instance_noise": 0.1, "instance_noise_steps": "half"},
                       "instance noise std 0.1, annealed to 0 over half the steps"),
    "replay": ({"replay_buffer_size": 2560, "replay_fraction": 0.5},
               "replay buffer of 10 batches, half of each fake batch (Shrivastava 2017)"),
    "feature_matching": ({"feature_matching": 1.0}, "feature matching, weight 1 (Salimans 2016)"),
    "unrolled5": ({"unrolled_steps": 5}, "unrolled GAN, 5 look-ahead steps, first order (Metz 2017)"),
}

NUM_EVAL_SAMPLES = 2500


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="kgan tricks benchmark on the 2-D mixtures",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Usage:")[1])
    p.add_argument("--tricks", default="all", help=f"comma-separated or 'all' ({', '.join(TRICKS)})")
    p.add_argument("--datasets", default="ring,grid")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--steps", type=int, default=2000, help="generator steps per run")
    p.add_argument("--quick", action="store_true", help="1 seed, 100 steps, 500 samples")
    p.add_argument("--name", default=None, help="run folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--list", action="store_true", help="print the tricks and exit")
    return p.parse_args(argv)


def build(trick, steps, seed):
    import keras
    import kgan

    overrides = copy.deepcopy(TRICKS[trick][0])
    if overrides.get("instance_noise_steps") == "half":
        overrides["instance_noise_steps"] = max(1, steps // 2)
    kwargs = dict(data_shape=(2,), architecture="mlp", seed=seed, latent_dim=BASE["latent_dim"],
                  generator_options=BASE["generator_options"],
                  discriminator_options=BASE["discriminator_options"])
    kwargs.update(overrides)
    model = kgan.GAN(**kwargs)
    model.compile(keras.optimizers.Adam(**BASE["optimizer"]), keras.optimizers.Adam(**BASE["optimizer"]),
                  steps_per_execution=BASE["steps_per_execution"])
    return model


def run_one(trick, dataset, seed, steps, num_samples):
    import keras

    from kgan import data
    from kgan.metrics import mode_statistics

    mixture = data.ring_mixture() if dataset == "ring" else data.grid_mixture()
    x, _ = data.load(dataset, num_points=100_000, seed=seed)
    keras.utils.set_random_seed(seed)
    model = build(trick, steps, seed)
    ds = data.as_dataset(x, batch_size=BASE["batch_size"], seed=seed, repeat=True)
    spe = BASE["steps_per_execution"]
    steps = max(spe, steps // spe * spe)
    t0 = time.time()
    hist = model.fit(ds, steps_per_epoch=steps, epochs=1, verbose=0)
    seconds = time.time() - t0
    samples = model.generate(num_samples, seed=10_000)
    stats = mode_statistics(samples, mixture)
    return {"trick": trick, "dataset": dataset, "seed": seed, "steps": steps,
            "seconds": round(seconds, 1), **stats.to_dict(),
            "final_losses": {k: round(float(v[-1]), 4) for k, v in hist.history.items()}}, samples, mixture


def summarise(results, tricks, datasets, seeds, steps, command):
    import numpy as np

    lines = [f"Command: `{command}`", "",
             f"{seeds} seed(s), {steps} generator steps, batch {BASE['batch_size']}, "
             f"{NUM_EVAL_SAMPLES if results and results[0].get('num_eval') is None else results[0]['num_eval']}"
             " samples judged per run. Cells: mean over seeds (worst seed in brackets).", ""]
    for ds in datasets:
        total = 8 if ds == "ring" else 25
        lines += [f"### {ds} ({total} modes)", "",
                  "| trick | modes | high quality % | reverse KL | s / run |",
                  "|---|---|---|---|---|"]
        for t in tricks:
            rows = [r for r in results if r["trick"] == t and r["dataset"] == ds]
            if not rows:
                continue
            m = np.array([r["modes"] for r in rows], float)
            hq = np.array([r["high_quality"] for r in rows], float) * 100
            kl = np.array([r["reverse_kl"] for r in rows], float)
            sec = np.mean([r["seconds"] for r in rows])
            lines.append(f"| {t} | {m.mean():.1f} ({m.min():.0f}) | {hq.mean():.1f} ({hq.min():.1f}) | "
                         f"{kl.mean():.3f} ({kl.max():.3f}) | {sec:.0f} |")
        lines += ["", "PacGAN Table 1 for reference (10 trials, their much longer training): " + "; ".join(
            f"{k} {v[ds][0]} / {v[ds][1]}% / {v[ds][2]}" for k, v in PACGAN_TABLE1.items()), ""]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.list:
        for k, (kw, what) in TRICKS.items():
            print(f"{k:18s} {what}\n{'':18s} {json.dumps(kw)}")
        return 0
    try:
        import kgan.metrics  # noqa: F401
    except ImportError as e:  # pragma: no cover - depends on the tree
        print(f"kgan.metrics is not available ({e}); cannot compute mode statistics.")
        return 1
    tricks = list(TRICKS) if args.tricks == "all" else args.tricks.split(",")
    for t in tricks:
        if t not in TRICKS:
            raise SystemExit(f"unknown trick {t!r}; choose from {list(TRICKS)}")
    datasets = args.datasets.split(",")
    seeds, steps, num = (1, 100, 500) if args.quick else (args.seeds, args.steps, NUM_EVAL_SAMPLES)
    name = args.name or datetime.datetime.now().strftime("tricks-%Y%m%d-%H%M%S")
    out = os.path.join(args.out_root, name)
    os.makedirs(out, exist_ok=True)
    command = "python benchmarks/tricks.py " + " ".join(argv if argv is not None else sys.argv[1:])
    results = []
    for ds in datasets:
        for t in tricks:
            for seed in range(seeds):
                r, samples, mixture = run_one(t, ds, seed, steps, num)
                r["num_eval"] = num
                results.append(r)
                print(json.dumps(r), flush=True)
                common.save_mixture_scatter(samples, os.path.join(out, f"{ds}_{t}_seed{seed}.png"), mixture)
                with open(os.path.join(out, "results.json"), "w") as f:
                    json.dump({"command": command, "base": BASE, "tricks": {k: TRICKS[k][0] for k in tricks},
                               "results": results}, f, indent=1)
    summary = summarise(results, tricks, datasets, seeds, steps, command)
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary + "\n")
    print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
