"""The text-to-image recipe: captioned pairs, the pre-trained encoder, the model.

Shared by ``train/train.py --variant text2image`` and
``benchmarks/text2image.py``, so the benchmark measures what the command
trains.

Example:
    >>> data = kgan.captions.load_captioned_mnist("../shared/data/mnist")
    >>> x, texts, targets = flat_pairs(data["train"])
    >>> encoder = train_encoder(texts, targets=targets)
    >>> gan = build(encoder)
    >>> gan.fit(*stream(x, texts, encoder), epochs=1)
"""

from __future__ import annotations

import numpy as np

from kgan import data as data_lib
from kgan import text as text_lib

# Measured on captioned MNIST with benchmarks/text2image.py (see benchmarks/README.md).
RECIPE = {
    "embedding_dim": 64,          # sentence embedding
    "encoder_epochs": 3,          # pre-training on caption/label pairs
    "condition_units": 128,       # projected embedding in G and D (the paper's 128)
    "latent_dim": 100,
    "base_filters": 64,
    "batch_size": 64,
    "learning_rate": 2e-4,        # Adam(2e-4, beta_1=0.5) for G and D (DCGAN, Reed et al.)
    "g_learning_rate": 0.0,       # G's own rate; 0: learning_rate
    "lr_schedule": "constant",    # or "cosine": both rates decay to 0 over `steps`
    "r1_gamma": 0.0,              # kgan.regularizers.R1 on D's real inputs; 0: off
    "diff_augment": "",           # kgan.transforms.DiffAugment policy, e.g. "translation"; "": off
    "dense_units": 0,             # FC layer in G and D (InfoGAN's MNIST nets: 1024); 0: none
    "condition_augmentation": 64,  # StackGAN's conditioning augmentation: size of c; 0: off
    "augmentation_kl": 0.02,      # its KL weight (StackGAN's 1 washes the digit out here)
    "d_projection": 1,            # 1: D scores the text by projection (Miyato & Koyama), 0: concat
    "beta_1": 0.5,
    "ema_decay": 0.95,            # 0.999 / 0.99 measured: FCD higher on every seed
    "mode_seeking": 0.5,          # kgan.objectives.ModeSeeking weight (more varied rows; 1.0 with
                                  # minibatch std on the former recipe: digits 83 %)
    "minibatch_std": 0,           # group size of D's minibatch std-dev layer (4 tried with mode seeking)
    "steps": 3000,
}


def flat_pairs(split):
    """One row per (image, caption): ``(images [-1, 1], captions, targets)``.

    Args:
        split: a :class:`kgan.captions.CaptionedSplit` (``k`` captions per image).

    Returns:
        ``images`` float32 ``[n*k, H, W, C]`` (each image repeated for its
        captions), ``captions`` (``n*k`` strings) and ``targets`` (dict of
        int arrays ``[n*k]``).

    Example:
        >>> x, texts, targets = flat_pairs(data["train"])
    """
    k = len(split.captions[0])
    images = np.repeat(data_lib.scale_images(split.images), k, axis=0)
    texts = [c for cs in split.captions for c in cs]
    targets = {name: np.asarray(v).reshape(-1) for name, v in split.targets.items()}
    return images, texts, targets


def train_encoder(texts, targets=None, images=None, embedding_dim=None, epochs=None, seed=0,
                  verbose=0):
    """A pre-trained, frozen :func:`kgan.text.build_text_encoder`.

    On caption/label pairs when ``targets`` are given (the captioned
    dataset), else on caption/image pairs (a user's captions file).

    Example:
        >>> encoder = train_encoder(texts, targets=targets)
    """
    import keras

    keras.utils.set_random_seed(seed)
    encoder = text_lib.build_text_encoder(embedding_dim=embedding_dim or RECIPE["embedding_dim"])
    epochs = epochs or RECIPE["encoder_epochs"]
    if targets is not None:
        text_lib.pretrain_on_labels(encoder, texts, targets, epochs=epochs, seed=seed,
                                    verbose=verbose)
    elif images is not None:
        text_lib.pretrain_on_images(encoder, texts, images, epochs=4 * epochs, seed=seed,
                                    verbose=verbose)
    else:
        raise ValueError("train_encoder needs targets (caption/label pairs) or images "
                         "(caption/image pairs).")
    return encoder


def build(encoder, data_shape=(28, 28, 1), matching_aware=True, interpolation=1.0, seed=0,
          **overrides):
    """A compiled :class:`kgan.TextToImageGAN` with the recipe's settings.

    Example:
        >>> gan = build(encoder, matching_aware=False)   # the plain-conditioning baseline
    """
    from kgan import options
    from kgan.families.text2image import TextToImageGAN

    r = {**RECIPE, **overrides}
    net = {"base_filters": r["base_filters"], "dense_units": r["dense_units"] or None}
    d_net = {**net, "minibatch_std": r["minibatch_std"],
             "label_conditioning": "projection" if r["d_projection"] else "input"}
    # mode seeking, R1 and DiffAugment as every recipe gets them (the flat options' one mapping)
    pieces = options.to_pieces(mode_seeking=r["mode_seeking"], r1_gamma=r["r1_gamma"],
                               diff_augment=r["diff_augment"])
    gan = TextToImageGAN(text_encoder=encoder, data_shape=data_shape,
                         terms=pieces.get("terms", []), transforms=pieces.get("transforms", []),
                         latent_dim=r["latent_dim"], condition_units=r["condition_units"],
                         matching_aware=matching_aware, interpolation=interpolation,
                         condition_augmentation=r["condition_augmentation"],
                         augmentation_kl=r["augmentation_kl"],
                         generator_options=net, discriminator_options=d_net,
                         ema_decay=r["ema_decay"], seed=seed)

    def adam(lr):  # one D and one G update per step
        return options.adam(lr, r["steps"], r["lr_schedule"], r["beta_1"])

    gan.compile(g_optimizer=adam(r["g_learning_rate"] or r["learning_rate"]),
                d_optimizer=adam(r["learning_rate"]))
    return gan


def stream(images, texts, encoder, batch_size=None, seed=0, start_step=0):
    """``(dataset, steps_per_epoch)`` of ``(images, token ids)`` batches, resumable by step.

    Example:
        >>> ds, steps = stream(x, texts, encoder)
        >>> gan.fit(ds, epochs=3, steps_per_epoch=steps)
    """
    max_chars = int(encoder.input_shape[-1])
    tokens = text_lib.tokenize(list(text_lib.check_texts(texts, max_chars, "captions")),
                               max_chars).numpy()
    return data_lib.training_stream(images, tokens, batch_size=batch_size or RECIPE["batch_size"],
                                    seed=seed, start_step=start_step)
