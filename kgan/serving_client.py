"""Clients for generators served by TensorFlow Serving (REST and gRPC).

Both clients speak TF Serving's public API: :class:`RestClient` the REST API
(``POST /v1/models/<name>[/versions/<v>]:predict`` and ``GET .../metadata``),
:class:`GrpcClient` the gRPC ``PredictionService`` (``Predict`` and
``GetModelMetadata``) through the ``tensorflow-serving-api`` protos. They take
and return numpy arrays and know the signatures written by
:mod:`kgan.export`:

- ``generate(z=...)`` runs ``serving_default``; ``generate(seeds=...)`` runs
  ``generate_from_seed``. Both return float32 images in [-1, 1] (or the
  ``samples`` of a non-image model).
- ``generate_png(...)`` runs ``generate_png`` / ``generate_png_from_seed``
  and returns one PNG file (bytes) per image.
- ``save_grid(path, ...)`` writes the generated images as one PNG grid.
- ``text_to_image(texts, seeds=...)`` and ``text_to_png(texts, seeds=...)``
  run a text-to-image export (:mod:`kgan.export_text`): sentences in (sent
  as strings: JSON strings over REST, a ``tf.string`` tensor over gRPC),
  images or PNG files out.

UNAVAILABLE (what TF Serving answers while a model version loads or its
batching queue is full; HTTP 503 over REST) is retried with bounded
exponential backoff: ``attempts`` tries in all, sleeping ``backoff``,
``2 * backoff``, ... (at most ``max_backoff``) between them. Other errors are
not retried. Each client keeps one connection (an HTTP/1.1 keep-alive
connection, or one gRPC channel) and reuses it for every request; a client
may be shared between threads.

The REST client imports no TensorFlow (only numpy and the standard library),
so it can run in a small process; the gRPC client needs the
``tensorflow-serving-api`` protos and TensorFlow's tensor conversion.

Inputs are cast to the signatures' dtypes (z float32, seeds and labels
int64) before they are sent. Server-side errors (for instance labels out of
range, checked inside the signature) raise :class:`ServingError` carrying the
gRPC status name (``INVALID_ARGUMENT``, ...) and the server's message.

Example:
    >>> client = RestClient("http://localhost:8501", model_name="mnist_dcgan")
    >>> images = client.generate(seeds=range(16))      # == gan.generate(16, seed=0)
    >>> client.save_grid("served.png", seeds=range(16), scale=4)
"""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
import urllib.parse

import numpy as np

DEFAULT_SIGNATURE = "serving_default"
SEED_SIGNATURE = "generate_from_seed"
PNG_SIGNATURE = "generate_png"
PNG_SEED_SIGNATURE = "generate_png_from_seed"
_FLOAT_OUTPUTS = ("images", "samples")

# TF Serving's REST status for each canonical code (http_server.cc), inverted
# to recover the code from a REST error.
_HTTP_TO_CODE = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED",
                 404: "NOT_FOUND", 409: "ABORTED", 429: "RESOURCE_EXHAUSTED",
                 499: "CANCELLED", 500: "INTERNAL", 501: "UNIMPLEMENTED",
                 503: "UNAVAILABLE", 504: "DEADLINE_EXCEEDED"}

_NP_DTYPES = {"DT_FLOAT": np.float32, "DT_DOUBLE": np.float64, "DT_INT32": np.int32,
              "DT_INT64": np.int64, "DT_UINT8": np.uint8, "DT_INT8": np.int8,
              "DT_INT16": np.int16, "DT_BOOL": np.bool_, "DT_STRING": object,
              "DT_HALF": np.float16}


class ServingError(RuntimeError):
    """An error returned by the model server.

    Attributes:
        code: gRPC status name, e.g. ``"INVALID_ARGUMENT"`` (for REST,
            recovered from the HTTP status).
        message: the server's message.
    """

    def __init__(self, code, message):
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


def _integers(values, name):
    arr = np.asarray(values)
    if arr.size and not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"{name}: expected integers, got dtype {arr.dtype}.")
    return arr.astype(np.int64)


