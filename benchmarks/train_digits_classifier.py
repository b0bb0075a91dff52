"""Trains the classifier that judges GANs trained on scikit-learn's digits.

Same architecture as the MNIST classifier (``kgan.metrics.build_mnist_classifier``)
and trained the same way (Adam with cosine decay, random shifts / rotations /
zooms, a fixed number of epochs, no model selection on held-out data), on the
``digits`` dataset exactly as ``train/train.py --dataset digits`` sees it:
``kgan.data.load_digits_images`` (8x8 upsampled bilinearly to 28x28) scaled to
[-1, 1].

Split (``kgan.metrics.extractors.DIGITS_SPLIT``), in the order scikit-learn
ships the 1,797 digits: images 0-1,299 train the classifier, images
1,300-1,796 (497) are held out. The held-out part gives the classifier's
accuracy and is the real reference of the run report
(``kgan.report``: share of held-out real digits classified with confidence
>= 0.9).

Writes ``kgan/assets/digits_classifier.weights.h5`` and
``kgan/assets/digits_classifier.json`` (accuracies, split, command, versions).

Usage:
    python benchmarks/train_digits_classifier.py               # ~1 min on 2 CPU cores
    python benchmarks/train_digits_classifier.py --out /tmp/clf --epochs 1   # smoke run
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(common.REPO, "kgan", "assets"),
                   help="output folder (default: kgan/assets)")
    p.add_argument("--epochs", type=int, default=40, help="training epochs (default: 40)")
    p.add_argument("--batch-size", type=int, default=64, help="batch size (default: 64)")
    p.add_argument("--learning-rate", type=float, default=1e-3, help="peak Adam rate (default: 1e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of weights and augmentation (default: 0)")
    return p.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.data import load_digits_images, scale_images
    from kgan.metrics import DigitsClassifier
    from kgan.metrics.extractors import DIGITS_SPLIT

    keras.utils.set_random_seed(args.seed)
    tf.config.experimental.enable_op_determinism()  # same seed, same weights
    images, labels = load_digits_images(28)
    parts = {name: (images[a:b], labels[a:b]) for name, (a, b) in DIGITS_SPLIT.items()}
    x_train, y_train = parts["classifier_train"]
    x_train = scale_images(x_train)

    model, train_seconds = common.train_classifier(x_train, y_train, args.epochs, args.batch_size,
                                                   args.learning_rate, args.seed)
    os.makedirs(args.out, exist_ok=True)
    weights = os.path.join(args.out, "digits_classifier.weights.h5")
    model.save_weights(weights)

    # Measure through the public extractor, exactly as the run report uses it.
    from kgan.report import confident_share, softmax

    clf = DigitsClassifier(weights)
    acc, confident = {}, {}
    for name, (x, y) in parts.items():
        logits = clf.logits(x)
        acc[name] = float(np.mean(logits.argmax(1) == y))
        confident[name] = confident_share(softmax(logits))
    info = {
        "architecture": "kgan.metrics.build_mnist_classifier",
        "parameters": int(model.count_params()),
        "data": "sklearn.datasets.load_digits (1,797 images) via kgan.data.load_digits_images(28)",
        "split": {k: list(v) for k, v in DIGITS_SPLIT.items()},
        "trained_on": "classifier_train",
        "accuracy": acc,
        "confident_share_0.9": confident,
        "epochs": args.epochs, "batch_size": args.batch_size,
        "learning_rate": args.learning_rate, "seed": args.seed,
        "augmentation": "RandomTranslation 0.08, RandomRotation 10 deg, RandomZoom 0.1",
        "train_seconds": round(train_seconds, 1),
        "command": "python benchmarks/train_digits_classifier.py " + " ".join(argv or sys.argv[1:]),
        "environment": common.environment(),
    }
    common.write_json(info, os.path.join(args.out, "digits_classifier.json"))
    print(f"wrote {weights} ({os.path.getsize(weights) / 1e6:.2f} MB)")
    print(f"accuracy: held-out {acc['heldout']:.4f} ({len(parts['heldout'][1])} images), "
          f"train {acc['classifier_train']:.4f}; confident share held-out "
          f"{confident['heldout']:.3f}")
    return info


if __name__ == "__main__":
    main()
