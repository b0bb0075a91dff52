"""A test double for tensorflow_model_server (test code, not part of kgan).

It serves SavedModels over TF Serving's REST API and gRPC ``PredictionService``
(``Predict`` and ``GetModelMetadata``) on 127.0.0.1 with OS-chosen ports, so
the clients can be tested where the real server binary is unavailable.

It follows TF Serving's behaviour where the clients can observe it:

- Models are loaded the way TF Serving loads them: TF1-style, into a session,
  from the ``serve`` MetaGraph (``tf.compat.v1.saved_model.loader``), and
  requests are fed to the signature's tensors by name with no dtype or shape
  check on the way in (``saved_model::GetInputValues`` + ``Session::Run``),
  so bad inputs meet the same runtime and in-graph checks as in TF Serving.
- Warmup records in ``assets.extra/tf_serving_warmup_requests`` are replayed
  at load, and a failing record fails the load.
- The latest version serves when the request names none; a missing model,
  version or signature gives NOT_FOUND / FAILED_PRECONDITION; inputs that do
  not match the signature's names give INVALID_ARGUMENT.
- REST JSON follows ``json_tensor.cc``: ``instances`` (row) or ``inputs``
  (columnar) requests, ``predictions`` / ``outputs`` responses, a bare value
  when a signature has one output, ``{"b64": ...}`` for string outputs whose
  names end in ``_bytes``, and ``{"error": msg}`` with the HTTP status of
  ``http_server.cc``.
- gRPC responses carry tensors as typed proto fields (``float_val``, ...),
  as TF Serving's default ``AsProtoField`` serialization does.

For retry tests, ``fail_next(n)`` makes the next ``n`` requests (REST or
gRPC) answer UNAVAILABLE, as TF Serving does while a version is loading
(HTTP 503 over REST). ``requests`` counts the requests answered and
``connections`` the TCP connections the REST server accepted.

Not modelled: batching, version labels, model status, classify/regress.
"""

from __future__ import annotations

import base64
import json
import os
import re
import threading
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import grpc
import numpy as np
import tensorflow as tf
from google.protobuf import json_format
from tensorflow.core.framework import tensor_pb2, tensor_shape_pb2
from tensorflow.core.protobuf import config_pb2
from tensorflow_serving.apis import (get_model_metadata_pb2, predict_pb2, prediction_log_pb2,
                                     prediction_service_pb2_grpc)

_HTTP_STATUS = {  # tensorflow_serving/model_servers/http_server.cc
    "OK": 200, "CANCELLED": 499, "UNKNOWN": 500, "INVALID_ARGUMENT": 400,
    "DEADLINE_EXCEEDED": 504, "NOT_FOUND": 404, "ALREADY_EXISTS": 409,
    "PERMISSION_DENIED": 403, "RESOURCE_EXHAUSTED": 429, "FAILED_PRECONDITION": 400,
    "ABORTED": 409, "OUT_OF_RANGE": 400, "UNIMPLEMENTED": 501, "INTERNAL": 500,
    "UNAVAILABLE": 503, "DATA_LOSS": 500, "UNAUTHENTICATED": 401}
# Canonical code number -> name ("INVALID_ARGUMENT"), shared by TF and gRPC.
_CODE_NAMES = {code.value[0]: name for name, code in grpc.StatusCode.__members__.items()}


class Status(Exception):
    """A canonical error: ``code`` is a grpc.StatusCode name."""

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _status_from_tf(e):
    return Status(_CODE_NAMES.get(e.error_code, "UNKNOWN"), e.message)


