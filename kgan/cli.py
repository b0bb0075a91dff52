"""Command-line options of ``train/train.py`` and ``train/sample.py``, with no TensorFlow.

This module imports only the standard library, so the entry points can load it
by file path (without ``kgan/__init__``, which imports TensorFlow) and answer
``--help``, reject a bad flag, or print ``--dry-run`` in well under a second.
``kgan.training`` re-exports :class:`TrainConfig`, :func:`parse_args` and
:func:`resolve`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re

VARIANTS = ("gan", "vanilla", "dcgan", "lsgan", "conditional", "wgangp", "acgan", "infogan",
            "began", "pix2pix", "cyclegan", "srgan", "text2image")
TRANSLATION_VARIANTS = ("pix2pix", "cyclegan", "srgan")
TEXT_VARIANTS = ("text2image",)
# captioned datasets built at run time (kgan.captions); a user's own captions come with --captions
TEXT_DATASETS = ("mnist-captions",)
# where --dataset mnist-captions looks for MNIST's IDX files when --data-dir is not given
DEFAULT_MNIST_DIR = os.path.join("..", "shared", "data", "mnist")
# kgan.data_pairs.TASKS: image-to-image tasks built at run time
TRANSLATION_DATASETS = ("sr4", "edges", "inpaint", "mnist2digits")
# kgan.losses.available() (a test keeps the two equal; importing it here would start TensorFlow)
LOSSES = ("hinge", "least_squares", "minimax", "non_saturating", "wasserstein")
ARCHITECTURES = ("auto", "mlp", "dcgan")
LABEL_CONDITIONING = ("input", "projection")  # kgan.networks.LABEL_CONDITIONING (a test keeps them equal)
STRATEGIES = ("default", "mirrored", "multiworker")
GRADIENT_PENALTIES = ("wgan-gp", "wgan-lp")
OFFLINE_DATASETS = ("digits", "mnist_idx", "ring", "grid") + TRANSLATION_DATASETS + TEXT_DATASETS
# tfds names are snake_case, optionally with a config and a version: "mnist", "cifar10",
# "imagenet2012/subset:1.0.0".
_TFDS_NAME = re.compile(r"^[a-z][a-z0-9_]*(/[a-z0-9_.]+)?(:[0-9]+(\.[0-9*]+){0,2})?$")


# Options whose default depends on the run: TrainConfig leaves them None ("not given"), and
# resolve() fills in the quickstart recipe for a DCGAN on digits, else these general defaults.
GENERAL_DEFAULTS = {"epochs": 40, "batch_size": 64, "g_lr": 2e-4, "d_lr": 2e-4,
                    "lr_schedule": "constant", "ema_decay": 0.0, "r1_gamma": 0.0}
# The quickstart recipe: what `python train/train.py` (--variant dcgan --dataset digits, the
# defaults) trains when these options are not given. Measured on 3 seeds in
# benchmarks/README.md ("The quickstart", benchmarks/quickstart.py).
QUICKSTART_RECIPE = {"epochs": 80, "batch_size": 32, "g_lr": 1e-3, "d_lr": 2e-4,
                     "lr_schedule": "cosine", "ema_decay": 0.999, "r1_gamma": 1.0}
QUICKSTART_NETWORKS = {"dense_units": 1024}  # InfoGAN's FC 1024 in G and D, at 32 base filters
QUICKSTART_RUNS = ("dcgan", "digits")  # (variant, dataset) that gets the recipe
# The conditional MNIST recipe: a class-conditional DCGAN (its D sees the label, by projection)
# on mnist / mnist_idx. Measured on 3 seeds in benchmarks/README.md ("Sample quality",
# mnist/cdcgan: >= 98 % label accuracy, FCD about 2.3x the real-vs-real floor).
CONDITIONAL_MNIST_RECIPE = {"g_lr": 4e-4, "d_lr": 4e-4, "lr_schedule": "cosine",
                            "ema_decay": 0.99}
# The unconditional MNIST recipe: InfoGAN's MNIST networks and learning rates (Chen et al. 2016,
# appendix C.1) for an unconditional DCGAN on mnist / mnist_idx (benchmarks/README.md,
# mnist/dcgan). The networks: UNCONDITIONAL_MNIST_NETWORKS when not given.
UNCONDITIONAL_MNIST_RECIPE = {"g_lr": 1e-3, "d_lr": 2e-4, "ema_decay": 0.99}
UNCONDITIONAL_MNIST_NETWORKS = {"base_filters": 64, "dense_units": 1024}
MNIST_DATASETS = ("mnist", "mnist_idx")
_RECIPE_HELP = ("not given: {recipe} for --variant dcgan --dataset digits (the quickstart), "
                "{mnist} for a conditional DCGAN on mnist / mnist_idx, "
                "{mnist_u} for an unconditional one, "
                "{text} for --variant text2image, else {general}")
# --variant text2image: kgan.training_text.RECIPE (a test keeps the two equal; importing it here
# would start TensorFlow). epochs None: enough epochs for the recipe's TEXT_STEPS steps.
TEXT_RECIPE = {"epochs": None, "batch_size": 64, "g_lr": 2e-4, "d_lr": 2e-4,
               "lr_schedule": "constant", "ema_decay": 0.95, "r1_gamma": 0.0}
TEXT_STEPS = 3000
TEXT_BASE_FILTERS = 64
TEXT_LATENT_DIM = 100
TEXT_CONDITION_AUGMENTATION = 64  # training_text.RECIPE["condition_augmentation"]
TEXT_AUGMENTATION_KL = 0.02  # training_text.RECIPE["augmentation_kl"]
TEXT_D_CONDITIONING = "projection"  # "projection" iff training_text.RECIPE["d_projection"]
TEXT_MODE_SEEKING = 0.5  # training_text.RECIPE["mode_seeking"]


@dataclasses.dataclass
class TrainConfig:
    """Every option of a training run (written to ``config.json``).

    Example:
        >>> run(TrainConfig(variant="dcgan", dataset="digits", epochs=1, out="runs/x"))
    """

    variant: str = "dcgan"
    dataset: str | None = None  # None: digits; mnist-captions for --variant text2image
    data_dir: str | None = None
    split: str | None = None
    image_size: int | None = None
    conditional: bool = False
    loss: str | None = None
    latent_dim: int | None = None
    architecture: str | None = None
    base_filters: int | None = None  # None: 32; 64 for text2image and DCGAN on MNIST (recipes)
    dense_units: int | None = None  # DCGAN FC layer in G and D (None: 1024 for the recipes, else 0)
    hidden_units: tuple | None = None
    d_steps: int | None = None  # None: the variant's default (1; 5 for wgangp)
    real_label: float = 1.0
    # stabilisation tricks (see kgan.GAN's arguments); the defaults are off
    gradient_penalty: str | None = None
    gp_weight: float = 10.0
    r1_gamma: float | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    r1_every: int = 1  # lazy R1: one D update in N
    instance_noise: float = 0.0
    instance_noise_steps: int | None = None
    diff_augment: str = ""  # DiffAugment policy, e.g. "translation,cutout" ("": off)
    replay_buffer_size: int = 0
    packing: int = 1
    feature_matching: float = 0.0
    unrolled_steps: int = 0
    shared_fakes: bool = False
    top_k: float = 0.0  # top-k G updates: the smallest kept share of the batch (0: off)
    mode_seeking: float | None = None  # None: TEXT_MODE_SEEKING for text2image, else off
    spectral_norm: bool = False
    label_conditioning: str | None = None  # None: projection for conditional models, D sees labels
    minibatch_std: int = 0
    g_normalization: str | None = None  # MLP generator: "batch", "layer" or "none" (None: batch)
    # InfoGAN codes (--variant infogan; --latent-dim is then the noise width, default 62)
    categorical_codes: tuple | None = (10,)
    continuous_codes: int = 2
    info_weight: float = 1.0
    # BEGAN (--variant began)
    began_gamma: float = 0.5
    began_lambda_k: float = 0.001
    began_embedding: int = 64
    # image-to-image variants (None: the variant's paper default)
    l1_weight: float = 100.0
    adversarial_weight: float | None = None
    cycle_weight: float = 10.0
    identity_weight: float = 5.0
    pool_size: int = 50
    cyclegan_generator: str = "resnet"
    # text to image (--variant text2image)
    captions: str | None = None
    matching_aware: bool = True
    interpolation: float | None = None  # None: 1.0 for text2image
    encoder_epochs: int | None = None  # None: the recipe's 3
    condition_augmentation: int | None = None  # None: TEXT_CONDITION_AUGMENTATION
    augmentation_kl: float | None = None  # None: TEXT_AUGMENTATION_KL
    ema_decay: float | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    epochs: int | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    batch_size: int | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    g_lr: float | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    d_lr: float | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    beta_1: float = 0.5
    beta_2: float = 0.999
    lr_schedule: str | None = None  # None: GENERAL_DEFAULTS / QUICKSTART_RECIPE
    max_samples: int | None = None
    num_points: int = 100_000
    strategy: str = "default"
    cpu_replicas: int | None = None
    sync_batch_norm: bool = False
    mixed_precision: bool = False
    jit_compile: bool = False
    steps_per_execution: int = 1
    deterministic: bool = False
    backup_every: int | None = None
    save_seconds: float = 60.0  # epoch-end backup / checkpoint at most this often
    seed: int = 0
    num_samples: int = 64
    eval_samples: int = 2500  # samples the end-of-run quality figures use (0: none)
    export: bool = True
    model_name: str = "generator"
    verbose: int = 1  # 1: Keras progress bar, 2: one line per epoch, 0: silent
    out: str = "runs/dcgan"


def dataset_name(value):
    """argparse type for ``--dataset``: an offline name or a well-formed tfds name.

    Whether a tfds name exists is only known once tensorflow_datasets is
    imported, so here only the form is checked (a typo such as ``MNIST`` or
    ``mnist.idx`` is an argparse error; ``mnsit`` fails when loading).

    Example:
        >>> dataset_name("digits")
        'digits'
    """
    if value in OFFLINE_DATASETS or _TFDS_NAME.match(value):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is neither an offline dataset ({', '.join(OFFLINE_DATASETS)}) nor a "
        f"tfds name (lower-case snake_case such as mnist, fashion_mnist, cifar10)")


def _int_list(value):
    try:
        return tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {value!r}")


def _opt(typ):
    """int/float/str type that also accepts 'none' (options whose default is None)."""
    def parse(value):
        return None if value.lower() == "none" else typ(value)
    parse.__name__ = typ.__name__
    return parse


# field -> (group, type or None for booleans, choices, help). Every TrainConfig field
# has an entry (a test checks), so no flag goes out without help.
_FLAGS = {
    # data
    "dataset": ("data", dataset_name, None,
                "training data: an offline set (digits: scikit-learn's bundled 8x8 digits at "
                "28x28; mnist_idx: MNIST IDX files in --data-dir; ring / grid: the 8- and "
                "25-mode 2-D Gaussian mixtures of VEEGAN / PacGAN; image-to-image tasks for "
                "pix2pix / srgan / cyclegan, built from MNIST IDX files in --data-dir, or the "
                "scikit-learn digits without it: sr4 (7x7 -> 28x28), edges (Sobel -> digit), "
                "inpaint (14x14 hole), mnist2digits (unpaired, needs --data-dir)) or any tfds "
                "image dataset name (mnist, fashion_mnist, cifar10, ...; downloads on first use); "
                "for --variant text2image: mnist-captions (MNIST's test images captioned at run "
                "time from --data-dir, by default ../shared/data/mnist), or any image dataset "
                "with --captions FILE (not given: digits; mnist-captions for --variant "
                "text2image)"),
    "data_dir": ("data", str, None, "folder of the IDX files for mnist_idx, or the tfds data dir"),
    "split": ("data", _opt(str), None, "the split to train on: any tfds split (e.g. train, "
              "test, train[:50%%]), or train / test for mnist_idx (not given: the training data; "
              "mnist_idx falls back to the test files with a warning when it has no train files)"),
    "image_size": ("data", _opt(int), None, "resize images to this square size (not given: "
                   "as stored)"),
    "max_samples": ("data", _opt(int), None, "use only the first N training examples "
                    "(not given: all)"),
    "num_points": ("data", int, None, "points drawn from the ring / grid mixture"),
    "conditional": ("model", None, None, "condition both networks on the label "
                    "(on for --variant conditional / acgan)"),
    # model
    "variant": ("model", str, VARIANTS, "model family (defaults over one kgan.GAN)"),
    "architecture": ("model", str, ARCHITECTURES,
                     "networks (not given: the variant's default; auto: dcgan for square "
                     "images it supports, else mlp)"),
    "latent_dim": ("model", _opt(int), None, "noise width (not given: the variant's default)"),
    "dense_units": ("model", _opt(int), None, "DCGAN: a fully connected layer of this width in G "
                    "(before the projection) and D (after the convolutions), as in InfoGAN's "
                    "MNIST networks (not given: 1024 for the quickstart and an unconditional "
                    "DCGAN on mnist / mnist_idx, else 0: none)"),
    "base_filters": ("model", _opt(int), None, "DCGAN filters of the widest layer scale "
                     "(not given: 32; 64 for --variant text2image and an unconditional "
                     "DCGAN on mnist / mnist_idx)"),
    "hidden_units": ("model", _int_list, None, "MLP widths, comma-separated, e.g. 256,256 "
                     "(not given: the network's default)"),
    "g_normalization": ("model", str, ("batch", "layer", "none"),
                        "MLP generator normalisation (not given: batch)"),
    "spectral_norm": ("model", None, None, "spectral normalisation in D"),
    "label_conditioning": ("model", str, LABEL_CONDITIONING,
                           "how a conditional D sees the label (text2image: the sentence): "
                           "input (a label map or the sentence's map beside the image's "
                           "features) or projection (Miyato & Koyama 2018) (not given: "
                           "projection; text2image: the text recipe's; acgan's D predicts the "
                           "label instead)"),
    "categorical_codes": ("model", _int_list, None,
                          "infogan: category counts of the categorical codes, comma-separated "
                          "(e.g. 10 or 10,3)"),
    "continuous_codes": ("model", int, None, "infogan: number of U(-1, 1) continuous codes"),
    "info_weight": ("loss and regularizers", float, None,
                    "infogan: lambda of the mutual-information term (Chen et al. 2016: 1)"),
    "began_gamma": ("loss and regularizers", float, None,
                    "began: diversity ratio gamma = E[L(G(z))] / E[L(x)]"),
    "began_lambda_k": ("loss and regularizers", float, None, "began: gain of the k_t controller"),
    "began_embedding": ("model", int, None, "began: width h of D's autoencoder embedding"),
    "minibatch_std": ("model", int, None, "minibatch-stddev group size in D (0: off)"),
    "sync_batch_norm": ("distribution", None, None,
                        "synchronise D's batch statistics across replicas"),
    # loss and regularizers
    "loss": ("loss and regularizers", str, LOSSES,
             "adversarial loss (not given: least_squares for lsgan, wasserstein for "
             "wgangp, else non_saturating)"),
    "d_steps": ("optimisation", _opt(int), None,
                "discriminator updates per generator update (not given: 5 for wgangp, else 1)"),
    "real_label": ("loss and regularizers", float, None,
                   "target for real samples in D's loss (< 1: one-sided label smoothing)"),
    "gradient_penalty": ("loss and regularizers", str, GRADIENT_PENALTIES,
                         "gradient penalty on D (not given: off, wgan-gp for wgangp)"),
    "gp_weight": ("loss and regularizers", float, None, "gradient-penalty weight"),
    "r1_gamma": ("loss and regularizers", float, None, "R1 penalty gamma on real data (0: off)"),
    "r1_every": ("loss and regularizers", int, None,
                 "lazy R1 (StyleGAN2): the penalty on one D update in N, weighted N times"),
    "instance_noise": ("loss and regularizers", float, None,
                       "std of Gaussian noise added to D's inputs (0: off)"),
    "instance_noise_steps": ("loss and regularizers", _opt(int), None,
                             "anneal the instance noise to 0 over N steps (not given: constant)"),
    "diff_augment": ("loss and regularizers", str, None,
                     "DiffAugment of every image D sees, a comma-separated subset of "
                     "color,translation,cutout (not given: off)"),
    "replay_buffer_size": ("loss and regularizers", int, None,
                           "old fakes kept to replay to D (0: off)"),
    "packing": ("loss and regularizers", int, None, "PacGAN packing: samples per D input"),
    "feature_matching": ("loss and regularizers", float, None,
                         "weight of the feature-matching term in G's loss (0: off)"),
    "unrolled_steps": ("loss and regularizers", int, None, "unrolled-GAN D steps (0: off)"),
    "top_k": ("loss and regularizers", float, None,
              "top-k training (Sinha et al. 2020): G learns from the fakes D scores best, a "
              "share of the batch that decays by 0.99 per epoch down to this (0: off; paper 0.5)"),
    "mode_seeking": ("loss and regularizers", float, None,
                     "weight of the mode-seeking term in G's loss (Mao et al. 2019): two latents "
                     "of one condition should give different samples (0: off; not given: the "
                     "text recipe's for text2image, else off)"),
    "shared_fakes": ("optimisation", None, None,
                     "one G forward serves D's and G's update (the TF DCGAN tutorial's step; "
                     "default: Algorithm 1, fresh noise for G)"),
    # optimisation
    "epochs": ("optimisation", int, None, "passes over the data"),
    "batch_size": ("optimisation", int, None, "GLOBAL batch size (split across replicas)"),
    "g_lr": ("optimisation", float, None, "generator Adam learning rate"),
    "d_lr": ("optimisation", float, None, "discriminator Adam learning rate"),
    "beta_1": ("optimisation", float, None, "Adam beta_1 of both optimizers"),
    "beta_2": ("optimisation", float, None, "Adam beta_2 of both optimizers"),
    "lr_schedule": ("optimisation", str, ("constant", "cosine"),
                    "learning-rate schedule (cosine: both rates decay to 0 over the run)"),
    "ema_decay": ("optimisation", float, None,
                  "keep an EMA of G's weights with this decay; samples and export use it (0: off)"),
    "seed": ("optimisation", int, None, "seed of weights, data order, noise and samples"),
    "deterministic": ("optimisation", None, None, "deterministic TensorFlow ops (slower)"),
    # image-to-image
    "l1_weight": ("image-to-image", float, None, "pix2pix: lambda of the L1 term (paper: 100)"),
    "adversarial_weight": ("image-to-image", _opt(float), None,
                           "weight of G's adversarial term (not given: 1 for pix2pix, 1e-3 for "
                           "srgan, 2 for cyclegan; 0: pix2pix L1 only / SRResNet)"),
    "cycle_weight": ("image-to-image", float, None, "cyclegan: cycle-consistency lambda"),
    "identity_weight": ("image-to-image", float, None,
                        "cyclegan: identity-loss weight (paper: 0.5 x lambda = 5; 0: off)"),
    "pool_size": ("image-to-image", int, None, "cyclegan: history pool of fakes per domain "
                  "(paper: 50; 0: off)"),
    "cyclegan_generator": ("image-to-image", str, ("resnet", "unet"),
                           "cyclegan: generator architecture"),
    # text to image
    "captions": ("text to image", _opt(str), None,
                 "text2image: a captions file for the images of --dataset (one caption per "
                 "line, line i for image i, or '<index>\\t<caption>' lines; "
                 "kgan.captions_file.read_captions_file); the encoder is pre-trained on "
                 "caption/image pairs (not given: the captions of --dataset mnist-captions)"),
    "matching_aware": ("text to image", None, None,
                       "text2image: GAN-CLS, D also learns to reject real images with "
                       "mismatched sentences (Reed et al. 2016)"),
    "interpolation": ("text to image", _opt(float), None,
                      "text2image: weight of GAN-INT, G also trained on interpolated sentence "
                      "embeddings (0: off; not given: 1.0)"),
    "encoder_epochs": ("text to image", _opt(int), None,
                       "text2image: epochs of the text encoder's pre-training (not given: 3; "
                       "x4 on caption/image pairs)"),
    "condition_augmentation": ("text to image", _opt(int), None,
                               "text2image: StackGAN's conditioning augmentation, G sees a "
                               "sample of this size around the sentence, its noise the first "
                               "entries of z, so at most --latent-dim (0: off; not given: the "
                               "recipe's, capped at --latent-dim)"),
    "augmentation_kl": ("text to image", _opt(float), None,
                        "text2image: weight of the augmentation's KL term (not given: the "
                        "recipe's)"),
    # distribution
    "strategy": ("distribution", str, STRATEGIES,
                 "tf.distribute strategy (multiworker reads TF_CONFIG)"),
    "cpu_replicas": ("distribution", _opt(int), None,
                     "split the CPU into N logical devices, e.g. to try mirrored without GPUs"),
    "mixed_precision": ("distribution", None, None,
                        "mixed_float16 on GPU, mixed_bfloat16 on CPU"),
    "jit_compile": ("distribution", None, None, "compile the train step with XLA"),
    "steps_per_execution": ("distribution", int, None, "train steps per compiled call"),
    # output
    "out": ("output", str, None, "run directory (an existing run there is resumed only if "
            "its config.json matches; see --overwrite)"),
    "num_samples": ("output", int, None, "samples in samples.png and the per-epoch grids"),
    "eval_samples": ("output", int, None,
                     "samples for the end-of-run quality figures in summary.json (0: none)"),
    "export": ("output", None, None, "export the generator for TF Serving into <out>/export"),
    "model_name": ("output", str, None, "TF Serving model name of the export"),
    "backup_every": ("output", _opt(int), None,
                     "also save the resume state every N steps (not given: at epoch ends only)"),
    "save_seconds": ("output", float, None,
                     "save the resume state and checkpoints/model.keras at an epoch end only when "
                     "this many seconds have passed since the last save, and at the last epoch "
                     "(0: every epoch)"),
    "verbose": ("output", int, (0, 1, 2), "0: silent, 1: progress bar, 2: one line per epoch"),
}
for _name, _general in GENERAL_DEFAULTS.items():
    _group, _typ, _choices, _text = _FLAGS[_name]
    _text_default = TEXT_RECIPE[_name]
    _FLAGS[_name] = (_group, _typ, _choices, _text + " (" + _RECIPE_HELP.format(
        recipe=QUICKSTART_RECIPE.get(_name, _general), general=_general,
        mnist=CONDITIONAL_MNIST_RECIPE.get(_name, _general),
        mnist_u=UNCONDITIONAL_MNIST_RECIPE.get(_name, _general),
        text=f"about {TEXT_STEPS} steps" if _text_default is None else _text_default) + ")")
GROUPS = ("data", "model", "loss and regularizers", "image-to-image", "text to image",
          "optimisation", "distribution", "output")


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Appends each flag's default to its help (choices show in the metavar)."""

    def _get_help_string(self, action):
        text = action.help or ""
        if "%(default)" in text or action.default is argparse.SUPPRESS:
            return text
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            return text
        if action.nargs == 0:  # switches: --x / --no-x, --overwrite
            return text + f" (default: {'on' if action.default else 'off'})"
        default = action.default
        if default is None and "not given" in text:  # the help already says what None means
            return text
        if isinstance(default, tuple):
            default = ",".join(str(v) for v in default)
        return text + f" (default: {'not given' if default is None else default})"


