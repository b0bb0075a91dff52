"""kgan.captions: attribute measurements, levels, captions, captions files."""

import hashlib
import itertools
import json
import re

import numpy as np
import pytest

from kgan import captions as C
from shared_data import MNIST, needs_mnist

# Words that carry each attribute value: every phrase of a value contains one
# of its own and none of any other value's (checked below), so a caption's
# meaning can be read back from them.
KEYS = {
    ("thickness", -1): ("thin", "slim", "narrow"),
    ("thickness", 1): ("thick", "bold", "heavy"),
    ("slant", -1): ("left",),
    ("slant", 1): ("right",),
    ("size", -1): ("small", "tiny"),
    ("size", 1): ("larg", "big"),  # "largish"
}
CAPTION_CHARS = re.compile(r"^[a-z0-9 ,:\-]+$")


def blank(n=1):
    return np.zeros((n, 28, 28), np.uint8)


def as_float(images_uint8):
    """uint8 0/255 -> float [-1, 1] with the same ink."""
    return images_uint8.astype(np.float32) / 127.5 - 1.0


def vertical_bar(width, length=20, col=10, row=4):
    x = blank()
    x[0, row:row + length, col:col + width] = 255
    return x


# ----------------------------------------------------------------------------- measurements

@pytest.mark.parametrize("width", [2, 3, 4])
def test_thickness_of_a_bar(width):
    length = 20
    # area w*L; edges: 2L (sides) + 2w (ends)
    expected = 2 * width * length / (2 * length + 2 * width)
    x = vertical_bar(width, length)
    np.testing.assert_allclose(C.thickness(x[..., None]), [expected], atol=1e-5)
    np.testing.assert_allclose(C.thickness(x), [expected], atol=1e-5)
    np.testing.assert_allclose(C.thickness(as_float(x)[..., None]), [expected], atol=1e-5)
    # the zero border counts the edges of ink touching the frame
    np.testing.assert_allclose(C.thickness(vertical_bar(width, length, col=0, row=0)), [expected], atol=1e-5)
    # a horizontal bar is the same stroke
    np.testing.assert_allclose(C.thickness(x.transpose(0, 2, 1)), [expected], atol=1e-5)


def test_thickness_orders_bars_and_guards_empty():
    bars = np.concatenate([vertical_bar(w) for w in (1, 2, 5)] + [blank()])
    t = C.thickness(bars)
    assert t.dtype == np.float32 and t.shape == (4,)
    assert t[0] < t[1] < t[2] and t[3] == 0.0
    # float input outside [-1, 1] is clipped, not extrapolated
    np.testing.assert_allclose(C.thickness(as_float(vertical_bar(3)) * 5.0), C.thickness(vertical_bar(3)))


def test_slant_hand_computed():
    # pixels (row 0, col 1), (row 1, col 0): xbar = ybar = 0.5,
    # mu11 = 2 * (0.5 * -0.5) = -0.5, mu02 = 2 * 0.25 = 0.5 -> slant 1
    x = blank()
    x[0, 0, 1] = x[0, 1, 0] = 255
    np.testing.assert_allclose(C.slant(x), [1.0], atol=1e-6)
    # (0, 2), (1, 1), (2, 1): xbar = 4/3, ybar = 1,
    # mu11 = (2/3)(-1) + 0 + (-1/3)(1) = -1, mu02 = 2 -> slant 0.5
    y = blank()
    y[0, 0, 2] = y[0, 1, 1] = y[0, 2, 1] = 255
    np.testing.assert_allclose(C.slant(y), [0.5], atol=1e-6)
    np.testing.assert_allclose(C.slant(as_float(y)), [0.5], atol=1e-6)


def test_slant_sign_and_mirror():
    x = blank()
    for r in range(4, 24):  # top rows further right: leans right
        c = 10 + (23 - r) // 3
        x[0, r, c:c + 3] = 255
    right = C.slant(x)[0]
    assert right > 0.2
    np.testing.assert_allclose(C.slant(x[:, :, ::-1]), [-right], atol=1e-5)
    # vertical bar, empty image, one-row line (no vertical extent)
    flat = blank()
    flat[0, 10, 5:20] = 255
    np.testing.assert_allclose(C.slant(np.concatenate([vertical_bar(3), blank(), flat])), [0, 0, 0], atol=1e-6)


