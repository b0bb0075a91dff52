"""REST and gRPC clients against a double of TF Serving, plus the serving/ configs.

``serving_double.ServingDouble`` speaks TF Serving's REST API and gRPC
``PredictionService`` on 127.0.0.1 with OS-chosen ports, loading the exports
TF1-style into a session as TF Serving does (see its docstring).
"""

from __future__ import annotations

import base64
import io
import json
import os
import re
import runpy
import socket
import urllib.error
import urllib.request

import numpy as np
import pytest
from google.protobuf import text_format
from PIL import Image

import kgan
from kgan import export
from kgan import serving_client as sc
from kgan.data import to_uint8
from kgan.images import make_grid
from serving_double import ServingDouble

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SERVING = os.path.join(ROOT, "serving")
LATENT = 8
N = 5
SEEDS = range(3, 3 + N)
LABELS = [0, 2, 1, 2, 0]
TIMEOUT = 60.0  # per request; the double answers in well under a second


# One definition of the tiny perturbed models, shared with the export tests.
from test_export import perturb, tiny_dcgan  # noqa: E402,F401  (tests/ is on sys.path)


def assert_same(actual, expected):
    """Equal up to float32 rounding."""
    np.testing.assert_allclose(actual, expected, rtol=1e-5, atol=1e-6)