class Servable:
    """One version of one model, loaded into its own graph and session."""

    def __init__(self, name, version, path):
        self.name, self.version, self.path = name, version, path
        self.graph = tf.Graph()
        self.session = tf.compat.v1.Session(graph=self.graph)
        self.meta_graph = tf.compat.v1.saved_model.loader.load(self.session, ["serve"], path)
        self._callables = {}
        self._lock = threading.Lock()

    def signature(self, name):
        name = name or "serving_default"
        if name not in self.meta_graph.signature_def:
            raise Status("FAILED_PRECONDITION", f"Serving signature key \"{name}\" not found.")
        return name, self.meta_graph.signature_def[name]

    def predict(self, signature_name, inputs, output_filter=()):
        """Runs a signature as TF Serving's RunPredict does; returns {alias: array}."""
        signature_name, sig = self.signature(signature_name)
        if set(inputs) != set(sig.inputs):
            raise Status("INVALID_ARGUMENT",
                         f"input size does not match signature: {len(inputs)}!="
                         f"{len(sig.inputs)} len({{{','.join(sorted(inputs))}}}) != "
                         f"len({{{','.join(sorted(sig.inputs))}}}). Sent extra: "
                         f"{{{','.join(sorted(set(inputs) - set(sig.inputs)))}}}. Missing but "
                         f"required: {{{','.join(sorted(set(sig.inputs) - set(inputs)))}}}.")
        aliases = list(output_filter) or list(sig.outputs)
        for alias in aliases:
            if alias not in sig.outputs:
                raise Status("INVALID_ARGUMENT",
                             f"output tensor alias not found in signature: {alias} Outputs "
                             f"expected to be in the set {{{','.join(sorted(sig.outputs))}}}.")
        feeds = sorted(inputs)
        key = (tuple(sig.inputs[f].name for f in feeds),
               tuple(sig.outputs[a].name for a in aliases))
        with self._lock:
            fn = self._callables.get(key)
            if fn is None:
                options = config_pb2.CallableOptions(feed=list(key[0]), fetch=list(key[1]))
                # A callable feeds arrays as they are (no Python-side cast or shape
                # check, unlike Session.run), like TF Serving's Session::Run.
                fn = self.session._make_callable_from_options(options)
                self._callables[key] = fn
        try:
            values = fn(*[inputs[f] for f in feeds])
        except tf.errors.OpError as e:
            raise _status_from_tf(e) from None
        return dict(zip(aliases, values, strict=True))

    def warmup(self):
        path = os.path.join(self.path, "assets.extra", "tf_serving_warmup_requests")
        if not os.path.exists(path):
            return 0
        count = 0
        for record in tf.compat.v1.io.tf_record_iterator(path):
            log = prediction_log_pb2.PredictionLog.FromString(record)
            request = log.predict_log.request
            inputs = {k: tf.make_ndarray(v) for k, v in request.inputs.items()}
            self.predict(request.model_spec.signature_name, inputs, request.output_filter)
            count += 1
        return count

    def close(self):
        self.session.close()