def test_size_is_the_bbox_area():
    x = blank(3)
    x[0, 5:15, 8:12] = 255                       # 10 x 4
    x[1, 2, 3] = x[1, 20, 25] = 200              # rows 2..20, cols 3..25: 19 x 23
    x[1, 0, 0] = 127                             # ink 0.498: not over half
    np.testing.assert_array_equal(C.size(x), [40, 19 * 23, 0])
    f = np.full((1, 28, 28), -1.0, np.float32)
    f[0, 3:6, 3:5] = 1.0
    f[0, 20, 20] = 0.0                           # ink exactly 0.5: not over half
    np.testing.assert_array_equal(C.size(f[..., None]), [6])


def test_measure_and_ink_inputs():
    x = blank(2)
    x[0, 4:24, 10:13] = 255
    m = C.measure(x)
    assert set(m) == set(C.ATTRIBUTES) and all(v.shape == (2,) for v in m.values())
    gray = np.random.default_rng(0).integers(0, 256, (3, 28, 28, 1)).astype(np.uint8)
    np.testing.assert_allclose(C.ink(gray), C.ink(as_float(gray)), atol=1e-6)
    with pytest.raises(ValueError, match=r"\[n, H, W, 1\].*got shape \(28, 28\)"):
        C.ink(np.zeros((28, 28), np.uint8))
    with pytest.raises(ValueError, match="3 channels"):
        C.ink(np.zeros((1, 28, 28, 3), np.uint8))
    with pytest.raises(ValueError, match="int32"):
        C.ink(np.zeros((1, 28, 28), np.int32))


# ----------------------------------------------------------------------------- levels

def test_attribute_levels_terciles_per_class():
    widths = np.array([5, 1, 9, 3, 7, 2, 8, 4, 6])   # thickness grows with width
    x = np.concatenate([vertical_bar(w, col=2) for w in widths])
    levels = C.AttributeLevels.fit(x, np.zeros(9, int), num_classes=2)
    got = levels.levels(x, np.zeros(9, int))["thickness"]
    assert got.dtype == np.int8
    expected = np.where(widths <= 3, -1, np.where(widths >= 7, 1, 0))
    np.testing.assert_array_equal(got, expected)
    # class 1 had no images: it falls back on the terciles of all images
    np.testing.assert_array_equal(levels.levels(x, np.ones(9, int))["thickness"], expected)
    # thresholds survive JSON
    again = C.AttributeLevels.from_config(json.loads(json.dumps(levels.get_config())))
    for name in C.ATTRIBUTES:
        np.testing.assert_array_equal(again.levels(x, np.zeros(9, int))[name], levels.levels(x, np.zeros(9, int))[name])
    with pytest.raises(ValueError, match=r"labels in \[0, 1\]"):
        levels.levels(x, np.full(9, 2))


def test_levels_keep_ties_together():
    # six 2x2 squares and three 3x3: the cut lies between areas 4 and 9
    x = blank(9)
    for i in range(9):
        s = 2 if i < 6 else 3
        x[i, 5:5 + s, 5:5 + s] = 255
    levels = C.AttributeLevels.fit(x, np.zeros(9, int))
    np.testing.assert_array_equal(levels.levels(x, np.zeros(9, int))["size"], [-1] * 6 + [1] * 3)


# ----------------------------------------------------------------------------- captions

def phrases(phrasing, name, level):
    return [p for kind in C.VOCAB[phrasing][name].values() for p in kind[level]]


def tokens(text):
    return set(text.replace(",", " ").replace(":", " ").split())


def test_phrase_keys_do_not_cross_attributes():
    for phrasing in C.PHRASINGS:
        for (name, level), keys in KEYS.items():
            for phrase in phrases(phrasing, name, level):
                assert any(k in phrase for k in keys), (phrasing, phrase)
                for other, other_keys in KEYS.items():
                    if other != (name, level):
                        assert not any(k in phrase for k in other_keys), (phrase, other)
            for kind in C.VOCAB[phrasing][name].values():   # parallel lists for attribute_pairs
                assert len(kind[-1]) == len(kind[1])


