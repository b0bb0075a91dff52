"""The training job of ``--variant text2image`` (GAN-CLS / GAN-INT, Reed et al. 2016).

Called by :func:`kgan.training.run` after the run directory is checked; it
writes the same run directory as the other variants (config.json, logs/,
metrics.csv, curves.png, samples/, checkpoints/, backup/, model.keras,
samples.png, export/, export_samples.png, summary.json) plus
``captions.txt``: the sentences of the sample grids' rows, in order. A grid
row is one sentence; column ``j`` uses latent seed ``seed + j`` in every row,
so a column shows one latent under different sentences.

Data:

* ``--dataset mnist-captions``: MNIST's test images captioned at run time
  (:func:`kgan.captions.load_captioned_mnist`); the encoder is pre-trained on
  caption/label pairs; grid rows are held-out captions, half of them in the
  unseen phrasings;
* any image dataset plus ``--captions FILE`` (:func:`kgan.captions_file.read_captions_file`);
  the encoder is pre-trained on caption/image pairs; grid rows are the
  file's first distinct captions.

The pre-trained, frozen encoder is part of the model, so it is in the
resume state and in ``model.keras``: a resumed run restores it from the
state instead of pre-training it again.

Example:
    >>> from kgan.training import TrainConfig, run
    >>> run(TrainConfig(variant="text2image", epochs=1, out="runs/t2i"))
"""

from __future__ import annotations

import json
import math
import os

from kgan import training

GRID_ROWS = 8


def load_pairs(c):
    """``(images, texts, targets or None, grid captions, num_images)`` of a resolved config."""
    import numpy as np

    import kgan
    from kgan import captions as cap
    from kgan import training_text

    if c["dataset"] == "mnist-captions":
        data = cap.load_captioned_mnist(c["data_dir"])
        split = data["train"]
        if c["max_samples"]:
            m = c["max_samples"]
            split = cap.CaptionedSplit(split.images[:m], split.labels[:m], split.captions[:m],
                                       {k: v[:m] for k, v in split.targets.items()},
                                       {k: v[:m] for k, v in split.levels.items()})
        x, texts, targets = training_text.flat_pairs(split)
        return x, texts, targets, grid_captions(data), len(split)
    if not c["captions"]:  # the command line refuses this before; run(TrainConfig(...)) here
        raise ValueError(f"--variant text2image --dataset {c['dataset']} needs --captions FILE "
                         f"(a caption per image), or use --dataset mnist-captions.")
    x, _ = kgan.data.load(c["dataset"], c["data_dir"], seed=c["seed"], split=c["split"],
                          image_size=c["image_size"])
    if c["max_samples"]:
        x = x[:c["max_samples"]]
    per_image = cap.read_captions_file(c["captions"], len(x))
    texts = [t for cs in per_image for t in cs]
    x = np.repeat(x, [len(cs) for cs in per_image], axis=0)
    rows = list(dict.fromkeys(texts))[:GRID_ROWS]  # the first distinct captions, in file order
    return x, texts, None, rows, len(per_image)


def grid_captions(data, rows=GRID_ROWS):
    """Held-out captions for the sample grids: digit ``r`` on row ``r``, seen phrasings on
    even rows and unseen ones on odd rows, each the caption naming the most attributes among
    the first held-out images of that digit.

    Example:
        >>> grid_captions(kgan.captions.load_captioned_mnist("../shared/data/mnist"))[:2]
    """
    import numpy as np

    from kgan.captions import ATTRIBUTES

    out = []
    for r in range(rows):
        split = data["held_out"] if r % 2 == 0 else data["unseen"]
        digit = r % 10
        images = np.flatnonzero(split.labels == digit)[:50]
        mentions = sum((split.targets[a][images] != 0).astype(int) for a in ATTRIBUTES)
        i, j = np.unravel_index(int(np.argmax(mentions)), mentions.shape)
        out.append(split.captions[images[i]][j])
    return out


