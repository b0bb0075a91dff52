"""Callbacks ``AdversarialModel.fit`` adds itself: the host side of the NaN guard,
and the measured choice of XLA for ``compile(jit_compile="auto")``."""

from __future__ import annotations

import time

import numpy as np
import keras


class NonFiniteLossError(FloatingPointError):
    """Raised when a loss becomes NaN/Inf; the step's update is not applied."""


class NonFiniteGuard(keras.callbacks.Callback):
    """Raises :class:`NonFiniteLossError` after a step whose update was skipped.

    The step itself skips the update (``AdversarialModel.apply``) and sets
    ``model.nonfinite``; this runs first among the callbacks, so no checkpoint
    or backup is written after the bad step.
    """

    def on_train_batch_end(self, batch, logs=None):
        code = int(keras.ops.convert_to_numpy(self.model.nonfinite.value))
        if code:
            names = list(self.model.networks.values())
            which = names[code - 1] if code <= len(names) else "training"
            raise NonFiniteLossError(
                f"Training stopped: the {which} loss became NaN or Inf. The update that "
                "produced it was not applied, and checkpoints written before it are untouched. "
                "Lower the learning rate or add a penalty.")


class ChooseJit(keras.callbacks.Callback):
    """Times train steps without and with XLA on this device and keeps the faster.

    XLA was measured 40 % faster on one 2-core CPU and 57 % slower on another
    (issue "Speed on every machine"), so the choice is made where the model
    runs: ``steps`` steps are timed each way, each after ``warmup`` steps
    of its own (the compile among them); every step is a real training step,
    as both forms compute the same update.

    Args:
        steps: timed steps per form.
        warmup: steps of each form before its timing (tracing, XLA's compile, caches).
    """

    def __init__(self, steps=5, warmup=2):
        super().__init__()
        self.steps, self.warmup = int(steps), int(warmup)
        self.times = {False: [], True: []}
        self.choice = None
        self._t0 = None

    @property
    def phase_steps(self):
        """Train steps the choice takes: warm-up and timed steps, both forms."""
        return 2 * (self.warmup + self.steps)

    def _set(self, jit):
        self.model.jit_compile = jit
        self.model.make_train_function(force=True)

    def on_train_batch_begin(self, batch, logs=None):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.choice is not None:
            return
        elapsed = time.perf_counter() - self._t0
        plain, xla = self.times[False], self.times[True]
        if not self.model.jit_compile:
            self._count += 1
            if self._count > self.warmup:
                plain.append(elapsed)
            if len(plain) == self.steps:
                self._set(True)
                self._count = 0
            return
        self._count += 1
        # The first XLA call compiles; XLA gets the same warm-up as the plain
        # form (with only the compiling call left out, one run timed a tie
        # where the same run's XLA rows were 14 % faster).
        if self._count > self.warmup:
            xla.append(elapsed)
        if len(xla) == self.steps:
            self.choice = bool(np.median(xla) < np.median(plain))
            if not self.choice:
                self._set(False)
            self.model.jit_choice = {"jit_compile": self.choice,
                                     "median_step_s": {"plain": float(np.median(plain)),
                                                       "xla": float(np.median(xla))}}
            print(f"kgan: jit_compile='auto' chose {'XLA' if self.choice else 'no XLA'} "
                  f"(median step {np.median(plain) * 1e3:.1f} ms without, "
                  f"{np.median(xla) * 1e3:.1f} ms with)", flush=True)

    def on_train_begin(self, logs=None):
        self._count = 0
        if self.choice is None:
            self._set(False)

    def on_train_end(self, logs=None):
        # A fit too short to finish the timing must not leave XLA on undecided:
        # back to no XLA, and the next fit times again from the start.
        if self.choice is None:
            self.times = {False: [], True: []}
            if self.model.jit_compile:
                self._set(False)
