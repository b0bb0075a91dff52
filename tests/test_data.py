"""Data loaders: IDX files, digits, mixtures, tfds (through mock_data)."""

import gzip
import os

import numpy as np
import pytest
import tensorflow as tf

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
    x, y = data.load_idx_dir(MNIST, split="test")
    assert x.shape == (10000, 28, 28, 1) and x.dtype == np.uint8
    # class counts published in shared/data/README.md
    assert np.bincount(y).tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
    xs, ys = data.load("mnist_idx", MNIST, split="t10k")
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


def write_idx(path, arr):
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + arr.tobytes())


def fake_mnist_dir(directory, splits):
    """IDX files for each split prefix, with a pixel value that tells them apart."""
    for prefix, (n, value) in splits.items():
        write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", np.full((n, 28, 28), value, np.uint8))
        write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n, dtype=np.uint8) % 10)
    return str(directory)


def test_idx_split_picks_the_train_files(tmp_path):
    folder = fake_mnist_dir(tmp_path, {"train": (6, 200), "t10k": (4, 100)})
    # Full MNIST present: the default is the training split, never the test split.
    for x, _ in (data.load_idx_dir(folder), data.load_idx_dir(folder, split="train")):
        assert x.shape == (6, 28, 28, 1) and (x == 200).all()
    for split in ("test", "t10k"):
        x, _ = data.load_idx_dir(folder, split=split)
        assert x.shape == (4, 28, 28, 1) and (x == 100).all()
    assert data.load("mnist_idx", folder)[0].shape[0] == 6
    assert data.load("mnist_idx", folder, split="test")[0].shape[0] == 4
    with pytest.raises(ValueError, match=r"one of \['t10k', 'test', 'train'\] or None, got 'val'"):
        data.load_idx_dir(folder, split="val")


def test_idx_missing_split_names_the_files_it_looked_for(tmp_path):
    folder = fake_mnist_dir(tmp_path, {"t10k": (4, 100)})
    with pytest.raises(FileNotFoundError) as info:
        data.load_idx_dir(folder, split="train")
    for name in ("train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                 "train-labels-idx1-ubyte.gz", "train-labels-idx1-ubyte"):
        assert name in str(info.value)
    # Only the test split there: the default loads it, but says so.
    with pytest.warns(UserWarning, match="holds no train-"):
        x, _ = data.load_idx_dir(folder)
    assert x.shape[0] == 4
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="t10k-images-idx3-ubyte.gz"):
        data.load_idx_dir(str(empty))


def test_tfds_is_importable_with_the_declared_dependencies():
    # tensorflow-datasets 4.9.10 imports importlib_resources (lazily, on first
    # tfds.load) without declaring it; kgan declares it.
    import tomllib

    with open(os.path.join(os.path.dirname(__file__), "..", "pyproject.toml"), "rb") as f:
        deps = tomllib.load(f)["project"]["dependencies"]
    names = {d.split(">")[0].split("<")[0].split("=")[0].strip().lower().replace("-", "_")
             for d in deps}
    assert "importlib_resources" in names
    from tensorflow_datasets.core import dataset_builder

    assert dataset_builder.importlib_resources.abc.Traversable  # resolves the lazy import


def test_tfds_supervised_with_mock_data():
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=12):
        x, y = data.load("mnist")
        xt, yt = data.load("mnist", split="test", image_size=14)
    assert x.shape == (12, 28, 28, 1) and x.dtype == np.float32
    assert x.min() >= -1.0 and x.max() <= 1.0 and y.dtype == np.int32
    assert y.min() >= 0 and y.max() < 10
    assert xt.shape == (12, 14, 14, 1) and xt.dtype == np.float32 and yt.shape == (12,)
    assert xt.min() >= -1.0 and xt.max() <= 1.0


def test_tfds_unsupervised_with_mock_data():
    import tensorflow_datasets as tfds

    # celeb_a: a features dict with "image" and attributes, no "label".
    with tfds.testing.mock_data(num_examples=3):
        x, y = data.load("celeb_a", split="validation", image_size=(32, 24))
        raw, none = data.load_tfds("celeb_a", split="validation")
    assert y is None and none is None and data.num_classes_of(y) == 0
    assert raw.shape == (3, 218, 178, 3) and raw.dtype == np.uint8
    assert x.shape == (3, 32, 24, 3) and x.dtype == np.float32
    # The resize of the stored images, then the usual [-1, 1] scaling.
    small = tf.image.resize(raw.astype(np.float32), (32, 24), antialias=True).numpy()
    np.testing.assert_allclose(x, np.round(small) / 127.5 - 1.0, atol=1e-6)


def test_tfds_bad_arguments_are_named():
    import tensorflow_datasets as tfds
    with tfds.testing.mock_data(num_examples=2):
        with pytest.raises(ValueError, match=r"expected an image feature 'picture', got features \['image', 'label'\]"):
            data.load_tfds("mnist", image_key="picture")
    with pytest.raises(ValueError, match="image_size must be a positive int or a"):
        data.load("digits", image_size=(0, 5))
    with pytest.raises(ValueError, match="one split, 'train' .* got 'test'"):
        data.load("ring", split="test")
