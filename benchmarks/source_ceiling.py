"""How much of the digit a translation source still carries (the label-accuracy ceiling).

A translated image is a function of its source, so the MNIST judge's label
accuracy on outputs (``translation.py``: ``sr4/*``, ``edges/pix2pix``,
``inpaint/*``) cannot beat the best possible classifier of the source itself.
This script trains such a classifier directly on the sources (a small CNN;
MNIST images 0 - 8,499 turned into sources by
``kgan.data_pairs.make_pairs(task, ...)``, as the benchmark does) and reports
its accuracy on the same held-out sources the rows are judged on (images
9,000 - 9,999), on 3 seeds. Its accuracy is a LOWER bound of the ceiling (a
better classifier may exist): it says how much of a label-accuracy target the
source alone supports, not a proof.

Usage:
    python benchmarks/source_ceiling.py                          # sr4, edges, inpaint; 3 seeds
    python benchmarks/source_ceiling.py --tasks sr4 --seeds 1 --epochs 2   # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402

TRAIN, HELDOUT = slice(0, 8500), slice(9000, 10000)


def build_classifier(input_shape):
    """Two 3x3 convolutions and a dense layer; 28x28 sources are max-pooled to 7x7 first."""
    import keras

    pools = 2 if int(input_shape[0]) == 28 else 0
    blocks = []
    for i, filters in enumerate((64, 128)):
        blocks.append(keras.layers.Conv2D(filters, 3, padding="same", activation="relu"))
        if i < pools:
            blocks.append(keras.layers.MaxPooling2D())
    return keras.Sequential([
        keras.Input(input_shape), *blocks,
        keras.layers.Flatten(), keras.layers.Dropout(0.3),
        keras.layers.Dense(256, activation="relu"), keras.layers.Dropout(0.3),
        keras.layers.Dense(10)])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tasks", default="sr4,edges,inpaint",
                   help="comma-separated paired tasks of kgan.data_pairs")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--name", default=None)
    p.add_argument("--out-root", default=os.path.join(common.REPO, "benchmarks", "results"))
    p.add_argument("--data-dir", default=None, help="MNIST IDX folder")
    args = p.parse_args(argv)

    import keras

    import kgan
    from kgan import data_pairs

    imgs, labels = kgan.data.load_idx_dir(args.data_dir or common.default_mnist_dir(),
                                          split="t10k")
    x = kgan.data.scale_images(imgs)
    rows = []
    for task in args.tasks.split(","):
        # the hole seeds translation.py uses (0: training pairs, 1: held-out pairs)
        train = data_pairs.make_pairs(task, x[TRAIN], seed=0)[0]
        held = data_pairs.make_pairs(task, x[HELDOUT], seed=1)[0]
        for seed in range(args.seeds):
            keras.utils.set_random_seed(seed)
            model = build_classifier(train.shape[1:])
            model.compile(keras.optimizers.Adam(1e-3),
                          keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                          metrics=["accuracy"])
            t0 = time.time()
            model.fit(train, labels[TRAIN], epochs=args.epochs, batch_size=128, verbose=0)
            acc = float((model.predict(held, verbose=0).argmax(1) == labels[HELDOUT]).mean())
            rows.append({"task": task, "seed": seed, "heldout_accuracy": acc,
                         "train_seconds": round(time.time() - t0, 1)})
            print(f"{task} seed {seed}: held-out accuracy of a classifier of the sources "
                  f"{acc:.4f}", flush=True)
    lines = ["| task | seeds | held-out accuracy from the source: min | mean | max |",
             "|---|---|---|---|---|"]
    for task in dict.fromkeys(r["task"] for r in rows):
        accs = [100 * r["heldout_accuracy"] for r in rows if r["task"] == task]
        lines.append(f"| {task} | {len(accs)} | {min(accs):.1f} % | {np.mean(accs):.1f} % | "
                     f"{max(accs):.1f} % |")
    lines += ["", "Each is a lower bound of the label accuracy a model translating that "
                  "source can reach.", ""]
    out = common.run_dir(args.out_root, args.name, "source-ceiling-")
    return common.finish({"rows": rows, "epochs": args.epochs,
                          "train": [TRAIN.start, TRAIN.stop],
                          "heldout": [HELDOUT.start, HELDOUT.stop],
                          "command": "python benchmarks/source_ceiling.py " + " ".join(
                              argv or sys.argv[1:]),
                          "environment": common.environment()}, out, "\n".join(lines))


if __name__ == "__main__":
    main()
