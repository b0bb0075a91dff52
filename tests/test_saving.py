"""kgan.load_model: damaged and foreign files are refused with the file and the reason."""

import os
import zipfile

import keras
import numpy as np
import pytest

import kgan


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    d = tmp_path_factory.mktemp("saved")
    gan = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp", seed=0,
                   generator_options={"hidden_units": (8,)},
                   discriminator_options={"hidden_units": (8,)})
    gan.compile()
    path = str(d / "gan.keras")
    gan.save(path)
    return gan, path, d


def test_a_good_file_loads_and_generates_the_same(saved):
    gan, path, _ = saved
    back = kgan.load_model(path)
    np.testing.assert_array_equal(back.generate(3, seed=1), gan.generate(3, seed=1))


def test_missing_truncated_and_foreign_files_are_named_and_explained(saved):
    _, path, d = saved
    with pytest.raises(kgan.ModelFileError, match="no such file"):
        kgan.load_model(str(d / "nope.keras"))
    data = open(path, "rb").read()
    cut = str(d / "cut.keras")
    with open(cut, "wb") as f:  # a copy interrupted half way
        f.write(data[: len(data) // 2])
    with pytest.raises(kgan.ModelFileError, match=r"cut\.keras: not a \.keras archive.*truncated"):
        kgan.load_model(cut)
    empty = str(d / "empty.keras")
    with zipfile.ZipFile(empty, "w") as z:
        z.writestr("hello.txt", "not a model")
    with pytest.raises(kgan.ModelFileError, match=r"must hold config\.json and model\.weights\.h5"):
        kgan.load_model(empty)
    plain = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    other = str(d / "plain.keras")
    plain.save(other)
    with pytest.raises(kgan.ModelFileError, match=r"plain\.keras: holds a Sequential, not a kgan model"):
        kgan.load_model(other)


def test_corrupted_weights_inside_the_archive_are_reported(saved):
    _, path, d = saved
    broken = str(d / "broken.keras")
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(broken, "w") as dst:
        for item in src.infolist():
            payload = src.read(item.filename)
            if item.filename == "model.weights.h5":
                payload = payload[:64]  # an h5 file cut short
            dst.writestr(item, payload)
    with pytest.raises(kgan.ModelFileError, match=r"broken\.keras: Keras could not rebuild"):
        kgan.load_model(broken)
    assert os.path.getsize(broken) < os.path.getsize(path)
