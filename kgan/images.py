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