def build_parser():
    """The ``train/train.py`` argument parser (no TensorFlow imported).

    Example:
        >>> build_parser().parse_args(["--loss", "hinge"]).loss
        'hinge'
    """
    p = argparse.ArgumentParser(
        prog="train.py", formatter_class=_Formatter,
        description="Train a kgan GAN and write a run directory (see the README's outputs list).",
        epilog="Rerun the same command to resume after a crash. --config runs/x/config.json "
               "reruns a run exactly; flags given next to it override the file.")
    groups = {g: p.add_argument_group(g) for g in GROUPS}
    defaults = TrainConfig()
    for f in dataclasses.fields(TrainConfig):
        group, typ, choices, text = _FLAGS[f.name]
        flag = "--" + f.name.replace("_", "-")
        default = getattr(defaults, f.name)
        g = groups[group]
        if typ is None:
            g.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=text)
        else:
            g.add_argument(flag, type=typ, choices=choices, default=default, help=text,
                           metavar=None if choices else f.name.upper())
    out = groups["output"]
    out.add_argument("--config", metavar="CONFIG_JSON", default=None,
                     help="take every option from a run's config.json (flags given on the "
                          "command line win)")
    out.add_argument("--overwrite", action="store_true",
                     help="delete the previous run's outputs in --out and start over")
    out.add_argument("--dry-run", action="store_true", help="print the resolved config and exit")
    return p


