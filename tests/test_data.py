"""Data loaders: IDX files, digits, mixtures, tfds (through mock_data)."""

import gzip
import os

import numpy as np
import pytest

import kgan
from kgan import data
from shared_data import needs_mnist

MNIST = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "mnist")


def test_idx_round_trip(tmp_path):
    arr = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    header = bytes([0, 0, 8, 3]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(tmp_path / "x-idx3-ubyte.gz", "wb") as f:
        f.write(header + arr.tobytes())
    np.testing.assert_array_equal(data.read_idx(str(tmp_path / "x-idx3-ubyte.gz")), arr)
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        data.read_idx(str(tmp_path / "bad"))


@needs_mnist
def test_real_mnist_from_shared_idx():
    x, y = data.load_idx_dir(MNIST)
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    # class counts published in shared/data/README.md
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xs, ys = data.load("mnist_idx", MNIST)
    assert xs.dtype == np.float32 and xs.min() == -1.0 and xs.max() == 1.0


def test_scale_images_and_back():
    px = np.array([0, 1, 127, 128, 255], np.uint8).reshape(1, 5, 1, 1)
    scaled = data.scale_images(px)
    np.testing.assert_allclose(scaled.ravel(), [-1, -1 + 2 / 255, 127 / 127.5 - 1, 128 / 127.5 - 1, 1], atol=1e-6)
    np.testing.assert_array_equal(data.to_uint8(scaled), px)
    with pytest.raises(ValueError, match="uint8"):
        data.scale_images(np.zeros((1, 2, 2), np.float32))


def test_digits_are_offline_and_28x28():
    x, y = data.load("digits")
    assert x.shape == (1797, 28, 28, 1) and set(np.unique(y)) == set(range(10))
    assert -1.0 <= x.min() and x.max() <= 1.0


def test_mixtures_match_the_published_setups():
    ring, grid = data.ring_mixture(), data.grid_mixture()
    np.testing.assert_allclose(np.linalg.norm(ring.means, axis=1), 1.0, atol=1e-6)
    assert ring.std == 0.01 and grid.std == 0.05 and grid.num_modes == 25
    assert sorted(set(grid.means[:, 0].tolist())) == [-4, -2, 0, 2, 4]
    x, m = grid.sample(20000, seed=1)
    err = x - grid.means[m]
    assert abs(err.std() - 0.05) < 0.002 and np.bincount(m).min() > 650


def test_as_dataset_batches_and_rejects_too_big_batch():
    x = np.zeros((10, 2), np.float32)
    ds = data.as_dataset(x, np.arange(10), batch_size=4)
    batches = list(ds)
    assert len(batches) == 2 and batches[0][0].shape == (4, 2)  # remainder dropped
    with pytest.raises(ValueError, match="larger than the 10 samples"):
        data.as_dataset(x, batch_size=16)


def test_tfds_path_with_mock_data():
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=12):
        x, y = data.load("mnist")
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0 and y.dtype == np.int32
    assert y.min() >= 0 and y.max() < 10
