"""How good is a run: the quality figures that fit its data, and its training curves.

``kgan.training.run`` calls :func:`quality_figures` at the end of every run and
writes the result into ``summary.json``; :func:`save_curves` draws
``curves.png`` from the per-epoch ``metrics.csv``. The figures per dataset:

- ``ring`` / ``grid`` (2-D mixtures): modes captured, high-quality share and
  reverse KL over 2,500 samples, as in VEEGAN / PacGAN (DESIGN.md).
- ``mnist`` / ``mnist_idx`` (28x28x1): Fréchet classifier distance (FCD)
  with the project's MNIST classifier against real images, the class
  histogram and its KL to uniform, and label accuracy for conditional models.
- ``digits`` (scikit-learn's, upsampled to 28x28): the share of samples that
  a classifier trained on real digits labels with confidence >= 0.9, the
  same share for held-out real digits (the reference a perfect generator
  reaches), the class histogram and its KL to uniform, and label accuracy
  for conditional models.

Other datasets get no figures (``{"kind": None}``): there is no offline
judge for them.
"""

from __future__ import annotations

import csv
import math
import os

import numpy as np

from kgan.metrics import statistics as st

MIXTURES = ("ring", "grid")
MNIST_DATASETS = ("mnist", "mnist_idx")
CONFIDENCE = 0.9


def softmax(logits):
    """Row-wise softmax of ``[N, K]`` logits (float64, numerically stable).

    Example:
        >>> softmax(np.zeros((1, 4)))
        array([[0.25, 0.25, 0.25, 0.25]])
    """
    z = np.asarray(logits, np.float64)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def confident_share(probs, threshold=CONFIDENCE):
    """Share of samples whose most likely class has probability >= ``threshold``.

    A classifier trained on real digits is confident on real-looking digits
    and unsure on blurry or ambiguous ones, so this share rates sample
    quality without a feature statistic (which would be noisy at the few
    hundred images scikit-learn's digits offer).

    Args:
        probs: class probabilities ``[N, K]``.
        threshold: confidence needed.

    Returns:
        float in [0, 1].

    Example:
        >>> confident_share([[0.95, 0.05], [0.6, 0.4]])
        0.5
    """
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or len(p) == 0:
        raise ValueError(f"probs: expected [N, K] with N >= 1, got shape {p.shape}.")
    return float(np.mean(p.max(axis=1) >= threshold))


def classifier_figures(logits, num_classes, requested_labels=None, threshold=None):
    """Class histogram, its KL to uniform, label accuracy and confident share from logits.

    Args:
        logits: a classifier's logits ``[N, K]`` for the generated samples.
        num_classes: K.
        requested_labels: ``[N]`` labels a conditional model was asked for
            (adds ``label_accuracy``).
        threshold: when given, adds ``confident_share`` at this confidence.

    Returns:
        dict with ``class_histogram`` (shares, sums to 1),
        ``classes_present``, ``class_kl`` [, ``label_accuracy``]
        [, ``confident_share``].

    Example:
        >>> classifier_figures(np.eye(4) * 10, 4)["class_kl"]
        0.0
    """
    out = st.class_statistics(logits, num_classes).to_dict()
    if requested_labels is not None:
        out["label_accuracy"] = st.conditional_accuracy(logits, requested_labels)
    if threshold is not None:
        out["confident_share"] = confident_share(softmax(logits), threshold)
    return out


def mixture_figures(samples, mixture):
    """Modes captured, high-quality share, reverse KL and per-mode counts.

    Args:
        samples: ``[N, 2]`` generated points.
        mixture: a :class:`kgan.data.GaussianMixture`.

    Returns:
        dict ``modes``, ``num_modes``, ``high_quality``, ``reverse_kl``,
        ``mode_counts``.

    Example:
        >>> mixture_figures(kgan.data.ring_mixture().means, kgan.data.ring_mixture())["modes"]
        8
    """
    s = st.mode_statistics(samples, mixture)
    return {"modes": s.modes, "num_modes": int(len(mixture.means)),
            "high_quality": s.high_quality, "reverse_kl": s.reverse_kl,
            "mode_counts": [int(c) for c in s.counts]}


