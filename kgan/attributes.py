"""Handwriting attributes measured on digit images: thickness, slant, size.

The measures follow Morpho-MNIST (Castro et al. 2019, "Morpho-MNIST:
Quantitative Assessment and Diagnostics for Representation Learning"):

* ``thickness``: mean stroke width in pixels (``2 * area / edge length``);
* ``slant``: horizontal shear from the second moments of the ink;
* ``size``: area of the bounding box of the inked pixels.

They are plain vectorised numpy that accept uint8 [0, 255] or float [-1, 1]
(generator output), because benchmarks measure GENERATED images with them.
``AttributeLevels`` cuts each into per-digit terciles; ``kgan.captions``
turns the levels into words.

Example:
    >>> levels = AttributeLevels.fit(images, labels)
    >>> levels.levels(images, labels)["slant"][:3]
    array([-1,  0,  1])
"""

from __future__ import annotations

import numpy as np

ATTRIBUTES = ("thickness", "slant", "size")


# ----------------------------------------------------------------------------- measurements

def ink(images):
    """Ink density of images: float32 ``[n, H, W]`` in [0, 1].

    Args:
        images: uint8 ``[n, H, W, 1]`` or ``[n, H, W]`` in [0, 255], or any
            float array of those shapes taken as [-1, 1] (a ``tanh``
            generator's range); floats outside are clipped.

    Returns:
        float32 ``[n, H, W]``: 0 is background, 1 full ink.

    Raises:
        ValueError: another rank, more than one channel, or a dtype that is
            neither uint8 nor float.

    Example:
        >>> ink(np.array([[[0, 255]]], "uint8")).tolist()
        [[[0.0, 1.0]]]
    """
    images = np.asarray(images)
    if images.ndim == 4:
        if images.shape[-1] != 1:
            raise ValueError(f"Expected single-channel images [n, H, W, 1], got shape {images.shape} "
                             f"({images.shape[-1]} channels).")
        images = images[..., 0]
    elif images.ndim != 3:
        raise ValueError(f"Expected images of shape [n, H, W, 1] or [n, H, W], got shape "
                         f"{images.shape} (rank {images.ndim}).")
    if images.dtype == np.uint8:
        return images.astype(np.float32) / np.float32(255.0)
    if np.issubdtype(images.dtype, np.floating):
        return np.clip((images.astype(np.float32) + 1.0) * 0.5, 0.0, 1.0)
    raise ValueError(f"Expected uint8 [0, 255] or float [-1, 1] images, got dtype {images.dtype}.")


def thickness(images):
    """Mean stroke width in pixels: ``2 * sum(ink) / total_variation(ink)``.

    A stroke of width ``w`` and length ``L`` covers an area ``w * L`` and has
    about ``2 * L`` of edge (both sides), so area over half the edge length
    is ``w`` whatever the digit's shape. The edge length is the anisotropic
    total variation ``sum |dx| + sum |dy|`` of the ink, computed with a zero
    border so ink touching the frame still has its edge counted. The stroke
    ends add ``2 * w`` of edge, so a bar measures ``w * L / (L + w)``,
    slightly under ``w``. Background noise in generated images adds both ink
    and edge, so it biases the value: compare images of similar cleanliness.

    Args:
        images: see ``ink``.

    Returns:
        float32 ``[n]``; 0 for an image with no ink.

    Example:
        >>> bar = np.zeros((1, 28, 28), "uint8"); bar[0, 4:24, 10:13] = 255
        >>> round(float(thickness(bar[..., None])[0]), 4)  # 2 * 60 / (40 + 6)
        2.6087
    """
    x = np.pad(ink(images).astype(np.float64), ((0, 0), (1, 1), (1, 1)))
    tv = np.abs(np.diff(x, axis=1)).sum(axis=(1, 2)) + np.abs(np.diff(x, axis=2)).sum(axis=(1, 2))
    area = x.sum(axis=(1, 2))
    out = np.where(tv > 0, 2.0 * area / np.maximum(tv, 1e-12), 0.0)
    return out.astype(np.float32)


