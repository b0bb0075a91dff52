"""Captioned MNIST for text-to-image GANs (GAN-CLS), built offline.

Reed et al. (2016, "Generative Adversarial Text to Image Synthesis") trained
on birds and flowers with 10 captions per image written by crowd workers.
No such captions exist for MNIST and nothing may be downloaded, so here the
captions are synthesised: each image is described by its label and by three
attributes measured on the image itself, the way Morpho-MNIST (Castro et al.
2019) measures thickness and slant:

* ``thickness``: mean stroke width in pixels (``2 * area / edge length``);
* ``slant``: horizontal shear from the second moments of the ink;
* ``size``: area of the bounding box of the inked pixels.

``AttributeLevels`` cuts each attribute into per-digit terciles fitted on the
training images (a "thick 1" is thick for a 1), so a caption such as
"a small thick seven leaning left" says where the image lies among images of
its own class. The middle tercile is never mentioned, and each non-middle
attribute is mentioned with probability 0.75, so captions vary in length.

The attribute functions are plain vectorised numpy that accept uint8 [0, 255]
or float [-1, 1] (generator output), because a benchmark measures GENERATED
images with them: does "a thick 7" measure thicker than "a thin 7" drawn
from the same noise?

Phrasings. ``"seen"`` captions are the training text. ``"unseen"`` captions
use sentence templates and attribute words that never occur in ``"seen"``,
to test whether a text encoder generalises. The encoder is character-level
and trained offline with no pretrained word vectors, so it can only relate a
new word to what it has seen through shared characters: every unseen word is
built from a seen stem ("thick" -> "thick-stroked", "thicker"; "leaning
right" -> "right-leaning", "slanting rightward"; "small" -> "smallish") or
rearranges seen words. A word whose meaning shares nothing with any seen word
(say "chunky" for thick) cannot be learned offline and is not used. No word of
one attribute value contains a word of another ("upright" would contain
"right"; "light" is avoided for thin), so a character model cannot match the
wrong attribute by substring. Captions are lowercase ASCII, at most
``MAX_CAPTION_CHARS`` characters.

Example:
    >>> data = load_captioned_mnist("../shared/data/mnist")
    >>> data["train"].captions[0][:2], data["train"].targets["thickness"][0, :2]
    (['a big thin 7', 'handwritten big digit 7'], array([1, 0], dtype=int32))
"""

from __future__ import annotations

import dataclasses
import os
import re

import numpy as np

from kgan.attributes import (  # noqa: F401  (re-exported: the captions' vocabulary)
    ATTRIBUTES, AttributeLevels, ink, measure, size, slant, thickness)
from kgan.captions_file import MAX_CAPTION_CHARS, CaptionsFileError, read_captions_file  # noqa: F401

PHRASINGS = ("seen", "unseen")
# Probability that a non-middle attribute is mentioned in a random caption.
MENTION_PROBABILITY = 0.75

DIGIT_NAMES = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


# ----------------------------------------------------------------------------- vocabulary
#
# VOCAB[phrasing][attribute][kind][level]: phrase lists. "adj" goes before
# the digit, "post" after it, "item" stands alone in a comma list. The low
# and high lists of a kind are parallel (thin <-> thick) so attribute_pairs
# can swap one for the other.

_SEEN = {
    "thickness": {
        "adj": {-1: ("thin", "slim", "narrow"), 1: ("thick", "bold", "heavy")},
        "post": {-1: ("with thin strokes", "with slim strokes", "in narrow strokes"),
                 1: ("with thick strokes", "with bold strokes", "in heavy strokes")},
        "item": {-1: ("thin strokes", "slim strokes", "narrow lines"),
                 1: ("thick strokes", "bold strokes", "heavy lines")},
    },
    "slant": {
        "post": {-1: ("leaning left", "tilted left", "slanted to the left"),
                 1: ("leaning right", "tilted right", "slanted to the right")},
    },
    "size": {
        "adj": {-1: ("small", "tiny"), 1: ("large", "big")},
    },
}

_UNSEEN = {
    "thickness": {
        "adj": {-1: ("thin-stroked", "thinly drawn", "thinner", "slimmer"),
                1: ("thick-stroked", "thickly drawn", "thicker", "bolder")},
        "post": {-1: ("drawn thinly", "with thinner lines"),
                 1: ("drawn thickly", "with thicker lines")},
    },
    "slant": {
        "adj": {-1: ("left-leaning", "left-slanted", "left-tilted"),
                1: ("right-leaning", "right-slanted", "right-tilted")},
        "post": {-1: ("slanting leftward", "leaning leftward", "tilting to the left"),
                 1: ("slanting rightward", "leaning rightward", "tilting to the right")},
    },
    "size": {
        "adj": {-1: ("smallish", "smaller", "tiny-sized"), 1: ("largish", "larger", "bigger")},
    },
}

