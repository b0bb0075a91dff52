"""Serving an anomaly model: the exported scorer, loading it back, and the score command.

``export_scorer`` writes an f-AnoGAN model as a TF Serving SavedModel whose
signatures take ``images`` and return ``scores`` (and reconstructions), with
the same in-signature validation and request cap as the generator export.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import tensorflow as tf
import keras

from kgan import export as export_lib
from kgan import export_graph as graph
from kgan.anomaly import SCORE_SIGNATURE, SCORE_UINT8_SIGNATURE, FAnoGAN, _per_example


# ------------------------------------------------------------------- export
def _check_images(images, data_shape, max_batch):
    rank = len(data_shape) + 1
    rank_ok, dims, shape = graph.runtime_dims(images, rank)
    ok = rank_ok
    for i, d in enumerate(data_shape):
        ok = tf.logical_and(ok, tf.equal(dims[i + 1], d))
    want = ", ".join(str(d) for d in data_shape)
    check_shape = tf.debugging.Assert(ok, [tf.strings.join([
        f"images: expected a tensor of shape [batch, {want}], got shape ",
        graph.shape_str(shape)])])
    with tf.control_dependencies([check_shape]):
        check_size = graph.check_batch("images", dims[0], max_batch, "images")
    return check_size


def _build_scorer_module(model, max_batch):
    data_shape = model.data_shape
    f = model._features.net

    def scores(x):
        recon = tf.cast(model.generator(model.encoder(x, training=False), training=False),
                        tf.float32)
        residual = tf.reduce_mean(_per_example(tf.square(x - recon)), -1)
        feature = tf.reduce_mean(_per_example(tf.square(
            tf.cast(f(x, training=False), tf.float32) - tf.cast(f(recon, training=False),
                                                                tf.float32))), -1)
        return {"scores": residual + model.kappa * feature, "residual": residual,
                "feature_residual": feature, "reconstructions": recon}

    def from_float(images):
        with tf.control_dependencies([_check_images(images, data_shape, max_batch)]):
            ok = tf.reduce_all(tf.logical_and(tf.math.is_finite(images), tf.abs(images) <= 1.0))
            check = tf.debugging.Assert(ok, [tf.strings.join([
                "images: expected finite values in [-1, 1], got values in [",
                tf.strings.as_string(tf.reduce_min(images)), ", ",
                tf.strings.as_string(tf.reduce_max(images)), "]"])])
        with tf.control_dependencies([check]):
            return scores(tf.identity(images))

    def from_uint8(images_uint8):
        with tf.control_dependencies([_check_images(images_uint8, data_shape, max_batch)]):
            x = tf.cast(images_uint8, tf.float32) / 127.5 - 1.0  # kgan.data.scale_images
        return scores(x)

    shape = [None] + list(data_shape)
    signatures = {
        SCORE_SIGNATURE: tf.function(from_float, autograph=False, input_signature=[
            tf.TensorSpec(shape, tf.float32, name="images")]),
        SCORE_UINT8_SIGNATURE: tf.function(from_uint8, autograph=False, input_signature=[
            tf.TensorSpec(shape, tf.uint8, name="images_uint8")]),
    }
    root = tf.Module(name="kgan_anomaly_scorer")
    root.variables_ = [graph.tf_variable(v) for v in
                       model.encoder.variables + model.generator.variables
                       + model.discriminator.variables]
    for name, fn in signatures.items():
        setattr(root, name, fn)
    return root, signatures


def export_scorer(model, base_dir, model_name="anomaly", version=None, warmup=True,
                  max_batch=export_lib.DEFAULT_MAX_BATCH):
    """Exports an :class:`FAnoGAN` scorer as a TF Serving SavedModel version.

    Same layout, atomic write, warmup and request cap as
    :func:`kgan.export.export_generator`. Signatures:

    - ``serving_default``: ``images`` float32 ``[batch] + data_shape`` in
      [-1, 1] -> ``scores``, ``residual``, ``feature_residual`` float32
      ``[batch]`` and ``reconstructions`` float32 ``[batch] + data_shape``;
    - ``score_uint8``: ``images_uint8`` uint8 (0-255 pixels) -> the same.

    Shapes, values (finite, in [-1, 1]) and the ``max_batch`` cap are checked
    inside the signatures: a bad request fails with INVALID_ARGUMENT naming
    what was expected and what came.

    Returns:
        The version directory.

    Example:
        >>> path = export_scorer(fano, "serving/models", model_name="digits_anomaly")
        >>> score_from_export(path, test_images)["scores"]
    """
    if not isinstance(model, FAnoGAN):
        raise TypeError(f"export_scorer exports a kgan.anomaly.FAnoGAN (one forward pass per "
                        f"image), got {type(model).__name__}.")
    root, signatures = _build_scorer_module(model, int(max_batch))

    def records(sizes):
        from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

        out = []
        for b in sizes:
            for name, key, value in (
                    (SCORE_SIGNATURE, "images", np.zeros((b,) + model.data_shape, np.float32)),
                    (SCORE_UINT8_SIGNATURE, "images_uint8",
                     np.zeros((b,) + model.data_shape, np.uint8))):
                request = predict_pb2.PredictRequest(
                    model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
                out.append(prediction_log_pb2.PredictionLog(
                    predict_log=prediction_log_pb2.PredictLog(request=request))
                    .SerializeToString())
        return out

    metadata = {"format": 1, "kind": "anomaly_scorer", "method": "f-AnoGAN",
                "data_shape": list(model.data_shape), "latent_dim": model.latent_dim,
                "kappa": model.kappa, "signatures": sorted(signatures)}
    return export_lib.write_version(root, signatures, base_dir, model_name, version, warmup,
                                    max_batch, records, metadata)


def score_from_export(path, images, batch_size=256):
    """Runs an exported scorer's ``serving_default`` on ``images`` (float, in [-1, 1]).

    Returns:
        dict of numpy arrays (``scores``, ``residual``, ``feature_residual``,
        ``reconstructions``), equal to ``FAnoGAN.score`` on the exported model.

    Example:
        >>> score_from_export("serving/models/digits_anomaly", test_images)["scores"]
    """
    meta = export_lib.read_export_metadata(path)
    fn = export_lib.load_export(path).signatures[SCORE_SIGNATURE]
    x = np.asarray(images, np.float32)
    size = max(1, min(int(batch_size), meta.get("max_batch") or int(batch_size)))
    outs = {}
    for i in range(0, len(x), size):
        for k, v in fn(images=tf.constant(x[i:i + size])).items():
            outs.setdefault(k, []).append(v.numpy())
    return {k: np.concatenate(v) for k, v in outs.items()}


def load_scorer(path):
    """A callable ``images -> score dict`` from a ``.keras`` FAnoGAN or an export.

    Example:
        >>> score = load_scorer("runs/anomaly/fanogan.keras")
        >>> score(images)["scores"]
    """
    if os.path.isfile(path):
        import kgan  # noqa: F401  (registers the classes)

        model = keras.saving.load_model(path)
        if not isinstance(model, FAnoGAN):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a kgan.anomaly.FAnoGAN.")
        return lambda x: model.score(x)
    meta = export_lib.read_export_metadata(path)
    if meta.get("kind") != "anomaly_scorer":
        raise ValueError(f"{path} is an export of a {meta.get('model_class', 'generator')}, not "
                         f"an anomaly scorer (kgan.anomaly.export_scorer).")
    return lambda x: score_from_export(path, x)


# ------------------------------------------------------------- score command
def read_images(source, data_shape):
    """Images in [-1, 1] and their names from a folder of PNGs or an IDX file.

    Returns:
        ``(float32 [n] + data_shape, list of names)``.
    """
    from kgan.data import read_idx, scale_images

    if os.path.isdir(source):
        from PIL import Image

        names = sorted(n for n in os.listdir(source) if n.lower().endswith(".png"))
        if not names:
            raise ValueError(f"{source} holds no .png files.")
        mode = {1: "L", 3: "RGB", 4: "RGBA"}.get(data_shape[-1])
        arrays = []
        for n in names:
            img = np.asarray(Image.open(os.path.join(source, n)).convert(mode))
            img = img.reshape(img.shape[:2] + (-1,))
            if img.shape != tuple(data_shape):
                raise ValueError(f"{n}: expected a {data_shape[1]}x{data_shape[0]} image with "
                                 f"{data_shape[-1]} channel(s), got shape {img.shape}.")
            arrays.append(img)
        return scale_images(np.stack(arrays)), names
    raw = read_idx(source)
    if raw.ndim == 3:
        raw = raw[..., None]
    if raw.shape[1:] != tuple(data_shape):
        raise ValueError(f"{source}: expected images of shape {tuple(data_shape)}, got "
                         f"{raw.shape[1:]}.")
    return scale_images(raw), [str(i) for i in range(len(raw))]


def score_main(argv=None):
    """``train/score.py``: scores images with a trained f-AnoGAN and writes a CSV.

    Example:
        >>> score_main(["runs/anomaly/fanogan.keras", "digits_idx.gz", "--out", "scores.csv"])
    """
    import csv

    from kgan.cli import build_score_parser

    args = build_score_parser().parse_args(argv)
    if os.path.isfile(args.model):
        model = keras.saving.load_model(args.model)
        data_shape = model.data_shape
    else:
        data_shape = tuple(export_lib.read_export_metadata(args.model)["data_shape"])
    scorer = load_scorer(args.model)
    x, names = read_images(args.images, tuple(data_shape))
    out = scorer(x)
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["image", "score", "residual", "feature_residual"])
        for i, name in enumerate(names):
            w.writerow([name, f"{out['scores'][i]:.6g}", f"{out['residual'][i]:.6g}",
                        f"{out['feature_residual'][i]:.6g}"])
    print(json.dumps({"images": len(names), "csv": args.out,
                      "mean_score": float(np.mean(out["scores"])) if len(names) else math.nan}))
    return 0
