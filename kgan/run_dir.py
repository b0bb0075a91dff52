"""Run-directory safety for the training job: resume only the same configuration.

A run into an ``--out`` that holds another configuration is refused before
anything is written, naming the options that differ; ``--overwrite`` removes
exactly what a run writes, and starts over.
"""

from __future__ import annotations

import json
import os
import re
import shutil

from kgan.cli import TrainConfig, resolve

# What a run writes into its --out folder; --overwrite removes exactly these.
RUN_OUTPUTS = ("config.json", "logs", "samples", "checkpoints", "backup", "model.keras",
               "samples.png", "export", "export_samples.png",
               "summary.json", "metrics.csv", "curves.png", "captions.txt")
# Options that do not change what a run computes: a rerun may differ in them and still resume.
_NOT_IDENTITY = ("verbose",)


class RunDirectoryError(ValueError):
    """``--out`` holds a run of another configuration (or something that is not a run)."""


def _is_chief_process():
    """Chief per TF_CONFIG, read here without TensorFlow (as kgan.distribute.is_chief)."""
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    if not cfg.get("cluster"):
        return True
    task = cfg.get("task", {})
    if task.get("type") == "chief":
        return True
    return task.get("type") == "worker" and task.get("index") == 0 and "chief" not in cfg["cluster"]


def config_differences(stored, resolved):
    """Options whose values differ between a stored config.json and a resolved config.

    Options missing from an older config.json count as their default value.

    Returns:
        ``{name: (stored, new)}``.

    Example:
        >>> config_differences({"epochs": 2}, {"epochs": 3})
        {'epochs': (2, 3)}
    """
    defaults = resolve(TrainConfig())
    diff = {}
    for k in sorted(set(stored) | set(resolved)):
        if k in _NOT_IDENTITY or k == "out":
            continue
        a, b = stored.get(k, defaults.get(k)), resolved.get(k, defaults.get(k))
        if a != b:
            diff[k] = (a, b)
    return diff


def prepare_run_directory(c, overwrite=False):
    """Checks ``c["out"]`` before a run writes anything into it.

    - nothing there (or no run outputs): a new run;
    - a ``config.json`` equal to ``c`` (``verbose`` aside): the run resumes;
    - another configuration, or run outputs with no ``config.json``: refused
      with :class:`RunDirectoryError`, unless ``overwrite``, which deletes the
      old run's outputs (only the names a run writes, never other files).

    Under multi-worker training only the chief deletes; other workers delete
    only their own state folder.

    Args:
        c: a resolved config (:func:`resolve`).
        overwrite: start over.

    Returns:
        ``"new"``, ``"resume"`` or ``"overwrite"``.

    Example:
        >>> prepare_run_directory(resolve(TrainConfig(out="runs/x")))
        'new'
    """
    out = c["out"]
    if not os.path.isdir(out):
        if os.path.exists(out):
            raise RunDirectoryError(f"--out {out} exists and is not a directory.")
        return "new"
    present = [n for n in RUN_OUTPUTS if os.path.exists(os.path.join(out, n))]
    workers = [n for n in os.listdir(out) if re.match(r"^\.(worker|chief|evaluator)\d*$", n)]
    if not present and not workers:
        return "new"
    if overwrite:
        chief = _is_chief_process()
        for name in (present if chief else []) + workers:
            if not chief and name != _own_scratch_name():
                continue
            path = os.path.join(out, name)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
        return "overwrite"
    config_path = os.path.join(out, "config.json")
    if not os.path.isfile(config_path):
        raise RunDirectoryError(
            f"--out {out} holds run outputs ({', '.join(present + workers)}) but no config.json, "
            f"so kgan cannot tell whether it is this run. Pick another --out, or pass "
            f"--overwrite to delete them and start over.")
    with open(config_path) as f:
        stored = json.load(f)
    diff = config_differences(stored, c)
    if diff:
        shown = "; ".join(f"{k}: {a!r} there, {b!r} now" for k, a, b in
                          ((k, *v) for k, v in list(diff.items())[:8]))
        more = f" and {len(diff) - 8} more" if len(diff) > 8 else ""
        raise RunDirectoryError(
            f"--out {out} holds a run with another configuration ({shown}{more}). "
            f"Resuming it with these options would mix two runs. Pick another --out, rerun "
            f"it exactly with --config {config_path}, or pass --overwrite to delete it and "
            f"start over.")
    return "resume"


def _own_scratch_name():
    cfg = json.loads(os.environ.get("TF_CONFIG", "{}") or "{}")
    task = cfg.get("task", {})
    return f".{task.get('type')}{task.get('index')}"


# --- train/sample.py -------------------------------------------------------------
