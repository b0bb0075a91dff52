"""The training job of the image-to-image variants (``--variant pix2pix|srgan|cyclegan``).

Called by :func:`kgan.training.run` after the run directory is checked; it
writes the same run directory as the other variants (config.json, logs/,
metrics.csv, samples/, checkpoints/, backup/, model.keras, samples.png,
export/, export_samples.png, summary.json). Sample grids show
``source | output | target`` for held-out images (the last ``num_samples``
images of the task, never trained on); the export is image in, image out
(:mod:`kgan.export_translation`), and ``export_matches_model`` records that
it reproduces ``model.translate`` on those images.

Example:
    >>> from kgan.training import TrainConfig, run
    >>> run(TrainConfig(variant="pix2pix", dataset="edges", epochs=1, out="runs/p2p"))
"""

from __future__ import annotations

import json
import os

from kgan import training


def build_model(c):
    """The image-to-image model a resolved config asks for (not compiled)."""
    import kgan

    f = c["base_filters"] or 32
    seed = c["seed"]
    if c["variant"] == "srgan":
        return kgan.SRGAN(source_shape=(7, 7, 1), scale=4, loss=c["loss"], seed=seed,
                          adversarial_weight=c["adversarial_weight"],
                          generator_options={"filters": f, "num_blocks": 4},
                          discriminator_options={"base_filters": max(1, f // 2),
                                                 "num_blocks": 4, "dense_units": 128})
    if c["variant"] == "pix2pix":
        inpainting = c["dataset"] == "inpaint"
        return kgan.Pix2Pix(source_shape=(28, 28, 2 if inpainting else 1),
                            target_shape=(28, 28, 1), inpainting=inpainting, loss=c["loss"],
                            l1_weight=c["l1_weight"], adversarial_weight=c["adversarial_weight"],
                            seed=seed, generator_options={"base_filters": f},
                            discriminator_options={"base_filters": f, "num_layers": 2})
    return kgan.CycleGAN(source_shape=(28, 28, 1), generator=c["cyclegan_generator"],
                         loss=c["loss"], cycle_weight=c["cycle_weight"],
                         identity_weight=c["identity_weight"], pool_size=c["pool_size"],
                         adversarial_weight=c["adversarial_weight"], seed=seed,
                         generator_options={"base_filters": max(1, f // 2)},
                         discriminator_options={"base_filters": max(1, f // 2), "num_layers": 2})


def run(c, extra_callbacks=()):
    """Trains an image-to-image variant from a resolved config dict; returns the summary."""
    from kgan import distribute
    if c["cpu_replicas"]:
        distribute.split_cpu(c["cpu_replicas"])
    strategy = distribute.make_strategy(c["strategy"])
    import numpy as np

    import kgan
    from kgan import callbacks as kcb
    from kgan import data_pairs, export_translation, images, options

    out = c["out"]
    os.makedirs(out, exist_ok=True)
    chief = distribute.is_chief()
    if chief:
        training.write_config(c, out)
    training.seed_run(c)

    first, second, _ = data_pairs.load_task(c["dataset"], c["data_dir"], seed=c["seed"])
    k = c["num_samples"]
    held = (first[-k:], None if c["variant"] == "cyclegan" else second[-k:])
    first = first[:-k]
    second = second if c["variant"] == "cyclegan" else second[:-k]
    if c["max_samples"]:
        first, second = first[:c["max_samples"]], second[:c["max_samples"]]

    def stream(start):
        if c["variant"] == "cyclegan":
            return data_pairs.unpaired_stream(first, second, c["batch_size"], c["seed"], start)
        if c["dataset"] == "inpaint":  # a new hole every step; the held-out holes stay fixed
            return data_pairs.inpainting_stream(second, c["batch_size"], c["seed"], start)
        return kgan.data.training_stream(first, second, c["batch_size"], c["seed"], start)

    steps = stream(0)[1]
    with strategy.scope():
        model = build_model(c)

        def adam(key):
            lr = c["d_lr"] if key.startswith("d_") else c["g_lr"]
            return options.adam(lr, steps * c["epochs"], c["lr_schedule"], c["beta_1"],
                                c["beta_2"], name=key.replace("_optimizer", "") + "_adam")

        model.compile(**{key: adam(key) for key in model.networks},
                      jit_compile=c["jit_compile"], steps_per_execution=c["steps_per_execution"])
    work = out if chief else os.path.join(out, ".worker")
    state, latest = training.savers(c, work)
    start_step = state.restore(model)
    cbs = [state, latest,
           kcb.TranslationGrid(os.path.join(out, "samples"), held[0][:16],
                               None if held[1] is None else held[1][:16],
                               log_dir=os.path.join(out, "logs"))]
    cbs += training.run_loggers(out) if chief else []
    cbs.extend(extra_callbacks)
    summary = training.fit_from(model, lambda step: stream(step)[0], start_step, steps,
                                c["epochs"], cbs, c["verbose"])
    summary["num_examples"] = int(len(first))
    if not chief:
        return summary
    model.save(os.path.join(out, "model.keras"))
    outputs = model.translate(held[0])
    cols = 2 if held[1] is None else 3
    summary["samples"] = images.save_grid(images.side_by_side(held[0], outputs, held[1]),
                                          os.path.join(out, "samples.png"), cols=cols, scale=2)
    if held[1] is not None:
        summary["heldout_l1"] = float(np.abs(outputs - held[1]).mean() / 2)
    if c["export"]:
        path = kgan.export.export_generator(model, os.path.join(out, "export"), c["model_name"])
        served = export_translation.translate_from_export(path, held[0])
        summary["export"] = path
        summary["export_samples"] = images.save_grid(
            images.side_by_side(held[0], served, held[1]),
            os.path.join(out, "export_samples.png"), cols=cols, scale=2)
        summary["export_matches_model"] = bool(np.allclose(served, outputs, atol=1e-4))
    with open(os.path.join(out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    return summary
