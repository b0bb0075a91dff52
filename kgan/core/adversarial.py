"""``AdversarialModel``: what every adversarial family shares.

Optimizers built in ``compile`` (keyword-only, one per network), gradient
application behind a NaN guard, the metric trackers, the input checks and
error translation around ``fit`` / ``evaluate``, the noise seed state that is
saved with the weights, and the multi-worker workaround. It knows nothing
about noise, losses or networks: families (:class:`kgan.GAN` and the ones
built on it) do.
"""

from __future__ import annotations

import tensorflow as tf
import keras
from keras import ops
from keras.src.trainers import compile_utils

from kgan import distribute
from kgan import validation
from kgan.core import replica
from kgan.core.guards import ChooseJit, NonFiniteGuard, NonFiniteLossError  # noqa: F401



def _apply_if(optimizer, grads, variables, ok):
    """``optimizer.apply(grads, variables)`` when ``ok``, under any strategy.

    A cond whose branch calls ``merge_call`` is not allowed in a replica
    context, so under MirroredStrategy the cond runs in the cross-replica
    context and applies on every replica from there (Keras's
    LossScaleOptimizer does the same).
    """
    if tf.__internal__.distribute.strategy_supports_no_merge_call():
        ops.cond(ok, lambda: optimizer.apply(grads, variables), lambda: None)
        return

    def cross_replica(distribution, grads, ok):
        first = distribution.experimental_local_results(ok)[0]  # equal on every replica
        ops.cond(first, lambda: distribution.extended.call_for_each_replica(
            optimizer.apply, args=(grads, variables)), lambda: None)

    tf.distribute.get_replica_context().merge_call(cross_replica, args=(grads, ok))


class _Metrics(compile_utils.MetricsList):
    # Keras's EarlyStopping / ModelCheckpoint infer mode="auto" from the
    # `_direction` of metrics they find inside a MetricsList only, so the
    # trackers are grouped in one: EarlyStopping(monitor="g_loss") works.
    def result(self):
        return {m.name: m.result() for m in self.metrics}


def _tracker(name):
    m = keras.metrics.Mean(name=name)
    if name.endswith("loss"):
        m._direction = "down"
    return m


