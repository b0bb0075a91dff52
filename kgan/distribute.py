"""Strategy helpers: creating strategies and telling the chief from workers."""

from __future__ import annotations

import json
import os

import tensorflow as tf

STRATEGIES = ("default", "mirrored", "multiworker")


def make_strategy(name="default", devices=None):
    """Creates a ``tf.distribute`` strategy by name.

    ``multiworker`` reads the cluster from ``TF_CONFIG`` and must be created
    at program start, before any other TensorFlow op.

    Args:
        name: ``"default"``, ``"mirrored"`` or ``"multiworker"``.
        devices: device list for ``mirrored`` (default: all GPUs, else CPU).

    Returns:
        A ``tf.distribute.Strategy``.

    Example:
        >>> strategy = make_strategy("mirrored")
    """
    if name == "default":
        return tf.distribute.get_strategy()
    if name == "mirrored":
        if devices is None and not tf.config.list_physical_devices("GPU"):
            devices = [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    if name == "multiworker":
        if "TF_CONFIG" not in os.environ:
            raise ValueError("strategy 'multiworker' needs TF_CONFIG in the environment "
                             "(cluster spec and this worker's task).")
        return tf.distribute.MultiWorkerMirroredStrategy()
    raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}.")


def task_info():
    """Returns ``(task_type, task_index)`` from ``TF_CONFIG`` (``(None, None)`` if unset).

    Example:
        >>> task_info()
        ('worker', 0)
    """
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    return task.get("type"), task.get("index")


def is_chief(strategy=None):
    """True for the process that writes checkpoints, samples and exports.

    With no cluster (or a single process) this is always True; in a
    multi-worker cluster it is the ``chief`` task, or ``worker`` 0 when there
    is no chief task.

    Example:
        >>> if is_chief(): model.save("model.keras")
    """
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    if not cfg.get("cluster"):
        return True
    task_type, index = task_info()
    if task_type == "chief":
        return True
    if "chief" in cfg["cluster"]:
        return False
    return task_type == "worker" and int(index or 0) == 0


def split_cpu(n):
    """Splits the host CPU into ``n`` logical devices for MirroredStrategy.

    Lets a CPU-only machine run (and test) the multi-replica code path. Must
    be called before TensorFlow initialises its devices.

    Args:
        n: number of logical CPU devices.

    Example:
        >>> split_cpu(2)
        >>> strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    """
    cpu = tf.config.list_physical_devices("CPU")[0]
    try:
        tf.config.set_logical_device_configuration(
            cpu, [tf.config.LogicalDeviceConfiguration()] * int(n))
    except RuntimeError as e:
        raise RuntimeError("split_cpu must be called before TensorFlow initialises "
                           "its devices (before any other TF op).") from e


def in_multi_worker_mode(strategy=None):
    """True when ``strategy`` spans several processes (MultiWorkerMirroredStrategy).

    Example:
        >>> in_multi_worker_mode(tf.distribute.get_strategy())
        False
    """
    strategy = strategy or tf.distribute.get_strategy()
    extended = getattr(strategy, "extended", None)
    check = getattr(extended, "_in_multi_worker_mode", None)
    return bool(check and check())