def _moments(x):
    """Mass and central second moments mu11, mu02 of ink ``[n, H, W]`` (x = column, y = row)."""
    x = x.astype(np.float64)
    n, h, w = x.shape
    rows = np.arange(h, dtype=np.float64)[None, :, None]
    cols = np.arange(w, dtype=np.float64)[None, None, :]
    mass = x.sum(axis=(1, 2))
    safe = np.maximum(mass, 1e-12)[:, None, None]
    ybar = (x * rows).sum(axis=(1, 2), keepdims=True) / safe
    xbar = (x * cols).sum(axis=(1, 2), keepdims=True) / safe
    dy, dx = rows - ybar, cols - xbar
    mu11 = (x * dx * dy).sum(axis=(1, 2))
    mu02 = (x * dy * dy).sum(axis=(1, 2))
    return mass, mu11, mu02


def slant(images):
    """Horizontal shear of the ink: ``-mu11 / mu02``.

    ``mu11`` and ``mu02`` are central second moments of the ink with
    ``x`` = column and ``y`` = row (growing downwards); ``mu11 / mu02`` is
    the slope ``dx/dy`` of the least-squares line through the ink, negated so
    that a positive value means the top leans right (x grows as y shrinks).
    A value of 1 is a 45-degree lean.

    Args:
        images: see ``ink``.

    Returns:
        float32 ``[n]``; 0 for an image with no ink or no vertical extent.

    Example:
        >>> diag = np.zeros((1, 4, 4), "uint8"); diag[0, 0, 1] = diag[0, 1, 0] = 255
        >>> float(slant(diag)[0])
        1.0
    """
    mass, mu11, mu02 = _moments(ink(images))
    ok = (mass > 0) & (mu02 > 1e-9 * np.maximum(mass, 1e-12))
    out = np.where(ok, -mu11 / np.where(ok, mu02, 1.0), 0.0)
    return out.astype(np.float32)


def size(images):
    """Area in pixels of the bounding box of the pixels with ink > 0.5.

    Args:
        images: see ``ink``.

    Returns:
        float32 ``[n]``; 0 for an image with no pixel over half ink.

    Example:
        >>> box = np.zeros((1, 28, 28), "uint8"); box[0, 5:15, 8:12] = 255
        >>> float(size(box)[0])
        40.0
    """
    on = ink(images) > 0.5
    rows, cols = on.any(axis=2), on.any(axis=1)
    h, w = rows.shape[1], cols.shape[1]
    # First and last inked row / column, from argmax of the mask and of its reverse.
    height = h - rows[:, ::-1].argmax(axis=1) - rows.argmax(axis=1)
    width = w - cols[:, ::-1].argmax(axis=1) - cols.argmax(axis=1)
    area = np.where(rows.any(axis=1), height * width, 0)
    return area.astype(np.float32)


_MEASURES = {"thickness": thickness, "slant": slant, "size": size}


def measure(images):
    """All three attributes of a batch of images.

    Args:
        images: see ``ink``.

    Returns:
        ``{"thickness": [n], "slant": [n], "size": [n]}``, float32 arrays.

    Example:
        >>> m = measure(np.zeros((2, 28, 28), "uint8"))
        >>> sorted(m), m["size"].tolist()
        (['size', 'slant', 'thickness'], [0.0, 0.0])
    """
    return {name: _MEASURES[name](images) for name in ATTRIBUTES}


# ----------------------------------------------------------------------------- levels

def _check_labels(labels, n, num_classes):
    labels = np.asarray(labels)
    if labels.shape != (n,):
        raise ValueError(f"Expected labels of shape ({n},) to match the images, got {labels.shape}.")
    if not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"Expected integer labels, got dtype {labels.dtype}.")
    if n and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"Expected labels in [0, {num_classes - 1}], got values from "
                         f"{labels.min()} to {labels.max()}.")
    return labels.astype(np.int64)


def _tercile_cuts(values):
    """Lower and upper cuts, each halfway between two distinct values, leaving the
    shares below them closest to 1/3 and 2/3.

    Plain quantiles would land ON a value shared by many images (bounding-box
    areas are integers and tie a lot), and those would all fall on one side;
    cutting between distinct values keeps the levels as balanced as ties allow.
    """
    v = np.sort(values)
    distinct = np.unique(v)
    if len(distinct) < 2:
        return np.array([v[0], v[0]])
    cuts = (distinct[:-1] + distinct[1:]) / 2
    below = np.searchsorted(v, cuts) / len(v)
    return np.array([cuts[np.argmin(np.abs(below - 1 / 3))], cuts[np.argmin(np.abs(below - 2 / 3))]])