VOCAB = {"seen": _SEEN, "unseen": _UNSEEN}

# Digit forms; the unseen ones put seen words in new combinations.
DIGIT_FORMS = {"seen": ("{d}", "{name}", "digit {d}", "number {name}"),
               "unseen": ("{d}", "{name}", "digit {name}", "number {d}")}


def _and_list(parts):
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def _words(*parts):
    return " ".join(p for p in parts if p)


# Templates: (name, {attribute: kind}, render(digit, phrases) -> str) where
# phrases maps each attribute to its phrase or None (not mentioned). "a" is
# fixed to "an" afterwards where the next word needs it.
def _seen_adjectives(d, p):
    return _words("a", p["size"], p["thickness"], d, p["slant"])


def _seen_list(d, p):
    return ", ".join(x for x in (d, p["thickness"], p["size"], p["slant"]) if x)


def _seen_handwritten(d, p):
    tail = ", ".join(x for x in (p["thickness"], p["slant"]) if x)
    return _words("handwritten", p["size"], d, tail)


def _seen_then(d, p):
    head = _words("a", d, p["slant"])
    rest = _and_list([p["thickness"], p["size"]])
    return f"{head}, {rest}" if rest else head


def _unseen_there_is(d, p):
    return _words("there is a", p["size"], p["slant"], d, p["thickness"])


def _unseen_picture(d, p):
    rest = _and_list([p["thickness"], p["size"], p["slant"]])
    head = f"picture of a {d}"
    return f"{head}: {rest}" if rest else head


def _unseen_sketch(d, p):
    return _words("sketch of a", p["thickness"], p["size"], d, p["slant"])


TEMPLATES = {
    "seen": (
        ("adjectives", {"thickness": "adj", "slant": "post", "size": "adj"}, _seen_adjectives),
        ("list", {"thickness": "item", "slant": "post", "size": "adj"}, _seen_list),
        ("handwritten", {"thickness": "post", "slant": "post", "size": "adj"}, _seen_handwritten),
        ("then", {"thickness": "adj", "slant": "post", "size": "adj"}, _seen_then),
    ),
    "unseen": (
        ("there_is", {"thickness": "post", "slant": "adj", "size": "adj"}, _unseen_there_is),
        ("picture", {"thickness": "adj", "slant": "adj", "size": "adj"}, _unseen_picture),
        ("sketch", {"thickness": "adj", "slant": "post", "size": "adj"}, _unseen_sketch),
    ),
}

_AN = re.compile(r"\ba (?=[aeiou]|8\b)")


def _render(template, digit_text, phrases):
    text = _AN.sub("an ", template[2](digit_text, phrases))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) > MAX_CAPTION_CHARS:  # the vocabulary is built to stay under it
        raise AssertionError(f"caption longer than {MAX_CAPTION_CHARS} characters: {text!r}")
    return text


def _digit_text(digit, form):
    return form.format(d=digit, name=DIGIT_NAMES[digit])


def _check_phrasing(phrasing):
    if phrasing not in PHRASINGS:
        raise ValueError(f"phrasing must be one of {PHRASINGS}, got {phrasing!r}.")


def _check_digit(digit):
    if int(digit) != digit or not 0 <= int(digit) <= 9:
        raise ValueError(f"Expected a digit 0..9, got {digit!r}.")
    return int(digit)


def _check_levels(levels):
    out = {}
    for name, value in levels.items():
        if name not in ATTRIBUTES:
            raise ValueError(f"Unknown attribute {name!r}; expected one of {ATTRIBUTES}.")
        if int(value) not in (-1, 0, 1):
            raise ValueError(f"Level of {name!r} must be -1, 0 or 1, got {value!r}.")
        out[name] = int(value)
    return {name: out.get(name, 0) for name in ATTRIBUTES}


def caption_targets(digit, levels, mentioned):
    """Classification targets of a caption, for pre-training the text encoder.

    Args:
        digit: the digit 0..9.
        levels: ``{attribute: -1 | 0 | 1}`` (missing attributes are 0).
        mentioned: attributes the caption mentions.

    Returns:
        ``{"digit": int, "thickness": t, "slant": t, "size": t}`` with
        ``t`` = 0 (not mentioned, or middle), 1 (low), 2 (high).

    Example:
        >>> caption_targets(7, {"thickness": 1, "slant": -1}, ["thickness"])
        {'digit': 7, 'thickness': 2, 'slant': 0, 'size': 0}
    """
    digit = _check_digit(digit)
    levels = _check_levels(levels)
    mentioned = set(mentioned)
    out = {"digit": digit}
    for name in ATTRIBUTES:
        level = levels[name] if name in mentioned else 0
        out[name] = {0: 0, -1: 1, 1: 2}[level]
    return out