def test_unseen_vocabulary_and_templates_are_new():
    seen_words = set()
    for name in C.ATTRIBUTES:
        for level in (-1, 1):
            for p in phrases("seen", name, level):
                seen_words |= tokens(p)
    for name in C.ATTRIBUTES:
        for level in (-1, 1):
            unseen = phrases("unseen", name, level)
            assert not set(unseen) & set(phrases("seen", name, level))
            new = {t for p in unseen for t in tokens(p)} - seen_words
            assert new, (name, level)
            # built from a seen stem: each new word contains one of the value's keys
            assert any(k in t for t in new for k in KEYS[name, level]), new
    # unseen digit forms: seen words in new arrangements
    seen_digit = {t for f in C.DIGIT_FORMS["seen"] for t in tokens(f)}
    assert {t for f in C.DIGIT_FORMS["unseen"] for t in tokens(f)} <= seen_digit
    assert set(C.DIGIT_FORMS["unseen"]) - set(C.DIGIT_FORMS["seen"])

    def skeletons(phrasing):
        out = set()
        for template in C.TEMPLATES[phrasing]:
            for r in range(4):
                for mentioned in itertools.combinations(C.ATTRIBUTES, r):
                    slots = {n: (f"<{n}:{template[1][n]}>" if n in mentioned else None) for n in C.ATTRIBUTES}
                    out.add(template[2]("<digit>", slots))
        return out

    seen, unseen = skeletons("seen"), skeletons("unseen")
    assert len(unseen) == 3 * 8 and not seen & unseen


def test_captions_are_short_lowercase_ascii_even_at_their_longest():
    for phrasing in C.PHRASINGS:
        longest_form = max(C.DIGIT_FORMS[phrasing], key=lambda f: len(f.format(d=7, name="three")))
        for template in C.TEMPLATES[phrasing]:
            for digit, signs in itertools.product(range(10), itertools.product((-1, 1), repeat=3)):
                slots = {n: max(C.VOCAB[phrasing][n][template[1][n]][s], key=len)
                         for n, s in zip(C.ATTRIBUTES, signs)}
                text = C._render(template, C._digit_text(digit, longest_form), slots)
                assert len(text) <= C.MAX_CAPTION_CHARS and CAPTION_CHARS.match(text), text


def check_targets(text, targets):
    """The caption's words say exactly what its targets say."""
    digit = targets["digit"]
    assert re.search(rf"\b({digit}|{C.DIGIT_NAMES[digit]})\b", text), text
    for name in C.ATTRIBUTES:
        for level, code in ((-1, 1), (1, 2)):
            said = any(k in text for k in KEYS[name, level])
            assert said == (targets[name] == code), (text, targets)


def test_caption_words_match_targets():
    rng = np.random.default_rng(3)
    lengths = []
    for phrasing in C.PHRASINGS:
        for _ in range(400):
            digit = int(rng.integers(10))
            levels = dict(zip(C.ATTRIBUTES, rng.integers(-1, 2, 3).tolist()))
            text, targets = C.caption_with_targets(digit, levels, rng, phrasing)
            assert len(text) <= C.MAX_CAPTION_CHARS and CAPTION_CHARS.match(text), text
            check_targets(text, targets)
            for name in C.ATTRIBUTES:   # level 0 is never mentioned
                assert targets[name] == 0 or levels[name] != 0
            lengths.append(sum(targets[n] > 0 for n in C.ATTRIBUTES))
    assert len(set(lengths)) == 4   # 0 to 3 attributes: captions vary in length