def check_texts(texts):
    """Sentences for a text-to-image export, checked as :func:`kgan.text.check_texts` does.

    Imports no TensorFlow. Refuses a single string, no sentences, entries
    that are not strings, and empty (whitespace-only) sentences with
    :func:`kgan.text.check_texts`'s messages. Length is checked by the
    server, which knows the model's ``max_chars``.

    Returns:
        list of ``str`` (``bytes`` are decoded as UTF-8).

    Example:
        >>> check_texts(["a thin 1"])
        ['a thin 1']
    """
    where = "texts"
    if isinstance(texts, (str, bytes)):
        raise ValueError(f"{where}: expected a list of strings, got a single string; "
                         f"wrap it in a list.")
    try:
        items = list(np.asarray(texts, dtype=object).reshape(-1)) if isinstance(
            texts, np.ndarray) else list(texts)
    except TypeError:
        raise ValueError(f"{where}: expected a list of strings, got "
                         f"{type(texts).__name__}.") from None
    if not items:
        raise ValueError(f"{where}: expected at least one text, got none.")
    out = []
    for i, t in enumerate(items):
        if isinstance(t, (bytes, np.bytes_)):
            t = bytes(t).decode("utf-8", "replace")
        elif not isinstance(t, (str, np.str_)):
            raise ValueError(f"{where}: expected strings, got {type(t).__name__} at row {i}.")
        if not str(t).split():
            raise ValueError(f"{where}: expected non-empty texts, got an empty one at row {i}.")
        out.append(str(t))
    return out


def make_inputs(z=None, seeds=None, labels=None):
    """Builds signature inputs from ``z`` or ``seeds`` (+ ``labels``).

    Args:
        z: latents ``[n, latent_dim]``; sent as float32.
        seeds: ``n`` integer seeds (e.g. ``range(16)``); sent as int64.
        labels: ``n`` integer class ids, or one int for all samples; sent as
            int64. Required by conditional models.

    Returns:
        ``(inputs dict, uses_seeds)``.

    Example:
        >>> inputs, _ = make_inputs(seeds=range(4), labels=3)
        >>> inputs["labels"]
        array([3, 3, 3, 3])
    """
    if (z is None) == (seeds is None):
        raise ValueError("Pass exactly one of z or seeds.")
    if z is not None:
        first = np.asarray(z, np.float32)
        inputs = {"z": first}
    else:
        first = _integers(list(seeds) if not hasattr(seeds, "shape") else seeds, "seeds")
        inputs = {"seed": first}
    if labels is not None:
        labels = _integers(labels, "labels")
        if labels.ndim == 0:
            labels = np.full((first.shape[0] if first.ndim else 1,), labels, np.int64)
        inputs["labels"] = labels
    return inputs, z is None


def _check_retry_args(attempts, backoff, max_backoff):
    if isinstance(attempts, bool) or not isinstance(attempts, int) or attempts < 1:
        raise ValueError(f"attempts must be an integer >= 1, got {attempts!r}.")
    for name, value in (("backoff", backoff), ("max_backoff", max_backoff)):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}.")