def caption_with_targets(digit, levels, rng, phrasing="seen", mention=None):
    """One random caption and its targets (see ``caption``, ``caption_targets``).

    Returns:
        ``(text, targets)``.

    Example:
        >>> caption_with_targets(3, {"size": -1}, np.random.default_rng(0))
        ('a small 3', {'digit': 3, 'thickness': 0, 'slant': 0, 'size': 1})
    """
    _check_phrasing(phrasing)
    digit = _check_digit(digit)
    levels = _check_levels(levels)
    if mention is None:
        draws = rng.random(len(ATTRIBUTES))
        mention = [n for n, u in zip(ATTRIBUTES, draws) if u < MENTION_PROBABILITY]
    else:
        mention = list(mention)
        for name in mention:
            if name not in ATTRIBUTES:
                raise ValueError(f"Unknown attribute {name!r} in mention; expected one of {ATTRIBUTES}.")
    mentioned = [n for n in ATTRIBUTES if n in mention and levels[n] != 0]
    templates = TEMPLATES[phrasing]
    template = templates[rng.integers(len(templates))]
    forms = DIGIT_FORMS[phrasing]
    digit_text = _digit_text(digit, forms[rng.integers(len(forms))])
    phrases = {}
    for name in ATTRIBUTES:
        if name in mentioned:
            options = VOCAB[phrasing][name][template[1][name]][levels[name]]
            phrases[name] = options[rng.integers(len(options))]
        else:
            phrases[name] = None
    return _render(template, digit_text, phrases), caption_targets(digit, levels, mentioned)


def caption(digit, levels, rng, phrasing="seen", mention=None):
    """One random sentence describing a digit and its attribute levels.

    Args:
        digit: the digit 0..9.
        levels: ``{attribute: -1 | 0 | 1}``; missing attributes are 0.
        rng: a ``np.random.Generator``; the caption is a function of its state.
        phrasing: ``"seen"`` (training text) or ``"unseen"`` (templates and
            words never in ``"seen"``).
        mention: attributes to mention; default each non-zero attribute with
            probability 0.75. Attributes at level 0 are never mentioned.

    Returns:
        Lowercase ASCII text of at most ``MAX_CAPTION_CHARS`` characters.

    Example:
        >>> caption(7, {"thickness": 1, "slant": -1, "size": -1}, np.random.default_rng(0))
        'a tiny thick 7 slanted to the left'
    """
    return caption_with_targets(digit, levels, rng, phrasing, mention)[0]


def attribute_pairs(attribute, digits, rng, phrasing="seen"):
    """Caption pairs that differ only in one attribute, for benchmarks.

    For each digit both captions share the template and digit words and
    mention nothing else; the low one uses a low word ("thin") and the high
    one the parallel high word ("thick").

    Args:
        attribute: one of ``ATTRIBUTES``.
        digits: iterable of digits 0..9.
        rng: a ``np.random.Generator``.
        phrasing: ``"seen"`` or ``"unseen"``.

    Returns:
        A list of ``(low_caption, high_caption)``, one per digit.

    Example:
        >>> attribute_pairs("thickness", [7], np.random.default_rng(2))
        [('a seven, thin', 'a seven, thick')]
    """
    _check_phrasing(phrasing)
    if attribute not in ATTRIBUTES:
        raise ValueError(f"Unknown attribute {attribute!r}; expected one of {ATTRIBUTES}.")
    pairs = []
    templates, forms = TEMPLATES[phrasing], DIGIT_FORMS[phrasing]
    for digit in digits:
        digit = _check_digit(digit)
        template = templates[rng.integers(len(templates))]
        digit_text = _digit_text(digit, forms[rng.integers(len(forms))])
        words = VOCAB[phrasing][attribute][template[1][attribute]]
        i = rng.integers(len(words[-1]))
        pair = []
        for level in (-1, 1):
            phrases = dict.fromkeys(ATTRIBUTES)
            phrases[attribute] = words[level][i]
            pair.append(_render(template, digit_text, phrases))
        pairs.append(tuple(pair))
    return pairs


# ----------------------------------------------------------------------------- datasets

