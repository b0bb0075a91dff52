"""Export a trained generator as a TensorFlow Serving SavedModel.

``export_generator`` writes ``<base_dir>/<model_name>/<version>/``, the
layout TF Serving's file-system source polls. The version directory is
written beside its final place under a dot-prefixed temporary name (TF
Serving only loads directories whose names are integers) and renamed into
place when complete, so a server never sees a half-written version.

Only the generator is exported (``model.ema_generator`` when the model has
one, else ``model.generator``), as plain TensorFlow functions over its
variables: the export loads with ``tf.saved_model.load`` or TF Serving with
no kgan code and no custom objects.

Signatures (``L`` = ``latent_dim``, ``[H, W, C]`` = ``data_shape``; ``labels``
is an input only for conditional models):

- ``serving_default``: inputs ``z`` float32 ``[batch, L]`` (+ ``labels``
  int64 ``[batch]``); outputs ``images`` float32 ``[batch, H, W, C]`` in
  [-1, 1] and ``images_uint8`` uint8 ``[batch, H, W, C]``.
- ``generate_from_seed``: inputs ``seed`` int64 ``[batch]`` (+ ``labels``);
  the same outputs, one image per seed.
- ``generate_from_codes`` (models with latent codes, :class:`kgan.InfoGAN`):
  inputs ``seed`` int64 ``[batch]`` (the noise), ``categorical`` int64
  ``[batch, m]`` (one category per categorical code) and ``continuous``
  float32 ``[batch, c]`` (each only when the model has such codes); the
  numeric outputs. Equals ``model.generate(n, seed=s, codes=...)``. For
  these models ``generate_from_seed`` draws the codes from the seed too.
- ``generate_png``: the inputs of ``serving_default``; output ``png_bytes``
  string ``[batch]``, one PNG file per image.
- ``generate_png_from_seed``: the inputs of ``generate_from_seed``; output
  ``png_bytes``.

``generate_from_seed`` with seeds ``[s, s+1, ..., s+n-1]`` returns exactly
``model.generate(n, seed=s)``: each latent comes from
:func:`kgan.noise.latents_from_seeds` (stateless random ops), so a seed gives
the same image on every call, process and client.

PNG is a separate pair of signatures rather than an extra output of every
signature because the REST API cannot filter outputs: a REST ``:predict``
returns every output of the signature, so PNGs in ``serving_default`` would
make every numeric request pay for PNG encoding and transfer, and every PNG
request carry the float and uint8 arrays too. The output is named
``png_bytes`` because TF Serving's REST API base64-encodes string outputs
whose names end in ``_bytes`` (``{"b64": "..."}``); other string outputs
would be written as raw, invalid-UTF-8 JSON strings. gRPC clients can use
either kind of signature, and ``output_filter`` to fetch only what they need.

Non-image data (``data_shape`` not ``(H, W, C)``, e.g. 2-D points): the
numeric signatures output ``samples`` float32 ``[batch] + data_shape`` in the
data's own range (not clipped), with no ``images_uint8`` and no PNG
signatures. Images with a channel count PNG cannot hold (not 1-4) get no PNG
signatures either.

Labels are int64 (JSON integers map to it with no cast on the client side;
they are cast to the generator's int32 after the range check). A signature
has one fixed dtype per input, so a gRPC client that sends int32 labels or
float64 ``z`` gets the TensorFlow runtime's own INVALID_ARGUMENT ("Expects
arg[1] to be int64 but int32 is provided"); the clients in
:mod:`kgan.serving_client` cast for you.

With an EMA generator exported, the signatures reproduce the EMA network
(``model.ema_generator`` on ``latents_from_seeds``), not ``model.generate``,
which runs ``model.generator``.

Validation happens inside each signature, before the generator runs, with
TensorFlow ops (TF Serving feeds request tensors to the graph without
checking them against the signature's shapes): a ``z`` of the wrong rank or
width, non-finite ``z``, ``seed`` or ``labels`` of the wrong rank or batch,
and labels outside ``[0, num_classes)`` each fail with INVALID_ARGUMENT and a
message naming what was expected and what was received, e.g.
``labels: expected class ids in [0, 3), got values in [-1, 5]``.

Request cap: every signature refuses a request with more than ``max_batch``
rows of ``z`` (or seeds), set at export time (default
:data:`DEFAULT_MAX_BATCH`, 1024) and recorded in ``kgan_export.json``, with
INVALID_ARGUMENT ``z: expected at most 1024 rows per request (max_batch, set
at export), got 200000``. Without it one request could ask the server for a
million images. Clients that need more send several requests.

Warmup: ``assets.extra/tf_serving_warmup_requests`` holds one
``PredictionLog`` per signature (and per warmup batch size) so TF Serving
runs each signature once at load time instead of on the first user request.
``assets.extra/kgan_export.json`` records latent_dim, num_classes, data_shape,
max_batch and the signatures, for :func:`generate_from_export`.

Example:
    >>> path = export_generator(gan, "/models", model_name="mnist_dcgan")
    >>> images = generate_from_export(path, 16, seed=0)  # == gan.generate(16, seed=0)
"""

