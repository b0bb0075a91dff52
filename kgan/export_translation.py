"""Export an image-to-image model (pix2pix, CycleGAN, SRGAN) for TF Serving.

Same layout, atomic write, warmup file, request cap and plain-TensorFlow
loading as :mod:`kgan.export` (``export_generator`` calls
:func:`export_translator` for these models). Signatures, per direction
(``[H, W, C]`` = source shape, ``[H', W', C']`` = target shape):

- ``serving_default``: input ``images`` float32 ``[batch, H, W, C]`` in
  [-1, 1] (the SOURCE domain); outputs ``images`` float32
  ``[batch, H', W', C']`` in [-1, 1] and ``images_uint8``.
- ``translate_png``: input ``png_bytes`` string ``[batch]`` (one PNG file
  of ``H x W`` with ``C`` channels per image; over REST send
  ``{"b64": "..."}``); output ``png_bytes``, one PNG per translated image.

CycleGAN exports both directions as named signatures: ``a_to_b``,
``b_to_a``, ``a_to_b_png``, ``b_to_a_png``; ``serving_default`` is
``a_to_b``.

Every request is checked inside the signature, before any network runs,
and fails with INVALID_ARGUMENT naming what was expected, e.g.
``images: expected a float32 tensor of shape [batch, 28, 28, 1] (source
images in [-1, 1]), got shape [2, 28, 28, 3]``, ``images: expected values
in [-1, 1], got values in [0, 255]``, ``png_bytes: expected 28x28 PNGs
with 1 channel(s), got [32, 32, 3]`` or ``images: expected at most 1024
images per request (max_batch, set at export), got 5000``. A wrong dtype
(float64 ``images``) is refused by the TensorFlow runtime with its own
INVALID_ARGUMENT ("Expects arg[0] to be float but double is provided"),
since a signature has one dtype per input; :mod:`kgan.serving_client`
casts for you.

Example:
    >>> path = export_translator(pix2pix, "serving/models", "edges2digits")
    >>> out = translate_from_export(path, edges[:8])   # == pix2pix.translate(edges[:8])
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kgan import export as base
from kgan import export_graph as graph

PNG_SUFFIX = "_png"
DEFAULT_PNG = "translate_png"
RANGE_TOLERANCE = 1e-3


def png_signature(direction):
    """The PNG signature's name for a direction's numeric signature name."""
    return DEFAULT_PNG if direction == base.DEFAULT_SIGNATURE else direction + PNG_SUFFIX


def _check_images(images, shape, max_batch):
    h, w, c = shape
    rank_ok, dims, got = graph.runtime_dims(images, 4)
    ok = tf.logical_and(rank_ok, tf.reduce_all(tf.equal(dims[1:4], tf.constant(shape, tf.int64))))
    check_shape = tf.debugging.Assert(ok, [tf.strings.join([
        f"images: expected a float32 tensor of shape [batch, {h}, {w}, {c}] (source images in "
        f"[-1, 1]), got shape ", graph.shape_str(got)])])
    with tf.control_dependencies([check_shape]):
        check_size = graph.check_batch("images", dims[0], max_batch, "images")
    with tf.control_dependencies([check_size]):
        lo, hi = tf.reduce_min(images), tf.reduce_max(images)
        ok = tf.logical_and(tf.reduce_all(tf.math.is_finite(images)),
                            tf.logical_and(lo >= -1.0 - RANGE_TOLERANCE,
                                           hi <= 1.0 + RANGE_TOLERANCE))
        check_range = tf.debugging.Assert(tf.logical_or(tf.equal(tf.size(images), 0), ok), [
            tf.strings.join(["images: expected finite values in [-1, 1], got values in [",
                             tf.strings.as_string(lo), ", ", tf.strings.as_string(hi), "]"])])
    with tf.control_dependencies([check_range]):
        return tf.clip_by_value(images, -1.0, 1.0)


def _decode_pngs(png, shape, max_batch):
    h, w, c = shape
    rank_ok, dims, got = graph.runtime_dims(png, 1)
    check = tf.debugging.Assert(rank_ok, [tf.strings.join([
        "png_bytes: expected a string tensor of shape [batch], got shape ",
        graph.shape_str(got)])])
    with tf.control_dependencies([check]):
        check_size = graph.check_batch("png_bytes", dims[0], max_batch, "images")

    def one(data):
        img = tf.io.decode_png(data, channels=0)
        s = tf.shape(img, out_type=tf.int64)
        fits = tf.reduce_all(tf.equal(s, tf.constant(shape, tf.int64)))
        with tf.control_dependencies([tf.debugging.Assert(fits, [tf.strings.join([
                f"png_bytes: expected {h}x{w} PNGs with {c} channel(s), got ",
                graph.shape_str(s)])])]):
            return tf.reshape(img, shape)

    with tf.control_dependencies([check_size]):
        pixels = tf.map_fn(one, png, fn_output_signature=tf.TensorSpec(shape, tf.uint8))
    return tf.cast(pixels, tf.float32) / 127.5 - 1.0


def _uint8(x):
    # Same arithmetic as kgan.data.to_uint8 (round half to even, clip).
    return tf.cast(tf.clip_by_value(tf.round((x + 1.0) * 127.5), 0.0, 255.0), tf.uint8)


def _direction_functions(fn, src, max_batch):
    """The numeric and PNG bodies of one direction (closures: a saved signature
    cannot have Python default arguments)."""
    def run(x):
        return tf.clip_by_value(tf.cast(fn(x, training=False), tf.float32), -1.0, 1.0)

    def numeric(images):
        out = run(_check_images(images, src, max_batch))
        return {"images": out, "images_uint8": _uint8(out)}

    def png(png_bytes):
        out = _uint8(run(_decode_pngs(png_bytes, src, max_batch)))
        return {"png_bytes": tf.map_fn(tf.io.encode_png, out,
                                       fn_output_signature=tf.TensorSpec([], tf.string))}

    return numeric, png


def build_module(model, max_batch):
    """``(tf.Module, signatures)`` over the model's generators, one pair per direction."""
    root = tf.Module(name="kgan_translator")
    root.generator_variables = [graph.tf_variable(v) for net in model.exported_networks()
                                for v in net.variables]
    signatures = {}
    for name, (src, dst, fn) in model.directions().items():
        src = tuple(int(d) for d in src)
        numeric, png = _direction_functions(fn, src, max_batch)
        signatures[name] = tf.function(numeric, autograph=False, input_signature=[
            tf.TensorSpec([None] + list(src), tf.float32, name="images")])
        if src[-1] in (1, 2, 3, 4) and dst[-1] in (1, 2, 3, 4):
            signatures[png_signature(name)] = tf.function(png, autograph=False, input_signature=[
                tf.TensorSpec([None], tf.string, name="png_bytes")])
    if base.DEFAULT_SIGNATURE not in signatures:
        first = next(iter(model.directions()))
        signatures[base.DEFAULT_SIGNATURE] = signatures[first]
    for name, fn in signatures.items():
        setattr(root, name, fn)
    return root, signatures