@dataclasses.dataclass
class CaptionedSplit:
    """Images with several captions each.

    Attributes:
        images: uint8 ``[n, 28, 28, 1]``.
        labels: int32 ``[n]``.
        captions: ``n`` lists of ``per_image`` strings.
        targets: ``{"digit" | "thickness" | "slant" | "size": int32 [n, per_image]}``
            (see ``caption_targets``), one row per caption.
        levels: ``{attribute: int8 [n]}``, the measured level of each image
            (whether or not a caption mentions it).
    """

    images: np.ndarray
    labels: np.ndarray
    captions: list
    targets: dict
    levels: dict

    def __len__(self):
        return len(self.labels)


def _as_uint8(images):
    images = np.asarray(images)
    if images.dtype != np.uint8:
        images = np.round(ink(images) * 255.0).astype(np.uint8)
    if images.ndim == 3:
        images = images[..., None]
    return images


def make_captions(images, labels, levels, per_image=5, phrasing="seen", seed=0):
    """Captions images from their labels and measured attribute levels.

    Args:
        images: uint8 ``[n, H, W, 1]`` (or ``[n, H, W]``; floats in [-1, 1]
            are converted to uint8).
        labels: int ``[n]`` digits.
        levels: a fitted ``AttributeLevels``.
        per_image: captions per image (Reed et al. used 10).
        phrasing: ``"seen"`` or ``"unseen"``.
        seed: seeds the captions; the same arguments give the same split.

    Returns:
        A ``CaptionedSplit``.

    Example:
        >>> split = make_captions(x, y, AttributeLevels.fit(x, y), per_image=5)
        >>> split.targets["thickness"].shape
        (10000, 5)
    """
    _check_phrasing(phrasing)
    if int(per_image) < 1:
        raise ValueError(f"per_image must be >= 1, got {per_image!r}.")
    images = _as_uint8(images)
    measured = levels.levels(images, labels)
    labels = np.asarray(labels).astype(np.int32)
    rng = np.random.default_rng(seed)
    n = len(labels)
    captions = []
    targets = {k: np.zeros((n, per_image), np.int32) for k in ("digit",) + ATTRIBUTES}
    for i in range(n):
        image_levels = {name: int(measured[name][i]) for name in ATTRIBUTES}
        row = []
        for j in range(per_image):
            text, t = caption_with_targets(int(labels[i]), image_levels, rng, phrasing)
            row.append(text)
            for k, v in t.items():
                targets[k][i, j] = v
        captions.append(row)
    return CaptionedSplit(images, labels, captions, targets, measured)


def load_captioned_mnist(data_dir, per_image=5, held_out=2000, seed=0, split_seed=0):
    """Captioned MNIST from the 10k test-split IDX files.

    ``held_out`` images drawn at random (``split_seed``) are held out; the
    attribute terciles are fitted on the remaining training images only. A
    random draw, not the last images: the 10k split's two halves come from
    different writers (the last 2,000 lean right and are larger and
    thicker), which a contiguous hold-out would confound with phrasing.

    Args:
        data_dir: folder with ``t10k-images-idx3-ubyte[.gz]`` and labels.
        per_image: captions per image.
        held_out: how many images to hold out.
        seed: seeds the captions.
        split_seed: seeds which images are held out.

    Returns:
        A dict: ``"train"`` (training images, seen phrasings),
        ``"held_out"`` (held-out images, seen phrasings), ``"unseen"``
        (the same held-out images, unseen phrasings), all ``CaptionedSplit``,
        and ``"levels"``: the fitted ``AttributeLevels``.

    Example:
        >>> data = load_captioned_mnist("../shared/data/mnist")
        >>> len(data["train"]), len(data["unseen"])
        (8000, 2000)
    """
    from kgan.data import load_idx_dir  # imports TensorFlow; the rest of this module is numpy

    images, labels = load_idx_dir(os.fspath(data_dir), split="t10k")
    n = len(labels)
    if not 1 <= int(held_out) < n:
        raise ValueError(f"held_out must be between 1 and {n - 1}, got {held_out!r}.")
    order = np.random.default_rng(split_seed).permutation(n)
    test, train = np.sort(order[:int(held_out)]), np.sort(order[int(held_out):])
    levels = AttributeLevels.fit(images[train], labels[train])
    return {
        "train": make_captions(images[train], labels[train], levels, per_image, "seen", seed),
        "held_out": make_captions(images[test], labels[test], levels, per_image, "seen", seed + 1),
        "unseen": make_captions(images[test], labels[test], levels, per_image, "unseen", seed + 2),
        "levels": levels,
    }