def decode_png(data):
    return np.asarray(Image.open(io.BytesIO(data)))


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Exports (cgan v1 and v2, dcgan, mlp) served by the double for the module."""
    base = str(tmp_path_factory.mktemp("models"))
    models = {
        ("cgan", 1): tiny_dcgan(3, seed=1),
        ("cgan", 2): tiny_dcgan(3, seed=2),
        ("dcgan", 1): tiny_dcgan(None, seed=3),
        ("mlp", 1): kgan.GAN(data_shape=(2,), latent_dim=4, architecture="mlp",
                             generator_options={"hidden_units": (16,)},
                             discriminator_options={"hidden_units": (16,)}, seed=0),
    }
    for (name, version), model in models.items():
        export.export_generator(model, base, name, version=version)
    double = ServingDouble({name: os.path.join(base, name) for name in ("cgan", "dcgan", "mlp")})
    with double.start():
        yield {"models": models, "double": double, "base": base}


def make(kind, served, model_name="cgan", version=None, **kwargs):
    double = served["double"]
    if kind == "rest":
        return sc.RestClient(double.rest_url, model_name, version=version, timeout=TIMEOUT,
                             **kwargs)
    return sc.GrpcClient(double.grpc_target, model_name, version=version, timeout=TIMEOUT,
                         **kwargs)


KINDS = ["rest", "grpc"]


# ------------------------------------------------------------ numbers
@pytest.mark.parametrize("kind", KINDS)
def test_generate_from_seeds_equals_model_generate(served, kind):
    client = make(kind, served)  # latest version: 2
    images = client.generate(seeds=SEEDS, labels=LABELS)
    assert images.dtype == np.float32 and images.shape == (N, 28, 28, 1)
    assert_same(images, served["models"][("cgan", 2)].generate(N, seed=3, labels=LABELS))


@pytest.mark.parametrize("kind", KINDS)
def test_generate_from_z_equals_model_generate(served, kind):
    z = np.random.default_rng(0).standard_normal((N, LATENT)).astype(np.float32)
    images = make(kind, served).generate(z=z, labels=LABELS)
    assert_same(images, served["models"][("cgan", 2)].generate(z=z, labels=LABELS))


@pytest.mark.parametrize("kind", KINDS)
def test_version_pinning(served, kind):
    v1 = make(kind, served, version=1).generate(seeds=SEEDS, labels=1)
    assert_same(v1, served["models"][("cgan", 1)].generate(N, seed=3, labels=[1] * N))
    v2 = make(kind, served).generate(seeds=SEEDS, labels=1)
    assert np.abs(v1 - v2).max() > 1e-2


@pytest.mark.parametrize("kind", KINDS)
def test_unconditional_and_non_image_models(served, kind):
    images = make(kind, served, "dcgan").generate(seeds=SEEDS)
    assert_same(images, served["models"][("dcgan", 1)].generate(N, seed=3))
    # One output ("samples"): REST returns it bare, without its name.
    samples = make(kind, served, "mlp").generate(seeds=SEEDS)
    assert samples.shape == (N, 2)
    assert_same(samples, served["models"][("mlp", 1)].generate(N, seed=3))


@pytest.mark.parametrize("kind", KINDS)
def test_png_images_and_grid(served, kind, tmp_path):
    client = make(kind, served)
    expected = served["models"][("cgan", 2)].generate(N, seed=3, labels=LABELS)
    pngs = client.generate_png(seeds=SEEDS, labels=LABELS)
    assert len(pngs) == N and all(p.startswith(b"\x89PNG") for p in pngs)
    np.testing.assert_array_equal(np.stack([decode_png(p) for p in pngs])[..., None],
                                  to_uint8(expected))
    path = client.save_grid(str(tmp_path / "grid.png"), seeds=SEEDS, labels=LABELS, scale=2)
    grid = np.asarray(Image.open(path))
    np.testing.assert_array_equal(grid, make_grid(expected)[..., 0].repeat(2, 0).repeat(2, 1))


@pytest.mark.parametrize("kind", KINDS)
def test_metadata_lists_signatures(served, kind):
    meta = make(kind, served).metadata()
    assert set(meta) == {"serving_default", "generate_from_seed", "generate_png",
                         "generate_png_from_seed"}
    assert meta["serving_default"]["inputs"] == {
        "z": {"dtype": "DT_FLOAT", "shape": [-1, LATENT]},
        "labels": {"dtype": "DT_INT64", "shape": [-1]}}
    assert meta["generate_from_seed"]["outputs"] == {
        "images": {"dtype": "DT_FLOAT", "shape": [-1, 28, 28, 1]},
        "images_uint8": {"dtype": "DT_UINT8", "shape": [-1, 28, 28, 1]}}
    assert meta["generate_png_from_seed"]["outputs"] == {
        "png_bytes": {"dtype": "DT_STRING", "shape": [-1]}}


# ------------------------------------------------------------- errors
SERVER_ERRORS = [
    ({"seeds": [0, 1], "labels": [0, 7]}, "cgan",
     "labels: expected class ids in [0, 3), got values in [0, 7]"),
    ({"z": np.zeros((2, LATENT + 1)), "labels": [0, 1]}, "cgan",
     f"z: expected a float32 tensor of shape [batch, {LATENT}], got shape [2, {LATENT + 1}]"),
    ({"z": np.full((2, LATENT), np.nan), "labels": [0, 1]}, "cgan",
     "z: expected finite values, got NaN or Inf"),
    ({"seeds": [0, 1, 2], "labels": [0, 1]}, "cgan",
     "one label per seed, i.e. [3], got shape [2]"),
]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("kwargs, model_name, message", SERVER_ERRORS)
def test_bad_requests_give_invalid_argument(served, kind, kwargs, model_name, message):
    with pytest.raises(sc.ServingError) as info:
        make(kind, served, model_name).generate(**kwargs)
    assert info.value.code == "INVALID_ARGUMENT"
    assert message in info.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_missing_model_or_version_is_not_found(served, kind):
    with pytest.raises(sc.ServingError) as info:
        make(kind, served, "nope").generate(seeds=[0])
    assert info.value.code == "NOT_FOUND"
    with pytest.raises(sc.ServingError) as info:
        make(kind, served, "dcgan", version=9).predict({"seed": np.arange(2)},
                                                       "generate_from_seed")
    assert info.value.code == "NOT_FOUND" and "9" in info.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_missing_labels(served, kind):
    with pytest.raises(ValueError, match="is conditional: pass labels"):
        make(kind, served).generate(seeds=[0, 1])
    # Without the client's check, the server refuses the request.
    with pytest.raises(sc.ServingError) as info:
        make(kind, served).predict({"seed": np.arange(2)}, "generate_from_seed")
    assert info.value.code == "INVALID_ARGUMENT" and "labels" in info.value.message


@pytest.mark.parametrize("kind", KINDS)
def test_labels_for_an_unconditional_model_are_refused(served, kind):
    # TF Serving's REST API would silently ignore them; the client refuses.
    with pytest.raises(ValueError, match="not conditional"):
        make(kind, served, "dcgan").generate(seeds=[0, 1], labels=[0, 1])
    with pytest.raises(sc.ServingError, match="not found"):
        make(kind, served, "mlp").generate_png(seeds=[0])


def test_client_side_argument_checks(served):
    client = make("rest", served)
    with pytest.raises(ValueError, match="exactly one of z or seeds"):
        client.generate()
    with pytest.raises(ValueError, match="exactly one of z or seeds"):
        client.generate(z=np.zeros((1, LATENT)), seeds=[0])
    with pytest.raises(ValueError, match="labels: expected integers"):
        client.generate(seeds=[0, 1], labels=[0.5, 1.0])
    with pytest.raises(ValueError, match="seeds: expected integers"):
        client.generate(seeds=[0.5])


def _closed_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_server_fails_fast():
    port = _closed_port()
    for client in (sc.RestClient(f"http://127.0.0.1:{port}", timeout=5),
                   sc.GrpcClient(f"127.0.0.1:{port}", timeout=5)):
        with pytest.raises(sc.ServingError) as info:
            client.generate(seeds=[0])
        assert info.value.code == "UNAVAILABLE"


# ------------------------------------------------- retries, connections
@pytest.mark.parametrize("kind", KINDS)
def test_unavailable_is_retried_with_backoff_until_it_succeeds(served, kind, monkeypatch):
    double = served["double"]
    sleeps = []
    monkeypatch.setattr(sc.time, "sleep", sleeps.append)
    client = make(kind, served, attempts=5, backoff=0.05, max_backoff=0.15)
    client.metadata()  # cached, so the failures below hit the predict call
    before = double.requests
    double.fail_next(3)  # e.g. the version is still loading
    images = client.generate(seeds=SEEDS, labels=LABELS)
    assert_same(images, served["models"][("cgan", 2)].generate(N, seed=3, labels=LABELS))
    assert double.requests - before == 4  # three UNAVAILABLE answers, then the images
    assert sleeps == [0.05, 0.1, 0.15]  # doubling, capped at max_backoff


@pytest.mark.parametrize("kind", KINDS)
def test_retry_gives_up_after_the_attempt_limit(served, kind, monkeypatch):
    double = served["double"]
    monkeypatch.setattr(sc.time, "sleep", lambda s: None)
    client = make(kind, served, attempts=3)
    client.metadata()
    before = double.requests
    double.fail_next(10)
    try:
        with pytest.raises(sc.ServingError) as info:
            client.generate(seeds=SEEDS, labels=LABELS)
    finally:
        double.fail_next(0)
    assert info.value.code == "UNAVAILABLE"
    assert "gave up after 3 attempt(s)" in info.value.message
    assert "still loading" in info.value.message  # the server's last answer
    assert double.requests - before == 3
    # Other errors are not retried.
    before = double.requests
    with pytest.raises(sc.ServingError) as info:
        client.generate(seeds=[0, 1], labels=[0, 7])
    assert info.value.code == "INVALID_ARGUMENT" and double.requests - before == 1


def test_rest_client_reuses_one_keep_alive_connection(served):
    double = served["double"]
    client = make("rest", served)
    before = double.connections
    for _ in range(4):
        client.generate(seeds=SEEDS, labels=LABELS)
    client.metadata(refresh=True)
    assert double.connections - before == 1
    client.close()  # a closed client reconnects on its next request
    client.generate(seeds=[0], labels=[0])
    assert double.connections - before == 2
    client.close()


def test_grpc_client_opens_one_channel(served, monkeypatch):
    import grpc

    opened = []
    real = grpc.insecure_channel
    monkeypatch.setattr(grpc, "insecure_channel", lambda *a, **k: opened.append(a) or real(*a, **k))
    with make("grpc", served) as client:
        for _ in range(3):
            client.generate(seeds=SEEDS, labels=LABELS)
    assert len(opened) == 1


@pytest.mark.parametrize("kwargs, match", [
    ({"attempts": 0}, "attempts must be an integer >= 1, got 0"),
    ({"backoff": -1}, "backoff must be a number of seconds >= 0, got -1"),
    ({"max_backoff": "2"}, "max_backoff must be a number of seconds >= 0, got '2'"),
])
def test_bad_retry_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sc.RestClient("http://127.0.0.1:1", **kwargs)
    with pytest.raises(ValueError, match="expected http://host:port"):
        sc.RestClient("127.0.0.1:8501")


REST_ONLY_PROCESS = """
import importlib.util, json, sys
# The module file itself, without the kgan package (whose models need TensorFlow).
spec = importlib.util.spec_from_file_location("serving_client", sys.argv[1])
sc = importlib.util.module_from_spec(spec)
spec.loader.exec_module(sc)
client = sc.RestClient(sys.argv[2], "cgan", timeout=60)
images = client.generate(seeds=[3, 4], labels=[0, 2])
pngs = client.generate_png(seeds=[3], labels=[1])
print(json.dumps({"shape": list(images.shape), "png": pngs[0][:4].hex(),
                  "tensorflow": "tensorflow" in sys.modules,
                  "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                                    ("tensorflow", "keras", "kgan", "grpc"))}))
"""


def test_rest_client_runs_without_tensorflow(served, tmp_path):
    import subprocess
    import sys

    script = tmp_path / "rest_only.py"
    script.write_text(REST_ONLY_PROCESS)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, str(script),
                           os.path.join(ROOT, "kgan", "serving_client.py"),
                           served["double"].rest_url],
                          capture_output=True, text=True, timeout=120, env=env, cwd=str(tmp_path))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout)
    assert result["shape"] == [2, 28, 28, 1] and result["png"] == "89504e47"
    assert result["tensorflow"] is False and result["modules"] == []


# ------------------------------------------- TF Serving's REST conventions
def _post(url, body):
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def test_rest_row_format_returns_base64_png_bytes(served):
    url = served["double"].rest_url + "/v1/models/cgan:predict"
    status, body = _post(url, {"signature_name": "generate_png_from_seed",
                               "instances": [{"seed": 3, "labels": 0}, {"seed": 4, "labels": 2}]})
    assert status == 200
    # png_bytes ends in "_bytes": TF Serving writes it as {"b64": ...}.
    pngs = [base64.b64decode(p["b64"]) for p in body["predictions"]]
    expected = served["models"][("cgan", 2)].generate(2, seed=3, labels=[0, 2])
    np.testing.assert_array_equal(np.stack([decode_png(p) for p in pngs])[..., None],
                                  to_uint8(expected))
    status, body = _post(url, {"instances": [{"z": [0.0] * LATENT, "labels": 5}]})
    assert status == 400 and "got values in [5, 5]" in body["error"]
    status, body = _post(url, {"inputs": {"z": [[0.0] * LATENT], "labels": [1.5]}})
    assert status == 400 and "is not of expected type: int64" in body["error"]


def test_double_replayed_each_exports_warmup_records(served):
    counts = served["double"].warmup_counts
    assert counts == {("cgan", 1): 4, ("cgan", 2): 4, ("dcgan", 1): 4, ("mlp", 1): 2}


# --------------------------------------------------------------- CLI
def test_client_command_line(served, tmp_path, capsys):
    cli = runpy.run_path(os.path.join(SERVING, "client.py"), run_name="cli")
    out, pngs = str(tmp_path / "grid.png"), str(tmp_path / "pngs")
    code = cli["main"](["--rest", served["double"].rest_url, "--model", "cgan", "--num", "4",
                        "--seed", "3", "--labels", "2", "--out", out, "--png-dir", pngs])
    assert code == 0
    expected = served["models"][("cgan", 2)].generate(4, seed=3, labels=[2] * 4)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), make_grid(expected)[..., 0])
    assert sorted(os.listdir(pngs)) == [f"seed{s:06d}.png" for s in range(3, 7)]
    capsys.readouterr()
    assert cli["main"](["--grpc", served["double"].grpc_target, "--model", "dcgan",
                        "--metadata"]) == 0
    assert "generate_png_from_seed" in json.loads(capsys.readouterr().out)
    assert cli["main"](["--grpc", served["double"].grpc_target, "--model", "cgan",
                        "--labels", "9", "--out", out]) == 1
    assert "INVALID_ARGUMENT" in capsys.readouterr().err


# ------------------------------------------------------ serving/ configs
def _models_config():
    from tensorflow_serving.config import model_server_config_pb2

    with open(os.path.join(SERVING, "models.config")) as f:
        return text_format.Parse(f.read(), model_server_config_pb2.ModelServerConfig())


def _compose_volumes():
    """{container path: host path (absolute, as compose resolves it from serving/)}."""
    with open(os.path.join(SERVING, "docker-compose.yml")) as f:
        text = f.read()
    return {container: os.path.normpath(os.path.join(SERVING, host))
            for host, container in re.findall(r"- (\.\.?/[\w./-]*):(/[\w/.-]+)(?::ro)?\n", text)}


def _host_path(container_path, volumes, root=ROOT):
    """Where a path inside the container lies on the host (repo moved to ``root``)."""
    for mount, host in sorted(volumes.items(), key=lambda kv: -len(kv[0])):
        if container_path == mount or container_path.startswith(mount + "/"):
            rel = os.path.relpath(os.path.join(host, os.path.relpath(container_path, mount)), ROOT)
            return os.path.normpath(os.path.join(root, rel))
    raise AssertionError(f"{container_path} is not under any compose volume {sorted(volumes)}")


def _readme_quickstart_args():
    """The arguments of the README's quickstart train/train.py command."""
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    quickstart = readme[readme.index("## Quickstart"):]
    match = re.search(r"\.venv/bin/python train/train\.py([^\n`&|]*)", quickstart)
    assert match, "no train/train.py command in the README quickstart"
    return match.group(1).split()


def test_models_config_serves_what_the_readme_quickstart_writes():
    from kgan.training import parse_args

    config, _ = parse_args(_readme_quickstart_args())
    # The CLI's layout: <out>/export/<model_name>/<version>/ (kgan/training.py).
    expected = os.path.normpath(os.path.join(ROOT, config.out, "export", config.model_name))
    models = _models_config().model_config_list.config
    volumes = _compose_volumes()
    assert len({m.name for m in models}) == len(models)
    served = {m.name: _host_path(m.base_path, volumes) for m in models}
    assert expected in served.values(), (expected, served)
    for m in models:
        assert m.model_platform == "tensorflow"
        # Every model is a run's export under the repository's runs/ folder.
        rel = os.path.relpath(served[m.name], ROOT).split(os.sep)
        assert rel[0] == "runs" and rel[2] == "export" and len(rel) == 4, rel
    # The model name clients use by default is the one served.
    import inspect

    for cls in (sc.RestClient, sc.GrpcClient):
        assert inspect.signature(cls).parameters["model_name"].default in served


@pytest.mark.slow
def test_quickstart_run_is_served_by_the_compose_config(tmp_path):
    """Runs the README quickstart (shrunk) into a copy of the repo layout and
    serves it as docker-compose would, through models.config's paths."""
    import subprocess
    import sys

    args = _readme_quickstart_args() + ["--epochs", "1", "--max-samples", "64",
                                        "--batch-size", "32", "--base-filters", "8",
                                        "--num-samples", "4", "--verbose", "0"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.run([sys.executable, os.path.join(ROOT, "train", "train.py"), *args],
                          cwd=str(tmp_path), env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    volumes = _compose_volumes()
    models = {m.name: _host_path(m.base_path, volumes, root=str(tmp_path))
              for m in _models_config().model_config_list.config}
    with ServingDouble(models) as double:
        client = sc.RestClient(double.rest_url, timeout=TIMEOUT)  # default model name
        images = client.generate(seeds=range(4))
    path = models[client.model_name]
    assert_same(images, export.generate_from_export(path, 4, seed=0))


def test_batching_parameters_are_consistent():
    fields, allowed = {}, []
    with open(os.path.join(SERVING, "batching_parameters.txt")) as f:
        for line in f:
            line = line.split("#")[0].strip()
            if not line:
                continue
            if m := re.fullmatch(r"(\w+) \{ value: (\d+) \}", line):
                fields[m.group(1)] = int(m.group(2))
            elif m := re.fullmatch(r"allowed_batch_sizes: (\d+)", line):
                allowed.append(int(m.group(1)))
            else:
                assert re.fullmatch(r"pad_variable_length_inputs: (true|false)", line), line
    known = {"max_batch_size", "batch_timeout_micros", "max_enqueued_batches",
             "num_batch_threads"}
    assert set(fields) <= known and "max_batch_size" in fields
    assert allowed == sorted(set(allowed)) and allowed[-1] == fields["max_batch_size"]


def test_docker_compose_serves_the_configs():
    with open(os.path.join(SERVING, "docker-compose.yml")) as f:
        text = f.read()
    assert re.search(r"image: tensorflow/serving(:[\w.-]+)?\n", text)
    volumes = _compose_volumes()
    for container, host in volumes.items():
        assert os.path.exists(host) or host == os.path.join(ROOT, "runs"), host
    assert volumes["/runs"] == os.path.join(ROOT, "runs")  # the repository's runs/ folder
    assert "--model_config_file=/serving/models.config" in text
    assert volumes["/serving/models.config"] == os.path.join(SERVING, "models.config")
    assert "--enable_batching=true" in text
    assert "--batching_parameters_file=/serving/batching_parameters.txt" in text
    assert volumes["/serving/batching_parameters.txt"] == os.path.join(
        SERVING, "batching_parameters.txt")
    assert '"8500:8500"' in text and '"8501:8501"' in text
