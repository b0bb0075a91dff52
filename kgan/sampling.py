"""Sampling from a trained model: the work behind ``train/sample.py`` / ``kgan-sample``.

    kgan-sample runs/x/model.keras -n 64 --seed 0 --out runs/x/more
    kgan-sample runs/x/export/generator -n 16 --labels 7 --out sevens
    kgan-sample runs/t2i/model.keras --text "a thick seven" --text "a thin 1" -n 8 --out two

Both sources give the same samples for the same seed and labels (sample ``i``
uses latent seed ``seed + i``; for a text-to-image model, each sentence is a
grid row whose image ``j`` uses seed ``seed + j``), so a served model can be
checked against the model it was exported from.
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


def check_sentences(texts, max_chars, is_text_model):
    """The sentences of a request, or :class:`SamplingError` saying what to pass instead.

    Example:
        >>> check_sentences(["a thin 1"], 96, True)
        ['a thin 1']
    """
    from kgan import text as text_lib
    from kgan.validation import DataError

    if not is_text_model:
        if texts is not None:
            raise SamplingError("--text was given but the model is not a text-to-image model "
                                "(sample it with -n, and --labels if it is conditional).")
        return None
    if texts is None:
        raise SamplingError("the model is a text-to-image model: pass sentences with --text "
                            "\"a thick seven\" (repeatable) or --text-file FILE (one per line).")
    try:
        return [str(t) for t in text_lib.check_texts(list(texts), max_chars, "--text")]
    except DataError as e:
        raise SamplingError(str(e)) from None


def sample(model_path, num_samples, seed=0, labels=None, raw=False, texts=None):
    """Draws samples from a ``.keras`` model or an export directory.

    Args:
        model_path: a ``.keras`` file saved by kgan, or an export directory.
        num_samples: N.
        seed: sample ``i`` uses latent seed ``seed + i``.
        labels: requested labels (repeated to N) for conditional models.
        texts: sentences for a text-to-image model: ``num_samples`` images
            each, sentence ``r``'s image ``j`` with seed ``seed + j``.
        raw: sample a ``.keras`` model's trained generator, not the EMA
            generator it keeps (``ema_decay``), which is the default, as in
            the run's samples and export.

    Returns:
        ``(samples float32 [N, ...], labels int32 [N] or None)``; for a
        text-to-image model ``(samples [len(texts) * N, ...], texts)``.

    Example:
        >>> x, y = sample("runs/x/model.keras", 16, seed=0, labels=[7])
    """
    if os.path.isdir(model_path):
        from kgan import export

        from kgan.training_text_cli import generate_grid

        path = find_export(model_path)
        meta = export.read_export_metadata(path)
        texts = check_sentences(texts, meta.get("max_chars"), meta.get("kind") == "text_to_image")
        if texts is not None:
            if labels is not None:
                raise SamplingError("--labels is for class-conditional models; this model "
                                    "takes --text.")
            from kgan.export_text import generate_from_text_export

            return generate_grid(lambda t, s: generate_from_text_export(path, t, seed=s),
                                 texts, num_samples, seed), texts
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
    is_text = bool(getattr(model, "is_text_to_image", False))
    texts = check_sentences(texts, getattr(model, "max_chars", None), is_text)
    if texts is not None:
        from kgan.training_text_cli import generate_grid

        if labels is not None:
            raise SamplingError("--labels is for class-conditional models; this model takes "
                                "--text.")
        return generate_grid(lambda t, s: model.generate(t, seed=s, raw=raw), texts, num_samples,
                             seed), texts
    y = expand_labels(labels, num_samples, model.num_classes)
    use_ema = not raw and model.ema_generator is not None
    return generate_samples(model, num_samples, seed=seed, labels=y, use_ema=use_ema)


def write_samples(samples, labels, stem):
    """Writes ``stem.npy``, ``stem.png`` (grid or 2-D scatter) and ``stem_labels.npy``.

    ``labels`` may be a list of sentences (a text-to-image model): the grid
    then has one row per sentence, listed in ``stem_texts.txt``.

    Returns:
        list of written paths.

    Example:
        >>> write_samples(x, y, "out/samples")
    """
    from kgan import images

    os.makedirs(os.path.dirname(os.path.abspath(stem)), exist_ok=True)
    written = [stem + ".npy"]
    np.save(written[0], samples)
    cols = None
    if isinstance(labels, list):  # sentences, one grid row each
        written.append(stem + "_texts.txt")
        with open(written[-1], "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in labels))
        cols = len(samples) // len(labels)
    elif labels is not None:
        written.append(stem + "_labels.npy")
        np.save(written[-1], labels)
    if samples.ndim == 4:
        written.append(images.save_grid(samples, stem + ".png", cols=cols,
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
        x, y = sample(args.model, args.num_samples, args.seed, args.labels, args.raw,
                      args.texts)
    except SamplingError as e:
        print(f"sample.py: error: {e}", file=sys.stderr)
        return 2
    for path in write_samples(x, y, args.out):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