def _config_defaults(parser, path):
    """Reads a config.json into parser defaults, so explicit flags still override it."""
    try:
        with open(path) as f:
            stored = json.load(f)
    except OSError as e:
        parser.error(f"--config: cannot read {path}: {e.strerror}")
    except json.JSONDecodeError as e:
        parser.error(f"--config: {path} is not JSON: {e}")
    if not isinstance(stored, dict):
        parser.error(f"--config: {path} must hold a JSON object")
    names = {f.name for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(stored) - names)
    if unknown:
        parser.error(f"--config: {path} has unknown options: {', '.join(unknown)}")
    for key in ("hidden_units", "categorical_codes"):
        if stored.get(key) is not None:
            stored[key] = tuple(stored[key])
    return stored


def parse_args(argv=None):
    """Parses command-line flags into a :class:`TrainConfig` and the run options.

    Args:
        argv: arguments (default ``sys.argv[1:]``).

    Returns:
        ``(TrainConfig, options)``: ``options`` has ``dry_run`` and
        ``overwrite``. Exits with status 2 and a usage message on a bad flag.

    Example:
        >>> config, options = parse_args(["--variant", "lsgan", "--epochs", "2"])
        >>> config, options = parse_args(["--config", "runs/x/config.json", "--epochs", "50"])
    """
    p = build_parser()
    first = p.parse_args(argv)
    if first.config:
        stored = _config_defaults(p, first.config)
        p.set_defaults(**stored)
        first = p.parse_args(argv)  # explicit flags beat the file's values
    args = vars(first)
    options = argparse.Namespace(dry_run=args.pop("dry_run"), overwrite=args.pop("overwrite"),
                                 config=args.pop("config"))
    config = TrainConfig(**args)
    _check(p, config)
    return config, options