def test_mention_and_targets():
    rng = np.random.default_rng(0)
    levels = {"thickness": 1, "slant": -1, "size": 0}
    text, t = C.caption_with_targets(4, levels, rng, mention=["thickness", "size"])
    assert t == {"digit": 4, "thickness": 2, "slant": 0, "size": 0}
    check_targets(text, t)
    assert C.caption_targets(7, {"slant": -1, "size": 1}, C.ATTRIBUTES) == \
        {"digit": 7, "thickness": 0, "slant": 1, "size": 2}
    # default: each non-zero attribute mentioned with probability 0.75
    said = [C.caption_with_targets(1, {"size": 1}, rng)[1]["size"] == 2 for _ in range(2000)]
    assert 0.72 < np.mean(said) < 0.78
    with pytest.raises(ValueError, match="phrasing"):
        C.caption(1, {}, rng, phrasing="novel")
    with pytest.raises(ValueError, match="digit"):
        C.caption(10, {}, rng)
    with pytest.raises(ValueError, match="-1, 0 or 1"):
        C.caption(1, {"size": 2}, rng)
    with pytest.raises(ValueError, match="Unknown attribute"):
        C.caption(1, {"color": 1}, rng)


def test_captions_are_deterministic_for_a_seed():
    def draw(seed, phrasing):
        rng = np.random.default_rng(seed)
        return [C.caption(d % 10, {"thickness": 1, "slant": -1, "size": 1}, rng, phrasing) for d in range(30)]

    for phrasing in C.PHRASINGS:
        assert draw(5, phrasing) == draw(5, phrasing)
        assert draw(5, phrasing) != draw(6, phrasing)


@pytest.mark.parametrize("phrasing", C.PHRASINGS)
@pytest.mark.parametrize("attribute", C.ATTRIBUTES)
def test_attribute_pairs_differ_only_in_the_attribute(attribute, phrasing):
    pairs = C.attribute_pairs(attribute, list(range(10)) * 3, np.random.default_rng(1), phrasing)
    assert len(pairs) == 30
    lows = [p for kind in C.VOCAB[phrasing][attribute].values() for p in kind[-1]]
    highs = [p for kind in C.VOCAB[phrasing][attribute].values() for p in kind[1]]
    for digit, (low, high) in zip(list(range(10)) * 3, pairs):
        assert any(lo in low and low.replace(lo, hi) == high for lo, hi in zip(lows, highs)), (low, high)
        targets = dict.fromkeys(C.ATTRIBUTES, 0)
        check_targets(low, {**targets, "digit": digit, attribute: 1})
        check_targets(high, {**targets, "digit": digit, attribute: 2})


def test_make_captions():
    x = np.concatenate([vertical_bar(w, col=2 + w) for w in range(1, 10)])
    y = np.array([1] * 9)
    levels = C.AttributeLevels.fit(x, y)
    split = C.make_captions(x, y, levels, per_image=4, seed=2)
    assert split.images.shape == (9, 28, 28, 1) and split.images.dtype == np.uint8
    assert split.labels.dtype == np.int32 and len(split) == 9
    assert len(split.captions) == 9 and all(len(c) == 4 for c in split.captions)
    assert all(v.shape == (9, 4) for v in split.targets.values())
    np.testing.assert_array_equal(split.levels["thickness"], [-1] * 3 + [0] * 3 + [1] * 3)
    for i in range(9):
        for j in range(4):
            t = {k: int(v[i, j]) for k, v in split.targets.items()}
            check_targets(split.captions[i][j], t)
            # a caption only ever states the image's own level
            for name in C.ATTRIBUTES:
                assert t[name] in (0, {-1: 1, 0: 0, 1: 2}[int(split.levels[name][i])])
    again = C.make_captions(as_float(x), y, levels, per_image=4, seed=2)   # float images convert
    assert again.captions == split.captions
    np.testing.assert_array_equal(again.images, split.images)


# ----------------------------------------------------------------------------- captions files

def write(tmp_path, content, name="c.txt"):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def test_read_captions_file_formats(tmp_path):
    plain = write(tmp_path, "a thin 7\n  a bold 2 \r\nthe digit 1 leaning left\n\n\n")
    assert C.read_captions_file(plain, 3) == [["a thin 7"], ["a bold 2"], ["the digit 1 leaning left"]]
    indexed = write(tmp_path, "2\ta small 5\n0\tzero\n2\ta tiny five\n1\tone\n\n", "i.txt")
    assert C.read_captions_file(indexed, 3) == [["zero"], ["one"], ["a small 5", "a tiny five"]]