def _warmup(model_name, model, signatures, batch_sizes):
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    directions = model.directions()
    records = []
    for batch in batch_sizes:
        for name in signatures:
            numeric = not (name.endswith(PNG_SUFFIX) or name == DEFAULT_PNG)
            key = next((d for d in directions if name in (d, png_signature(d))),
                       next(iter(directions)))
            src = tuple(directions[key][0])
            zeros = np.zeros((batch,) + src, np.float32)
            value = zeros if numeric else np.array(
                [tf.io.encode_png(np.full(src, 128, np.uint8)).numpy()] * batch, object)
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
            request.inputs["images" if numeric else "png_bytes"].CopyFrom(
                tf.make_tensor_proto(value))
            records.append(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
    return records


def export_translator(model, base_dir, model_name="translator", version=None, warmup=True,
                      max_batch=base.DEFAULT_MAX_BATCH):
    """Writes an image-to-image model as a TF Serving SavedModel version.

    Args:
        model: a :class:`kgan.Pix2Pix`, :class:`kgan.CycleGAN` or
            :class:`kgan.SRGAN` (anything with ``directions()`` and
            ``exported_networks()``).
        base_dir: folder holding one folder per served model.
        model_name: the served model's name.
        version: positive int; ``None``: one more than the highest existing.
        warmup: ``True`` (batch 1), batch sizes, or ``False``.
        max_batch: most images one request may send (default 1024).

    Returns:
        The version directory's path.

    Example:
        >>> export_translator(srgan, "serving/models", "mnist_sr4")
        'serving/models/mnist_sr4/1'
    """
    base._check_max_batch(max_batch)
    root, signatures = build_module(model, int(max_batch))
    metadata = {
        "format": 1, "kind": "image_to_image", "model_class": type(model).__name__,
        "directions": {name: {"source_shape": list(s), "target_shape": list(t)}
                       for name, (s, t, _) in model.directions().items()},
        "source_shape": list(model.source_shape), "target_shape": list(model.target_shape),
        "data_shape": list(model.target_shape), "latent_dim": None, "num_classes": None,
        "signatures": sorted(signatures),
    }
    return base.write_version(root, signatures, base_dir, model_name, version, warmup, max_batch,
                              lambda sizes: _warmup(model_name, model, signatures, sizes),
                              metadata)


def translate_from_export(path, images, direction=base.DEFAULT_SIGNATURE, batch_size=256):
    """Runs an export's numeric signature on ``images`` (plain TensorFlow).

    Returns what ``model.translate(images, direction=...)`` returns on the
    exported model.

    Example:
        >>> out = translate_from_export("serving/models/edges2digits", edges[:8])
    """
    path = base._resolve_version_dir(path)
    meta = base.read_export_metadata(path)
    fn = base.load_export(path).signatures[direction]
    batch_size = max(1, min(int(batch_size), meta["max_batch"]))
    x = np.asarray(images, np.float32)
    return np.concatenate([fn(images=tf.constant(x[i:i + batch_size]))["images"].numpy()
                           for i in range(0, len(x), batch_size)], 0)
