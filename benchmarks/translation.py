"""Image-to-image benchmark: SRGAN / SRResNet, pix2pix (edges, inpainting), CycleGAN.

Offline tasks built at run time from the MNIST 10k split (``../shared/data/mnist``)
and scikit-learn's digits, kept apart from the judges' training images:

===========  =============  ====================================================
part         images         used for
===========  =============  ====================================================
(judge)      0 - 4,999      the MNIST classifier's training / test images: unused here
train        5,000 - 8,499  GAN training (sources and targets)
features     8,500 - 8,999  the small feature network of SRGAN's feature loss
heldout      9,000 - 9,999  every figure: sources in, outputs judged
reference    5,000 - 5,999  real digits the FCD compares with (floor: held-out targets)
digits B     1,300 - 1,796  CycleGAN's digits domain (the digits judge trained on 0 - 1,299)
===========  =============  ====================================================

Rows and metrics (mean +- std over seeds; the held-out sources are fixed):

* ``sr4/*`` (7x7 area-downsampled -> 28x28): PSNR, SSIM (``tf.image``, on
  [0, 1] pixels), FCD vs real, label accuracy by the MNIST classifier, for
  bicubic upsampling, SRResNet (MSE only) and SRGAN (MSE + feature + 1e-3 adv).
* ``edges/pix2pix`` (Sobel edges -> digit): label accuracy, L1, FCD.
* ``inpaint/pix2pix`` and ``inpaint/l1_only`` (14x14 hole): label accuracy,
  L1 in the hole, FCD; the same generator with and without the adversarial term.
  Training draws a new hole every step (``data_pairs.inpainting_stream``); the
  held-out holes are fixed.

The pix2pix U-Nets go down to a 1x1 bottleneck (28x28 padded to 32, 5 levels);
a paired row (edges) may set ``"jitter": k`` to train on pix2pix's random jitter (shifts of
up to k pixels, ``data_pairs.paired_stream``).
* ``mnist2digits/cyclegan``: MNIST->digits label accuracy by the digits
  classifier (held-out MNIST sources), digits->MNIST by the MNIST classifier
  (sources: the digits domain's own training images; no other digits are
  free of the digits judge), and cycle L1 both ways.
* ``mnist2digits/cyclegan_semantic``: the same with CyCADA's semantic term, its
  classifier trained on the train part's MNIST labels (apart from both judges).

L1 figures are mean absolute errors on [0, 1] pixels.

Usage:
    python benchmarks/translation.py --quick            # smoke run (1 seed, few steps)
    python benchmarks/translation.py --seeds 3 --name full
    python benchmarks/translation.py --rows sr4 --seeds 1
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

PARTS = {"train": slice(5000, 8500), "features": slice(8500, 9000),
         "heldout": slice(9000, 10000), "reference": slice(5000, 6000)}

# Published figures on the papers' own (photographic) data sets: context, not
# comparable numbers. Sources: the papers' tables as cited.
ANCHORS = [
    ("SRGAN paper, Table 2, Set5 x4 (PSNR / SSIM)",
     "bicubic 28.43 / 0.8211, SRResNet 32.05 / 0.9019, SRGAN 29.40 / 0.8472"),
    ("SRGAN paper, Table 2, Set14 x4 (PSNR / SSIM)",
     "bicubic 25.99 / 0.7486, SRResNet 28.49 / 0.8184, SRGAN 26.02 / 0.7397"),
    ("pix2pix paper, Table 1, Cityscapes labels->photo FCN scores (per-pixel acc.)",
     "L1 0.42, cGAN 0.57, L1+cGAN 0.66"),
    ("CycleGAN paper, Table 1, Cityscapes labels->photo FCN per-pixel acc.",
     "CycleGAN 0.52, pix2pix (paired) 0.71"),
    ("Context encoders paper, Table 2, Paris StreetView centre hole",
     "mean L1 9.37% (L2 + adversarial)"),
]
NOTE = ("Anchors were transcribed from the cited tables for orientation; they are on other "
        "data sets and metrics, so no row here is comparable to them. Check the papers "
        "before quoting them.")

SR_G = {"filters": 32, "num_blocks": 4}
SR_D = {"base_filters": 16, "num_blocks": 4, "dense_units": 128}
UNET = {"base_filters": 32}
PATCH = {"base_filters": 32, "num_layers": 2}
ROWS = {
    "sr4/bicubic": {"task": "sr4", "model": None},
    "sr4/srresnet": {"task": "sr4", "model": "SRGAN", "adversarial_weight": 0.0,
                     "feature_weight": 0.0, "generator_options": SR_G,
                     "discriminator_options": SR_D},
    "sr4/srgan": {"task": "sr4", "model": "SRGAN", "adversarial_weight": 1e-3,
                  "feature_weight": 0.006, "features": True, "generator_options": SR_G,
                  "discriminator_options": SR_D},
    "edges/pix2pix": {"task": "edges", "model": "Pix2Pix", "generator_options": UNET,
                      "discriminator_options": PATCH},
    "inpaint/pix2pix": {"task": "inpaint", "model": "Pix2Pix", "inpainting": True,
                        "generator_options": UNET, "discriminator_options": PATCH},
    "inpaint/l1_only": {"task": "inpaint", "model": "Pix2Pix", "inpainting": True,
                        "adversarial_weight": 0.0, "generator_options": UNET,
                        "discriminator_options": PATCH},
    "mnist2digits/cyclegan": {"task": "mnist2digits", "model": "CycleGAN",
                              "generator_options": {"base_filters": 16, "num_blocks": 3},
                              "discriminator_options": {"base_filters": 16, "num_layers": 2}},
    "mnist2digits/cyclegan_semantic": {
        "task": "mnist2digits", "model": "CycleGAN", "semantic": True,
        "generator_options": {"base_filters": 16, "num_blocks": 3},
        "discriminator_options": {"base_filters": 16, "num_layers": 2}},
}
FULL = {"steps": 2000, "batch_size": 64, "steps_per_execution": 10, "eval": 1000,
        "feature_epochs": 10}
QUICK = {"steps": 20, "batch_size": 16, "steps_per_execution": 1, "eval": 200,
         "feature_epochs": 1}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description="kgan image-to-image benchmark",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__)
    p.add_argument("--rows", default="all",
                   help="comma-separated rows or tasks (sr4, edges, inpaint, mnist2digits)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 per trained row")
    p.add_argument("--seed-list", default=None,
                   help="explicit comma-separated seeds, e.g. 1,2 (overrides --seeds)")
    p.add_argument("--steps", type=int, default=None, help="train steps per model")
    p.add_argument("--quick", action="store_true", help="smoke run: 1 seed, 20 steps")
    p.add_argument("--name", default=None, help="run folder name (default: a timestamp)")
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    return p.parse_args(argv)


def load_data(data_dir, n_eval):
    import kgan
    from kgan import data_pairs
    from kgan.metrics.extractors import DIGITS_SPLIT

    imgs, labels = kgan.data.load_idx_dir(data_dir or common.default_mnist_dir(), split="t10k")
    x = kgan.data.scale_images(imgs)
    d = {k: (x[s], labels[s]) for k, s in PARTS.items()}
    d["heldout"] = (d["heldout"][0][:n_eval], d["heldout"][1][:n_eval])
    digits, dlabels = kgan.data.load_digits_images(28)
    lo, hi = DIGITS_SPLIT["heldout"]
    d["digits"] = (kgan.data.scale_images(digits[lo:hi]), dlabels[lo:hi])
    tasks = {}
    for task in data_pairs.PAIRED_TASKS:
        tasks[task] = {"train": data_pairs.make_pairs(task, d["train"][0], seed=0),
                       "heldout": data_pairs.make_pairs(task, d["heldout"][0], seed=1)}
    return d, tasks


def train_feature_network(d, epochs, seed=0):
    """The offline stand-in for VGG features, trained on the `features` part only."""
    from kgan.families.srgan import feature_extractor_from

    return feature_extractor_from(_small_classifier(*d["features"], epochs, seed))


def _small_classifier(x, y, epochs, seed, name="feature_network"):
    """``image_networks.build_feature_network`` trained as a classifier of ``(x, y)``."""
    import keras

    from kgan import image_networks

    keras.utils.set_random_seed(seed)
    net = image_networks.build_feature_network(name=name)
    net.compile(keras.optimizers.Adam(1e-3),
                keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    net.fit(x, y, batch_size=50, epochs=epochs, verbose=0)
    return net


def train_source_classifier(d, epochs, seed=0):
    """CyCADA's source classifier: MNIST labels of the GAN's own training part only.

    Neither judge sees these images (the MNIST judge trained on 0 - 4,999, the digits
    judge on scikit-learn's 0 - 1,299). Returns the frozen net and its accuracy on
    held-out MNIST and on the digits domain (how well it reads domain B, whose
    predictions the B -> A term keeps).
    """
    net = _small_classifier(*d["train"], epochs, seed, name="source_classifier")
    acc = {k: float((net.predict(d[k][0], verbose=0).argmax(1) == d[k][1]).mean())
           for k in ("heldout", "digits")}
    return net, acc


def build(cfg, seed, features, semantic=None):
    import kgan

    kw = {k: v for k, v in cfg.items()
          if k not in ("task", "model", "features", "jitter", "semantic")}
    if cfg.get("semantic"):
        kw["semantic_classifier"] = semantic
    if cfg["model"] == "SRGAN":
        return kgan.SRGAN(source_shape=(7, 7, 1), seed=seed,
                          feature_extractor=features if cfg.get("features") else None, **kw)
    if cfg["model"] == "Pix2Pix":
        shape = (28, 28, 2) if cfg.get("inpainting") else (28, 28, 1)
        return kgan.Pix2Pix(source_shape=shape, target_shape=(28, 28, 1), seed=seed, **kw)
    return kgan.CycleGAN(source_shape=(28, 28, 1), seed=seed, **kw)


def train(cfg, seed, d, tasks, run, features, semantic=None):
    import keras

    from kgan import data_pairs

    keras.utils.set_random_seed(seed)
    model = build(cfg, seed, features, semantic)
    model.compile(steps_per_execution=run["steps_per_execution"])
    if cfg["task"] == "mnist2digits":
        ds, _ = data_pairs.unpaired_stream(d["train"][0], d["digits"][0], run["batch_size"], seed)
    elif cfg["task"] == "inpaint":  # a new hole every step; held-out holes stay fixed
        ds, _ = data_pairs.inpainting_stream(d["train"][0], run["batch_size"], seed)
    else:
        src, tgt = tasks[cfg["task"]]["train"]
        ds, _ = data_pairs.paired_stream(src, tgt, run["batch_size"], seed,
                                         jitter=cfg.get("jitter", 0))
    t0 = time.time()
    hist = model.fit(ds, epochs=1, steps_per_epoch=run["steps"], verbose=0)
    return model, time.time() - t0, {k: float(v[-1]) for k, v in hist.history.items()}


def paired_metrics(task, out, d, tasks, judge, ref_feats):
    import tensorflow as tf

    from kgan.metrics import frechet_distance

    src, tgt = tasks[task]["heldout"]
    labels = d["heldout"][1]
    feats, logits = judge.features_and_logits(out)
    m = {"label_acc": float((logits.argmax(1) == labels).mean()),
         "fcd": float(frechet_distance(feats, ref_feats))}
    a, b = (out + 1) / 2, (tgt + 1) / 2
    if task == "sr4":
        m["psnr"] = float(tf.reduce_mean(tf.image.psnr(a, b, 1.0)))
        m["ssim"] = float(tf.reduce_mean(tf.image.ssim(tf.constant(a), tf.constant(b), 1.0)))
    elif task == "inpaint":
        hole = src[..., 1:] > 0
        m["hole_l1"] = float(np.abs(a - b)[hole].mean())
    else:
        m["l1"] = float(np.abs(a - b).mean())
    return m


def cycle_metrics(model, d, judges):
    x_a, y_a = d["heldout"]
    x_b, y_b = d["digits"]
    ab = model.translate(x_a, direction="a_to_b")
    ba = model.translate(x_b, direction="b_to_a")
    aba = model.translate(ab, direction="b_to_a")
    bab = model.translate(ba, direction="a_to_b")
    return {"a2b_label_acc": float((judges["digits"].predict(ab) == y_a).mean()),
            "b2a_label_acc": float((judges["mnist"].predict(ba) == y_b).mean()),
            "cycle_l1_a": float(np.abs(aba - x_a).mean() / 2),
            "cycle_l1_b": float(np.abs(bab - x_b).mean() / 2)}, (x_a, ab, None)


def save_figure(path, source, output, target):
    from kgan import images

    images.save_grid(images.side_by_side(source[:8], output[:8], None if target is None
                                         else target[:8]), path, cols=2 if target is None else 3,
                     scale=3)


def _fmt(vals, spec):
    vals = np.asarray(vals, float)
    return f"{vals.mean():{spec}}" + (f" ± {vals.std():{spec}}" if len(vals) > 1 else "")


def _by_seed(results, row, key):
    return {r["seed"]: r[key] for r in results.get(row, []) if key in r}


def assess_targets(results, floors):
    """``[(target, met or None when a row is missing, detail)]``: issue 14's targets, every seed.

    FCD comparisons pair runs of the same seed (bicubic has one run, used for all).
    """
    out, floor = [], floors["fcd_heldout_vs_reference"]

    def check(name, vals, ok, fmt):
        if not vals:
            out.append((name, None, "not run"))
            return
        bad = {s: v for s, v in vals.items() if not ok(s, v)}
        out.append((name, not bad, ", ".join(f"seed {s}: {fmt(v)}" for s, v in
                                             sorted(vals.items()))))

    pct = lambda v: f"{100 * v:.1f} %"  # noqa: E731
    for row in ("edges/pix2pix", "inpaint/pix2pix", "sr4/srgan"):
        check(f"{row} label accuracy >= 97 %", _by_seed(results, row, "label_acc"),
              lambda s, v: v >= 0.97, pct)
    for row in ("edges/pix2pix", "inpaint/pix2pix"):
        check(f"{row} FCD <= 3x floor ({3 * floor:.2f})", _by_seed(results, row, "fcd"),
              lambda s, v: v <= 3 * floor, lambda v: f"{v:.2f} ({v / floor:.1f}x)")
    l1 = _by_seed(results, "inpaint/l1_only", "fcd")
    check("inpaint/pix2pix FCD below inpaint/l1_only", _by_seed(results, "inpaint/pix2pix", "fcd"),
          lambda s, v: s in l1 and v < l1[s], lambda v: f"{v:.2f}")
    bicubic = next(iter(_by_seed(results, "sr4/bicubic", "fcd").values()), None)
    srres = _by_seed(results, "sr4/srresnet", "fcd")
    check("sr4/srgan FCD below bicubic and SRResNet", _by_seed(results, "sr4/srgan", "fcd"),
          lambda s, v: bicubic is not None and s in srres and v < min(bicubic, srres[s]),
          lambda v: f"{v:.2f}")
    for row in ("mnist2digits/cyclegan", "mnist2digits/cyclegan_semantic"):
        for key, way in (("a2b_label_acc", "MNIST->digits"), ("b2a_label_acc", "digits->MNIST")):
            check(f"{row} {way} label accuracy >= 90 %", _by_seed(results, row, key),
                  lambda s, v: v >= 0.90, pct)
    return out


def summarize(results, floors):
    cols = ["psnr", "ssim", "label_acc", "l1", "hole_l1", "fcd", "a2b_label_acc",
            "b2a_label_acc", "cycle_l1_a", "cycle_l1_b", "train_seconds"]
    lines = ["| row | seeds | " + " | ".join(cols) + " |", "|---" * (len(cols) + 2) + "|"]
    for row, runs in results.items():
        cells = []
        for c in cols:
            vals = [r[c] for r in runs if c in r]
            spec = ".2f" if c in ("psnr", "fcd", "train_seconds") else ".3f"
            cells.append(_fmt(vals, spec) if vals else "")
        lines.append(f"| {row} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", "Floors (real images, same judges): " + ", ".join(
        f"{k} {v:.3f}" for k, v in floors.items()), "", "Published anchors (not comparable):"]
    lines += [f"- {src}: {fig}" for src, fig in ANCHORS] + ["", NOTE, "", "Targets (every seed):"]
    lines += [f"- {name}: {'not run' if ok is None else 'met' if ok else 'NOT met'} ({detail})"
              for name, ok, detail in assess_targets(results, floors)]
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    run = dict(QUICK if args.quick else FULL)
    if args.steps:
        run["steps"] = args.steps
    seeds = common.seeds(args.seed_list, 1 if args.quick else args.seeds)
    wanted = args.rows.split(",")
    rows = [r for r in ROWS if args.rows == "all" or r in wanted or r.split("/")[0] in wanted]
    if not rows:
        raise SystemExit(f"--rows {args.rows!r} matches none of {list(ROWS)}")
    name = args.name or datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = os.path.join(args.out_root, "translation-" + name)
    os.makedirs(out, exist_ok=True)

    import tensorflow as tf

    from kgan.metrics import DigitsClassifier, MnistClassifier

    t_start = time.time()
    d, tasks = load_data(args.data_dir, run["eval"])
    judges = {"mnist": MnistClassifier(), "digits": DigitsClassifier()}
    ref_feats = judges["mnist"].features(d["reference"][0])
    held_t, held_y = d["heldout"]
    f_real, l_real = judges["mnist"].features_and_logits(held_t)
    floors = {"mnist_label_acc_heldout": float((l_real.argmax(1) == held_y).mean()),
              "fcd_heldout_vs_reference": float(
                  __import__("kgan").metrics.frechet_distance(f_real, ref_feats)),
              "digits_label_acc_domain_b": float(
                  (judges["digits"].predict(d["digits"][0]) == d["digits"][1]).mean())}
    features = None
    if any(ROWS[r].get("features") for r in rows):
        features = train_feature_network(d, run["feature_epochs"])
    semantic = None
    if any(ROWS[r].get("semantic") for r in rows):
        semantic, acc = train_source_classifier(d, run["feature_epochs"])
        floors.update({f"source_classifier_acc_{k}": v for k, v in acc.items()})
    results = {}
    for row in rows:
        cfg = ROWS[row]
        results[row] = []
        for seed in ([0] if cfg["model"] is None else seeds):
            if cfg["model"] is None:  # bicubic: no training
                src, tgt = tasks["sr4"]["heldout"]
                out_imgs = np.clip(tf.image.resize(src, (28, 28), "bicubic").numpy(), -1, 1)
                m, secs, last = paired_metrics("sr4", out_imgs, d, tasks, judges["mnist"],
                                               ref_feats), 0.0, {}
                fig = (src, out_imgs, tgt)
            else:
                model, secs, last = train(cfg, seed, d, tasks, run, features, semantic)
                if cfg["task"] == "mnist2digits":
                    m, fig = cycle_metrics(model, d, judges)
                else:
                    src, tgt = tasks[cfg["task"]]["heldout"]
                    out_imgs = model.translate(src)
                    m = paired_metrics(cfg["task"], out_imgs, d, tasks, judges["mnist"],
                                       ref_feats)
                    fig = (src, out_imgs, tgt)
            m.update(seed=seed, train_seconds=round(secs, 2), final_losses=last)
            results[row].append(m)
            if seed == seeds[0] or cfg["model"] is None:
                save_figure(os.path.join(out, row.replace("/", "_") + ".png"), *fig)
            print(f"{row} seed {seed}: " + ", ".join(
                f"{k} {v:.4g}" for k, v in m.items() if isinstance(v, float)), flush=True)
    table = summarize(results, floors)
    total = time.time() - t_start
    record = {"results": results, "floors": floors, "run": run, "seeds": seeds,
              "targets": [{"target": n, "met": ok, "detail": dt}
                          for n, ok, dt in assess_targets(results, floors)],
              "rows": {r: ROWS[r] for r in rows}, "parts": {k: [s.start, s.stop] for k, s in
                                                            PARTS.items()},
              "anchors": ANCHORS, "note": NOTE, "total_seconds": round(total, 1),
              "command": "python benchmarks/translation.py " + " ".join(argv or sys.argv[1:]),
              "environment": common.environment()}
    common.write_json(record, os.path.join(out, "results.json"))
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(table + f"\n\nTotal {total:.0f} s.\n")
    print(table)
    print(f"Total {total:.0f} s; results in {out}")
    return record


if __name__ == "__main__":
    main()
