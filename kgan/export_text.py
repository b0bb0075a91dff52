"""Export a text-to-image GAN for TF Serving: sentences in, images out.

Same layout, atomic write, warmup file, request cap and plain-TensorFlow
loading as :mod:`kgan.export` (``export_generator`` calls
:func:`export_text_generator` for these models). The tokenizer is TensorFlow
ops (:func:`kgan.text.tokenize`) and the frozen text encoder's weights are
saved beside the generator's, so the server turns strings into images with
nothing outside the SavedModel. Signatures:

- ``serving_default``: input ``text`` string ``[batch]``; image ``i`` uses
  latent seed ``i``. Outputs ``images`` float32 ``[batch, H, W, C]`` in
  [-1, 1] and ``images_uint8``.
- ``generate_from_seed``: inputs ``text`` and ``seed`` int64 ``[batch]``
  (one seed per sentence); same outputs. Equals ``model.generate(texts,
  seed=s)`` row by row.
- ``generate_png``: inputs ``text`` and ``seed``; output ``png_bytes``.

Checked inside the signature, before any network runs, each failing with
INVALID_ARGUMENT naming the limit: an empty (or whitespace-only) sentence,
a sentence over ``max_chars`` characters (96 by default; counted after
lower-casing and collapsing spaces, in Unicode characters), more sentences
than ``max_batch``, a ``seed`` whose length differs from ``text``'s.

Example:
    >>> path = export_text_generator(gan, "serving/models", "mnist_text")
    >>> images = generate_from_text_export(path, ["a thick seven"], seed=0)
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kgan import export as base
from kgan import export_graph as graph
from kgan import noise as noise_lib
from kgan import text as text_lib


def _check_text(text, max_chars, max_batch):
    rank_ok, dims, got = graph.runtime_dims(text, 1)
    check = tf.debugging.Assert(rank_ok, [tf.strings.join([
        "text: expected a string tensor of shape [batch], got shape ", graph.shape_str(got)])])
    with tf.control_dependencies([check]):
        check_size = graph.check_batch("text", dims[0], max_batch, "sentences")
    with tf.control_dependencies([check_size]):
        n = text_lib.lengths(text)
        empty = tf.debugging.Assert(tf.reduce_all(n > 0), [tf.strings.join([
            "text: expected non-empty sentences, got an empty one at row ",
            tf.strings.as_string(tf.argmin(n))])])
        long = tf.debugging.Assert(tf.reduce_all(n <= max_chars), [tf.strings.join([
            f"text: expected at most {max_chars} characters per sentence (max_chars), got ",
            tf.strings.as_string(tf.reduce_max(n)), " at row ",
            tf.strings.as_string(tf.argmax(n))])])
    with tf.control_dependencies([empty, long]):
        return text_lib.tokenize(text, max_chars)


def _check_seed(seed, text):
    seed = graph.check_seed(seed, np.iinfo(np.int64).max)
    same = tf.equal(tf.size(seed), tf.size(text))
    check = tf.debugging.Assert(same, [tf.strings.join([
        "seed: expected one seed per sentence, i.e. [", tf.strings.as_string(tf.size(text)),
        "], got [", tf.strings.as_string(tf.size(seed)), "]"])])
    with tf.control_dependencies([check]):
        return tf.identity(seed)


def build_module(model, max_batch):
    """``(tf.Module, signatures)``: tokenizer, encoder and generator in one graph."""
    generator = graph.exported_generator(model)
    encoder, max_chars = model.text_encoder, model.max_chars
    latents = getattr(model, "latents_from_seeds", None) or (
        lambda s: noise_lib.latents_from_seeds(s, model.latent_dim))

    def images(text, seed):
        tokens = _check_text(text, max_chars, max_batch)
        seed = _check_seed(seed, text)
        emb = tf.cast(encoder(tokens, training=False), tf.float32)
        out = tf.cast(generator([latents(seed), emb], training=False), tf.float32)
        out = tf.clip_by_value(out, -1.0, 1.0)
        pixels = tf.cast(tf.clip_by_value(tf.round((out + 1.0) * 127.5), 0.0, 255.0), tf.uint8)
        return {"images": out, "images_uint8": pixels}

    def default(text):
        return images(text, tf.range(tf.size(text, out_type=tf.int64), dtype=tf.int64))

    def png(text, seed):
        pixels = images(text, seed)["images_uint8"]
        return {"png_bytes": tf.map_fn(tf.io.encode_png, pixels,
                                       fn_output_signature=tf.TensorSpec([], tf.string))}

    text_spec = tf.TensorSpec([None], tf.string, name="text")
    seed_spec = tf.TensorSpec([None], tf.int64, name="seed")
    signatures = {
        base.DEFAULT_SIGNATURE: tf.function(default, input_signature=[text_spec],
                                            autograph=False),
        base.SEED_SIGNATURE: tf.function(images, input_signature=[text_spec, seed_spec],
                                         autograph=False),
    }
    if graph.png_supported(model.data_shape):
        signatures[base.PNG_SIGNATURE] = tf.function(png, input_signature=[text_spec, seed_spec],
                                                     autograph=False)
    root = tf.Module(name="kgan_text_generator")
    root.generator_variables = [graph.tf_variable(v)
                                for v in encoder.variables + generator.variables]
    for name, fn in signatures.items():
        setattr(root, name, fn)
    return root, signatures


def _warmup(model_name, signatures, batch_sizes):
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    records = []
    for batch in batch_sizes:
        text = np.array([b"a digit"] * batch, object)
        for name in signatures:
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
            request.inputs["text"].CopyFrom(tf.make_tensor_proto(text))
            if name != base.DEFAULT_SIGNATURE:
                request.inputs["seed"].CopyFrom(tf.make_tensor_proto(np.arange(batch,
                                                                               dtype=np.int64)))
            records.append(prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request)).SerializeToString())
    return records


def export_text_generator(model, base_dir, model_name="text_to_image", version=None,
                          warmup=True, max_batch=base.DEFAULT_MAX_BATCH):
    """Writes a :class:`kgan.TextToImageGAN` as a TF Serving SavedModel version.

    Args:
        model: the text-to-image model (its EMA generator when it keeps one).
        base_dir: folder holding one folder per served model.
        model_name: the served model's name.
        version: positive int; ``None``: one more than the highest existing.
        warmup: ``True`` (batch 1), batch sizes, or ``False``.
        max_batch: most sentences one request may send (default 1024).

    Returns:
        The version directory's path.

    Example:
        >>> export_text_generator(gan, "serving/models", "mnist_text")
        'serving/models/mnist_text/1'
    """
    base._check_max_batch(max_batch)
    root, signatures = build_module(model, int(max_batch))
    metadata = {
        "format": 1, "kind": "text_to_image", "model_class": type(model).__name__,
        "latent_dim": int(model.latent_dim), "num_classes": None,
        "data_shape": list(model.data_shape), "max_chars": model.max_chars,
        "signatures": sorted(signatures),
        "exported_network": "ema_generator" if graph.exported_generator(model)
                            is not model.generator else "generator",
    }
    return base.write_version(root, signatures, base_dir, model_name, version, warmup, max_batch,
                              lambda sizes: _warmup(model_name, signatures, sizes), metadata)


def generate_from_text_export(path, texts, seed=0, batch_size=256):
    """Runs an export's ``generate_from_seed`` on sentences (plain TensorFlow).

    Returns what ``model.generate(texts, seed=seed)`` returns on the
    exported model: sentence ``i`` uses seed ``seed + i``.

    Example:
        >>> generate_from_text_export("serving/models/mnist_text", ["a thin 1"]).shape
        (1, 28, 28, 1)
    """
    path = base._resolve_version_dir(path)
    meta = base.read_export_metadata(path)
    texts = text_lib.check_texts(texts, meta["max_chars"])
    fn = base.load_export(path).signatures[base.SEED_SIGNATURE]
    batch_size = max(1, min(int(batch_size), meta["max_batch"]))
    seeds = np.arange(seed, seed + len(texts), dtype=np.int64)
    enc = [t.encode() if isinstance(t, str) else bytes(t) for t in texts]
    return np.concatenate([
        fn(text=tf.constant(enc[i:i + batch_size]),
           seed=tf.constant(seeds[i:i + batch_size]))["images"].numpy()
        for i in range(0, len(enc), batch_size)], 0)