class _Client:
    """Shared logic; subclasses implement ``_predict_once`` and ``_metadata_once``."""

    def __init__(self, model_name, version, timeout, attempts=5, backoff=0.1, max_backoff=2.0):
        _check_retry_args(attempts, backoff, max_backoff)
        self.model_name = model_name
        self.version = version
        self.timeout = timeout
        self.attempts = attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self._metadata = None

    def _retrying(self, call, what):
        """Runs ``call()``, retrying UNAVAILABLE with capped exponential backoff."""
        for attempt in range(1, self.attempts + 1):
            try:
                return call()
            except ServingError as e:
                if e.code != "UNAVAILABLE":
                    raise
                if attempt == self.attempts:
                    raise ServingError("UNAVAILABLE", f"{what}: gave up after {attempt} "
                                       f"attempt(s); last answer: {e.message}") from None
                time.sleep(min(self.max_backoff, self.backoff * 2 ** (attempt - 1)))

    def _predict(self, inputs, signature, output_filter):
        return self._retrying(lambda: self._predict_once(inputs, signature, output_filter),
                              f"predict {self.model_name}/{signature}")

    def _fetch_metadata(self):
        return self._retrying(self._metadata_once, f"metadata of {self.model_name}")

    # -- transport, per subclass: one attempt each
    def _predict_once(self, inputs, signature, output_filter):
        raise NotImplementedError

    def _metadata_once(self):
        raise NotImplementedError

    def close(self):
        """Closes the connection (a later request opens a new one for REST)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- public API
    def metadata(self, refresh=False):
        """The served signatures: ``{name: {"inputs": {...}, "outputs": {...}}}``.

        Each tensor is described as ``{"dtype": "DT_FLOAT", "shape": [-1, 100]}``
        (-1 for a dimension of any size). Internal signatures (``__...``) are
        left out. Cached after the first call.

        Example:
            >>> client.metadata()["serving_default"]["inputs"]["z"]
            {'dtype': 'DT_FLOAT', 'shape': [-1, 100]}
        """
        if self._metadata is None or refresh:
            self._metadata = self._fetch_metadata()
        return self._metadata

    def predict(self, inputs, signature=DEFAULT_SIGNATURE, output_filter=None):
        """Runs a signature on numpy inputs.

        Args:
            inputs: dict of input name to array, already in the signature's
                dtypes (see :func:`make_inputs`).
            signature: signature name.
            output_filter: output names to fetch (gRPC only; REST returns
                every output).

        Returns:
            dict of output name to numpy array (``object`` arrays of bytes
            for string outputs).

        Example:
            >>> client.predict({"seed": np.arange(4)}, "generate_from_seed")["images"].shape
            (4, 28, 28, 1)
        """
        return self._predict(inputs, signature, list(output_filter or []))

    def generate(self, z=None, seeds=None, labels=None, signature=None):
        """Generates samples from latents ``z`` or integer ``seeds``.

        With seeds ``[s, ..., s+n-1]`` this returns exactly what
        ``model.generate(n, seed=s, labels=labels)`` returns on the exported
        model.

        Args:
            z: latents ``[n, latent_dim]``.
            seeds: ``n`` integer seeds.
            labels: class ids (``n`` ints, or one int) for conditional models.
            signature: defaults to ``serving_default`` for ``z`` and
                ``generate_from_seed`` for ``seeds``.

        Returns:
            float32 ``[n, H, W, C]`` images in [-1, 1] (``[n] + data_shape``
            samples for non-image models).

        Example:
            >>> images = client.generate(seeds=range(8), labels=[0, 1, 2, 3, 4, 5, 6, 7])
        """
        inputs, by_seed = make_inputs(z, seeds, labels)
        signature = signature or (SEED_SIGNATURE if by_seed else DEFAULT_SIGNATURE)
        outputs = self._check(signature, inputs)["outputs"]
        keys = [k for k in _FLOAT_OUTPUTS if k in outputs]
        if not keys:
            raise ValueError(f"Signature {signature!r} has no float output named "
                             f"{' or '.join(_FLOAT_OUTPUTS)}; its outputs are {sorted(outputs)}.")
        return np.asarray(self._predict(inputs, signature, keys[:1])[keys[0]], np.float32)

    def generate_png(self, z=None, seeds=None, labels=None):
        """Generates images as PNG files, one ``bytes`` object per image.

        Example:
            >>> open("0.png", "wb").write(client.generate_png(seeds=[0])[0])
        """
        inputs, by_seed = make_inputs(z, seeds, labels)
        signature = PNG_SEED_SIGNATURE if by_seed else PNG_SIGNATURE
        self._check(signature, inputs)
        out = self._predict(inputs, signature, ["png_bytes"])["png_bytes"]
        return [bytes(b) for b in np.asarray(out, object).reshape(-1)]

    def translate(self, images, signature=DEFAULT_SIGNATURE):
        """Translates source images with an image-to-image export (pix2pix, CycleGAN, SRGAN).

        Args:
            images: float ``[n, H, W, C]`` source images in [-1, 1] (sent as
                float32; the server checks shape, range and the request cap).
            signature: ``serving_default``, or CycleGAN's ``a_to_b`` / ``b_to_a``.

        Returns:
            float32 ``[n, H', W', C']`` translated images in [-1, 1].

        Example:
            >>> client.translate(edges[:8]).shape
            (8, 28, 28, 1)
        """
        x = np.asarray(images)
        if x.ndim != 4 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(f"images: expected numeric images [n, H, W, C], got {x.dtype} "
                             f"of shape {x.shape}.")
        self._check(signature, {})
        return np.asarray(self._predict({"images": x.astype(np.float32)}, signature,
                                        ["images"])["images"], np.float32)

    def translate_png(self, pngs, signature="translate_png"):
        """Translates PNG files (``bytes`` each) into PNG files; ``a_to_b_png`` for CycleGAN.

        Example:
            >>> out = client.translate_png([open("edges.png", "rb").read()])
        """
        data = np.empty((len(pngs),), object)
        data[:] = [bytes(p) for p in pngs]
        self._check(signature, {})
        out = self._predict({"png_bytes": data}, signature, ["png_bytes"])["png_bytes"]
        return [bytes(b) for b in np.asarray(out, object).reshape(-1)]

    def text_to_image(self, texts, seeds=None, signature=None):
        """Images for sentences from a text-to-image export (:mod:`kgan.export_text`).

        Args:
            texts: list of non-empty strings, one image each (checked here;
                the server checks their length against the model's
                ``max_chars`` and the request cap).
            seeds: ``None`` (``serving_default``: sentence ``i`` uses seed
                ``i``), one int ``s`` (seeds ``s, s+1, ...``), or one integer
                seed per sentence (``generate_from_seed``).
            signature: defaults to ``serving_default`` without seeds and
                ``generate_from_seed`` with them.

        Returns:
            float32 ``[n, H, W, C]`` images in [-1, 1]; with seeds ``s, s+1,
            ...`` exactly ``model.generate(texts, seed=s)`` on the exported
            model.

        Example:
            >>> client.text_to_image(["a thick seven", "a thin 1"], seeds=0).shape
            (2, 28, 28, 1)
        """
        inputs = self._text_inputs(texts, seeds, seeds is not None)
        signature = signature or (SEED_SIGNATURE if "seed" in inputs else DEFAULT_SIGNATURE)
        self._check(signature, inputs)
        return np.asarray(self._predict(inputs, signature, ["images"])["images"], np.float32)

    def text_to_png(self, texts, seeds=None):
        """PNG files (``bytes``, one per sentence) from a text-to-image export's ``generate_png``.

        ``seeds`` as in :meth:`text_to_image` (``None``: ``0, 1, ...``).

        Example:
            >>> open("seven.png", "wb").write(client.text_to_png(["a thick seven"])[0])
        """
        inputs = self._text_inputs(texts, 0 if seeds is None else seeds, True)
        self._check(PNG_SIGNATURE, inputs)
        out = self._predict(inputs, PNG_SIGNATURE, ["png_bytes"])["png_bytes"]
        return [bytes(b) for b in np.asarray(out, object).reshape(-1)]

    @staticmethod
    def _text_inputs(texts, seeds, with_seeds):
        texts = check_texts(texts)
        data = np.empty((len(texts),), object)
        data[:] = texts
        inputs = {"text": data}
        if with_seeds:
            if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool):
                seeds = np.arange(int(seeds), int(seeds) + len(texts))
            seeds = _integers(list(seeds) if not hasattr(seeds, "shape") else seeds, "seeds")
            if seeds.shape != (len(texts),):
                raise ValueError(f"seeds: expected one seed per sentence ({len(texts)}), got "
                                 f"shape {seeds.shape}.")
            inputs["seed"] = seeds
        return inputs

    def save_grid(self, path, z=None, seeds=None, labels=None, cols=None, scale=1):
        """Generates images and writes them as one PNG grid.

        Args:
            path: output PNG path.
            z, seeds, labels: as in :meth:`generate`.
            cols: grid columns (default: square-ish).
            scale: integer upscaling for small images.

        Returns:
            ``path``.

        Example:
            >>> client.save_grid("grid.png", seeds=range(64), scale=2)
        """
        from kgan.images import save_grid

        return save_grid(self.generate(z=z, seeds=seeds, labels=labels), path, cols=cols,
                         scale=scale)

    def score(self, images):
        """Anomaly scores from an exported scorer (:func:`kgan.anomaly.export_scorer`).

        Args:
            images: float images ``[n] + data_shape`` in [-1, 1] (sent to
                ``serving_default``), or uint8 pixels (sent to ``score_uint8``).

        Returns:
            dict of float32 arrays: ``scores`` (higher is more anomalous),
            ``residual``, ``feature_residual``, ``reconstructions``; equal to
            ``FAnoGAN.score`` on the exported model.

        Example:
            >>> client = RestClient("http://localhost:8501", "digits_anomaly")
            >>> client.score(test_images)["scores"]
        """
        x = np.asarray(images)
        if x.dtype == np.uint8:
            signature, inputs = "score_uint8", {"images_uint8": x}
        else:
            signature, inputs = DEFAULT_SIGNATURE, {"images": x.astype(np.float32)}
        expected = self._check(signature, inputs)["inputs"]
        if set(expected) != set(inputs):
            raise ValueError(f"Model {self.model_name!r} is not an anomaly scorer: signature "
                             f"{signature!r} takes {sorted(expected)}, not images.")
        return {k: np.asarray(v, np.float32)
                for k, v in self._predict(inputs, signature, []).items()}

    # -- helpers
    def _check(self, signature, inputs):
        """The signature's description; clear errors for a missing signature or
        for labels sent to (or missing from) a model that does (not) take them.

        TF Serving's REST API ignores inputs a signature does not have, so an
        unconditional model would silently drop labels without this check.
        """
        signatures = self.metadata()
        if signature not in signatures:
            raise ServingError("FAILED_PRECONDITION",
                               f"Serving signature key \"{signature}\" not found; the model "
                               f"has {sorted(signatures)}.")
        expected = signatures[signature]["inputs"]
        for key, (missing, extra) in _INPUT_KINDS.items():
            if key in expected and key not in inputs:
                raise ValueError(f"Model {self.model_name!r} {missing}")
            if key in inputs and key not in expected:
                raise ValueError(extra.format(model=self.model_name, signature=signature,
                                              takes=sorted(expected)))
        return signatures[signature]

    def _output_dtype(self, signature, name):
        info = self.metadata().get(signature, {}).get("outputs", {}).get(name)
        return _NP_DTYPES.get(info["dtype"]) if info else None


# Inputs that mark a kind of model: (message when a request lacks it, message
# when a request sends it to a model without it).
_INPUT_KINDS = {
    "text": ("is a text-to-image model: use text_to_image(texts, seeds) or "
             "text_to_png(texts, seeds).",
             "Model {model!r} is not a text-to-image model: signature {signature!r} takes "
             "{takes}, not text."),
    "labels": ("is conditional: pass labels (class ids), one per image or one int for all.",
               "labels were given but model {model!r} is not conditional."),
}


def _signature_map_to_dict(signature_defs):
    """SignatureDef protos (or their JSON dicts) -> plain description dict."""
    def tensors(infos):
        out = {}
        for name, info in infos.items():
            if isinstance(info, dict):
                shape = info.get("tensor_shape", {})
                dims = [int(d.get("size", 0)) for d in shape.get("dim", [])]
                unknown = shape.get("unknown_rank", False)
                dtype = info.get("dtype", "DT_INVALID")
            else:
                dims = [int(d.size) for d in info.tensor_shape.dim]
                unknown = info.tensor_shape.unknown_rank
                from tensorflow.core.framework import types_pb2

                dtype = types_pb2.DataType.Name(info.dtype)
            out[name] = {"dtype": dtype, "shape": None if unknown else dims}
        return out

    result = {}
    for name, sig in signature_defs.items():
        if name.startswith("__"):
            continue
        inputs = sig.get("inputs", {}) if isinstance(sig, dict) else sig.inputs
        outputs = sig.get("outputs", {}) if isinstance(sig, dict) else sig.outputs
        result[name] = {"inputs": tensors(inputs), "outputs": tensors(outputs)}
    return result


# ------------------------------------------------------------------------ REST
class RestClient(_Client):
    """Client for TF Serving's REST API, over one keep-alive HTTP connection.

    Imports no TensorFlow.

    Args:
        url: server root, e.g. ``"http://localhost:8501"`` (http or https).
        model_name: served model name.
        version: model version (int) or ``None`` for the server's latest.
        timeout: seconds per HTTP request.
        attempts: tries per call when the server answers UNAVAILABLE (HTTP
            503) or cannot be reached; 1 disables retrying.
        backoff: seconds before the first retry; doubled for each next one.
        max_backoff: cap on the sleep between two tries.

    Example:
        >>> client = RestClient("http://localhost:8501", "generator", attempts=8)
        >>> client.generate(seeds=[0, 1, 2]).shape
        (3, 28, 28, 1)
    """

    def __init__(self, url="http://localhost:8501", model_name="generator", version=None,
                 timeout=30.0, attempts=5, backoff=0.1, max_backoff=2.0):
        super().__init__(model_name, version, timeout, attempts, backoff, max_backoff)
        self.url = url.rstrip("/")
        parts = urllib.parse.urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"url: expected http://host:port or https://host:port, got {url!r}.")
        self._scheme, self._netloc, self._prefix = parts.scheme, parts.netloc, parts.path
        self._conn = None
        # http.client connections are not thread-safe; one request at a time
        # on the shared connection.
        self._lock = threading.Lock()

    def close(self):
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

    def _model_url(self):
        url = f"{self._prefix}/v1/models/{self.model_name}"
        return url + (f"/versions/{int(self.version)}" if self.version is not None else "")

    def _connection(self):
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._scheme == "https" else \
                http.client.HTTPConnection
            self._conn = cls(self._netloc, timeout=self.timeout)
        return self._conn

    def _request(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        method = "GET" if body is None else "POST"
        where = f"{self.url}{path[len(self._prefix):]}"
        with self._lock:
            try:
                # A keep-alive connection the server has since closed fails on
                # first use; one fresh connection is then tried at once (a
                # stale socket is not the server being unavailable).
                for fresh in (self._conn is None, True):
                    conn = self._connection()
                    try:
                        conn.request(method, path, body=data,
                                     headers={"Content-Type": "application/json"})
                        resp = conn.getresponse()
                        raw = resp.read()
                        break
                    except (http.client.RemoteDisconnected, BrokenPipeError,
                            ConnectionResetError):
                        conn.close()
                        self._conn = None
                        if fresh:
                            raise
                if resp.will_close:
                    conn.close()
                    self._conn = None
            except (OSError, http.client.HTTPException) as e:  # refused, reset, timeout
                if self._conn is not None:
                    self._conn.close()
                    self._conn = None
                raise ServingError("UNAVAILABLE", f"{where}: {e!r}") from None
        if resp.status != 200:
            try:
                message = json.loads(raw).get("error", raw.decode(errors="replace"))
            except (ValueError, AttributeError):
                message = raw.decode(errors="replace")
            raise ServingError(_HTTP_TO_CODE.get(resp.status, f"HTTP_{resp.status}"), message)
        return json.loads(raw)

    def _metadata_once(self):
        body = self._request(self._model_url() + "/metadata")
        sig_map = body.get("metadata", {}).get("signature_def", {})
        return _signature_map_to_dict(sig_map.get("signature_def", {}))

    def _predict_once(self, inputs, signature, output_filter):
        def encode(k, v):
            v = np.asarray(v)
            if v.dtype == object:
                # sentences travel as JSON strings; bytes (PNG files) base64-encoded
                return [b if isinstance(b, str) else {"b64": base64.b64encode(bytes(b)).decode()}
                        for b in v.reshape(-1)]
            return v.tolist()

        body = {"signature_name": signature, "inputs": {k: encode(k, v) for k, v in inputs.items()}}
        outputs = self._request(self._model_url() + ":predict", body)["outputs"]
        if not isinstance(outputs, dict):
            # One output: TF Serving writes its value without the name.
            names = list(self.metadata().get(signature, {}).get("outputs", {}))
            if len(names) != 1:
                raise ServingError("INTERNAL", f"Unexpected single-output response for "
                                               f"signature {signature!r} with outputs {names}.")
            outputs = {names[0]: outputs}
        return {k: self._decode(signature, k, v) for k, v in outputs.items()}

    def _decode(self, signature, name, value):
        if name.endswith("_bytes"):
            # String outputs named *_bytes come base64-encoded as {"b64": ...}.
            def unwrap(v):
                if isinstance(v, list):
                    return [unwrap(x) for x in v]
                return base64.b64decode(v["b64"]) if isinstance(v, dict) else v.encode()
            return np.array(unwrap(value), dtype=object)
        dtype = self._output_dtype(signature, name)
        return np.asarray(value, dtype)


# ------------------------------------------------------------------------ gRPC
class GrpcClient(_Client):
    """Client for TF Serving's gRPC ``PredictionService``.

    Args:
        target: ``"host:port"`` of the gRPC endpoint (TF Serving's
            ``--port``, 8500 by default).
        model_name: served model name.
        version: model version (int) or ``None`` for the server's latest.
        timeout: seconds per RPC.
        channel: an existing ``grpc.Channel`` to use instead of ``target``.
        max_message_mb: receive limit; large batches of images need more
            than gRPC's 4 MB default.
        attempts: tries per call when the server answers UNAVAILABLE;
            1 disables retrying.
        backoff: seconds before the first retry; doubled for each next one.
        max_backoff: cap on the sleep between two tries.

    Example:
        >>> client = GrpcClient("localhost:8500", "mnist_dcgan")
        >>> client.generate(seeds=range(4)).shape
        (4, 28, 28, 1)
    """

    def __init__(self, target="localhost:8500", model_name="generator", version=None,
                 timeout=30.0, channel=None, max_message_mb=256, attempts=5, backoff=0.1,
                 max_backoff=2.0):
        import grpc
        from tensorflow_serving.apis import prediction_service_pb2_grpc

        super().__init__(model_name, version, timeout, attempts, backoff, max_backoff)
        self.target = target
        limit = int(max_message_mb * 1024 * 1024)
        self._channel = channel or grpc.insecure_channel(
            target, options=[("grpc.max_receive_message_length", limit),
                             ("grpc.max_send_message_length", limit)])
        self._stub = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)

    def close(self):
        """Closes the channel."""
        self._channel.close()

    def _model_spec(self, spec, signature=None):
        spec.name = self.model_name
        if self.version is not None:
            spec.version.value = int(self.version)
        if signature:
            spec.signature_name = signature

    def _call(self, method, request):
        import grpc

        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as e:
            raise ServingError(e.code().name, e.details()) from None

    def _metadata_once(self):
        from tensorflow_serving.apis import get_model_metadata_pb2

        request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
        self._model_spec(request.model_spec)
        response = self._call(self._stub.GetModelMetadata, request)
        sig_map = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(sig_map)
        return _signature_map_to_dict(sig_map.signature_def)

    def _predict_once(self, inputs, signature, output_filter):
        import tensorflow as tf
        from tensorflow_serving.apis import predict_pb2

        request = predict_pb2.PredictRequest(output_filter=output_filter)
        self._model_spec(request.model_spec, signature)
        for name, value in inputs.items():
            value = np.asarray(value)
            if value.dtype == object:  # a tf.string tensor: sentences as UTF-8, bytes as they are
                value = np.array([v.encode() if isinstance(v, str) else bytes(v)
                                  for v in value.reshape(-1)], object).reshape(value.shape)
            request.inputs[name].CopyFrom(tf.make_tensor_proto(value))
        response = self._call(self._stub.Predict, request)
        return {name: tf.make_ndarray(proto) for name, proto in response.outputs.items()}


def make_client(rest=None, grpc=None, **kwargs):
    """A :class:`RestClient` for a REST URL or a :class:`GrpcClient` for a gRPC target.

    Example:
        >>> make_client(rest="http://localhost:8501", model_name="mnist_dcgan")
    """
    if (rest is None) == (grpc is None):
        raise ValueError("Pass exactly one of rest (a URL) or grpc (host:port).")
    return RestClient(rest, **kwargs) if rest is not None else GrpcClient(grpc, **kwargs)
