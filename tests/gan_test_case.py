"""The family test battery: every GAN family gets these checks by subclassing.

Like keras-hub's ``TestCase`` (``run_serialization_test``, ...): a family's
test file is a few lines of parameters over :class:`FamilyTestCase`:

* ``fit`` runs and logs finite, global metrics with the documented keys;
* 2 replicas (MirroredStrategy on 2 logical CPUs) equal one device, in
  weights and in every logged metric, to float32 tolerance;
* a ``.keras`` round trip gives the same outputs and continues training
  exactly as the uninterrupted run;
* the export, loaded in a fresh process that imports only TensorFlow,
  generates what ``generate`` generates;
* a crash resume from ``kgan.callbacks.TrainingState`` ends where the
  uninterrupted run ends;
* bad inputs are refused with an error naming what was expected.

Families that are not noise-to-sample games (image-to-image translation)
override the hooks: :meth:`FamilyTestCase.data`, :meth:`~FamilyTestCase.stream`,
:meth:`~FamilyTestCase.outputs` (what the model produces, compared across
runs), :meth:`~FamilyTestCase.network_weights`,
:meth:`~FamilyTestCase.serve_in_fresh_process` and
:meth:`~FamilyTestCase.refuse_bad_count` (:class:`TranslationTestCase` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

import kgan
from kgan import callbacks as kcb
from kgan import export

from test_distributed import mirrored_strategy

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FRESH = textwrap.dedent("""
    import json, sys
    import numpy as np
    import tensorflow as tf
    assert "kgan" not in sys.modules
    path, seeds, labels = sys.argv[1], json.loads(sys.argv[2]), json.loads(sys.argv[3])
    fn = tf.saved_model.load(path).signatures["generate_from_seed"]
    kw = {"seed": tf.constant(seeds, tf.int64)}
    if labels is not None:
        kw["labels"] = tf.constant(labels, tf.int64)
    np.save(sys.argv[4], fn(**kw)["images" if "images" in fn.structured_outputs else "samples"].numpy())
""")


def weights(gan):
    return [np.array(v) for v in gan.generator.weights + gan.discriminator.weights]


def run_fresh(script, args, cwd):
    """Runs ``script`` in a new Python that cannot import kgan; fails with its stderr."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    proc = subprocess.run([sys.executable, "-c", script] + list(args), capture_output=True,
                          text=True, timeout=300, cwd=str(cwd), env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]


