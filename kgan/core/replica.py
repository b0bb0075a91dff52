"""The distribution rule, in one place.

Under ``tf.distribute`` the gradients of the replicas are SUMMED. For N
replicas to equal one device:

* a per-example term is summed over the replica's examples and divided by
  the GLOBAL count (:func:`global_batch`);
* a whole-model term (layer losses, a weight penalty, a term computed on
  all-reduced statistics) is divided by the replica count
  (:func:`replica_scale`);
* every random tensor is drawn for the GLOBAL batch from the seed state all
  replicas share, and each replica keeps its own rows (:func:`draw`).

Every function is the identity on one device.
"""

from __future__ import annotations

import tensorflow as tf

SPLIT_ERROR = "does not split evenly across"


def context():
    """``(replica_context or None, replicas in sync)`` where the step runs."""
    ctx = tf.distribute.get_replica_context()
    return ctx, (ctx.num_replicas_in_sync if ctx is not None else 1)


def num_replicas():
    """Replicas of the current strategy (1 outside any strategy)."""
    return tf.distribute.get_strategy().num_replicas_in_sync


def all_sum(x):
    """Sum over replicas; differentiable (its gradient is all-reduced too)."""
    ctx, n = context()
    return x if n == 1 else ctx.all_reduce("SUM", x)


def all_gather(x):
    """Every replica's rows, concatenated in replica order (the global batch)."""
    ctx, n = context()
    return x if n == 1 else ctx.all_gather(x, axis=0)


def local_rows(x, batch_size):
    """This replica's ``batch_size`` rows of a global tensor ``x``."""
    ctx, n = context()
    if n == 1:
        return x
    start = ctx.replica_id_in_sync_group * batch_size
    return x[start:start + batch_size]


def draw(fn, batch_size):
    """Runs ``fn(global_batch)`` and returns this replica's rows.

    Args:
        fn: ``n -> tensor [n, ...]`` drawing from a shared seed state.
        batch_size: this replica's number of rows.

    Example:
        >>> z = draw(lambda n: keras.random.normal((n, 8), seed=sg), 16)
    """
    _, n = context()
    return fn(batch_size) if n == 1 else local_rows(fn(batch_size * n), batch_size)


def global_batch(batch_size):
    """The global batch size, checked in-graph to split evenly across replicas."""
    ctx, n = context()
    if n == 1:
        return batch_size
    total = ctx.all_reduce("SUM", batch_size)
    with tf.control_dependencies([tf.debugging.assert_equal(
            total, batch_size * n,
            message=f"kgan: the global batch {SPLIT_ERROR} {n} replicas; use a batch size "
                    f"divisible by {n} and drop_remainder=True")]):
        return tf.identity(total)


def replica_scale(term):
    """A whole-model term's share for this replica (divided by the replica count)."""
    return term / tf.cast(num_replicas(), term.dtype)
