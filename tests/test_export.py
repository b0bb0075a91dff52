"""Proof that an export serves, without the TF Serving binary.

- a fresh Python process that imports only TensorFlow loads each export and
  runs every signature; the results equal the model's own ``generate``;
- TensorFlow's native loader (``TF_LoadSessionFromSavedModel``, the loader TF
  Serving uses) runs the signatures from ``serving/native_check.c``, with no
  Python in the process, and gives Python's numbers;
- ``saved_model_cli show --all`` lists the documented signatures;
- the warmup records parse and match the signatures;
- every bad input fails inside the signature with a clear INVALID_ARGUMENT.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tensorflow.core.protobuf import saved_model_pb2

import kgan
from kgan import export
from kgan.data import to_uint8

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LATENT = 8
NUM_CLASSES = 3
N = 5
SEED0 = 3
LABELS = np.array([0, 2, 1, 2, 0])
TF_INVALID_ARGUMENT = 3  # TF_Code / grpc code of INVALID_ARGUMENT


# ------------------------------------------------------------------ models
def perturb(generator, seed):
    """Moves every weight (batch-norm statistics too) off its initial value,
    so an export that failed to restore any variable gives different numbers."""
    rng = np.random.default_rng(seed)
    for v in generator.variables:
        value = np.asarray(v.numpy())
        noise = rng.normal(0.0, 0.1, value.shape).astype(value.dtype)
        if "variance" in v.path:
            v.assign(np.abs(value + noise) + 0.5)
        else:
            v.assign(value + noise)


def tiny_dcgan(num_classes=None, seed=0, **kwargs):
    model = kgan.DCGAN(data_shape=(28, 28, 1), latent_dim=LATENT, num_classes=num_classes,
                       generator_options={"base_filters": 8},
                       discriminator_options={"base_filters": 8}, seed=0, **kwargs)
    perturb(model.generator, seed)
    return model


def tiny_mlp():
    model = kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp",
                     generator_options={"hidden_units": (16,)},
                     discriminator_options={"hidden_units": (16,)}, seed=0)
    perturb(model.generator, 7)
    # Outputs well outside [-1, 1]: non-image samples must not be clipped.
    out = model.generator.get_layer("output")
    out.kernel.assign(out.kernel.numpy() * 20.0)
    return model


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """One export per model kind, shared by the module's tests."""
    base = str(tmp_path_factory.mktemp("models"))
    models = {"dcgan": tiny_dcgan(), "cgan": tiny_dcgan(NUM_CLASSES, seed=1), "mlp": tiny_mlp()}
    paths = {name: export.export_generator(m, base, model_name=name)
             for name, m in models.items()}
    return {"base": base, "models": models, "paths": paths}


def inputs_for(model, signature, z=None, seeds=None, labels=None):
    """Signature inputs for the module's reference z / seeds / labels."""
    rng = np.random.default_rng(11)
    z = rng.standard_normal((N, model.latent_dim)).astype(np.float32) if z is None else z
    seeds = np.arange(SEED0, SEED0 + N, dtype=np.int64) if seeds is None else seeds
    labels = LABELS if labels is None else labels
    out = {"seed": seeds} if "seed" in signature else {"z": z}
    if model.num_classes:
        out["labels"] = np.asarray(labels, np.int64)
    return out


def expected_samples(model, inputs):
    """What the model's own generate gives for these inputs."""
    labels = inputs.get("labels")
    if "seed" in inputs:
        return model.generate(N, seed=int(inputs["seed"][0]), labels=labels)
    return model.generate(z=inputs["z"], labels=labels)


def signature_names(model):
    names = {"serving_default", "generate_from_seed"}
    return names | {"generate_png", "generate_png_from_seed"} if len(model.data_shape) == 3 \
        else names


def assert_same(actual, expected):
    """Equal up to float32 rounding (matmuls round differently per batch size)."""
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


