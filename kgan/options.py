"""Flat options (command-line flags, benchmark JSON) mapped onto the model's pieces.

The training CLI and the benchmarks describe a run with flat, JSON-friendly
options (``r1_gamma=1.0``, ``packing=2``, ...); :func:`to_pieces` turns them
into the ``loss`` / ``terms`` / ``transforms`` / ``step`` arguments of
:class:`kgan.GAN`, in the one order that is valid (packing last).
"""

from __future__ import annotations

from kgan import losses, objectives, regularizers, steps, transforms

OPTIONS = {
    "real_label": 1.0, "gradient_penalty": None, "gp_weight": 10.0, "r1_gamma": 0.0, "r1_every": 1,
    "d_weight_penalty": 0.0, "feature_matching": 0.0, "feature_matching_layer": None,
    "top_k": 0.0, "top_k_decay": 0.99, "top_k_decay_steps": 1, "mode_seeking": 0.0,
    "instance_noise": 0.0, "instance_noise_steps": None, "diff_augment": "", "replay_buffer_size": 0,
    "replay_fraction": 0.5, "packing": 1, "unrolled_steps": 0, "shared_fakes": False,
}
GRADIENT_PENALTIES = ("wgan-gp", "wgan-lp")


def to_pieces(loss=None, terms=(), **options):
    """Returns ``{"loss", "terms", "transforms", "step"}`` for ``kgan.GAN(**...)``.

    Args:
        loss: loss name (or ``None`` for the family's default; a
            ``real_label`` other than 1 then needs a name).
        terms: terms to keep before the ones the options add (a family's
            defaults, e.g. WGAN-GP's penalty, come from the family when
            ``terms`` is left out of the returned dict).
        **options: keys of :data:`OPTIONS`; 0 / ``None`` / ``False`` mean off.

    Example:
        >>> to_pieces(r1_gamma=1.0, packing=2)["transforms"]
        [Packing(m=2)]
    """
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ValueError(f"Unknown option(s) {sorted(unknown)}; expected some of {sorted(OPTIONS)}.")
    o = {**OPTIONS, **options}
    out = {}
    if isinstance(loss, losses.GANLoss):
        if o["real_label"] != 1.0:
            raise ValueError("real_label is set on the GANLoss object itself.")
        out["loss"] = loss
    elif loss is not None or o["real_label"] != 1.0:
        out["loss"] = losses.GANLoss(loss or "non_saturating", real_label=o["real_label"])
    gp = o["gradient_penalty"]
    if gp is not None and gp not in GRADIENT_PENALTIES:
        raise ValueError(f"gradient_penalty must be None or one of {GRADIENT_PENALTIES}, got {gp!r}.")
    added = [regularizers.GradientPenalty(o["gp_weight"], one_sided=gp == "wgan-lp")] if gp else []
    added += [regularizers.R1(o["r1_gamma"], o["r1_every"])] if o["r1_gamma"] else []
    added += [regularizers.WeightPenalty(o["d_weight_penalty"])] if o["d_weight_penalty"] else []
    added += ([objectives.FeatureMatching(o["feature_matching"], o["feature_matching_layer"])]
              if o["feature_matching"] else [])
    added += ([objectives.TopK(o["top_k"], o["top_k_decay"], o["top_k_decay_steps"])]
              if o["top_k"] else [])
    added += [objectives.ModeSeeking(o["mode_seeking"])] if o["mode_seeking"] else []
    if added or terms:
        out["terms"] = list(terms) + added
    views = [transforms.DiffAugment(o["diff_augment"])] if o["diff_augment"] else []
    views += [transforms.InstanceNoise(o["instance_noise"], o["instance_noise_steps"])
              ] if o["instance_noise"] else []
    views += ([transforms.Replay(o["replay_buffer_size"], o["replay_fraction"])]
              if o["replay_buffer_size"] else [])
    views += [transforms.Packing(o["packing"])] if int(o["packing"]) > 1 else []
    if views:
        out["transforms"] = views
    if o["unrolled_steps"] and o["shared_fakes"]:
        raise ValueError("unrolled_steps and shared_fakes are two step strategies; choose one.")
    if o["unrolled_steps"]:
        out["step"] = steps.Unrolled(o["unrolled_steps"])
    elif o["shared_fakes"]:
        out["step"] = steps.SharedFakes()
    return out


LR_SCHEDULES = ("constant", "cosine")


def adam(learning_rate, updates=1, schedule="constant", beta_1=0.5, beta_2=0.999, name=None):
    """Adam at ``learning_rate``, constant or decayed to 0 by a cosine over ``updates``.

    The cosine decay (Loshchilov & Hutter, "SGDR", ICLR 2017, without
    restarts) counts the optimizer's own updates, so D's horizon is its
    number of updates (``d_steps`` per G update), not G's.

    Args:
        learning_rate: the initial rate.
        updates: how many updates this optimizer makes in the run (cosine only).
        schedule: ``"constant"`` or ``"cosine"``.
        beta_1, beta_2: Adam's moment decays (DCGAN: ``beta_1`` 0.5).
        name: the optimizer's name (its checkpoint key).

    Example:
        >>> opt = adam(2e-4, updates=3000, schedule="cosine")
        >>> round(float(opt._learning_rate(1500)), 8)   # half way: half the rate
        0.0001
    """
    import keras

    if schedule not in LR_SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {schedule!r}.")
    if schedule == "cosine":
        learning_rate = keras.optimizers.schedules.CosineDecay(learning_rate, max(1, int(updates)))
    return keras.optimizers.Adam(learning_rate, beta_1=beta_1, beta_2=beta_2, name=name)
