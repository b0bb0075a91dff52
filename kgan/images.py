"""Image grids and PNG files for samples."""

from __future__ import annotations

import math
import os

import numpy as np

from kgan.data import to_uint8


def make_grid(images, cols=None, pad=2):
    """Tiles ``[N, H, W, C]`` images in [-1, 1] into one uint8 image.

    Args:
        images: float images in [-1, 1].
        cols: columns; default ``ceil(sqrt(N))``.
        pad: pixels between tiles.

    Returns:
        uint8 array ``[rows*(H+pad)-pad, cols*(W+pad)-pad, C]``.

    Example:
        >>> make_grid(np.zeros((4, 8, 8, 1))).shape
        (18, 18, 1)
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f"make_grid expects [N, H, W, C] images, got shape {images.shape}.")
    n, h, w, c = images.shape
    cols = cols or max(1, math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    grid = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad, c), np.uint8)
    tiles = to_uint8(images)
    for i in range(n):
        r, q = divmod(i, cols)
        grid[r * (h + pad):r * (h + pad) + h, q * (w + pad):q * (w + pad) + w] = tiles[i]
    return grid


def save_png(image, path):
    """Writes a uint8 ``[H, W, C]`` (C = 1 or 3) array as PNG.

    Example:
        >>> save_png(make_grid(samples), "samples.png")
    """
    from PIL import Image

    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    Image.fromarray(image).save(path)
    return path


def save_grid(images, path, cols=None, scale=1):
    """Saves images in [-1, 1] as one PNG grid, optionally upscaled.

    Args:
        images: ``[N, H, W, C]`` floats in [-1, 1].
        path: output path.
        cols: grid columns.
        scale: integer nearest-neighbour upscaling for small images.

    Example:
        >>> save_grid(gan.generate(64, seed=0), "grid.png")
    """
    grid = make_grid(images, cols)
    if scale > 1:
        grid = grid.repeat(scale, 0).repeat(scale, 1)
    return save_png(grid, path)


def save_scatter(points, path, reference=None, size=512, extent=None):
    """Draws 2-D points as a scatter plot PNG (generated in red, reference in gray).

    Args:
        points: ``[N, 2]`` generated points.
        path: output path.
        reference: optional ``[M, 2]`` points drawn underneath (e.g. mode
            centres or real samples).
        size: image side in pixels.
        extent: half-width of the square view; default fits all points.

    Example:
        >>> save_scatter(gan.generate(2500, seed=0), "scatter.png", ring.means)
    """
    from PIL import Image, ImageDraw

    points = np.asarray(points, np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"save_scatter expects [N, 2] points, got shape {points.shape}.")
    allp = points if reference is None else np.concatenate([points, np.asarray(reference)], 0)
    finite = allp[np.isfinite(allp).all(1)]
    if extent is None:
        extent = float(np.abs(finite).max()) * 1.1 if len(finite) else 1.0
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)

    def px(p):
        return ((p[0] + extent) / (2 * extent) * (size - 1),
                (extent - p[1]) / (2 * extent) * (size - 1))

    for layer, color, r in ((reference, (150, 150, 150), 3), (points, (200, 30, 30), 1)):
        if layer is None:
            continue
        for p in np.asarray(layer):
            if np.isfinite(p).all():
                x, y = px(p)
                draw.ellipse((x - r, y - r, x + r, y + r), fill=color)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    img.save(path)
    return path


def side_by_side(source, output, target=None):
    """Rows of ``source | output | target`` for a grid of image-to-image results.

    Sources are shown at the output's size (nearest-neighbour, e.g. a 7x7
    super-resolution input) and with the output's channels (an inpainting
    source shows its image channels, hole and all).

    Args:
        source: ``[n, h, w, c_src]`` in [-1, 1].
        output: ``[n, H, W, C]`` in [-1, 1].
        target: ``[n, H, W, C]`` or ``None``.

    Returns:
        ``[n * k, H, W, C]`` (``k`` = 2 or 3); save with
        ``save_grid(..., cols=k)``.

    Example:
        >>> save_grid(side_by_side(edges, model.translate(edges), digits), "p2p.png", cols=3)
    """
    output = np.asarray(output, np.float32)
    src = np.asarray(source, np.float32)
    h, w, c = output.shape[1:]
    if src.shape[1:3] != (h, w):
        fy, fx = h // src.shape[1], w // src.shape[2]
        src = np.repeat(np.repeat(src, fy, 1), fx, 2)[:, :h, :w]
    src = src[..., :c] if src.shape[-1] >= c else np.repeat(src[..., :1], c, -1)
    parts = [src, output] + ([np.asarray(target, np.float32)] if target is not None else [])
    return np.stack(parts, 1).reshape((-1, h, w, c))