# ------------------------------------------------------- layout, versions
def test_layout_and_metadata(exported):
    for name, path in exported["paths"].items():
        assert path == os.path.join(exported["base"], name, "1")
        assert os.path.exists(os.path.join(path, "saved_model.pb"))
        meta = export.read_export_metadata(path)
        model = exported["models"][name]
        assert meta["latent_dim"] == model.latent_dim
        assert meta["num_classes"] == model.num_classes
        assert tuple(meta["data_shape"]) == model.data_shape
        assert set(meta["signatures"]) == signature_names(model)
        assert meta["exported_network"] == "generator"
        # Nothing but the version directory is left beside it.
        assert os.listdir(os.path.dirname(path)) == ["1"]


def test_versions_count_up_and_are_never_overwritten(exported, tmp_path):
    model = exported["models"]["cgan"]
    base = str(tmp_path)
    first = export.export_generator(model, base, "g", warmup=False)
    marker = os.path.join(first, "saved_model.pb")
    before = os.path.getmtime(marker), os.path.getsize(marker)
    second = export.export_generator(model, base, "g", warmup=[1, 4])
    assert (first, second) == (os.path.join(base, "g", "1"), os.path.join(base, "g", "2"))
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        export.export_generator(model, base, "g", version=1)
    assert (os.path.getmtime(marker), os.path.getsize(marker)) == before
    os.makedirs(os.path.join(base, "g", "7"))  # e.g. a version copied in by hand
    assert export.export_generator(model, base, "g", warmup=False).endswith(os.sep + "8")
    assert sorted(os.listdir(os.path.join(base, "g"))) == ["1", "2", "7", "8"]
    # warmup=False writes no records; a list writes one per signature and size.
    assert not os.path.exists(os.path.join(first, "assets.extra", export.WARMUP_FILE))
    sizes = [log.predict_log.request.inputs["labels"].tensor_shape.dim[0].size
             for log in read_warmup(second)]
    assert sorted(sizes) == [1] * 4 + [4] * 4