def mnist_figures(samples, real, requested_labels=None, classifier=None):
    """FCD against real images and the classifier figures, with the MNIST classifier.

    Args:
        samples: generated ``[N, 28, 28, 1]`` images in [-1, 1].
        real: real images of the same shape.
        requested_labels: labels a conditional model was asked for.
        classifier: an extractor with ``features_and_logits``; default
            :class:`kgan.metrics.MnistClassifier`.

    Returns:
        dict ``fcd``, ``fcd_num_real`` and :func:`classifier_figures`.

    Example:
        >>> mnist_figures(gan.generate(2500, seed=0), x_real[:2500])["fcd"]
    """
    if classifier is None:
        from kgan.metrics import MnistClassifier

        classifier = MnistClassifier()
    real_feats, _ = classifier.features_and_logits(real)
    feats, logits = classifier.features_and_logits(samples)
    out = {"fcd": st.frechet_distance(real_feats, feats), "fcd_num_real": int(len(real_feats))}
    out.update(classifier_figures(logits, logits.shape[1], requested_labels))
    return out


def digits_reference(classifier=None):
    """The held-out real scikit-learn digits, as the ``digits`` dataset preprocesses them.

    Returns:
        ``(images float32 [497, 28, 28, 1] in [-1, 1], labels [497])``: the
        part of ``DIGITS_SPLIT`` the digits classifier never saw.

    Example:
        >>> x, y = digits_reference()
    """
    from kgan.data import load_digits_images, scale_images
    from kgan.metrics.extractors import DIGITS_SPLIT

    a, b = DIGITS_SPLIT["heldout"]
    images, labels = load_digits_images(28)
    return scale_images(images[a:b]), labels[a:b]


def digits_figures(samples, requested_labels=None, classifier=None, reference=None):
    """Confident share of samples vs held-out real digits, class histogram, label accuracy.

    Args:
        samples: generated ``[N, 28, 28, 1]`` images in [-1, 1].
        requested_labels: labels a conditional model was asked for.
        classifier: default :class:`kgan.metrics.DigitsClassifier`.
        reference: real images to compute ``real_confident_share`` on;
            default :func:`digits_reference`.

    Returns:
        dict ``confident_share``, ``real_confident_share``, ``threshold`` and
        :func:`classifier_figures`.

    Example:
        >>> digits_figures(gan.generate(2500, seed=0))["confident_share"]
    """
    if classifier is None:
        from kgan.metrics import DigitsClassifier

        classifier = DigitsClassifier()
    if reference is None:
        reference = digits_reference()[0]
    logits = classifier.logits(samples)
    out = classifier_figures(logits, logits.shape[1], requested_labels, threshold=CONFIDENCE)
    out["real_confident_share"] = confident_share(softmax(classifier.logits(reference)))
    out["threshold"] = CONFIDENCE
    return out


def quality_kind(dataset, sample_shape):
    """Which figures fit a run: ``"mixture"``, ``"mnist"``, ``"digits"`` or ``None``.

    Example:
        >>> quality_kind("digits", (28, 28, 1))
        'digits'
    """
    shape = tuple(sample_shape)
    if dataset in MIXTURES and shape == (2,):
        return "mixture"
    if dataset in MNIST_DATASETS and shape == (28, 28, 1):
        return "mnist"
    if dataset == "digits" and shape == (28, 28, 1):
        return "digits"
    return None


def quality_figures(dataset, samples, real=None, requested_labels=None):
    """The quality figures that fit a dataset, for a run's summary.

    Args:
        dataset: the run's dataset name (``TrainConfig.dataset``).
        samples: generated samples ``[N, ...]``.
        real: real samples (used for the FCD of MNIST data).
        requested_labels: labels a conditional model was asked for.

    Returns:
        dict with ``kind``, ``num_samples`` and the figures
        (``{"kind": None}`` when nothing fits).

    Example:
        >>> quality_figures("ring", gan.generate(2500, seed=0))
        {'kind': 'mixture', 'modes': 8, 'high_quality': 0.97, ...}
    """
    from kgan import data

    samples = np.asarray(samples)
    kind = quality_kind(dataset, samples.shape[1:])
    out = {"kind": kind, "num_samples": int(len(samples))}
    if kind == "mixture":
        mixture = data.ring_mixture() if dataset == "ring" else data.grid_mixture()
        out.update(mixture_figures(samples, mixture))
    elif kind == "mnist":
        out.update(mnist_figures(samples, real, requested_labels))
    elif kind == "digits":
        out.update(digits_figures(samples, requested_labels))
    return out