class ServingDouble:
    """Serves ``{model_name: base_path}`` (numbered version dirs) over REST and gRPC.

    Example:
        >>> with ServingDouble({"gen": "/models/gen"}) as server:
        ...     RestClient(server.rest_url, "gen").generate(seeds=[0])
    """

    def __init__(self, models):
        self.servables = {}
        self.warmup_counts = {}
        for name, base in models.items():
            versions = sorted(int(d) for d in os.listdir(base) if re.fullmatch(r"\d+", d))
            if not versions:
                raise FileNotFoundError(f"No versions in {base}.")
            self.servables[name] = {}
            for v in versions:
                servable = Servable(name, v, os.path.join(base, str(v)))
                self.warmup_counts[(name, v)] = servable.warmup()
                self.servables[name][v] = servable
        self._http = None
        self._grpc = None
        self._lock = threading.Lock()
        self._unavailable = 0
        self.requests = 0
        self.connections = 0

    # ------------------------------------------------------------ faults
    def fail_next(self, n):
        """The next ``n`` requests answer UNAVAILABLE."""
        with self._lock:
            self._unavailable = n

    def admit(self):
        """Counts a request; raises UNAVAILABLE while ``fail_next`` lasts."""
        with self._lock:
            self.requests += 1
            if self._unavailable > 0:
                self._unavailable -= 1
                raise Status("UNAVAILABLE", "Servable not found for request: the model's "
                                            "version is still loading")

    def _count_connection(self):
        with self._lock:
            self.connections += 1

    # ------------------------------------------------------------ lookup
    def find(self, name, version=None):
        if name not in self.servables:
            raise Status("NOT_FOUND", f"Servable not found for request: Latest({name})")
        versions = self.servables[name]
        if version is None:
            return versions[max(versions)]
        if version not in versions:
            raise Status("NOT_FOUND",
                         f"Servable not found for request: Specific({name}, {version})")
        return versions[version]

    # ------------------------------------------------------------ lifecycle
    def start(self):
        double = self

        class Handler(_RestHandler):
            server_double = double

        class Server(ThreadingHTTPServer):
            def process_request(self, request, client_address):
                double._count_connection()
                super().process_request(request, client_address)

        self._http = Server(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True,
                         kwargs={"poll_interval": 0.1}).start()
        self._grpc = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(
            _PredictionService(self), self._grpc)
        port = self._grpc.add_insecure_port("127.0.0.1:0")
        self._grpc.start()
        self.rest_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self.grpc_target = f"127.0.0.1:{port}"
        return self

    def stop(self):
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._grpc is not None:
            self._grpc.stop(grace=None).wait(5)
        for versions in self.servables.values():
            for servable in versions.values():
                servable.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


# ------------------------------------------------------------------- gRPC
def _as_proto_field(array):
    """A TensorProto with typed value fields (TF Serving's AsProtoField)."""
    array = np.asarray(array)
    dtype = tf.as_dtype(array.dtype if array.dtype != object else tf.string)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum, tensor_shape=tensor_shape_pb2.
                                   TensorShapeProto(dim=[tensor_shape_pb2.TensorShapeProto.Dim(
                                       size=d) for d in array.shape]))
    flat = array.reshape(-1)
    if dtype == tf.string:
        proto.string_val.extend(bytes(v) for v in flat)
    elif dtype == tf.float32:
        proto.float_val.extend(flat.tolist())
    elif dtype == tf.float64:
        proto.double_val.extend(flat.tolist())
    elif dtype == tf.int64:
        proto.int64_val.extend(flat.tolist())
    elif dtype in (tf.int32, tf.int16, tf.int8, tf.uint8):
        proto.int_val.extend(flat.tolist())
    elif dtype == tf.bool:
        proto.bool_val.extend(flat.tolist())
    else:
        return tf.make_tensor_proto(array)
    return proto


class _PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, double):
        self.double = double

    def _version(self, spec):
        if spec.version_label:
            raise Status("UNIMPLEMENTED", "version labels are not modelled by the test double")
        return spec.version.value if spec.HasField("version") else None

    def Predict(self, request, context):
        try:
            self.double.admit()
            servable = self.double.find(request.model_spec.name,
                                        self._version(request.model_spec))
            signature, _ = servable.signature(request.model_spec.signature_name)
            inputs = {}
            for k, v in request.inputs.items():
                try:
                    inputs[k] = tf.make_ndarray(v)
                except Exception:  # noqa: BLE001 - TF Serving's message
                    raise Status("INVALID_ARGUMENT", f"tensor parsing error: {k}") from None
            outputs = servable.predict(signature, inputs, request.output_filter)
        except Status as s:
            context.abort(getattr(grpc.StatusCode, s.code), s.message)
        response = predict_pb2.PredictResponse()
        response.model_spec.name = servable.name
        response.model_spec.version.value = servable.version
        response.model_spec.signature_name = signature
        for k, v in outputs.items():
            response.outputs[k].CopyFrom(_as_proto_field(v))
        return response

    def GetModelMetadata(self, request, context):
        try:
            self.double.admit()
            if not request.metadata_field:
                raise Status("INVALID_ARGUMENT",
                             "GetModelMetadataRequest must specify at least one metadata_field")
            for field in request.metadata_field:
                if field != "signature_def":
                    raise Status("INVALID_ARGUMENT", f"Metadata field {field} is not supported")
            servable = self.double.find(request.model_spec.name, self._version(request.model_spec))
        except Status as s:
            context.abort(getattr(grpc.StatusCode, s.code), s.message)
        return _metadata_response(servable)


