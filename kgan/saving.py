"""Loading a saved kgan model with errors that name the file and what is wrong.

``keras.saving.load_model`` reports a truncated ``.keras`` file as "File not
found" and a model of another library with a registry error deep in Keras;
:func:`load_model` checks the file first and says which it is.
"""

from __future__ import annotations

import json
import os
import zipfile

import keras


class ModelFileError(ValueError):
    """A saved model file that is missing, damaged or not a kgan model."""


def load_model(path, compile=True):
    """Loads a ``.keras`` file saved from a kgan model, or explains why it cannot.

    Args:
        path: the ``.keras`` file.
        compile: restore the optimizers too (as ``keras.saving.load_model``).

    Returns:
        The model (a :class:`kgan.AdversarialModel`).

    Raises:
        ModelFileError: naming the file and whether it is missing, not a
            ``.keras`` archive (truncated or another format), missing its
            configuration or weights, or a model of another kind.

    Example:
        >>> gan = kgan.load_model("runs/quickstart/model.keras")
    """
    from kgan.core.adversarial import AdversarialModel

    path = os.fspath(path)
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: no such file (expected a .keras model saved by kgan).")
    if not zipfile.is_zipfile(path):
        raise ModelFileError(f"{path}: not a .keras archive ({os.path.getsize(path)} bytes; a "
                             f".keras file is a zip archive): the file is truncated or damaged, "
                             f"or in another format.")
    try:
        with zipfile.ZipFile(path) as z:
            names = set(z.namelist())
            bad = z.testzip()
            config = json.loads(z.read("config.json")) if "config.json" in names else None
    except (zipfile.BadZipFile, OSError, ValueError) as e:
        raise ModelFileError(f"{path}: the archive is damaged ({e}).") from e
    if bad is not None:
        raise ModelFileError(f"{path}: the archive is damaged (member {bad!r} fails its checksum).")
    if config is None or "model.weights.h5" not in names:
        raise ModelFileError(f"{path}: a .keras archive must hold config.json and "
                             f"model.weights.h5; it holds {sorted(names)}.")
    registered = config.get("registered_name") or config.get("class_name")
    try:
        model = keras.saving.load_model(path, compile=compile)
    except Exception as e:  # Keras raises several types for a foreign or broken file
        raise ModelFileError(f"{path}: Keras could not rebuild the {registered} it describes: "
                             f"{str(e).splitlines()[0]}") from e
    if not isinstance(model, AdversarialModel):
        raise ModelFileError(f"{path}: holds a {type(model).__name__}, not a kgan model.")
    return model