def format_figures(figures):
    """One line per figure, for the end of a run's console output.

    Example:
        >>> print(format_figures({"kind": "mixture", "modes": 8, "num_modes": 8}))
    """
    kind = figures.get("kind")
    if kind is None:
        return "quality: no offline judge for this dataset"
    f = figures
    lines = [f"quality ({kind}, {f['num_samples']} samples):"]
    if kind == "mixture":
        lines += [f"  modes captured     {f['modes']} / {f['num_modes']}",
                  f"  high quality       {f['high_quality']:.1%}",
                  f"  reverse KL         {f['reverse_kl']:.3f}"]
    if kind == "mnist":
        lines.append(f"  FCD                {f['fcd']:.3f} (vs {f['fcd_num_real']} real images)")
    if kind == "digits":
        lines.append(f"  confident (>={f['threshold']:g})   {f['confident_share']:.1%} of samples, "
                     f"{f['real_confident_share']:.1%} of held-out real digits")
    if kind in ("mnist", "digits"):
        hist = " ".join(f"{v:.2f}" for v in f["class_histogram"])
        lines += [f"  class histogram    {hist}",
                  f"  class KL to uniform {f['class_kl']:.3f} ({f['classes_present']} classes present)"]
        if "label_accuracy" in f:
            lines.append(f"  label accuracy     {f['label_accuracy']:.1%}")
    return "\n".join(lines)


# --- per-epoch curves -----------------------------------------------------------

def read_metrics_csv(path):
    """Reads ``metrics.csv`` (keras.callbacks.CSVLogger) into ``{column: [floats]}``.

    Example:
        >>> read_metrics_csv("runs/x/metrics.csv")["g_loss"]
    """
    columns = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            for k, v in row.items():
                try:
                    columns.setdefault(k, []).append(float(v))
                except (TypeError, ValueError):
                    columns.setdefault(k, []).append(math.nan)
    return columns


def save_curves(metrics, path, width=720, panel_height=260):
    """Draws losses and D's accuracies per epoch as a two-panel PNG (PIL only).

    Args:
        metrics: ``{column: [values]}`` (e.g. :func:`read_metrics_csv`) with
            an ``epoch`` column and any of ``g_loss``, ``d_loss``,
            ``d_acc_real``, ``d_acc_fake``.
        path: output PNG.
        width, panel_height: image size in pixels.

    Returns:
        ``path``.

    Example:
        >>> save_curves(read_metrics_csv("runs/x/metrics.csv"), "runs/x/curves.png")
    """
    from PIL import Image, ImageDraw

    epochs = [int(e) + 1 for e in metrics.get("epoch", [])]  # CSVLogger counts from 0
    panels = [("losses", [k for k in ("g_loss", "d_loss") if k in metrics]),
              ("D accuracy", [k for k in ("d_acc_real", "d_acc_fake") if k in metrics])]
    colors = [(200, 30, 30), (30, 80, 200)]
    img = Image.new("RGB", (width, 2 * panel_height), "white")
    draw = ImageDraw.Draw(img)
    left, right, top, bottom = 60, 20, 24, 28
    for p, (title, keys) in enumerate(panels):
        y0 = p * panel_height
        x_lo, x_hi = left, width - right
        y_lo, y_hi = y0 + top, y0 + panel_height - bottom
        draw.rectangle((x_lo, y_lo, x_hi, y_hi), outline=(0, 0, 0))
        values = [v for k in keys for v in metrics[k] if math.isfinite(v)]
        if not values or not epochs:
            draw.text((x_lo + 4, y_lo + 4), f"{title}: no data", fill=(0, 0, 0))
            continue
        v_min, v_max = (0.0, 1.0) if title == "D accuracy" else (min(values), max(values))
        if v_max - v_min < 1e-12:
            v_min, v_max = v_min - 0.5, v_max + 0.5
        pad = 0.05 * (v_max - v_min)  # keep the lines off the frame
        v_min, v_max = v_min - pad, v_max + pad
        e_min, e_max = min(epochs), max(max(epochs), min(epochs) + 1)

        def px(e, v):
            return (x_lo + (e - e_min) / (e_max - e_min) * (x_hi - x_lo),
                    y_hi - (v - v_min) / (v_max - v_min) * (y_hi - y_lo))

        for i, key in enumerate(keys):
            pts = [px(e, v) for e, v in zip(epochs, metrics[key]) if math.isfinite(v)]
            if len(pts) > 1:
                draw.line(pts, fill=colors[i], width=2)
            for x, y in pts:
                draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=colors[i])
            draw.text((x_lo + 4 + 110 * i, y0 + 6), key, fill=colors[i])
        draw.text((x_hi - 160, y0 + 6), title, fill=(0, 0, 0))
        draw.text((4, y_lo), f"{v_max:.3g}", fill=(0, 0, 0))
        draw.text((4, y_hi - 10), f"{v_min:.3g}", fill=(0, 0, 0))
        draw.text((x_lo, y_hi + 6), f"epoch {e_min}", fill=(0, 0, 0))
        draw.text((x_hi - 60, y_hi + 6), f"epoch {max(epochs)}", fill=(0, 0, 0))
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path
