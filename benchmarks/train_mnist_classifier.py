"""Trains the MNIST classifier that kgan's metrics use to judge generated digits.

The classifier (``kgan.metrics.build_mnist_classifier``: 3 convolutions, a
128-unit feature layer, 10 logits, ~131k parameters) is trained on images
0-3,999 of the MNIST 10k test split, with random shifts, rotations and zooms
as augmentation, for a fixed number of epochs (no model selection on held-out
data). Its accuracy is then measured on images 4,000-4,999 (held out) and on
images 5,000-9,999 (the GAN benchmark half, which it never saw either). See
``benchmarks/common.py`` for the split.

Writes ``kgan/assets/mnist_classifier.weights.h5`` and
``kgan/assets/mnist_classifier.json`` (accuracies, split, command, versions).

Usage:
    python benchmarks/train_mnist_classifier.py            # ~1-2 min on 2 CPU cores
    python benchmarks/train_mnist_classifier.py --out /tmp/clf --epochs 2   # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-dir", default=None, help="folder with the MNIST t10k IDX files "
                   "(default: $KGAN_MNIST_DIR or ../shared/data/mnist)")
    p.add_argument("--out", default=os.path.join(common.REPO, "kgan", "assets"),
                   help="output folder (default: kgan/assets)")
    p.add_argument("--epochs", type=int, default=40)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.data import scale_images
    from kgan.metrics import MnistClassifier

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same weights
    parts = common.mnist_splits(args.data_dir)
    x_train, y_train = parts["classifier_train"]
    x_train = scale_images(x_train)

    model, train_seconds = common.train_classifier(x_train, y_train, args.epochs, args.batch_size,
                                                   args.learning_rate, args.seed)
    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "mnist_classifier.weights.h5")
    model.save_weights(weights)

    # Measure through the public extractor, exactly as the metrics will use it.
    clf = MnistClassifier(weights)
    acc = {}
    for name in ("classifier_train", "classifier_test", "gan"):
        x, y = parts[name]
        acc[name] = float(np.mean(clf.predict(x) == y))
    info = {
        "architecture": "kgan.metrics.build_mnist_classifier",
        "parameters": int(model.count_params()),
        "data": "MNIST t10k IDX split (10,000 images)",
        "split": {k: [s.start, s.stop] for k, s in common.SPLITS.items()},
        "trained_on": "classifier_train",
        "accuracy": {
            "classifier_train": acc["classifier_train"],
            "classifier_test_heldout": acc["classifier_test"],
            "gan_half_unseen": acc["gan"],
        },
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "seed": args.seed,
        "augmentation": "RandomTranslation 0.08, RandomRotation 10 deg, RandomZoom 0.1",
        "train_seconds": round(train_seconds, 1),
        "command": "python benchmarks/train_mnist_classifier.py " + " ".join(argv or sys.argv[1:]),
        "environment": common.environment(),
    }
    common.write_json(info, os.path.join(args.out, "mnist_classifier.json"))
    print(f"wrote {weights} ({os.path.getsize(weights) / 1e6:.2f} MB)")
    print(f"accuracy: held-out {acc['classifier_test']:.4f} (1,000 images), "
          f"GAN half {acc['gan']:.4f} (5,000 images), train {acc['classifier_train']:.4f}")
    return info


if __name__ == "__main__":
    main()