class AttributeLevels:
    """Per-digit terciles of each attribute, fitted on training images.

    An image's level for an attribute is -1 when its value lies under the
    lower tercile cut of its class, +1 over the upper one, else 0. Each cut
    lies halfway between two distinct training values, where the share below
    is closest to 1/3 (2/3), so ties (integer bbox areas) stay on one side
    and the levels are as balanced as the ties allow. Per class,
    because a "wide" 1 is narrower than any 0. A class with fewer than 3
    training images uses the terciles of all images.

    Attributes:
        num_classes: number of digit classes.
        thresholds: ``{attribute: float64 [num_classes, 2]}`` (lower, upper).

    Example:
        >>> levels = AttributeLevels.fit(x_train, y_train)
        >>> levels.levels(x_test, y_test)["thickness"]  # int8 [n] of -1, 0, 1
    """

    def __init__(self, thresholds, num_classes=10):
        self.num_classes = int(num_classes)
        self.thresholds = {}
        for name in ATTRIBUTES:
            if name not in thresholds:
                raise ValueError(f"Missing thresholds for attribute {name!r}; expected all of {ATTRIBUTES}.")
            t = np.asarray(thresholds[name], dtype=np.float64)
            if t.shape != (self.num_classes, 2):
                raise ValueError(f"Expected thresholds[{name!r}] of shape ({self.num_classes}, 2), "
                                 f"got {t.shape}.")
            if not np.all(np.isfinite(t)) or np.any(t[:, 0] > t[:, 1]):
                raise ValueError(f"thresholds[{name!r}] must be finite with lower <= upper, got {t.tolist()}.")
            self.thresholds[name] = t

    @classmethod
    def fit(cls, images, labels, num_classes=10):
        """Fits the terciles of each attribute per class.

        Args:
            images: training images (see ``ink``), at least 3.
            labels: int ``[n]`` digit labels in ``[0, num_classes)``.
            num_classes: number of classes.

        Returns:
            An ``AttributeLevels``.

        Example:
            >>> levels = AttributeLevels.fit(x_train, y_train)
        """
        values = measure(images)
        n = len(values["size"])
        if n < 3:
            raise ValueError(f"AttributeLevels.fit needs at least 3 images, got {n}.")
        labels = _check_labels(labels, n, num_classes)
        thresholds = {}
        for name in ATTRIBUTES:
            v = values[name].astype(np.float64)
            t = np.tile(_tercile_cuts(v), (num_classes, 1))
            for c in range(num_classes):
                vc = v[labels == c]
                if len(vc) >= 3:
                    t[c] = _tercile_cuts(vc)
            thresholds[name] = t
        return cls(thresholds, num_classes)

    def levels(self, images, labels):
        """Levels of images given their classes.

        Args:
            images: see ``ink`` (real or generated images).
            labels: int ``[n]`` classes the images should be measured against.

        Returns:
            ``{attribute: int8 [n]}`` with -1 (low tercile), 0, +1 (high).

        Example:
            >>> levels.levels(fake_images, np.full(len(fake_images), 7))["slant"]
        """
        values = measure(images)
        labels = _check_labels(labels, len(values["size"]), self.num_classes)
        out = {}
        for name in ATTRIBUTES:
            t = self.thresholds[name][labels]
            v = values[name].astype(np.float64)
            # Cuts lie between training values; a new value exactly on one is middle.
            out[name] = np.where(v < t[:, 0], -1, np.where(v > t[:, 1], 1, 0)).astype(np.int8)
        return out

    def get_config(self):
        """JSON-able thresholds: ``{"num_classes", "thresholds": {attr: [[lo, hi], ...]}}``."""
        return {"num_classes": self.num_classes,
                "thresholds": {name: self.thresholds[name].tolist() for name in ATTRIBUTES}}

    @classmethod
    def from_config(cls, config):
        """Inverse of ``get_config``.

        Example:
            >>> same = AttributeLevels.from_config(json.loads(json.dumps(levels.get_config())))
        """
        return cls(config["thresholds"], config.get("num_classes", 10))