from __future__ import annotations

import json
import os
import re
import shutil
import uuid

import numpy as np
import tensorflow as tf

from kgan.export_graph import (CODES_SIGNATURE, DEFAULT_SIGNATURE, LABEL_DTYPE,  # noqa: F401
                               PNG_SEED_SIGNATURE, PNG_SIGNATURE, SEED_SIGNATURE, SERVE_TAG,
                               WARMUP_FILE, METADATA_FILE, ASSETS_EXTRA, build_module,
                               exported_generator, is_image, warmup_requests)

# Most rows (z) or seeds one request may ask for. 1024 28x28 images are 3 MB
# of float32 (12 MB at 64x64x3): enough for any grid or evaluation batch,
# while a single request cannot tie up the server for long or exhaust its
# memory (an uncapped export served 1,000,000 seeds in one request).
DEFAULT_MAX_BATCH = 1024


def _warmup_batch_sizes(warmup):
    if warmup is True:
        return (1,)
    if not warmup:
        return ()
    sizes = tuple(int(b) for b in warmup)
    if any(b < 1 for b in sizes):
        raise ValueError(f"warmup batch sizes must be >= 1, got {sizes}.")
    return sizes


# ------------------------------------------------------------------- export
def _versions(model_dir):
    if not os.path.isdir(model_dir):
        return []
    return sorted(int(d) for d in os.listdir(model_dir)
                  if re.fullmatch(r"\d+", d) and os.path.isdir(os.path.join(model_dir, d)))


def export_generator(model, base_dir, model_name="generator", version=None, warmup=True,
                     max_batch=DEFAULT_MAX_BATCH):
    """Writes the model's generator as a TF Serving SavedModel version.

    The result is ``<base_dir>/<model_name>/<version>/`` with the signatures
    described in this module's docstring, a warmup file and
    ``assets.extra/kgan_export.json``. It is written under a temporary name
    and renamed into place, so TF Serving never loads a partial version.

    Args:
        model: a :class:`kgan.GAN` (anything with ``generator``,
            ``latent_dim``, ``data_shape`` and ``num_classes``). Its
            ``ema_generator`` is exported when present.
        base_dir: local directory that holds one folder per served model
            (TF Serving's ``base_path`` is ``<base_dir>/<model_name>``).
        model_name: the served model's name, a single path component.
        version: positive integer version; ``None`` picks one more than the
            highest existing version (1 for the first export).
        warmup: ``True`` writes one warmup request per signature with batch
            size 1; an iterable of ints writes one per signature and batch
            size (e.g. the ``allowed_batch_sizes`` of a batching config);
            ``False`` writes none.
        max_batch: the most rows of ``z`` (or seeds) one request may ask
            for, in every signature (default 1024). A larger request fails
            inside the signature with INVALID_ARGUMENT naming the limit and
            the size received. Stored in ``kgan_export.json``.

    Returns:
        The version directory's path.

    Raises:
        FileExistsError: the version directory already exists.
        ValueError: bad ``model_name``, ``version`` or ``max_batch``, or a
            warmup batch size over ``max_batch``.

    Example:
        >>> export_generator(gan, "serving/models", model_name="mnist_dcgan")
        'serving/models/mnist_dcgan/1'
    """
    if getattr(model, "is_translation", False):  # image in, image out
        from kgan import export_translation

        return export_translation.export_translator(model, base_dir, model_name, version,
                                                    warmup, max_batch)
    if getattr(model, "is_text_to_image", False):  # sentences in, images out
        from kgan import export_text

        return export_text.export_text_generator(model, base_dir, model_name, version,
                                                 warmup, max_batch)
    latent_dim = int(model.latent_dim)
    num_classes = int(model.num_classes) if model.num_classes else None
    data_shape = tuple(int(d) for d in model.data_shape)
    generator = exported_generator(model)
    codes = None
    if hasattr(model, "code_layout"):  # InfoGAN: seeds draw codes too; codes can be given
        from kgan.families.infogan import code_latents
        noise_dim, categorical, continuous = model.code_layout()
        codes = (noise_dim, tuple(categorical), int(continuous),
                 lambda s, ids, v: code_latents(s, noise_dim, categorical, continuous, ids, v))
    own = getattr(model, "latents_from_seeds", None)
    _check_max_batch(max_batch)
    root, signatures = build_module(generator, latent_dim, num_classes, data_shape,
                                     int(max_batch), seed_latents=own, codes=codes)
    metadata = {
        "format": 1,
        "latent_dim": latent_dim,
        "num_classes": num_classes,
        "data_shape": list(data_shape),
        "signatures": sorted(signatures),
        "exported_network": "ema_generator" if generator is not model.generator
                            else "generator",
        "model_class": type(model).__name__,
    }
    if codes is not None:
        metadata["codes"] = {"noise_dim": codes[0], "categorical": list(codes[1]),
                             "continuous": codes[2]}
    return write_version(root, signatures, base_dir, model_name, version, warmup, max_batch,
                         lambda sizes: warmup_requests(model_name, signatures, latent_dim,
                                                        num_classes, sizes, codes),
                         metadata)