class FamilyTestCase:
    """Subclass and set ``family`` and ``kwargs`` (a tiny, seeded configuration).

    ``data_shape`` is taken from ``kwargs``; ``num_classes`` in ``kwargs``
    makes the data labelled. ``replica_kwargs`` are added for the 2-replica
    comparison (synchronized batch norm, for example).
    """

    family = None
    kwargs = {}
    replica_kwargs = {}
    batch_size = 8
    rtol = 2e-5
    learning_rate = 1e-2

    # ------------------------------------------------------------- helpers
    @property
    def sample_shape(self):
        """Shape of one training input (what a wrong-channel batch is built from)."""
        return tuple(self.kwargs["data_shape"])

    def make(self, strategy=None, **extra):
        keras.utils.set_random_seed(7)
        strategy = strategy or tf.distribute.get_strategy()
        with strategy.scope():
            gan = self.family(seed=3, **{**self.kwargs, **extra})
            gan.compile(**self.optimizers())
        return gan

    def optimizers(self):
        """The compile() optimizers of every check: one per entry of the family's
        `networks` (CycleGAN has four); a hook for families that need others."""
        return {k: keras.optimizers.Adam(self.learning_rate) for k in self.family.networks}

    def network_weights(self, gan):
        return weights(gan)

    def outputs(self, gan, n, seed):
        """What the model produces for a fixed request (compared across runs)."""
        return gan.generate(n, seed=seed, labels=self.labels(n))

    def refuse_bad_count(self, gan):
        with pytest.raises(ValueError, match="num_samples must be a positive integer, got -3"):
            gan.generate(-3)

    def data(self, n=32):
        rng = np.random.default_rng(0)
        shape = tuple(self.kwargs["data_shape"])
        x = (np.tanh(rng.normal(size=(n,) + shape)) * 0.9).astype("float32")
        k = self.kwargs.get("num_classes")
        y = rng.integers(0, k, n).astype("int32") if k else None
        return x, y

    def stream(self, start_step=0):
        x, y = self.data()
        return kgan.data.training_stream(x, y, batch_size=self.batch_size, seed=1,
                                         start_step=start_step)[0]

    def labels(self, n):
        k = self.kwargs.get("num_classes")
        return None if not k else [i % k for i in range(n)]

    # --------------------------------------------------------------- checks
    def test_fit_logs_finite_global_metrics(self):
        gan = self.make()
        x, y = self.data()
        hist = gan.fit(x, y, batch_size=self.batch_size, epochs=1, verbose=0)
        assert set(hist.history) == set(gan.metric_names)
        for name, values in hist.history.items():
            assert np.isfinite(values).all(), name
        assert gan.step == len(x) // self.batch_size
        out = self.outputs(gan, 3, 0)
        assert out.shape == (3,) + tuple(gan.data_shape) and np.isfinite(out).all()

    def test_two_replicas_equal_one_device(self):
        runs = []
        for strategy in (tf.distribute.OneDeviceStrategy("/cpu:0"), mirrored_strategy()):
            gan = self.make(strategy, **self.replica_kwargs)
            before = self.network_weights(gan)
            hist = gan.fit(self.stream(), epochs=2, steps_per_epoch=2, verbose=0)
            runs.append((self.network_weights(gan), hist.history, gan))
        (w1, h1, one), (w2, h2, two) = runs
        assert two.distribute_strategy.num_replicas_in_sync == 2
        assert not np.allclose(before[0], w2[0])  # training moved the weights
        for a, b in zip(w1, w2):
            np.testing.assert_allclose(a, b, rtol=self.rtol, atol=self.rtol / 10)
        for key in h1:  # logged values are global-batch values
            np.testing.assert_allclose(h1[key], h2[key], rtol=self.rtol, atol=1e-6, err_msg=key)
        assert one.step == two.step == 4

    def test_keras_round_trip_continues_exactly(self, tmp_path):
        a = self.make()
        a.fit(self.stream(), epochs=2, steps_per_epoch=2, verbose=0)
        b = self.make()
        b.fit(self.stream(), epochs=1, steps_per_epoch=2, verbose=0)
        path = str(tmp_path / "model.keras")
        b.save(path)
        c = keras.saving.load_model(path)
        as_json = lambda m: json.loads(json.dumps(m.get_config()))  # noqa: E731
        assert type(c) is type(b) and as_json(c) == as_json(b)
        np.testing.assert_array_equal(self.outputs(c, 4, 5), self.outputs(b, 4, 5))
        c.fit(self.stream(start_step=2), epochs=1, steps_per_epoch=2, verbose=0)
        for u, v in zip(self.network_weights(a), self.network_weights(c)):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)

    def test_crash_resume_is_exact(self, tmp_path):
        a = self.make()
        a.fit(self.stream(), epochs=1, steps_per_epoch=4, verbose=0)
        state = kcb.TrainingState(str(tmp_path / "backup"), every=1)
        b = self.make()
        b.fit(self.stream(), epochs=1, steps_per_epoch=3, verbose=0, callbacks=[state])
        c = self.make()  # a new process would build the same model, then restore
        assert state.restore(c) == 3
        c.fit(self.stream(start_step=3), epochs=1, steps_per_epoch=1, verbose=0)
        for u, v in zip(self.network_weights(a), self.network_weights(c)):
            np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)

    def test_export_equals_generate_in_a_fresh_process(self, tmp_path):
        gan = self.make()
        gan.fit(self.stream(), epochs=1, steps_per_epoch=2, verbose=0)
        served, want = self.serve_in_fresh_process(gan, tmp_path)
        np.testing.assert_allclose(served, want, atol=1e-5)

    def serve_in_fresh_process(self, gan, tmp_path):
        """``(served, expected)``: the export run by a process that imports only TensorFlow."""
        path = export.export_generator(gan, str(tmp_path / "export"), model_name="family")
        seeds, labels = [4, 9, 11], self.labels(3)
        out = str(tmp_path / "served.npy")
        run_fresh(FRESH, [path, json.dumps(seeds), json.dumps(labels), out], tmp_path)
        want = np.concatenate([gan.generate(1, seed=s, labels=None if labels is None else [l])
                               for s, l in zip(seeds, labels or [None] * 3)])
        return np.load(out), want

    def test_bad_input_is_refused_clearly(self):
        gan = self.make()
        shape = self.sample_shape
        wrong = np.zeros((8,) + shape[:-1] + (shape[-1] + 1,), "float32")
        with pytest.raises(kgan.DataError, match=r"expected.*" + str(shape[-1])):
            gan.fit(wrong, self.data(8)[1], batch_size=4, verbose=0)
        self.refuse_bad_count(gan)
        k = self.kwargs.get("num_classes")
        if k:
            x, _ = self.data(8)
            with pytest.raises(kgan.DataError, match=rf"labels in \[0, {k}\)"):
                gan.fit(x, np.full(8, k, "int32"), batch_size=4, verbose=0)


