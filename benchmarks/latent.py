"""Latent-space tools on MNIST: how well inversion reconstructs digits, and interpolation grids.

Trains the unconditional MNIST recipe (``quality.py``'s ``mnist/dcgan`` row: InfoGAN's
networks, latent 64, 3,000 steps, EMA 0.99) on the GAN half of the split (images
5,000-9,999, ``common.SPLITS``), then inverts digits with ``kgan.latent.invert`` (Adam on z,
all images of a batch at once) and reports, per seed:

- ``heldout``: real digits the GAN never saw (images 4,000-4,999, the MNIST classifier's
  test part); ``train``: as many of the GAN's own training digits (the gap between the two
  says whether G reproduces what it saw better than what it did not);
- ``own samples``: G(z) for known z, inverted from a random start: the optimiser's floor
  (a perfect search reaches 0);
- ``encoder``: the same held-out digits started from an f-AnoGAN encoder (izi_f, trained
  after the GAN on its training digits, ``kgan.anomaly.FAnoGAN``), with 0 steps (one
  forward pass) and with a short search;
- ``pca``: a linear model with as many components as G has latent dimensions, fitted on
  the GAN's training digits: the baseline any inversion should beat in "keeps the digit"
  while it may lose in pixel error (a GAN reconstructs with sharp strokes, PCA with blur).

Figures: mean squared and mean absolute error on [0, 1] pixels, and the share of
reconstructions that kgan's MNIST classifier (trained on images 0-3,999) gives the
digit's true label (the classifier reads 97-98 % of the held-out digits themselves).
Writes ``results.json``, ``summary.md``, ``interpolation_seed<k>.png`` (slerp between
random latents, one row per pair) and ``inversion_seed<k>.png`` (held-out digit |
inversion | encoder start | PCA) to ``benchmarks/results/<name>/``.

Usage:
    python benchmarks/latent.py --quick                 # smoke run: 1 seed, 5% of the steps
    python benchmarks/latent.py --seeds 3 --name latent-full
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

CONFIG = {"images": 500, "invert_steps": 500, "invert_lr": 0.05, "encoder_steps": 1000,
          "encoder_search_steps": 100, "interpolation_rows": 8, "interpolation_steps": 10}
QUICK = {"images": 64, "invert_steps": 50, "encoder_steps": 50, "encoder_search_steps": 10,
         "interpolation_rows": 4, "interpolation_steps": 6}
METHODS = ("heldout", "train", "own_samples", "encoder_0", "encoder_search", "pca")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("Usage:")[1])
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1")
    p.add_argument("--seed-list", default=None, help="explicit comma-separated seeds")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 5%% of the steps")
    p.add_argument("--name", default=None, help="run folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    return p.parse_args(argv)


def pca_reconstruct(fit_images, images, components):
    """Projects ``images`` on the top ``components`` principal axes of ``fit_images``.

    Args:
        fit_images, images: arrays ``[n, ...]`` (flattened inside).
        components: number of axes kept.

    Returns:
        the reconstructions, shaped like ``images``.

    Example:
        >>> pca_reconstruct(train, test, 64).shape == test.shape
        True
    """
    a = fit_images.reshape(len(fit_images), -1).astype(np.float64)
    mean = a.mean(0)
    # the principal axes from the pixel covariance (784 x 784), cheaper than an SVD of a
    _, vecs = np.linalg.eigh(np.cov(a - mean, rowvar=False))
    basis = vecs[:, ::-1][:, :components].T
    b = images.reshape(len(images), -1) - mean
    return ((b @ basis.T) @ basis + mean).reshape(images.shape).astype(np.float32)


def errors(recon, images):
    """Per-image mean squared and mean absolute error on [0, 1] pixels (inputs in [-1, 1])."""
    diff = (np.asarray(recon, np.float64) - np.asarray(images, np.float64)) / 2.0
    diff = diff.reshape(len(diff), -1)
    return (diff ** 2).mean(1), np.abs(diff).mean(1)


def figures(recon, images, labels, judge):
    mse, mae = errors(recon, images)
    return {"mse": float(mse.mean()), "l1": float(mae.mean()),
            "label_kept": float((judge.predict(recon) == labels).mean())}


def summarize(results, floor):
    lines = ["| inverted | seeds | MSE ([0, 1] px) | L1 | label kept by the judge | seconds |",
             "|---|---|---|---|---|---|"]
    for method in METHODS:
        runs = [r[method] for r in results if method in r]
        if not runs:
            continue
        cells = []
        for key, spec, scale in (("mse", ".4f", 1), ("l1", ".4f", 1), ("label_kept", ".1f", 100)):
            v = np.array([r[key] for r in runs]) * scale
            cells.append(" / ".join(f"{x:{spec}}" for x in v))
        secs = " / ".join(f"{r.get('seconds', 0):.0f}" for r in runs)
        lines.append(f"| {method} | {len(runs)} | " + " | ".join(cells) + f" | {secs} |")
    lines.append("")
    lines.append(f"The judge reads {100 * floor:.1f} % of the held-out digits themselves.")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    cfg = dict(CONFIG, **(QUICK if args.quick else {}))
    seeds = [0] if args.quick else common.seeds(args.seed_list, args.seeds)
    out = common.run_dir(args.out_root, args.name, "latent-")

    import keras

    import quality
    from kgan import anomaly, data, images, latent
    from kgan.metrics import MnistClassifier

    row = dict(quality.ROWS["mnist/dcgan"])
    if args.quick:
        row.update(steps=max(1, int(row["steps"] * 0.05)),
                   generator_options={"base_filters": 16, "dense_units": 128},
                   discriminator_options={"base_filters": 16, "dense_units": 128})
    row["data_shape"] = (28, 28, 1)
    splits = common.mnist_splits(args.data_dir)
    train_x = data.scale_images(splits["gan"][0])
    n = cfg["images"]
    held_x, held_y = data.scale_images(splits["classifier_test"][0][:n]), splits["classifier_test"][1][:n]
    own_x, own_y = train_x[:n], splits["gan"][1][:n]
    judge = MnistClassifier()
    floor = float((judge.predict(held_x) == held_y).mean())
    t_start = time.time()
    results = []
    for seed in seeds:
        model, train_s, _ = quality.train(row, seed, train_x, None)
        r = {"seed": seed, "train_seconds": round(train_s, 1)}

        def run(name, images, labels, **kw):
            t0 = time.time()
            z, _ = latent.invert(model, images, learning_rate=cfg["invert_lr"], seed=seed, **kw)
            recon = model.generate(z=z)
            r[name] = dict(figures(recon, images, labels, judge), seconds=time.time() - t0)
            return recon

        steps = cfg["invert_steps"]
        rec_held = run("heldout", held_x, held_y, steps=steps)
        run("train", own_x, own_y, steps=steps)
        z_true = np.random.default_rng(seed + 1).standard_normal((n, model.latent_dim))
        own = model.generate(z=z_true.astype(np.float32))
        run("own_samples", own, judge.predict(own), steps=steps)
        keras.utils.set_random_seed(seed)
        fano = anomaly.FAnoGAN.from_gan(model, seed=seed)
        fano.compile()
        t0 = time.time()
        fano.fit(data.as_dataset(train_x, batch_size=64, seed=seed, repeat=True),
                 steps_per_epoch=cfg["encoder_steps"], epochs=1, verbose=0)
        r["encoder_train_seconds"] = round(time.time() - t0, 1)
        rec_enc = run("encoder_0", held_x, held_y, steps=0, encoder=fano.encoder)
        run("encoder_search", held_x, held_y, steps=cfg["encoder_search_steps"],
            encoder=fano.encoder)
        t0 = time.time()
        rec_pca = np.clip(pca_reconstruct(train_x, held_x, model.latent_dim), -1, 1)
        r["pca"] = dict(figures(rec_pca, held_x, held_y, judge), seconds=time.time() - t0)
        results.append(r)
        z = np.random.default_rng(seed + 2).standard_normal(
            (2 * cfg["interpolation_rows"], model.latent_dim)).astype(np.float32)
        latent.interpolation_grid(model, z[0::2], z[1::2], steps=cfg["interpolation_steps"],
                                  path=os.path.join(out, f"interpolation_seed{seed}.png"), scale=2)
        columns = [held_x[:12], rec_held[:12], rec_enc[:12], rec_pca[:12]]
        data_grid = np.stack(columns, 1).reshape((-1,) + held_x.shape[1:])
        images.save_grid(data_grid, os.path.join(
            out, f"inversion_seed{seed}.png"), cols=len(columns), scale=2)
        print(f"seed {seed}: " + ", ".join(f"{m} {r[m]['mse']:.4f} / {100 * r[m]['label_kept']:.1f} %"
                                           for m in METHODS if m in r), flush=True)
    summary = summarize(results, floor)
    record = {"config": cfg, "row": row, "seeds": seeds,
              "results": results, "judge_on_heldout": floor,
              "total_seconds": round(time.time() - t_start, 1),
              "command": "python benchmarks/latent.py " + " ".join(
                  argv if argv is not None else sys.argv[1:]),
              "environment": common.environment()}
    common.finish(record, out, summary + "\n")
    return record


if __name__ == "__main__":
    main()