def _metadata_response(servable):
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.name = servable.name
    response.model_spec.version.value = servable.version
    sig_map = get_model_metadata_pb2.SignatureDefMap()
    for k, v in servable.meta_graph.signature_def.items():
        sig_map.signature_def[k].CopyFrom(v)
    response.metadata["signature_def"].Pack(sig_map)
    return response


# ------------------------------------------------------------------- REST
_PREDICT_URL = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?:predict$")
_METADATA_URL = re.compile(r"^/v1/models/([^/:]+)(?:/versions/(\d+))?/metadata$")


def _json_to_array(value, dtype_enum, name):
    """A JSON value (nested lists) -> numpy array of the signature's dtype."""
    dtype = tf.as_dtype(dtype_enum)

    def leaf(v):
        if dtype == tf.string:
            if isinstance(v, dict):
                if set(v) != {"b64"} or not isinstance(v["b64"], str):
                    raise Status("INVALID_ARGUMENT", f"JSON Value: {json.dumps(v)} not "
                                 "formatted correctly for base64 data")
                return base64.b64decode(v["b64"])
            if isinstance(v, str):
                return v.encode()
        elif dtype.is_floating:
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                return v
        elif dtype.is_integer:
            if isinstance(v, int) and not isinstance(v, bool):
                return v
        elif dtype == tf.bool and isinstance(v, bool):
            return v
        raise Status("INVALID_ARGUMENT", f"JSON Value: {json.dumps(v)} Type: "
                     f"{type(v).__name__} is not of expected type: {dtype.name}")

    def convert(v):
        return [convert(x) for x in v] if isinstance(v, list) else leaf(v)

    converted = convert(value)
    try:
        if dtype == tf.string:
            arr = np.empty(np.shape(converted) if isinstance(converted, list) else (), object)
            arr[...] = converted
            return arr
        return np.array(converted, dtype=dtype.as_numpy_dtype)
    except ValueError:
        raise Status("INVALID_ARGUMENT", f"{name}: JSON lists must be rectangular") from None


def _array_to_json(array, name):
    array = np.asarray(array)
    if array.dtype == object:
        if name.endswith("_bytes"):
            return np.vectorize(lambda b: {"b64": base64.b64encode(b).decode()},
                                otypes=[object])(array).tolist()
        return np.vectorize(lambda b: b.decode("utf-8", "replace"), otypes=[object])(
            array).tolist()
    return array.tolist()


