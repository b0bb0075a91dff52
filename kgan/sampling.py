"""Sampling from a trained model: the work behind ``train/sample.py`` / ``kgan-sample``.

    kgan-sample runs/x/model.keras -n 64 --seed 0 --out runs/x/more
    kgan-sample runs/x/export/generator -n 16 --labels 7 --out sevens

Both sources give the same samples for the same seed and labels (sample ``i``
uses latent seed ``seed + i``), so a served model can be checked against the
model it was exported from.
"""

from __future__ import annotations

import os
import sys

import numpy as np

from kgan.cli import parse_sample_args


class SamplingError(ValueError):
    """A request the model cannot answer (labels out of range, not a kgan model, ...)."""


def expand_labels(labels, num_samples, num_classes):
    """Repeats requested labels to ``num_samples`` and checks them against the model.

    Args:
        labels: a sequence of ints, or ``None`` (default order
            ``0, 1, ..., K-1, 0, ...`` for conditional models).
        num_samples: N.
        num_classes: the model's class count (``None`` or 0: unconditional).

    Returns:
        int32 ``[N]`` labels, or ``None`` for an unconditional model.

    Example:
        >>> expand_labels([3, 7], 5, 10)
        array([3, 7, 3, 7, 3], dtype=int32)
    """
    if not num_classes:
        if labels is not None:
            raise SamplingError("--labels was given but the model is not conditional.")
        return None
    if labels is None:
        return (np.arange(num_samples) % num_classes).astype(np.int32)
    labels = np.asarray(labels, np.int64).reshape(-1)
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if len(bad):
        raise SamplingError(f"label {int(bad[0])} is out of range: the model has {num_classes} "
                            f"classes (labels 0-{num_classes - 1}).")
    return np.resize(labels, num_samples).astype(np.int32)


def find_export(path):
    """The export model or version folder under ``path`` (accepts a run's ``export/`` too).

    Example:
        >>> find_export("runs/x/export")
        'runs/x/export/generator'
    """
    from kgan import export

    try:
        export.read_export_metadata(path)
        return path
    except (FileNotFoundError, OSError):
        pass
    subdirs = [d for d in sorted(os.listdir(path)) if os.path.isdir(os.path.join(path, d))]
    if len(subdirs) == 1:  # a run's export/ holds one model folder
        inner = os.path.join(path, subdirs[0])
        try:
            export.read_export_metadata(inner)
            return inner
        except (FileNotFoundError, OSError):
            pass
    raise SamplingError(f"{path} is not a kgan export: expected <model>/<version>/saved_model.pb "
                        f"with assets.extra/kgan_export.json (written by "
                        f"kgan.export.export_generator).")


def sample(model_path, num_samples, seed=0, labels=None, raw=False):
    """Draws samples from a ``.keras`` model or an export directory.

    Args:
        model_path: a ``.keras`` file saved by kgan, or an export directory.
        num_samples: N.
        seed: sample ``i`` uses latent seed ``seed + i``.
        labels: requested labels (repeated to N) for conditional models.
        raw: sample a ``.keras`` model's trained generator, not the EMA
            generator it keeps (``ema_decay``), which is the default, as in
            the run's samples and export.

    Returns:
        ``(samples float32 [N, ...], labels int32 [N] or None)``.

    Example:
        >>> x, y = sample("runs/x/model.keras", 16, seed=0, labels=[7])
    """
    if os.path.isdir(model_path):
        from kgan import export

        path = find_export(model_path)
        meta = export.read_export_metadata(path)
        y = expand_labels(labels, num_samples, meta.get("num_classes"))
        return export.generate_from_export(path, num_samples, seed=seed, labels=y), y

    import kgan
    from kgan.metrics import generate_samples

    try:
        model = kgan.load_model(model_path)
    except kgan.ModelFileError as e:
        raise SamplingError(str(e)) from e
    if not isinstance(model, kgan.GAN):
        raise SamplingError(f"{model_path} holds a {type(model).__name__}, not a kgan GAN.")
    y = expand_labels(labels, num_samples, model.num_classes)
    use_ema = not raw and model.ema_generator is not None
    return generate_samples(model, num_samples, seed=seed, labels=y, use_ema=use_ema)


def write_samples(samples, labels, stem):
    """Writes ``stem.npy``, ``stem.png`` (grid or 2-D scatter) and ``stem_labels.npy``.

    Returns:
        list of written paths.

    Example:
        >>> write_samples(x, y, "out/samples")
    """
    from kgan import images

    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    written = [stem + ".npy"]
    np.save(written[0], samples)
    if labels is not None:
        written.append(stem + "_labels.npy")
        np.save(written[-1], labels)
    if samples.ndim == 4:
        written.append(images.save_grid(samples, stem + ".png",
                                        scale=2 if samples.shape[1] <= 32 else 1))
    elif samples.ndim == 2 and samples.shape[1] == 2:
        written.append(images.save_scatter(samples, stem + ".png"))
    return written


def main(argv=None):
    """Command-line entry point (``kgan-sample`` / ``python train/sample.py``).

    Returns 0, or 2 with a message on a bad request.

    Example:
        >>> main(["runs/x/model.keras", "-n", "16", "--out", "/tmp/s"])
    """
    args = parse_sample_args(argv)
    try:
        x, y = sample(args.model, args.num_samples, args.seed, args.labels, args.raw)
    except SamplingError as e:
        print(f"sample.py: error: {e}", file=sys.stderr)
        return 2
    for path in write_samples(x, y, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