@pytest.mark.parametrize("content, num, message", [
    (b"\xff\xfe\x00bad", 1, r"c\.txt:1: expected UTF-8"),
    (b"fine\n\xff\xfe\x00bad\n", 2, r"c\.txt:2: expected UTF-8"),
    ("a\nb\n", 3, r"c\.txt:2: expected 3 captions .*got 2 lines"),
    ("a\nb\nc\nd\n", 3, r"c\.txt:4: expected 3 captions .*got 4 lines"),
    ("a\n  \nc\n", 3, r"c\.txt:2: expected a caption, got an empty line"),
    ("a\n" + "x" * 97 + "\n", 2, r"c\.txt:2: expected a caption of at most 96 characters, got 97"),
    ("0\ta\n1\t \n", 2, r"c\.txt:2: expected a caption"),
    ("0\ta\nx\tb\n", 2, r"c\.txt:2: expected an integer image index, got 'x'"),
    ("0\ta\n-1\tb\n", 2, r"c\.txt:2: expected an integer image index, got '-1'"),
    ("0\ta\n5\tb\n", 2, r"c\.txt:2: expected an image index in \[0, 1\], got 5"),
    ("0\ta\n1 b\n", 2, r"c\.txt:2: expected '<image index>\\t<caption>'"),
    ("0\ta\n0\tb\n2\tc\n", 4, r"c\.txt: expected at least one caption for every image, got none for 2 .*: 1, 3"),
    ("0\t" + "y" * 97 + "\n", 1, r"c\.txt:1: expected a caption of at most 96"),
    ("\n\n", 1, r"c\.txt:1: expected captions for 1 images, got an empty file"),
])
def test_read_captions_file_errors(tmp_path, content, num, message):
    path = write(tmp_path, content)
    with pytest.raises(C.CaptionsFileError, match=message):
        C.read_captions_file(path, num)


def test_read_captions_file_missing(tmp_path):
    with pytest.raises(FileNotFoundError):
        C.read_captions_file(tmp_path / "nope.txt", 1)


# ----------------------------------------------------------------------------- real MNIST

@needs_mnist
def test_load_captioned_mnist():
    data = C.load_captioned_mnist(MNIST, per_image=3, held_out=2000, seed=0)
    train, held, unseen, levels = data["train"], data["held_out"], data["unseen"], data["levels"]
    assert isinstance(levels, C.AttributeLevels)
    assert train.images.shape == (8000, 28, 28, 1) and train.images.dtype == np.uint8
    assert held.images.shape == unseen.images.shape == (2000, 28, 28, 1)
    assert train.targets["digit"].shape == (8000, 3) and held.targets["size"].shape == (2000, 3)
    np.testing.assert_array_equal(train.targets["digit"][:, 0], train.labels)
    # held-out images are none of the training images
    digest = lambda im: hashlib.sha1(im.tobytes()).digest()  # noqa: E731
    assert not {digest(im) for im in train.images} & {digest(im) for im in held.images}
    np.testing.assert_array_equal(held.images, unseen.images)
    for name in C.ATTRIBUTES:
        np.testing.assert_array_equal(held.levels[name], unseen.levels[name])
        share = [np.mean(train.levels[name] == v) for v in (-1, 0, 1)]
        assert all(0.2 <= s <= 0.45 for s in share), (name, share)
        # a random hold-out: the same balance as training (a contiguous one
        # would be shifted: the split's halves come from different writers)
        assert all(0.25 <= np.mean(held.levels[name] == v) <= 0.42 for v in (-1, 0, 1)), name
    seen_text = {c for cs in train.captions + held.captions for c in cs}
    assert not seen_text & {c for cs in unseen.captions for c in cs}
    assert max(len(c) for cs in train.captions for c in cs) <= C.MAX_CAPTION_CHARS
    # the saved thresholds reproduce the levels
    again = C.AttributeLevels.from_config(json.loads(json.dumps(levels.get_config())))
    np.testing.assert_array_equal(again.levels(held.images, held.labels)["slant"], held.levels["slant"])
