"""What runs inside an exported generator's signatures: input checks and the module.

Every check is made of TensorFlow ops, before the generator runs: TF Serving
feeds request tensors to the graph without checking them against the
signature's shapes. :mod:`kgan.export` writes the module as a SavedModel;
:mod:`kgan.export_translation` and :mod:`kgan.anomaly` reuse the checks.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from kgan import noise as noise_lib

DEFAULT_SIGNATURE = "serving_default"
SEED_SIGNATURE = "generate_from_seed"
PNG_SIGNATURE = "generate_png"
PNG_SEED_SIGNATURE = "generate_png_from_seed"
CODES_SIGNATURE = "generate_from_codes"
SERVE_TAG = "serve"
WARMUP_FILE = "tf_serving_warmup_requests"
METADATA_FILE = "kgan_export.json"
ASSETS_EXTRA = "assets.extra"
LABEL_DTYPE = tf.int64
# TF Serving reads at most this many warmup records.
MAX_WARMUP_RECORDS = 1000


# --------------------------------------------------------------- in-graph checks
def runtime_shape(t):
    """``t``'s shape as an int64 vector known only at run time.

    The signature declares each input's rank, and Grappler folds Rank, Size
    and tf.shape lengths from it, which would turn a rank check into a
    no-op for exactly the requests that break the declaration. A
    serialize/parse round trip of the (tiny) shape vector hides its length
    from the optimizer.
    """
    shape = tf.raw_ops.Shape(input=t, out_type=tf.int64)
    return tf.io.parse_tensor(tf.io.serialize_tensor(shape), out_type=tf.int64)


def shape_str(shape):
    """'[d0, d1, ...]' for a runtime shape vector, as a string tensor."""
    dims = tf.strings.as_string(shape)
    return tf.strings.join(["[", tf.strings.reduce_join(dims, separator=", "), "]"])


def runtime_dims(t, rank):
    """``(rank_ok, dims, shape)``: dims padded with -1 so dims[i] exists for i < rank."""
    shape = runtime_shape(t)
    dims = tf.concat([shape, tf.fill([rank], tf.constant(-1, tf.int64))], 0)
    return tf.equal(tf.size(shape), rank), dims, shape


def check_batch(name, rows, max_batch, unit):
    """Asserts ``rows <= max_batch``: the request cap set at export time."""
    return tf.debugging.Assert(rows <= max_batch, [tf.strings.join([
        f"{name}: expected at most {max_batch} {unit} per request (max_batch, set at "
        f"export), got ", tf.strings.as_string(rows)])])


def check_z(z, latent_dim, max_batch):
    rank_ok, dims, shape = runtime_dims(z, 2)
    shape_ok = tf.logical_and(rank_ok, tf.equal(dims[1], latent_dim))
    check_shape = tf.debugging.Assert(shape_ok, [tf.strings.join([
        f"z: expected a float32 tensor of shape [batch, {latent_dim}], got shape ",
        shape_str(shape)])])
    with tf.control_dependencies([check_shape]):
        # Before the finite check and the generator, so an oversized request
        # costs the server nothing beyond its parsing.
        check_size = check_batch("z", dims[0], max_batch, "rows")
    with tf.control_dependencies([check_size]):
        finite = tf.reduce_all(tf.math.is_finite(z))
        check_finite = tf.debugging.Assert(finite, [
            "z: expected finite values, got NaN or Inf"])
    with tf.control_dependencies([check_finite]):
        return tf.identity(z)


def check_seed(seed, max_batch):
    rank_ok, dims, shape = runtime_dims(seed, 1)
    check = tf.debugging.Assert(rank_ok, [tf.strings.join([
        "seed: expected an int64 tensor of shape [batch], got shape ", shape_str(shape)])])
    with tf.control_dependencies([check]):
        check_size = check_batch("seed", dims[0], max_batch, "seeds")
    with tf.control_dependencies([check_size]):
        return tf.identity(seed)


def check_labels(labels, batch, num_classes, batch_from):
    rank_ok, dims, shape = runtime_dims(labels, 1)
    shape_ok = tf.logical_and(rank_ok, tf.equal(dims[0], tf.cast(batch, tf.int64)))
    check_shape = tf.debugging.Assert(shape_ok, [tf.strings.join([
        f"labels: expected an int64 tensor of shape [batch], one label per {batch_from}, "
        "i.e. [", tf.strings.as_string(batch), "], got shape ", shape_str(shape)])])
    with tf.control_dependencies([check_shape]):
        flat = tf.reshape(labels, [-1])
        in_range = tf.reduce_all(tf.logical_and(flat >= 0, flat < num_classes))
        check_range = tf.debugging.Assert(in_range, [tf.strings.join([
            f"labels: expected class ids in [0, {num_classes}), got values in [",
            tf.strings.as_string(tf.reduce_min(flat)), ", ",
            tf.strings.as_string(tf.reduce_max(flat)), "]"])])
    with tf.control_dependencies([check_range]):
        # Safe after the range check: values fit int32.
        return tf.cast(labels, tf.int32)


# ----------------------------------------------------------------- the module
def exported_generator(model):
    """The network to export: the EMA generator when the model keeps one."""
    return model.sampling_network()


def tf_variable(v):
    inner = getattr(v, "value", v)
    if not isinstance(inner, tf.Variable):
        raise TypeError(f"Cannot export variable {getattr(v, 'path', v)!r}: expected a "
                        f"TensorFlow-backed variable, got {type(inner).__name__}.")
    return inner


def is_image(data_shape):
    return len(data_shape) == 3


def png_supported(data_shape):
    return is_image(data_shape) and data_shape[-1] in (1, 2, 3, 4)


def signature_specs(latent_dim, num_classes):
    z = tf.TensorSpec([None, latent_dim], tf.float32, name="z")
    seed = tf.TensorSpec([None], tf.int64, name="seed")
    labels = tf.TensorSpec([None], LABEL_DTYPE, name="labels")
    if num_classes:
        return [z, labels], [seed, labels]
    return [z], [seed]


def check_codes(seed, categorical_ids, values, categorical, continuous):
    """In-signature checks of InfoGAN codes: one row per seed, categories in range, finite."""
    batch = tf.size(seed, out_type=tf.int64)
    checks = []
    if categorical:
        m = len(categorical)
        rank_ok, dims, shape = runtime_dims(categorical_ids, 2)
        ok = tf.logical_and(rank_ok, tf.logical_and(tf.equal(dims[0], batch),
                                                    tf.equal(dims[1], m)))
        check = tf.debugging.Assert(ok, [tf.strings.join([
            f"categorical: expected an int64 tensor of shape [batch, {m}], one row per seed, "
            "i.e. [", tf.strings.as_string(batch), f", {m}], got shape ", shape_str(shape)])])
        with tf.control_dependencies([check]):
            ids = tf.reshape(categorical_ids, [-1, m])
            limits = tf.constant(categorical, tf.int64)
            in_range = tf.reduce_all(tf.logical_and(ids >= 0, ids < limits[None, :]))
            checks.append(tf.debugging.Assert(in_range, [tf.strings.join([
                f"categorical: expected code j in [0, k_j) with k = {list(categorical)}, got "
                "values in [", tf.strings.as_string(tf.reduce_min(ids)), ", ",
                tf.strings.as_string(tf.reduce_max(ids)), "]"])]))
    if continuous:
        rank_ok, dims, shape = runtime_dims(values, 2)
        ok = tf.logical_and(rank_ok, tf.logical_and(tf.equal(dims[0], batch),
                                                    tf.equal(dims[1], continuous)))
        check = tf.debugging.Assert(ok, [tf.strings.join([
            f"continuous: expected a float32 tensor of shape [batch, {continuous}], one row per "
            "seed, i.e. [", tf.strings.as_string(batch), f", {continuous}], got shape ",
            shape_str(shape)])])
        with tf.control_dependencies([check]):
            checks.append(tf.debugging.Assert(tf.reduce_all(tf.math.is_finite(values)), [
                "continuous: expected finite values, got NaN or Inf"]))
    with tf.control_dependencies(checks):
        return (tf.identity(categorical_ids) if categorical else None,
                tf.identity(values) if continuous else None)


def build_module(generator, latent_dim, num_classes, data_shape, max_batch,
                  seed_latents=None, codes=None):
    """A ``tf.Module`` holding the generator's variables and the signatures.

    ``seed_latents(seeds)`` maps seeds to latents (default
    :func:`kgan.noise.latents_from_seeds`); ``codes`` is ``(noise_dim,
    categorical, continuous, latents_from_codes)`` for models with latent
    codes (InfoGAN), which adds the ``generate_from_codes`` signature.
    """
    image = is_image(data_shape)
    seed_latents = seed_latents or (lambda s: noise_lib.latents_from_seeds(s, latent_dim))
    png = png_supported(data_shape)

    def run_generator(z, labels):
        inputs = [z, labels] if num_classes else z
        out = tf.cast(generator(inputs, training=False), tf.float32)
        return tf.clip_by_value(out, -1.0, 1.0) if image else out

    def numeric_outputs(samples):
        if not image:
            return {"samples": samples}
        # Same arithmetic as kgan.data.to_uint8 (round half to even, clip).
        pixels = tf.cast(tf.clip_by_value(tf.round((samples + 1.0) * 127.5), 0.0, 255.0),
                         tf.uint8)
        return {"images": samples, "images_uint8": pixels}

    def png_outputs(samples):
        pixels = numeric_outputs(samples)["images_uint8"]
        encoded = tf.map_fn(tf.io.encode_png, pixels,
                            fn_output_signature=tf.TensorSpec([], tf.string))
        return {"png_bytes": encoded}

    def from_z(z, labels=None):
        z = check_z(z, latent_dim, max_batch)
        if num_classes:
            labels = check_labels(labels, tf.shape(z)[0], num_classes, "row of z")
        return run_generator(z, labels)

    def from_seed(seed, labels=None):
        seed = check_seed(seed, max_batch)
        if num_classes:
            labels = check_labels(labels, tf.size(seed), num_classes, "seed")
        z = seed_latents(seed)
        return run_generator(z, labels)

    z_specs, seed_specs = signature_specs(latent_dim, num_classes)
    root = tf.Module(name="kgan_generator")
    # Track the variables only, not the Keras objects, so the export loads
    # with plain TensorFlow. Track the tf.Variable inside each Keras variable:
    # that is what the functions capture, and a Keras variable saves as a
    # separate copy that TF1-style loaders (TF Serving, the C API) restore
    # while the functions keep reading the never-restored original.
    root.generator_variables = [tf_variable(v) for v in generator.variables]

    def signature(body, outputs, specs):
        if num_classes:
            def fn(a, labels):
                return outputs(body(a, labels))
        else:
            def fn(a):
                return outputs(body(a))
        return tf.function(fn, input_signature=specs, autograph=False)

    signatures = {
        DEFAULT_SIGNATURE: signature(from_z, numeric_outputs, z_specs),
        SEED_SIGNATURE: signature(from_seed, numeric_outputs, seed_specs),
    }
    if png:
        signatures[PNG_SIGNATURE] = signature(from_z, png_outputs, z_specs)
        signatures[PNG_SEED_SIGNATURE] = signature(from_seed, png_outputs, seed_specs)
    if codes is not None:
        _, categorical, continuous, from_codes = codes
        specs = [tf.TensorSpec([None], tf.int64, name="seed")]
        specs += [tf.TensorSpec([None, len(categorical)], tf.int64, name="categorical")] \
            if categorical else []
        specs += [tf.TensorSpec([None, continuous], tf.float32, name="continuous")] \
            if continuous else []

        def with_codes(seed, *given):
            seed = check_seed(seed, max_batch)
            given = list(given)
            ids = given.pop(0) if categorical else None
            values = given.pop(0) if continuous else None
            ids, values = check_codes(seed, ids, values, categorical, continuous)
            return numeric_outputs(run_generator(from_codes(seed, ids, values), None))

        signatures[CODES_SIGNATURE] = tf.function(with_codes, input_signature=specs,
                                                  autograph=False)
    for name, fn in signatures.items():
        setattr(root, name, fn)
    return root, signatures


# ------------------------------------------------------------------- warmup
def warmup_requests(model_name, signatures, latent_dim, num_classes, batch_sizes, codes=None):
    """One PredictionLog per signature and batch size, with valid inputs."""
    from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

    rng = np.random.default_rng(0)
    records = []
    for batch in batch_sizes:
        z = rng.standard_normal((batch, latent_dim)).astype(np.float32)
        seed = np.arange(batch, dtype=np.int64)
        labels = (np.arange(batch) % num_classes).astype(np.int64) if num_classes else None
        for name in signatures:
            first = {"z": z} if name in (DEFAULT_SIGNATURE, PNG_SIGNATURE) else {"seed": seed}
            if name == CODES_SIGNATURE:
                if codes[1]:
                    first["categorical"] = np.zeros((batch, len(codes[1])), np.int64)
                if codes[2]:
                    first["continuous"] = np.zeros((batch, codes[2]), np.float32)
            if labels is not None:
                first["labels"] = labels
            request = predict_pb2.PredictRequest(
                model_spec=model_pb2.ModelSpec(name=model_name, signature_name=name))
            for key, value in first.items():
                request.inputs[key].CopyFrom(tf.make_tensor_proto(value))
            log = prediction_log_pb2.PredictionLog(
                predict_log=prediction_log_pb2.PredictLog(request=request))
            records.append(log.SerializeToString())
    if len(records) > MAX_WARMUP_RECORDS:
        raise ValueError(f"{len(records)} warmup records; TF Serving reads at most "
                         f"{MAX_WARMUP_RECORDS}. Use fewer warmup batch sizes.")
    return records