def test_a_failed_export_leaves_nothing_behind(exported, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(export, "warmup_requests", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        export.export_generator(exported["models"]["dcgan"], str(tmp_path), "g")
    assert os.listdir(os.path.join(tmp_path, "g")) == []


@pytest.mark.parametrize("kwargs, match", [
    ({"version": 0}, "positive integer"),
    ({"version": "2"}, "positive integer"),
    ({"version": True}, "positive integer"),
    ({"model_name": "a/b"}, "one path component"),
    ({"model_name": ".."}, "one path component"),
    ({"model_name": ""}, "one path component"),
])
def test_bad_export_arguments(exported, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export.export_generator(exported["models"]["dcgan"], str(tmp_path), **kwargs)


def test_ema_generator_is_exported_when_present(exported, tmp_path):
    model = tiny_dcgan(seed=2, ema_decay=0.9)
    ema = model.ema_generator
    perturb(ema, 3)  # as if averaged: different from the raw generator
    path = export.export_generator(model, str(tmp_path), "ema")
    served = export.generate_from_export(path, N, seed=SEED0)
    z = kgan.noise.latents_from_seeds(np.arange(SEED0, SEED0 + N), LATENT)
    assert_same(served, ema(z, training=False).numpy())
    assert_same(served, model.generate(N, seed=SEED0))  # generate samples the EMA too
    assert np.abs(served - model.generate(N, seed=SEED0, raw=True)).max() > 1e-2
    assert export.read_export_metadata(path)["exported_network"] == "ema_generator"


# ------------------------------------------------------ numbers in-process
@pytest.mark.parametrize("name", ["dcgan", "cgan", "mlp"])
def test_generate_from_export_equals_generate(exported, name):
    model, path = exported["models"][name], exported["paths"][name]
    expected = model.generate(N, seed=SEED0)  # default labels for the conditional one
    assert_same(export.generate_from_export(path, N, seed=SEED0), expected)
    # Chunked calls and the model directory (latest version) give the same.
    assert_same(
        export.generate_from_export(os.path.dirname(path), N, seed=SEED0, batch_size=2),
        expected)
    if name == "mlp":
        assert np.abs(expected).max() > 1.0  # not clipped


def test_conditional_labels_change_the_images(exported):
    path = exported["paths"]["cgan"]
    a = export.generate_from_export(path, N, seed=SEED0, labels=[0] * N)
    b = export.generate_from_export(path, N, seed=SEED0, labels=[1] * N)
    assert np.abs(a - b).max() > 1e-3
    assert_same(a, exported["models"]["cgan"].generate(N, seed=SEED0,
                                                                      labels=[0] * N))


def test_non_image_export_has_samples_only(exported):
    sigs = export.load_export(exported["paths"]["mlp"]).signatures
    assert set(sigs) == {"serving_default", "generate_from_seed"}
    for fn in sigs.values():
        assert set(fn.structured_outputs) == {"samples"}


# ------------------------------------------------ 1. fresh TF-only process
FRESH_PROCESS = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf

    spec = json.load(open(sys.argv[1]))
    arrays = np.load(sys.argv[2])
    results = {"signatures": {}}
    out = {}
    for name, path in spec["paths"].items():
        module = tf.saved_model.load(path)
        results["signatures"][name] = sorted(module.signatures)
        for sig_name, fn in module.signatures.items():
            kwargs = {k: tf.constant(arrays[name + "/" + k])
                      for k in fn.structured_input_signature[1]}
            for key, value in fn(**kwargs).items():
                value = value.numpy()
                if value.dtype == object:  # PNG bytes: one uint8 array each
                    for i, b in enumerate(value):
                        out[f"{name}/{sig_name}/{key}/{i}"] = np.frombuffer(b, np.uint8)
                else:
                    out[f"{name}/{sig_name}/{key}"] = value
    np.savez(sys.argv[3], **out)
    results["kgan_imported"] = any(m.split(".")[0] == "kgan" for m in sys.modules)
    json.dump(results, open(sys.argv[4], "w"))
""")


def test_fresh_tensorflow_only_process_runs_every_signature(exported, tmp_path):
    arrays = {}
    for name, model in exported["models"].items():
        z_inputs = inputs_for(model, "serving_default")
        seed_inputs = inputs_for(model, "generate_from_seed")
        arrays.update({f"{name}/{k}": v for k, v in {**z_inputs, **seed_inputs}.items()})
    np.savez(tmp_path / "in.npz", **arrays)
    (tmp_path / "spec.json").write_text(json.dumps({"paths": exported["paths"]}))
    (tmp_path / "script.py").write_text(FRESH_PROCESS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "script.py"), str(tmp_path / "spec.json"),
         str(tmp_path / "in.npz"), str(tmp_path / "out.npz"), str(tmp_path / "res.json")],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((tmp_path / "res.json").read_text())
    # (import tensorflow itself imports keras; the export needs nothing of kgan's.)
    assert results["kgan_imported"] is False
    out = np.load(tmp_path / "out.npz")
    for name, model in exported["models"].items():
        assert set(results["signatures"][name]) == signature_names(model)
        for sig in signature_names(model):
            expected = expected_samples(model, inputs_for(model, sig))
            if len(model.data_shape) != 3:
                assert_same(out[f"{name}/{sig}/samples"], expected)
                continue
            if "png" in sig:
                pngs = np.stack([decode_png(out[f"{name}/{sig}/png_bytes/{i}"].tobytes())
                                 for i in range(N)])
                np.testing.assert_array_equal(pngs[..., None], to_uint8(expected))
                continue
            images = out[f"{name}/{sig}/images"]
            assert_same(images, expected)
            assert images.min() >= -1.0 and images.max() <= 1.0
            np.testing.assert_array_equal(out[f"{name}/{sig}/images_uint8"], to_uint8(images))


# ------------------------------------------------------- 2. native loader
def _signature_defs(path):
    sm = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        sm.ParseFromString(f.read())
    (meta_graph,) = [m for m in sm.meta_graphs if "serve" in m.meta_info_def.tags]
    return meta_graph.signature_def


@pytest.fixture(scope="module")
def native_check(tmp_path_factory):
    """serving/native_check.c compiled against the tensorflow wheel's C library."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed, so the native-loader check cannot be compiled")
    tf_dir = os.path.dirname(tf.__file__)
    lib = os.path.join(tf_dir, "libtensorflow_cc.so.2")
    header = os.path.join(tf_dir, "include", "tensorflow", "c", "c_api.h")
    assert os.path.exists(lib) and os.path.exists(header), "the tensorflow wheel lacks its C API"
    binary = str(tmp_path_factory.mktemp("native") / "native_check")
    cmd = [gcc, "-O1", "-Wall", os.path.join(ROOT, "serving", "native_check.c"),
           "-I" + os.path.join(tf_dir, "include"), "-L" + tf_dir, "-l:libtensorflow_cc.so.2",
           "-l:libtensorflow_framework.so.2", "-Wl,-rpath," + tf_dir, "-o", binary]
    # gold links against the 1 GB library in ~2 s; GNU ld takes ~15 s.
    proc = subprocess.run(cmd[:1] + ["-fuse-ld=gold"] + cmd[1:], capture_output=True,
                          text=True, timeout=300)
    if proc.returncode != 0:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return binary


_C_DTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double",
             np.dtype(np.int32): "int32", np.dtype(np.int64): "int64",
             np.dtype(np.uint8): "uint8"}
_TF_DTYPE_TO_NP = {1: np.float32, 2: np.float64, 3: np.int32, 4: np.uint8, 9: np.int64}
TF_STRING = 7


def run_native(binary, path, signature, inputs, outputs, tmp_path):
    """Runs ``signature`` of the export with native_check.

    Tensor names come from the export's MetaGraphDef, as TF Serving finds them.
    A list of bytes in ``inputs`` is fed as a string tensor ``[len]``.
    Returns ``(returncode, {output: array or list of bytes}, stderr)``.
    """
    sig = _signature_defs(path)[signature]
    args = [binary, path, str(tmp_path / "native_out.bin")]
    for key, value in inputs.items():
        raw = tmp_path / f"native_in_{key}.bin"
        if isinstance(value, list):  # strings: (int64 length, bytes) each
            raw.write_bytes(b"".join(struct.pack("<q", len(b)) + b for b in value))
            args.append(f"feed:{sig.inputs[key].name}=string:{len(value)}:{raw}")
            continue
        value = np.ascontiguousarray(value)
        value.tofile(raw)
        dims = "x".join(str(d) for d in value.shape)
        args.append(f"feed:{sig.inputs[key].name}={_C_DTYPES[value.dtype]}:{dims}:{raw}")
    args += [f"fetch:{sig.outputs[key].name}" for key in outputs]
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if proc.returncode != 0:
        return proc.returncode, None, proc.stderr
    data = (tmp_path / "native_out.bin").read_bytes()
    results, offset = {}, 0
    for key in outputs:
        dtype, rank = struct.unpack_from("<ii", data, offset)
        offset += 8
        dims = struct.unpack_from(f"<{rank}q", data, offset)
        offset += 8 * rank
        (nbytes,) = struct.unpack_from("<q", data, offset)
        offset += 8
        body = data[offset:offset + nbytes]
        offset += nbytes
        if dtype == TF_STRING:
            items, pos = [], 0
            while pos < len(body):
                (length,) = struct.unpack_from("<q", body, pos)
                items.append(body[pos + 8:pos + 8 + length])
                pos += 8 + length
            results[key] = items
        else:
            results[key] = np.frombuffer(body, _TF_DTYPE_TO_NP[dtype]).reshape(dims)
    return 0, results, proc.stderr


@pytest.mark.parametrize("name", ["dcgan", "cgan", "mlp"])
def test_native_loader_serves_default_signature_like_python(exported, native_check, tmp_path,
                                                            name):
    model, path = exported["models"][name], exported["paths"][name]
    inputs = inputs_for(model, "serving_default")
    image = len(model.data_shape) == 3
    keys = ["images", "images_uint8"] if image else ["samples"]
    rc, out, err = run_native(native_check, path, "serving_default", inputs, keys, tmp_path)
    assert rc == 0, err
    python = export.load_export(path).signatures["serving_default"](
        **{k: tf.constant(v) for k, v in inputs.items()})
    assert_same(out[keys[0]], python[keys[0]].numpy())
    assert_same(out[keys[0]], expected_samples(model, inputs))
    if image:
        np.testing.assert_array_equal(out["images_uint8"], python["images_uint8"].numpy())


def test_native_loader_serves_seeded_and_png_signatures(exported, native_check, tmp_path):
    model, path = exported["models"]["cgan"], exported["paths"]["cgan"]
    seeded = inputs_for(model, "generate_from_seed")
    expected = model.generate(N, seed=SEED0, labels=LABELS)
    rc, out, err = run_native(native_check, path, "generate_from_seed", seeded, ["images"],
                              tmp_path)
    assert rc == 0, err
    assert_same(out["images"], expected)
    rc, out, err = run_native(native_check, path, "generate_png_from_seed", seeded,
                              ["png_bytes"], tmp_path)
    assert rc == 0, err
    assert len(out["png_bytes"]) == N
    pngs = np.stack([decode_png(b) for b in out["png_bytes"]])[..., None]
    np.testing.assert_array_equal(pngs, to_uint8(expected))


def _i64(*values):
    return np.array(values, np.int64)


NATIVE_BAD_INPUTS = [
    ("serving_default", {"z": np.zeros((2, 9), np.float32), "labels": _i64(0, 1)},
     "z: expected a float32 tensor of shape [batch, 8], got shape [2, 9]"),
    ("serving_default", {"z": np.zeros((8,), np.float32), "labels": _i64(0)},
     "z: expected a float32 tensor of shape [batch, 8], got shape [8]"),
    ("serving_default", {"z": np.zeros((2, 8), np.float64), "labels": _i64(0, 1)},
     "to be float but double is provided"),
    ("serving_default", {"z": np.zeros((2, 8), np.float32),
                         "labels": np.array([0, 1], np.int32)},
     "to be int64 but int32 is provided"),
    ("serving_default", {"z": np.zeros((2, 8), np.float32), "labels": _i64(0, 3)},
     "labels: expected class ids in [0, 3), got values in [0, 3]"),
    ("generate_from_seed", {"seed": _i64(0, 1), "labels": _i64(-1, 2)},
     "labels: expected class ids in [0, 3), got values in [-1, 2]"),
    ("serving_default", {"z": np.zeros((2, 8), np.float32), "labels": _i64(0, 1)[:, None]},
     "one label per row of z, i.e. [2], got shape [2, 1]"),
    ("generate_from_seed", {"seed": _i64(0, 1)[None], "labels": _i64(0, 1)},
     "seed: expected an int64 tensor of shape [batch], got shape [1, 2]"),
    ("generate_png", {"z": np.zeros((2, 8), np.float32), "labels": _i64(0, 1, 2)},
     "labels: expected an int64 tensor of shape [batch], one label per row of z, i.e. [2], "
     "got shape [3]"),
]


@pytest.mark.parametrize("signature, inputs, message", NATIVE_BAD_INPUTS)
def test_native_loader_rejects_bad_inputs_clearly(exported, native_check, tmp_path, signature,
                                                  inputs, message):
    outputs = ["png_bytes"] if "png" in signature else ["images"]
    rc, _, err = run_native(native_check, exported["paths"]["cgan"], signature, inputs, outputs,
                            tmp_path)
    assert rc == 3, err
    assert f"TF_ERROR {TF_INVALID_ARGUMENT} " in err
    assert message in err


# ------------------------------------------------------ 3. saved_model_cli
def documented_signatures(latent_dim, data_shape, conditional):
    """The signature table of kgan.export's docstring, in saved_model_cli's words."""
    shape = "(-1, " + ", ".join(str(d) for d in data_shape) + ")"
    z = {"z": ("DT_FLOAT", f"(-1, {latent_dim})")}
    seed = {"seed": ("DT_INT64", "(-1)")}
    if conditional:
        z["labels"] = seed["labels"] = ("DT_INT64", "(-1)")
    if len(data_shape) != 3:
        numeric = {"samples": ("DT_FLOAT", shape)}
        return {"serving_default": (z, numeric), "generate_from_seed": (seed, numeric)}
    numeric = {"images": ("DT_FLOAT", shape), "images_uint8": ("DT_UINT8", shape)}
    png = {"png_bytes": ("DT_STRING", "(-1)")}
    return {"serving_default": (z, numeric), "generate_from_seed": (seed, numeric),
            "generate_png": (z, png), "generate_png_from_seed": (seed, png)}


def parse_saved_model_cli(text):
    """{signature: (inputs, outputs, method)} from ``saved_model_cli show --all``."""
    found = {}
    blocks = re.split(r"^signature_def\['([^']+)'\]:\n", text, flags=re.M)
    for name, block in zip(blocks[1::2], blocks[2::2], strict=True):
        tensors = {"inputs": {}, "outputs": {}}
        for kind, key, dtype, shape in re.findall(
                r"(inputs|outputs)\['([^']+)'\] tensor_info:\n\s+dtype: (\S+)\n\s+shape: (.+)\n",
                block):
            tensors[kind][key] = (dtype, shape.strip())
        method = re.search(r"Method name is: (.*)", block).group(1).strip()
        found[name] = (tensors["inputs"], tensors["outputs"], method)
    return found


def test_saved_model_cli_lists_the_documented_signatures(exported):
    cli = os.path.join(os.path.dirname(sys.executable), "saved_model_cli")
    assert os.path.exists(cli), f"saved_model_cli not found beside {sys.executable}"
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    procs = {name: subprocess.Popen([cli, "show", "--dir", path, "--all"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for name, path in exported["paths"].items()}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=300)
        assert proc.returncode == 0, stderr[-3000:]
        model = exported["models"][name]
        found = parse_saved_model_cli(stdout)
        found.pop("__saved_model_init_op", None)
        expected = documented_signatures(model.latent_dim, model.data_shape,
                                         bool(model.num_classes))
        assert set(found) == set(expected), name
        for sig, (inputs, outputs) in expected.items():
            assert found[sig] == (inputs, outputs, "tensorflow/serving/predict"), (name, sig)


# ------------------------------------------------------------- 4. warmup
def read_warmup(path):
    from tensorflow_serving.apis import prediction_log_pb2

    file = os.path.join(path, "assets.extra", export.WARMUP_FILE)
    return [prediction_log_pb2.PredictionLog.FromString(r.numpy())
            for r in tf.data.TFRecordDataset(file)]


@pytest.mark.parametrize("name", ["dcgan", "cgan", "mlp"])
def test_warmup_records_match_the_signatures(exported, name):
    path = exported["paths"][name]
    logs = read_warmup(path)
    sig_defs = _signature_defs(path)
    loaded = export.load_export(path).signatures
    assert sorted(log.predict_log.request.model_spec.signature_name for log in logs) == \
        sorted(signature_names(exported["models"][name]))
    for log in logs:
        request = log.predict_log.request
        assert request.model_spec.name == name
        sig = sig_defs[request.model_spec.signature_name]
        assert set(request.inputs) == set(sig.inputs)
        for key, proto in request.inputs.items():
            info = sig.inputs[key]
            assert proto.dtype == info.dtype, key
            assert tf.TensorShape(info.tensor_shape).is_compatible_with(
                [d.size for d in proto.tensor_shape.dim]), key
        # Replaying the record succeeds, as TF Serving's warmup would.
        result = loaded[request.model_spec.signature_name](
            **{k: tf.constant(tf.make_ndarray(v)) for k, v in request.inputs.items()})
        assert all(v.shape[0] == 1 for v in result.values())


# ------------------------------------------------------------ 6. bad inputs
def _z(rows=2, cols=LATENT, dtype=np.float32):
    return np.zeros((rows, cols), dtype)


BAD_INPUTS = [
    ("serving_default", {"z": _z(cols=9), "labels": [0, 1]},
     "z: expected a float32 tensor of shape [batch, 8], got shape [2, 9]"),
    ("serving_default", {"z": np.zeros((2, 2, 8), np.float32), "labels": [0, 1]},
     "got shape [2, 2, 8]"),
    ("serving_default", {"z": np.full((2, 8), np.nan, np.float32), "labels": [0, 1]},
     "z: expected finite values, got NaN or Inf"),
    ("serving_default", {"z": _z(dtype=np.float64), "labels": [0, 1]},
     "expected to be a float tensor but is a double tensor"),
    ("serving_default", {"z": _z(), "labels": np.array([0, 1], np.int32)},
     "expected to be a int64 tensor but is a int32 tensor"),
    ("serving_default", {"z": _z(), "labels": [0, 3]},
     "labels: expected class ids in [0, 3), got values in [0, 3]"),
    ("generate_png", {"z": _z(), "labels": [-2, 0]},
     "labels: expected class ids in [0, 3), got values in [-2, 0]"),
    ("serving_default", {"z": _z(), "labels": [[0], [1]]},
     "one label per row of z, i.e. [2], got shape [2, 1]"),
    ("generate_from_seed", {"seed": [0, 1, 2], "labels": [0, 1]},
     "one label per seed, i.e. [3], got shape [2]"),
    ("generate_from_seed", {"seed": [[0, 1]], "labels": [0, 1]},
     "seed: expected an int64 tensor of shape [batch], got shape [1, 2]"),
    ("generate_png_from_seed", {"seed": [0, 1], "labels": [1, 9]},
     "labels: expected class ids in [0, 3), got values in [1, 9]"),
]


@pytest.mark.parametrize("signature, inputs, message", BAD_INPUTS)
def test_bad_inputs_fail_inside_the_signature_with_clear_messages(exported, signature, inputs,
                                                                  message):
    fn = export.load_export(exported["paths"]["cgan"]).signatures[signature]
    kwargs = {k: tf.constant(v if isinstance(v, np.ndarray) else np.asarray(v, np.int64))
              for k, v in inputs.items()}
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        fn(**kwargs)
    assert message in str(info.value)


def test_unconditional_export_takes_no_labels_and_checks_z(exported):
    fn = export.load_export(exported["paths"]["dcgan"]).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=re.escape("got shape [3, 4]")):
        fn(z=tf.zeros([3, 4]))
    with pytest.raises(TypeError):
        fn(z=tf.zeros([2, LATENT]), labels=tf.constant([0, 1], tf.int64))


# ------------------------------------------------------- 7. request caps
MAX_BATCH = 4


@pytest.fixture(scope="module")
def capped(exported, tmp_path_factory):
    """The conditional model exported with a small max_batch."""
    base = str(tmp_path_factory.mktemp("capped"))
    return export.export_generator(exported["models"]["cgan"], base, "cgan",
                                   max_batch=MAX_BATCH, warmup=[1, MAX_BATCH])


@pytest.mark.parametrize("signature", ["serving_default", "generate_from_seed",
                                       "generate_png", "generate_png_from_seed"])
def test_every_signature_refuses_requests_over_max_batch(exported, capped, signature):
    model = exported["models"]["cgan"]
    fn = export.load_export(capped).signatures[signature]
    first = "seed" if "seed" in signature else "z"
    unit = "seeds" if first == "seed" else "rows"

    def call(n):
        inputs = {"z": np.zeros((n, LATENT), np.float32),
                  "seed": np.arange(n, dtype=np.int64)}
        return fn(**{first: tf.constant(inputs[first]),
                     "labels": tf.constant(np.arange(n) % NUM_CLASSES, tf.int64)})

    out = call(MAX_BATCH)  # the limit itself is served
    assert next(iter(out.values())).shape[0] == MAX_BATCH
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        call(MAX_BATCH + 1)
    assert (f"{first}: expected at most {MAX_BATCH} {unit} per request (max_batch, set at "
            f"export), got {MAX_BATCH + 1}") in str(info.value)
    assert export.read_export_metadata(capped)["max_batch"] == MAX_BATCH
    # The default cap (1024) is in every export and refuses larger requests.
    assert export.read_export_metadata(exported["paths"]["cgan"])["max_batch"] == 1024
    if first == "seed":
        big = export.load_export(exported["paths"]["cgan"]).signatures[signature]
        with pytest.raises(tf.errors.InvalidArgumentError, match="at most 1024 seeds.*got 1025"):
            big(seed=tf.range(1025, dtype=tf.int64), labels=tf.zeros([1025], tf.int64))
    # Chunking by the stored cap: generate_from_export still serves any count.
    assert_same(export.generate_from_export(capped, 2 * MAX_BATCH + 1, seed=SEED0),
                model.generate(2 * MAX_BATCH + 1, seed=SEED0))


def test_native_loader_refuses_requests_over_max_batch(native_check, capped, tmp_path):
    inputs = {"seed": np.arange(MAX_BATCH + 1, dtype=np.int64),
              "labels": np.zeros(MAX_BATCH + 1, np.int64)}
    code, _, err = run_native(native_check, capped, "generate_from_seed", inputs, ["images"],
                              tmp_path)
    assert code != 0 and f"TF_ERROR {TF_INVALID_ARGUMENT} " in err
    assert f"at most {MAX_BATCH} seeds per request (max_batch, set at export), got 5" in err


@pytest.mark.parametrize("kwargs, match", [
    ({"max_batch": 0}, "max_batch must be a positive integer, got 0"),
    ({"max_batch": 2.5}, "max_batch must be a positive integer, got 2.5"),
    ({"max_batch": 2, "warmup": [1, 4]}, r"warmup batch sizes \(1, 4\) exceed max_batch=2"),
])
def test_bad_max_batch(exported, tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        export.export_generator(exported["models"]["dcgan"], str(tmp_path), **kwargs)


def test_eight_threads_at_once_give_the_same_outputs_as_one_call(exported):
    import concurrent.futures
    import threading

    fn = export.load_export(exported["paths"]["cgan"]).signatures["generate_from_seed"]
    seeds = np.arange(8 * N, dtype=np.int64)
    labels = seeds % NUM_CLASSES
    one_call = fn(seed=tf.constant(seeds), labels=tf.constant(labels))["images"].numpy()
    barrier = threading.Barrier(8)

    def request(i):  # thread i asks for its own slice of the seeds
        part = slice(i * N, (i + 1) * N)
        barrier.wait()  # all eight in flight together
        return fn(seed=tf.constant(seeds[part]), labels=tf.constant(labels[part]))["images"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        parts = list(pool.map(request, range(8)))
    assert_same(np.concatenate([p.numpy() for p in parts]), one_call)


# ----------------------------------------------------------------- CLI
def test_export_command_line(exported, tmp_path, capsys):
    import runpy

    model = tiny_dcgan(NUM_CLASSES, seed=4)
    model.save(str(tmp_path / "model.keras"))
    cli = runpy.run_path(os.path.join(ROOT, "serving", "export.py"), run_name="cli")
    base = str(tmp_path / "models")
    code = cli["main"]([str(tmp_path / "model.keras"), "--base-dir", base,
                        "--model-name", "cgan", "--warmup-batch-sizes", "1,2"])
    assert code == 0
    path = capsys.readouterr().out.strip().splitlines()[-1]
    assert path == os.path.join(base, "cgan", "1")
    assert len(read_warmup(path)) == 8
    assert_same(export.generate_from_export(path, N, seed=SEED0),
                               model.generate(N, seed=SEED0))


def test_native_loader_serves_text_to_image(native_check, tmp_path):
    """Sentences in through the loader TF Serving uses: the tokenizer and the
    encoder travel inside the SavedModel; a bad sentence fails in the graph."""
    keras.utils.set_random_seed(2)
    encoder = kgan.text.build_text_encoder(max_chars=24, embedding_dim=6, filters=8)
    model = kgan.TextToImageGAN(text_encoder=encoder, data_shape=(8, 8, 1), latent_dim=8,
                                condition_units=4, generator_options={"base_filters": 4},
                                discriminator_options={"base_filters": 4}, seed=1)
    path = export.export_generator(model, str(tmp_path / "export"), model_name="t2i")
    texts = [b"a thick seven", "a thin 1 \u00e9".encode()]
    rc, out, err = run_native(native_check, path, "generate_from_seed",
                              {"text": texts, "seed": _i64(4, 5)}, ["images"], tmp_path)
    assert rc == 0, err
    assert_same(out["images"], model.generate([t.decode() for t in texts], seed=4))
    rc, out, err = run_native(native_check, path, "serving_default", {"text": [b"a 1", b" "]},
                              ["images"], tmp_path)
    assert rc == 3 and "expected non-empty sentences, got an empty one at row 1" in err