def _check_max_batch(max_batch):
    if isinstance(max_batch, bool) or not isinstance(max_batch, (int, np.integer)) \
            or max_batch < 1:
        raise ValueError(f"max_batch must be a positive integer, got {max_batch!r}.")


def write_version(root, signatures, base_dir, model_name, version, warmup, max_batch,
                  warmup_records, metadata):
    """Saves ``root`` as ``<base_dir>/<model_name>/<version>/`` atomically, with warmup and metadata.

    What every kgan export shares (:func:`export_generator`,
    :func:`kgan.anomaly.export_scorer`): argument checks, the write under a
    temporary dot-name beside the final folder and the rename into place,
    ``assets.extra/tf_serving_warmup_requests`` and
    ``assets.extra/kgan_export.json`` (``metadata`` plus ``max_batch``).

    Args:
        root, signatures: the ``tf.Module`` and its signature functions.
        base_dir, model_name, version, warmup, max_batch: as in
            :func:`export_generator`.
        warmup_records: ``batch_sizes -> [serialized PredictionLog]``.
        metadata: dict written to ``kgan_export.json``.

    Returns:
        The version directory.

    Example:
        >>> write_version(root, sigs, "models", "m", None, True, 1024, records, {"format": 1})
    """
    if not model_name or os.sep in model_name or model_name in (".", "..") \
            or (os.altsep and os.altsep in model_name):
        raise ValueError(f"model_name must be one path component, got {model_name!r}.")
    model_dir = os.path.join(base_dir, model_name)
    if version is None:
        existing = _versions(model_dir)
        version = existing[-1] + 1 if existing else 1
    if isinstance(version, bool) or not isinstance(version, (int, np.integer)) or version < 1:
        raise ValueError(f"version must be a positive integer, got {version!r}.")
    version = int(version)
    _check_max_batch(max_batch)
    max_batch = int(max_batch)
    warmup_sizes = _warmup_batch_sizes(warmup)
    if any(b > max_batch for b in warmup_sizes):
        raise ValueError(f"warmup batch sizes {warmup_sizes} exceed max_batch={max_batch}; "
                         f"the signatures would refuse them.")
    final = os.path.join(model_dir, str(version))
    if os.path.exists(final):
        raise FileExistsError(f"{final} already exists; refusing to overwrite a served "
                              f"version. Export with a new version (or version=None).")

    os.makedirs(model_dir, exist_ok=True)
    # Beside the final directory (same file system, so the rename is atomic);
    # the leading dot and non-integer name keep TF Serving from loading it.
    tmp = os.path.join(model_dir, f".tmp-{version}-{uuid.uuid4().hex}")
    try:
        tf.saved_model.save(root, tmp, signatures=signatures)
        extra = os.path.join(tmp, ASSETS_EXTRA)
        os.makedirs(extra, exist_ok=True)
        records = warmup_records(warmup_sizes)
        if records:
            with tf.io.TFRecordWriter(os.path.join(extra, WARMUP_FILE)) as writer:
                for record in records:
                    writer.write(record)
        metadata = {**metadata, "max_batch": max_batch}
        with open(os.path.join(extra, METADATA_FILE), "w") as f:
            json.dump(metadata, f, indent=2)
        if os.path.exists(final):
            raise FileExistsError(f"{final} appeared while exporting; refusing to overwrite.")
        try:
            os.rename(tmp, final)
        except OSError as e:  # a concurrent export won the race
            raise FileExistsError(f"Could not move the export to {final}: {e}.") from e
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return final


# ---------------------------------------------------------------- loading back
def _resolve_version_dir(path):
    """``path`` itself if it holds a SavedModel, else its highest version."""
    if os.path.exists(os.path.join(path, "saved_model.pb")):
        return path
    versions = _versions(path)
    if not versions:
        raise FileNotFoundError(f"{path} holds no saved_model.pb and no numbered version "
                                f"directories.")
    return os.path.join(path, str(versions[-1]))