class AdversarialModel(keras.Model):
    """Base of the adversarial families: optimizers, guard, trackers, checks.

    Subclasses set ``networks`` (``{optimizer keyword: network attribute}``,
    e.g. ``{"g_optimizer": "generator", "d_optimizer": "discriminator"}``)
    and ``metric_names``, and implement ``train_step``.

    Args:
        seed: seed of the model's ``keras.random.SeedGenerator`` (its state
            is saved with the weights, so a resumed run draws what an
            uninterrupted one would).
        **kwargs: forwarded to ``keras.Model``.
    """

    networks = {}
    metric_names = ()
    # compile()'s optimizer when none is given: Adam(2e-4, beta_1=0.5), Radford et al. 2016.
    default_optimizer = {"learning_rate": 2e-4, "beta_1": 0.5}

    def __init__(self, *, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.trackers = {name: _tracker(name) for name in self.metric_names}
        self._metric_list = _Metrics(list(self.trackers.values()), name="gan_metrics")
        # 0, or which network's update met a non-finite loss (1-based, order of
        # `networks`); read by fit after every step. Not saved.
        object.__setattr__(self, "nonfinite", keras.Variable(
            0, dtype="int32", trainable=False, name="nonfinite", aggregation="only_first_replica"))
        self._jit_auto = False
        self.jit_choice = None
        for key in self.networks:
            setattr(self, key, None)

    # ----------------------------------------------------------- optimizers
    def compile(self, *args, jit_compile=False, steps_per_execution=1, run_eagerly=False,
                **kwargs):
        """Configures one optimizer per network and builds their state.

        Optimizers are keyword-only (``g_optimizer=``, ``d_optimizer=``):
        the keras-io GAN examples take D's first, kgan's took G's first, and a
        positional call would swap them silently. All are built here, inside
        the current strategy scope: a MirroredStrategy step that creates
        optimizer slots lazily fails on its first update.

        Args:
            jit_compile: compile the train step with XLA: ``True``, ``False``, or
                ``"auto"``: the first ``fit`` times a few steps each way on this
                device and keeps the faster (``model.jit_choice`` says which).
            steps_per_execution: train steps per compiled call.
            run_eagerly: debug mode.
            **kwargs: the optimizers (instances, names or configs; default
                ``Adam(**default_optimizer)``), then ``keras.Model.compile``
                arguments.

        Separate optimizers are the two time-scale update rule (TTUR,
        Heusel et al. 2017): give D a larger learning rate than G.

        Example:
            >>> gan.compile(g_optimizer=keras.optimizers.Adam(1e-4),
            ...             d_optimizer=keras.optimizers.Adam(4e-4))
        """
        keys = list(self.networks)
        if args:
            raise TypeError(f"compile() takes the optimizers by keyword only: "
                            f"compile({', '.join(k + '=...' for k in keys)}); got {len(args)} "
                            f"positional argument(s).")
        opts = {k: self._make_optimizer(kwargs.pop(k, None), k) for k in keys}
        if len({id(o) for o in opts.values()}) < len(opts):
            raise ValueError(f"{' and '.join(keys)} must be different optimizer objects.")
        self._jit_auto = jit_compile == "auto"
        if self._jit_auto and self.jit_choice is not None:
            jit_compile = self.jit_choice["jit_compile"]  # measured already
        super().compile(optimizer=None, jit_compile=False if self._jit_auto and
                        self.jit_choice is None else jit_compile,
                        steps_per_execution=steps_per_execution, run_eagerly=run_eagerly, **kwargs)
        for key, net in self.networks.items():
            setattr(self, key, opts[key])
            opts[key].build(getattr(self, net).trainable_variables)
        self.after_compile()

    def after_compile(self):
        """Hook for state that needs the optimizers (built in the strategy scope)."""

    def _make_optimizer(self, opt, key):
        name = key.replace("g_", "generator_").replace("d_", "discriminator_")
        opt = (keras.optimizers.Adam(name=name, **self.default_optimizer) if opt is None
               else keras.optimizers.get(opt))
        if (self.dtype_policy.name == "mixed_float16"
                and not isinstance(opt, keras.optimizers.LossScaleOptimizer)):
            opt = keras.optimizers.LossScaleOptimizer(opt, name=f"{name}_loss_scale")
        return opt

    @property
    def optimizers_built(self):
        return all(getattr(self, k, None) is not None for k in self.networks)

    @property
    def step(self):
        """Completed train steps (updates of the first network), restored with the weights."""
        return int(ops.convert_to_numpy(getattr(self, next(iter(self.networks))).iterations.value))

    def apply(self, optimizer, loss, tape, variables, what):
        """Applies ``d loss / d variables``, never after a non-finite loss.

        The update runs only when this step's loss and gradients are finite on
        every replica and no earlier update of the step was skipped; otherwise
        nothing changes (weights, moments, step counter) and a flag tells
        ``fit`` to raise :class:`NonFiniteLossError` after the step. Built from
        a condition rather than an assertion, so it holds under XLA too.

        Args:
            optimizer: the optimizer (its ``scale_loss`` is applied here).
            loss: the replica's share of the loss (recorded on ``tape``).
            tape: the ``tf.GradientTape`` that recorded ``loss``.
            variables: what to update.
            what: the network's name, for the error message.
        """
        grads = tape.gradient(optimizer.scale_loss(loss), variables)
        # Dense label-embedding gradients: sparse IndexedSlices all-reduce with
        # replica-dependent shapes under MirroredStrategy, and the tables are small.
        grads = [tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g for g in grads]
        bad = ops.logical_not(ops.all(ops.isfinite(loss)))
        for g in grads:
            if g is not None:
                bad = ops.logical_or(bad, ops.logical_not(ops.all(ops.isfinite(g))))
        code = list(self.networks.values()).index(what) + 1 if what in self.networks.values() else 99
        # Every replica takes the same decision: any replica's bad value stops all.
        bad = replica.all_sum(ops.cast(bad, "int32")) > 0
        ok = ops.logical_and(ops.logical_not(bad), ops.equal(self.nonfinite.value, 0))
        with tf.control_dependencies([self.nonfinite.assign(
                ops.where(ok, self.nonfinite.value, ops.maximum(self.nonfinite.value, code)))]):
            _apply_if(optimizer, grads, variables, ok)

    def draw(self, fn, batch_size):
        """``fn(n)`` for the global batch from the model's seed, this replica's rows."""
        return replica.draw(fn, batch_size)

    # -------------------------------------------------------------- metrics
    @property
    def metrics(self):
        return [self._metric_list]

    def update_trackers(self, values, weight):
        """Adds ``{name: value}`` with ``weight`` (this replica's examples)."""
        for name, value in values.items():
            self.trackers[name].update_state(value, sample_weight=weight)

    def logs(self):
        logs = {name: t.result() for name, t in self.trackers.items()}
        if distribute.in_multi_worker_mode(self.distribute_strategy):
            # Keras reduces multi-worker step outputs with
            # strategy.reduce("MEAN", v, axis=0), which rejects scalars
            # (keras #20585, tensorflow #72388). Every replica holds the same
            # synced value, so a [1] vector reduces to it exactly.
            logs = {k: ops.reshape(v, (1,)) for k, v in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Workaround for keras #20585 / tensorflow #72388: the base method
        # reduces a first data batch with strategy.reduce in eager mode, which
        # fails under MultiWorkerMirroredStrategy. A kgan model is fully built
        # in __init__ and compile(), so there is nothing for it to build.
        # Remove when Keras fixes the upstream issues.
        if self.built and self.optimizers_built:
            return
        super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)

    # ------------------------------------------------------- checked entries
    def prepare_data(self, x, y):
        """``(x, y)`` as the train step reads them (text families tokenize captions here)."""
        return x, y

    def check_data(self, x, y, batch_size):
        """Raises :class:`kgan.DataError` for data this model cannot train on."""

    def graph_errors(self):
        """``{marker: exception factory}`` for in-graph assertion messages."""
        n = self.distribute_strategy.num_replicas_in_sync
        return {
            replica.SPLIT_ERROR: lambda e: validation.DataError(
                f"A global batch did not split evenly across {n} replicas (a partial last "
                f"batch?). Use a batch size divisible by {n} and drop_remainder=True."),
        }

    def _checked(self, run, x, y, batch_size, kwargs):
        if not self.optimizers_built:
            raise RuntimeError("Call compile() before fit() or evaluate().")
        x, y = self.prepare_data(x, y)
        self.check_data(x, y, batch_size)
        if isinstance(x, (tuple, list)) and y is None and len(x) == 2:
            x, y = x
        if isinstance(x, tf.data.Dataset) and run.__name__ == "fit":
            kwargs.setdefault("shuffle", False)  # a dataset brings its own order
        try:
            return run(x, y, batch_size=batch_size, **kwargs)
        except tf.errors.InvalidArgumentError as e:
            for marker, make in self.graph_errors().items():
                if marker in str(e):
                    raise make(e) from None
            raise

    def fit(self, x=None, y=None, batch_size=None, **kwargs):
        """``keras.Model.fit`` with input checks before the first step and clear failures.

        A NaN/Inf loss stops training with :class:`NonFiniteLossError`
        after the step, whose update was not applied. With
        ``compile(jit_compile="auto")`` the first fit times steps with and
        without XLA and keeps the faster (``model.jit_choice``).

        Example:
            >>> gan.fit(dataset, epochs=5)
        """
        self.nonfinite.assign(0)
        extra = [NonFiniteGuard()]
        if self._jit_auto and self.jit_choice is None:
            extra.append(ChooseJit())
        kwargs["callbacks"] = extra + list(kwargs.get("callbacks") or [])
        return self._checked(super().fit, x, y, batch_size, kwargs)

    def evaluate(self, x=None, y=None, batch_size=None, **kwargs):
        """``keras.Model.evaluate`` with the same input checks as ``fit``.

        Example:
            >>> gan.evaluate(held_out, return_dict=True)["d_acc_real"]
        """
        return self._checked(super().evaluate, x, y, batch_size, kwargs)

    # -------------------------------------------------------- serialization
    def save_own_variables(self, store):
        # The noise stream is training state too: without it a resumed run
        # would replay noise it has already used and diverge.
        super().save_own_variables(store)
        store["noise_seed_state"] = self.seed_generator.state

    def load_own_variables(self, store):
        keys = list(store.keys())
        if "noise_seed_state" in keys:
            self.seed_generator.state.assign(store["noise_seed_state"])
        super().load_own_variables({k: store[k] for k in keys if k != "noise_seed_state"})

    def get_compile_config(self):
        if not self.optimizers_built:
            return None
        config = {k: keras.saving.serialize_keras_object(getattr(self, k)) for k in self.networks}
        config.update(jit_compile="auto" if self._jit_auto else bool(self.jit_compile),
                      steps_per_execution=self.steps_per_execution)
        return config

    def compile_from_config(self, config):
        config = dict(config)
        for k in self.networks:
            config[k] = keras.saving.deserialize_keras_object(config[k])
        self.compile(**config)