class _RestHandler(BaseHTTPRequestHandler):
    server_double = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # keep test output quiet
        pass

    def _reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _error(self, status):
        self._reply(_HTTP_STATUS[status.code], {"error": status.message})

    def do_GET(self):  # noqa: N802 - http.server API
        self._guarded(self._get)

    def do_POST(self):  # noqa: N802 - http.server API
        self._guarded(self._post)

    def _guarded(self, handler):
        try:
            handler()
        except Exception as e:  # noqa: BLE001 - a bug in the double: say so, don't hang up
            self._reply(500, {"error": f"test double failed: {e!r}"})

    def _get(self):
        match = _METADATA_URL.match(self.path)
        try:
            self.server_double.admit()
            if not match:
                raise Status("INVALID_ARGUMENT", f"Malformed request: GET {self.path}")
            version = int(match.group(2)) if match.group(2) else None
            servable = self.server_double.find(match.group(1), version)
        except Status as s:
            return self._error(s)
        # TF Serving's JSON: proto field names, no "@type" on the Any.
        body = json_format.MessageToDict(_metadata_response(servable),
                                         always_print_fields_with_no_presence=True,
                                         preserving_proto_field_name=True)
        body["metadata"]["signature_def"].pop("@type", None)
        self._reply(200, body)

    def _post(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        match = _PREDICT_URL.match(self.path)
        try:
            self.server_double.admit()
            if not match:
                raise Status("INVALID_ARGUMENT", f"Malformed request: POST {self.path}")
            version = int(match.group(2)) if match.group(2) else None
            servable = self.server_double.find(match.group(1), version)
            try:
                doc = json.loads(body)
            except ValueError as e:
                raise Status("INVALID_ARGUMENT", f"JSON Parse error: {e}") from None
            if not isinstance(doc, dict):
                raise Status("INVALID_ARGUMENT", "JSON Value: not formatted correctly. Is not "
                             "object")
            signature, sig = servable.signature(doc.get("signature_name"))
            row = "instances" in doc
            if row == ("inputs" in doc):
                raise Status("INVALID_ARGUMENT", "Missing 'inputs' or 'instances' key"
                             if not row else "expecting only one of 'inputs' or 'instances'")
            inputs = self._parse_inputs(doc, sig, row)
            reply = self._format_outputs(servable.predict(signature, inputs), row)
        except Status as s:
            return self._error(s)
        self._reply(200, reply)

    @staticmethod
    def _parse_inputs(doc, sig, row):
        names = sorted(sig.inputs)
        if row:
            instances = doc["instances"]
            if not isinstance(instances, list) or not instances:
                raise Status("INVALID_ARGUMENT", "No values in 'instances' array")
            named = isinstance(instances[0], dict) and set(instances[0]) != {"b64"}
            if not named and len(names) > 1:
                raise Status("INVALID_ARGUMENT", "instances is a plain list, but expecting list "
                             "of objects as multiple input tensors required as per "
                             "tensorinfo_map")
            columns = {n: [] for n in names}
            for i, item in enumerate(instances):
                if named:
                    if not isinstance(item, dict) or set(item) != set(names):
                        raise Status("INVALID_ARGUMENT", f"Failed to process element: {i} of "
                                     f"'instances' list. keys must be equal to: "
                                     f"{','.join(names)}")
                    for n in names:
                        columns[n].append(item[n])
                else:
                    columns[names[0]].append(item)
            return {n: _json_to_array(v, sig.inputs[n].dtype, n) for n, v in columns.items()}
        value = doc["inputs"]
        if not isinstance(value, dict) or set(value) == {"b64"}:
            if len(names) > 1:
                raise Status("INVALID_ARGUMENT", "inputs is a plain value/list, but expecting "
                             "an object as multiple input tensors required as per "
                             "tensorinfo_map")
            value = {names[0]: value}
        for n in names:
            if n not in value:
                raise Status("INVALID_ARGUMENT", f"Missing named input: {n} in 'inputs' object.")
        return {n: _json_to_array(value[n], sig.inputs[n].dtype, n) for n in names}

    @staticmethod
    def _format_outputs(outputs, row):
        if not row:
            if len(outputs) == 1:
                (name, value), = outputs.items()
                return {"outputs": _array_to_json(value, name)}
            return {"outputs": {k: _array_to_json(v, k) for k, v in outputs.items()}}
        as_json = {k: _array_to_json(v, k) for k, v in outputs.items()}
        batch = {len(v) for v in as_json.values()}
        if len(batch) != 1:
            raise Status("INVALID_ARGUMENT", "Tensors have inconsistent batch sizes")
        n = batch.pop()
        if len(as_json) == 1:
            return {"predictions": next(iter(as_json.values()))}
        return {"predictions": [{k: v[i] for k, v in as_json.items()} for i in range(n)]}
