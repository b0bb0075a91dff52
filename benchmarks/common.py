"""Shared pieces of the benchmark scripts: data splits, plots, run records.

The only real image data on the development machines is the MNIST 10k test
split (IDX files in ``../shared/data/mnist``). It is split deterministically
so that the classifier used to judge generated digits never sees the images
the GANs are trained and benchmarked on:

================  ==============  ===================================================
part              images          used for
================  ==============  ===================================================
classifier_train  0 - 3,999       training the MNIST classifier
classifier_test   4,000 - 4,999   the classifier's held-out accuracy
gan               5,000 - 9,999   GAN training and the benchmark's real statistics
gan_a / gan_b     5,000 / 7,500   the two disjoint halves for the real-vs-real floor
================  ==============  ===================================================
"""

from __future__ import annotations

import json
import time
import os
import platform
import sys

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if REPO not in sys.path:
    sys.path.insert(0, REPO)

SPLITS = {
    "classifier_train": slice(0, 4000),
    "classifier_test": slice(4000, 5000),
    "gan": slice(5000, 10000),
    "gan_a": slice(5000, 7500),
    "gan_b": slice(7500, 10000),
}


def default_mnist_dir():
    """``$KGAN_MNIST_DIR``, else ``<repo>/../shared/data/mnist``."""
    return os.environ.get("KGAN_MNIST_DIR") or os.path.normpath(
        os.path.join(REPO, "..", "shared", "data", "mnist"))


def mnist_splits(data_dir=None):
    """Loads the MNIST 10k split and cuts it into the fixed parts above.

    Returns:
        dict name -> ``(uint8 images [n, 28, 28, 1], int32 labels [n])``.
    """
    from kgan.data import load_idx_dir

    images, labels = load_idx_dir(data_dir or default_mnist_dir(), split="t10k")
    if len(images) != 10000:
        raise ValueError(f"Expected the 10,000-image MNIST test split, got {len(images)} images.")
    return {name: (images[s], labels[s]) for name, s in SPLITS.items()}


def save_mixture_scatter(points, path, mixture, num_std=3.0, size=480):
    """Scatter plot of 2-D samples over a mixture's modes (PIL only).

    Generated points are drawn in red; every mode is a gray circle of radius
    ``num_std * std`` (the high-quality region of the mode metrics).
    """
    from PIL import Image, ImageDraw

    pts = np.asarray(points, np.float64)
    means = np.asarray(mixture.means, np.float64)
    extent = float(np.abs(means).max()) * 1.25 + 10 * mixture.std
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    scale = (size - 1) / (2 * extent)

    def px(x, y):
        return (x + extent) * scale, (extent - y) * scale

    r = max(num_std * mixture.std * scale, 2.0)
    for mx, my in means:
        cx, cy = px(mx, my)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=(120, 120, 120), width=1)
    for x, y in pts[np.all(np.isfinite(pts), 1)]:
        if abs(x) <= extent and abs(y) <= extent:
            cx, cy = px(x, y)
            draw.point((cx, cy), fill=(200, 30, 30))
    draw.text((4, 4), f"{mixture.name}: {len(pts)} samples, circles = {num_std:g} std",
              fill=(0, 0, 0))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path


def seeds(seed_list, count):
    """The seeds to run: ``--seed-list`` ("1,2") when given, else 0..count-1."""
    return [int(v) for v in seed_list.split(",")] if seed_list else list(range(count))


def environment():
    """Versions and machine facts recorded next to every result."""
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "tensorflow": tf.__version__,
            "keras": keras.__version__, "numpy": np.__version__,
            "machine": platform.machine(), "cpus": os.cpu_count(),
            "gpus": len(tf.config.list_physical_devices("GPU"))}


def write_json(obj, path):
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f, indent=2, default=_jsonable)
    return path


def _jsonable(o):
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serializable: {type(o)}")


def train_classifier(x_train, y_train, epochs, batch_size, learning_rate, seed):
    """Trains ``kgan.metrics.build_mnist_classifier`` as the judges are trained.

    Shift/rotate/zoom augmentation, Adam with a cosine-decayed rate, seeded and
    deterministic. Used for the MNIST judge and the scikit-learn digits judge.

    Args:
        x_train: images scaled to [-1, 1], ``[n, 28, 28, 1]``.
        y_train: int labels.
        epochs, batch_size, learning_rate, seed: the recipe.

    Returns:
        ``(model, seconds)``: an uncompiled copy with the trained weights (a
        compiled model's ``save_weights`` would also store the optimizer's
        slots) and the training time.

    Example:
        >>> model, seconds = train_classifier(x, y, 8, 128, 2e-3, 0)
    """
    import keras
    import numpy as np
    import tensorflow as tf

    from kgan.metrics import build_mnist_classifier

    augment = keras.Sequential([
        keras.layers.RandomTranslation(0.08, 0.08, fill_mode="constant", fill_value=-1.0,
                                       seed=seed),
        keras.layers.RandomRotation(10 / 360, fill_mode="constant", fill_value=-1.0,
                                    seed=seed + 1),
        keras.layers.RandomZoom(0.1, fill_mode="constant", fill_value=-1.0, seed=seed + 2),
    ], name="augment")
    ds = (tf.data.Dataset.from_tensor_slices((x_train, y_train))
          .shuffle(len(x_train), seed=seed, reshuffle_each_iteration=True)
          .batch(batch_size)
          .map(lambda x, y: (augment(x, training=True), y))  # sequential: deterministic
          .prefetch(tf.data.AUTOTUNE))
    model = build_mnist_classifier()
    steps = epochs * int(np.ceil(len(x_train) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(keras.optimizers.Adam(schedule),
                  keras.losses.SparseCategoricalCrossentropy(from_logits=True),
                  metrics=["accuracy"])
    t0 = time.time()
    model.fit(ds, epochs=epochs, verbose=2)
    seconds = time.time() - t0
    bare = build_mnist_classifier()
    bare.set_weights(model.get_weights())
    return bare, seconds


def run_dir(out_root, name, default_prefix=""):
    """``<out_root>/<name>`` (default: ``<prefix><timestamp>``), created.

    Example:
        >>> out = run_dir("benchmarks/results", None, "infogan-")
    """
    name = name or default_prefix + time.strftime("%Y%m%d-%H%M%S")
    out = os.path.join(out_root, name)
    os.makedirs(out, exist_ok=True)
    return out


def finish(results, out, summary):
    """Writes ``results.json`` and ``summary.md`` into ``out`` and prints the summary.

    Example:
        >>> finish({"rows": {}}, out, "| a |\\n")
    """
    write_json(results, os.path.join(out, "results.json"))
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write(summary)
    print(summary)
    print(f"wrote {out}")
    return results