def read_export_metadata(path):
    """Reads ``assets.extra/kgan_export.json`` of an export.

    Args:
        path: a version directory, or a model directory (highest version).

    Returns:
        dict with ``latent_dim``, ``num_classes``, ``data_shape`` and
        ``signatures``.

    Example:
        >>> read_export_metadata("serving/models/mnist_dcgan")["latent_dim"]
        100
    """
    with open(os.path.join(_resolve_version_dir(path), ASSETS_EXTRA, METADATA_FILE)) as f:
        return json.load(f)


def load_export(path):
    """Loads an export with ``tf.saved_model.load`` (no kgan objects needed).

    Args:
        path: a version directory, or a model directory (its highest
            version is loaded).

    Returns:
        The loaded object; its ``signatures`` map holds the serving
        signatures.

    Example:
        >>> module = load_export("serving/models/mnist_dcgan/1")
        >>> out = module.signatures["generate_from_seed"](seed=tf.constant([0, 1], tf.int64))
        >>> out["images"].shape
        TensorShape([2, 28, 28, 1])
    """
    return tf.saved_model.load(_resolve_version_dir(path))


def generate_from_export(path, num_samples, seed=0, labels=None, batch_size=256, codes=None):
    """Runs an export's ``generate_from_seed`` signature.

    Returns the same samples as ``model.generate(num_samples, seed=seed,
    labels=labels)`` on the model that was exported.

    Args:
        path: a version directory, or a model directory (highest version).
        num_samples: how many samples.
        seed: first seed; sample ``i`` uses seed ``seed + i``.
        labels: int labels ``[num_samples]`` for conditional models; by
            default ``0, 1, ..., num_classes-1, 0, ...`` as in ``generate``.
        batch_size: samples per signature call (at most the export's
            ``max_batch``).
        codes: for exports with latent codes (InfoGAN), ``{"categorical":
            int [n, m], "continuous": float [n, c]}``, run through
            ``generate_from_codes`` (every code of the model must be given).

    Returns:
        numpy float32 ``[num_samples] + data_shape`` (images in [-1, 1]).

    Example:
        >>> images = generate_from_export("serving/models/mnist_dcgan", 16, seed=0)
        >>> kgan.images.save_grid(images, "served.png")
    """
    path = _resolve_version_dir(path)
    meta = read_export_metadata(path)
    n = int(num_samples)
    if codes is not None:
        spec = meta.get("codes")
        if not spec:
            raise ValueError("codes were given but the export has no latent codes.")
        from kgan.families.infogan import code_latents

        # Codes left out are drawn from the seeds, as InfoGAN.generate(seed=, codes=) does.
        cats, cont = spec["categorical"], spec["continuous"]
        drawn = code_latents(np.arange(seed, seed + n, dtype=np.int64), spec["noise_dim"],
                             cats, cont).numpy()
        given, start = {}, spec["noise_dim"]
        if cats:
            ids = [drawn[:, start + sum(cats[:j]):start + sum(cats[:j + 1])].argmax(1)
                   for j in range(len(cats))]
            given["categorical"] = (np.stack(ids, 1) if codes.get("categorical") is None else
                                    np.asarray(codes["categorical"], np.int64).reshape(n, len(cats)))
        if cont:
            given["continuous"] = (drawn[:, start + sum(cats):] if codes.get("continuous") is None
                                   else np.asarray(codes["continuous"], np.float32).reshape(n, cont))
    fn = load_export(path).signatures[CODES_SIGNATURE if codes is not None else SEED_SIGNATURE]
    num_classes = meta["num_classes"]
    if num_classes:
        if labels is None:
            labels = np.arange(n) % num_classes
        labels = np.asarray(labels)
        if labels.shape != (n,):
            raise ValueError(f"labels: expected shape ({n},), got {labels.shape}.")
    elif labels is not None:
        raise ValueError("labels were given but the exported model is not conditional.")
    seeds = np.arange(seed, seed + n, dtype=np.int64)
    # Exports written before max_batch existed have no key and no cap.
    batch_size = max(1, min(int(batch_size), meta.get("max_batch") or int(batch_size)))
    key = "images" if is_image(meta["data_shape"]) else "samples"
    outs = []
    for i in range(0, n, batch_size):
        kwargs = {"seed": tf.constant(seeds[i:i + batch_size])}
        if codes is not None:
            kwargs.update({k: tf.constant(v[i:i + batch_size]) for k, v in given.items()})
        if num_classes:
            kwargs["labels"] = tf.constant(labels[i:i + batch_size].astype(np.int64))
        outs.append(fn(**kwargs)[key].numpy())
    if not outs:
        return np.zeros([0] + list(meta["data_shape"]), np.float32)
    return np.concatenate(outs, 0).astype(np.float32)