def _check(parser, config):
    """Cross-flag checks argparse cannot express (still before TensorFlow)."""
    if config.dataset == "mnist_idx" and not config.data_dir:
        parser.error("--dataset mnist_idx needs --data-dir, the folder with the IDX files")
    texting = config.variant in TEXT_VARIANTS
    dataset = config.dataset or ("mnist-captions" if texting else "digits")
    if texting:
        _check_text(parser, config, dataset)
    else:
        if dataset in TEXT_DATASETS:
            parser.error(f"--dataset {dataset} holds captioned images: use it with "
                         f"--variant text2image")
        for name, value in (("captions", config.captions), ("interpolation", config.interpolation),
                            ("encoder_epochs", config.encoder_epochs),
                            ("condition_augmentation", config.condition_augmentation),
                            ("augmentation_kl", config.augmentation_kl)):
            if value is not None:
                parser.error(f"--{name.replace('_', '-')} is a text-to-image option: use it with "
                             f"--variant text2image")
        translating = config.variant in TRANSLATION_VARIANTS
        if translating != (dataset in TRANSLATION_DATASETS):
            parser.error(f"--variant {config.variant} "
                         + (f"needs an image-to-image --dataset ({', '.join(TRANSLATION_DATASETS)})"
                            if translating else f"cannot train on --dataset {dataset}; "
                            "use --variant pix2pix, srgan or cyclegan"))
        if translating and (config.variant == "cyclegan") != (dataset == "mnist2digits"):
            parser.error("--dataset mnist2digits is unpaired: use it with --variant cyclegan, "
                         "and the paired tasks (sr4, edges, inpaint) with pix2pix or srgan")
        if config.variant == "srgan" and dataset != "sr4":
            parser.error("--variant srgan trains on --dataset sr4")
    for name in ("epochs", "batch_size", "num_points", "packing", "steps_per_execution",
                 "encoder_epochs", "r1_every"):
        if getattr(config, name) is not None and getattr(config, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    if config.save_seconds < 0:
        parser.error(f"--save-seconds must be >= 0, got {config.save_seconds}")


def _check_text(parser, config, dataset):
    """--variant text2image: captioned data, DCGAN networks conditioned on text."""
    if dataset in TRANSLATION_DATASETS or dataset in ("ring", "grid"):
        parser.error(f"--variant text2image trains on captioned images: use --dataset "
                     f"mnist-captions, or an image dataset (digits, mnist_idx, mnist, ...) with "
                     f"--captions FILE; not --dataset {dataset}")
    if dataset in TEXT_DATASETS and config.captions is not None:
        parser.error(f"--dataset {dataset} brings its own captions: drop --captions, or give "
                     f"--captions FILE with the images it describes (e.g. --dataset mnist_idx "
                     f"--data-dir DIR)")
    if dataset not in TEXT_DATASETS and config.captions is None:
        parser.error(f"--variant text2image --dataset {dataset} needs --captions FILE (a caption "
                     f"per image), or use --dataset mnist-captions")
    if dataset in TEXT_DATASETS and config.data_dir is None and not os.path.isdir(
            DEFAULT_MNIST_DIR):
        parser.error(f"--dataset {dataset} needs --data-dir, the folder of MNIST's t10k IDX "
                     f"files ({DEFAULT_MNIST_DIR} is not there)")
    if config.captions is not None and not os.path.isfile(config.captions):
        parser.error(f"--captions: no such file {config.captions!r}")
    if config.conditional:
        parser.error("--variant text2image is conditioned on sentences, not labels: drop "
                     "--conditional")
    if config.architecture == "mlp":
        parser.error("--variant text2image uses DCGAN networks: drop --architecture mlp")
    if config.interpolation is not None and config.interpolation < 0:
        parser.error("--interpolation must be >= 0 (0: GAN-INT off)")
    if config.condition_augmentation is not None and config.condition_augmentation < 0:
        parser.error("--condition-augmentation must be >= 0 (0: off)")
    latent = config.latent_dim or TEXT_LATENT_DIM
    if config.condition_augmentation is not None and config.condition_augmentation > latent:
        parser.error(f"--condition-augmentation {config.condition_augmentation} needs a latent at "
                     f"least that wide (its noise is z's first entries): got --latent-dim "
                     f"{latent}; give a larger --latent-dim or a smaller --condition-augmentation")
    if config.augmentation_kl is not None and config.augmentation_kl < 0:
        parser.error("--augmentation-kl must be >= 0")


def _recipe(c):
    """``(training options, network options)`` of the recipe a run gets when not given."""
    if c["architecture"] not in (None, "auto", "dcgan"):
        return {}, {}
    if (c["variant"], c["dataset"]) == QUICKSTART_RUNS:
        return QUICKSTART_RECIPE, QUICKSTART_NETWORKS
    if c["dataset"] not in MNIST_DATASETS:
        return {}, {}
    if (c["conditional"] and c["variant"] in ("conditional", "dcgan")
            and c["label_conditioning"] in (None, "projection")):
        return CONDITIONAL_MNIST_RECIPE, {}
    if c["variant"] == "dcgan" and not c["conditional"]:
        return UNCONDITIONAL_MNIST_RECIPE, UNCONDITIONAL_MNIST_NETWORKS
    return {}, {}


def resolve(config):
    """Fills in defaults that depend on other options; returns a dict.

    Options left ``None`` in :data:`GENERAL_DEFAULTS` take the
    :data:`QUICKSTART_RECIPE` for a DCGAN on digits (the CLI's defaults, the
    README's quickstart), :data:`CONDITIONAL_MNIST_RECIPE` /
    :data:`UNCONDITIONAL_MNIST_RECIPE` (and its networks) for a DCGAN on
    MNIST, else the general default.

    Example:
        >>> resolve(TrainConfig(variant="lsgan"))["loss"]
        'least_squares'
        >>> resolve(TrainConfig())["r1_gamma"], resolve(TrainConfig(dataset="mnist"))["r1_gamma"]
        (1.0, 0.0)
    """
    c = dataclasses.asdict(config)
    texting = c["variant"] in TEXT_VARIANTS
    if c["dataset"] is None:
        c["dataset"] = "mnist-captions" if texting else "digits"
    if c["base_filters"] is None and texting:
        c["base_filters"] = TEXT_BASE_FILTERS
    if texting:
        for name, value in TEXT_RECIPE.items():
            if c[name] is None:
                c[name] = value
        c["interpolation"] = 1.0 if c["interpolation"] is None else c["interpolation"]
        c["latent_dim"] = c["latent_dim"] or TEXT_LATENT_DIM
        c["label_conditioning"] = c["label_conditioning"] or TEXT_D_CONDITIONING
        if c["condition_augmentation"] is None:  # its noise is z's first entries
            c["condition_augmentation"] = min(TEXT_CONDITION_AUGMENTATION, c["latent_dim"])
        if c["augmentation_kl"] is None:
            c["augmentation_kl"] = TEXT_AUGMENTATION_KL
        if c["mode_seeking"] is None:
            c["mode_seeking"] = TEXT_MODE_SEEKING
        if c["dataset"] in TEXT_DATASETS:
            c["data_dir"] = os.path.abspath(c["data_dir"] or DEFAULT_MNIST_DIR)
        if c["captions"] is not None:
            c["captions"] = os.path.abspath(c["captions"])
    # The quickstart recipe is the default of a DCGAN on digits with its own networks, the
    # conditional MNIST recipe that of a class-conditional DCGAN on MNIST; any option given wins.
    if c["variant"] in ("conditional", "acgan"):
        c["conditional"] = True
    recipe, networks = _recipe(c)
    for name, value in networks.items():
        c[name] = value if c[name] is None else c[name]
    c["dense_units"] = c["dense_units"] or 0
    c["mode_seeking"] = c["mode_seeking"] or 0.0
    c["base_filters"] = c["base_filters"] or 32
    for name, general in GENERAL_DEFAULTS.items():
        if c[name] is None and not texting:  # text2image: TEXT_RECIPE, filled above
            c[name] = recipe.get(name, general)
    if c["variant"] in ("lsgan", "cyclegan") and c["loss"] is None:
        c["loss"] = "least_squares"
    if c["label_conditioning"] is None:
        c["label_conditioning"] = "projection"
    if c["d_steps"] is None:
        c["d_steps"] = 5 if c["variant"] == "wgangp" else 1
    if c["variant"] == "wgangp" and c["gradient_penalty"] is None:
        c["gradient_penalty"] = "wgan-gp"
    c["loss"] = c["loss"] or ("wasserstein" if c["variant"] == "wgangp" else "non_saturating")
    if c["adversarial_weight"] is None and c["variant"] in TRANSLATION_VARIANTS:
        c["adversarial_weight"] = {"pix2pix": 1.0, "srgan": 1e-3, "cyclegan": 2.0}[c["variant"]]
    for key in ("hidden_units", "categorical_codes"):
        if c[key] is not None:
            c[key] = list(c[key])
    c["out"] = os.path.abspath(c["out"])
    return c


# --- the run directory ---------------------------------------------------------

def label_list(value):
    """argparse type for ``--labels``: comma-separated non-negative integers.

    Example:
        >>> label_list("3,7")
        (3, 7)
    """
    try:
        labels = tuple(int(v) for v in value.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers such as 3,7, "
                                         f"got {value!r}")
    if any(v < 0 for v in labels):
        raise argparse.ArgumentTypeError(f"labels must be >= 0, got {value!r}")
    return labels


def build_sample_parser():
    """The ``train/sample.py`` / ``kgan-sample`` argument parser (no TensorFlow).

    Example:
        >>> build_sample_parser().parse_args(["runs/x/model.keras", "-n", "16"]).num_samples
        16
    """
    p = argparse.ArgumentParser(
        prog="sample.py", formatter_class=_Formatter,
        description="Write N generated samples (a PNG grid, or a scatter plot for 2-D data, "
                    "and a .npy array) from a trained model.")
    p.add_argument("model", help="a .keras model saved by kgan (e.g. runs/x/model.keras) or "
                                 "an export directory (runs/x/export/generator or a version "
                                 "folder under it)")
    p.add_argument("-n", "--num-samples", type=int, default=None,
                   help="how many samples (not given: 64); text-to-image models: images per "
                        "sentence (not given: 8)")
    p.add_argument("--seed", type=int, default=0,
                   help="sample i uses latent seed SEED+i: the same seed gives the same samples "
                        "from the .keras model and from its export")
    p.add_argument("--labels", type=label_list, default=None,
                   help="conditional models: labels, comma-separated, repeated to N samples "
                        "(e.g. 7 for all sevens; not given: 0, 1, ..., K-1, 0, ...)")
    p.add_argument("--text", action="append", default=None, metavar="SENTENCE",
                   help="text-to-image models: a sentence, one grid row of N images (repeat "
                        "the flag for more rows), e.g. --text \"a thick seven\" --text \"a thin 1\"")
    p.add_argument("--text-file", default=None, metavar="FILE",
                   help="text-to-image models: sentences, one per line (after any --text)")
    p.add_argument("--raw", action="store_true",
                   help="sample a .keras model's trained generator instead of the EMA generator "
                        "it keeps (--ema-decay), which samples.png and the export use")
    p.add_argument("--out", default="samples",
                   help="output path stem: writes OUT.png, OUT.npy (and OUT_labels.npy for "
                        "conditional models, OUT_texts.txt, the grid's rows, for text-to-image "
                        "models)")
    return p


def parse_sample_args(argv=None):
    """Parses ``train/sample.py`` flags; checks that the model path exists.

    Example:
        >>> args = parse_sample_args(["runs/x/model.keras", "--labels", "3,7"])
    """
    p = build_sample_parser()
    args = p.parse_args(argv)
    if args.num_samples is not None and args.num_samples < 1:
        p.error("--num-samples must be at least 1")
    texts = list(args.text or [])
    if args.text_file is not None:
        try:
            with open(args.text_file, encoding="utf-8-sig") as f:
                lines = f.read().split("\n")
        except OSError as e:
            p.error(f"--text-file: cannot read {args.text_file}: {e.strerror}")
        except UnicodeDecodeError:
            p.error(f"--text-file: {args.text_file} is not UTF-8 text")
        lines = [line.rstrip("\r") for line in lines]
        while lines and not lines[-1].strip():  # blank lines at the end
            lines.pop()
        if not lines:
            p.error(f"--text-file: {args.text_file} holds no sentences")
        texts += lines
    args.texts = texts or None
    if args.texts is not None and args.labels is not None:
        p.error("--labels is for class-conditional models; text-to-image models take --text")
    if args.num_samples is None:
        args.num_samples = 8 if args.texts else 64
    if not os.path.exists(args.model):
        p.error(f"model {args.model!r} not found (expected a .keras file or an export directory)")
    is_keras = os.path.isfile(args.model)
    if is_keras and not args.model.endswith(".keras"):
        p.error(f"model {args.model!r} is a file but not a .keras model")
    if args.raw and not is_keras:
        p.error("--raw needs a .keras model (an export holds only the network it was "
                "exported with)")
    return args


# --- train/score.py --------------------------------------------------------------

def build_score_parser():
    """The ``train/score.py`` argument parser (no TensorFlow).

    Example:
        >>> build_score_parser().parse_args(["fanogan.keras", "images/"]).out
        'scores.csv'
    """
    p = argparse.ArgumentParser(
        prog="score.py", formatter_class=_Formatter,
        description="Score images with a trained f-AnoGAN anomaly model and write a CSV "
                    "(image, score, residual, feature_residual; higher is more anomalous).")
    p.add_argument("model", help="a kgan.anomaly.FAnoGAN saved as .keras, or its export "
                                 "(kgan.anomaly.export_scorer: a model or version folder)")
    p.add_argument("images", help="a folder of PNG files, or an IDX image file (.gz or not), "
                                  "e.g. ../shared/data/mnist/t10k-images-idx3-ubyte.gz")
    p.add_argument("--out", default="scores.csv", help="the CSV to write")
    return p