TRANSLATE_FRESH = textwrap.dedent("""
    import sys
    import numpy as np
    import tensorflow as tf
    assert "kgan" not in sys.modules
    path, inputs, name, out = sys.argv[1:5]
    fn = tf.saved_model.load(path).signatures[name]
    np.save(out, fn(images=tf.constant(np.load(inputs)))["images"].numpy())
""")


class TranslationTestCase(FamilyTestCase):
    """The battery for image-to-image families: ``fit(sources, targets)``.

    Set ``kwargs`` with ``source_shape`` (and ``target_shape`` when it
    differs). ``directions`` lists the export signatures to check in the
    fresh process (CycleGAN: both ways).
    """

    directions = ("serving_default",)

    @property
    def sample_shape(self):
        return tuple(self.kwargs["source_shape"])

    @property
    def target_shape(self):
        return tuple(self.kwargs.get("target_shape") or self.kwargs["source_shape"])

    def data(self, n=32):
        rng = np.random.default_rng(0)
        src = (np.tanh(rng.normal(size=(n,) + self.sample_shape)) * 0.9).astype("float32")
        tgt = (np.tanh(rng.normal(size=(n,) + self.target_shape)) * 0.9).astype("float32")
        return src, tgt

    def stream(self, start_step=0):
        src, tgt = self.data()
        return kgan.data.training_stream(src, tgt, batch_size=self.batch_size, seed=1,
                                         start_step=start_step)[0]

    def network_weights(self, gan):
        return [np.array(v) for v in gan.weights]

    def outputs(self, gan, n, seed):
        src = self.data(n + seed)[0][seed:]
        return gan.translate(src)

    def refuse_bad_count(self, gan):
        with pytest.raises(ValueError, match="batch_size must be a positive integer, got -3"):
            gan.translate(self.data(2)[0], batch_size=-3)

    def serve_in_fresh_process(self, gan, tmp_path):
        from kgan import export_translation

        path = export.export_generator(gan, str(tmp_path / "export"), model_name="family")
        served, want = [], []
        for name in self.directions:
            src_shape = tuple(gan.directions()[name][0])
            rng = np.random.default_rng(5)
            src = (np.tanh(rng.normal(size=(3,) + src_shape)) * 0.9).astype("float32")
            np.save(str(tmp_path / "in.npy"), src)
            out = str(tmp_path / f"{name}.npy")
            run_fresh(TRANSLATE_FRESH, [path, str(tmp_path / "in.npy"), name, out], tmp_path)
            served.append(np.load(out).ravel())
            want.append(gan.translate(src, direction=name).ravel())
            np.testing.assert_allclose(export_translation.translate_from_export(path, src, name).ravel(),
                                       want[-1], atol=1e-5)
        return np.concatenate(served), np.concatenate(want)