def grid_shape(num_samples, num_captions):
    """``(rows, cols)`` of a sample grid: up to 8 captions, ``num_samples // rows`` seeds."""
    rows = max(1, min(GRID_ROWS, num_captions, num_samples))
    return rows, max(1, num_samples // rows)


def generate_grid(generate, texts, cols, seed):
    """Rows of ``cols`` images per sentence; column ``j`` uses seed ``seed + j`` in every row.

    ``generate(texts, seed)`` is ``model.generate`` or
    :func:`kgan.export_text.generate_from_text_export` bound to an export.
    """
    import numpy as np

    return np.concatenate([generate([t] * cols, seed) for t in texts], 0)


def build_model(c, encoder, data_shape, steps_per_epoch=1):
    """The text-to-image model a resolved config asks for (not compiled)."""
    from kgan import training_text
    from kgan.families.text2image import TextToImageGAN

    g_opts = {"base_filters": c["base_filters"]}
    d_opts = {**g_opts, **training.discriminator_tricks(c),
              "label_conditioning": c["label_conditioning"]}  # how D sees the sentence
    if c["sync_batch_norm"]:
        d_opts["sync_batch_norm"] = True
    pieces = training.game_pieces(c, steps_per_epoch)
    return TextToImageGAN(
        text_encoder=encoder, data_shape=data_shape, latent_dim=c["latent_dim"],
        condition_units=training_text.RECIPE["condition_units"],
        matching_aware=c["matching_aware"], interpolation=c["interpolation"],
        condition_augmentation=c["condition_augmentation"], augmentation_kl=c["augmentation_kl"],
        d_steps=c["d_steps"], generator_options=g_opts, discriminator_options=d_opts,
        ema_decay=c["ema_decay"], seed=c["seed"], **pieces)


def _text_grid_callback(directory, texts, cols, seed, log_dir):
    import keras
    import tensorflow as tf

    from kgan import distribute, images

    class TextGrid(keras.callbacks.Callback):
        """Writes the caption-by-seed grid at the end of every epoch."""

        def __init__(self):
            super().__init__()
            self._writer = None

        def on_epoch_end(self, epoch, logs=None):
            if not distribute.is_chief():
                return
            grid = generate_grid(lambda t, s: self.model.generate(t, seed=s), texts, cols, seed)
            images.save_grid(grid, os.path.join(directory, f"epoch_{epoch + 1:04d}.png"),
                             cols=cols, scale=2)
            if log_dir:
                if self._writer is None:
                    self._writer = tf.summary.create_file_writer(os.path.join(log_dir, "samples"))
                with self._writer.as_default():
                    tf.summary.image("samples", images.make_grid(grid, cols=cols)[None],
                                     step=epoch + 1)
                self._writer.flush()

    return TextGrid()


def run(c, extra_callbacks=()):
    """Trains ``--variant text2image`` from a resolved config dict; returns the summary."""
    from kgan import distribute
    if c["cpu_replicas"]:
        distribute.split_cpu(c["cpu_replicas"])
    strategy = distribute.make_strategy(c["strategy"])
    import keras
    import numpy as np

    import kgan
    from kgan import export_text, images, options, report, training_text
    from kgan import text as text_lib

    out = c["out"]
    chief = distribute.is_chief()
    training.seed_run(c)
    x, texts, targets, rows, num_images = load_pairs(c)  # a bad captions file fails here
    os.makedirs(out, exist_ok=True)
    if chief:
        training.write_config(c, out)

    work = out if chief else os.path.join(out, ".worker")
    state, latest = training.savers(c, work)
    resuming = os.path.exists(state.path)
    if resuming:
        # The pre-trained encoder is in the state (it is part of the model): an untrained
        # encoder of the same shape is built and state.restore loads the saved weights.
        encoder = text_lib.build_text_encoder(embedding_dim=training_text.RECIPE["embedding_dim"])
    else:
        encoder = training_text.train_encoder(
            texts, targets=targets, images=None if targets is not None else x,
            epochs=c["encoder_epochs"], seed=c["seed"], verbose=2 if c["verbose"] else 0)
    keras.utils.set_random_seed(c["seed"])  # the same state whether the encoder trained or not

    def stream(start):
        return training_text.stream(x, texts, encoder, c["batch_size"], c["seed"], start)

    steps = stream(0)[1]
    epochs = c["epochs"] or max(1, math.ceil(training_text.RECIPE["steps"] / steps))
    with strategy.scope():
        model = build_model(c, encoder, x.shape[1:], steps)
        g_updates = max(1, steps * epochs)

        def adam(lr, updates, name):
            return options.adam(lr, updates, c["lr_schedule"], c["beta_1"], c["beta_2"], name)

        model.compile(
            g_optimizer=adam(c["g_lr"], g_updates, "generator_optimizer"),
            d_optimizer=adam(c["d_lr"], g_updates * c["d_steps"], "discriminator_optimizer"),
            jit_compile=c["jit_compile"], steps_per_execution=c["steps_per_execution"])
    start_step = state.restore(model)
    num_rows, cols = grid_shape(c["num_samples"], len(rows))
    rows = rows[:num_rows]
    if chief:
        with open(os.path.join(out, "captions.txt"), "w", encoding="utf-8") as f:
            f.write("".join(t + "\n" for t in rows))
    cbs = [state, latest,
           _text_grid_callback(os.path.join(out, "samples"), rows, cols, c["seed"],
                               os.path.join(out, "logs"))]
    cbs += training.run_loggers(out) if chief else []
    cbs.extend(extra_callbacks)
    summary = training.fit_from(model, lambda step: stream(step)[0], start_step, steps, epochs,
                                cbs, c["verbose"])
    summary.update(num_examples=int(len(x)), num_images=int(num_images),
                   encoder_pretrained=not resuming, captions=rows,
                   captions_txt=os.path.join(out, "captions.txt"),
                   sampled_network="ema_generator" if model.ema_generator is not None
                   else "generator")
    if not chief:
        return summary
    model.save(os.path.join(out, "model.keras"))  # the frozen encoder and the EMA generator too
    samples = generate_grid(lambda t, s: model.generate(t, seed=s), rows, cols, c["seed"])
    summary["samples"] = images.save_grid(samples, os.path.join(out, "samples.png"), cols=cols,
                                          scale=2)
    if c["export"]:
        path = kgan.export.export_generator(model, os.path.join(out, "export"), c["model_name"])
        served = generate_grid(
            lambda t, s: export_text.generate_from_text_export(path, t, seed=s), rows, cols,
            c["seed"])
        summary["export"] = path
        summary["export_samples"] = images.save_grid(
            served, os.path.join(out, "export_samples.png"), cols=cols, scale=2)
        summary["export_matches_model"] = bool(np.allclose(served, samples, atol=1e-4))
    csv_path = os.path.join(out, "metrics.csv")
    if os.path.isfile(csv_path):
        summary["metrics_csv"] = csv_path
        summary["curves"] = report.save_curves(report.read_metrics_csv(csv_path),
                                               os.path.join(out, "curves.png"))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary
