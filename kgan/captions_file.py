"""User captions files for text-to-image training (``--captions FILE``).

Example:
    >>> read_captions_file("captions.txt", 3)
    [['a thin 7'], ['a bold 2'], ['a 1 leaning left']]
"""

from __future__ import annotations

import os
import re

# The longest caption kgan reads (characters); the text encoder's input length.
MAX_CAPTION_CHARS = 96


class CaptionsFileError(ValueError):
    """A captions file that cannot be read; the message names file and line."""


def read_captions_file(path, num_images):
    """Reads user captions for ``num_images`` images.

    Two formats (UTF-8 text; blank lines at the end are ignored):

    * one caption per line, line ``i`` describing image ``i`` (exactly
      ``num_images`` lines);
    * ``<image index>\\t<caption>`` lines, chosen when the first line has a
      tab; an image may have several lines and every image needs one.

    Captions are stripped of surrounding whitespace and kept otherwise as
    written.

    Args:
        path: the file.
        num_images: how many images the captions describe.

    Returns:
        ``num_images`` lists of captions.

    Raises:
        FileNotFoundError: no such file.
        CaptionsFileError: not UTF-8, wrong count, empty caption, a bad or
            out-of-range index, a caption over ``MAX_CAPTION_CHARS``
            characters, or an image without a caption.

    Example:
        >>> read_captions_file("captions.txt", 3)
        [['a thin 7'], ['a bold 2'], ['a 1 leaning left']]
    """
    path = os.fspath(path)
    num_images = int(num_images)
    if num_images < 1:
        raise ValueError(f"num_images must be >= 1, got {num_images}.")
    with open(path, "rb") as f:
        raw = f.read()
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise CaptionsFileError(f"{path}:{line}: expected UTF-8 text, got byte 0x{raw[e.start]:02x} "
                                f"that is not valid UTF-8 (damaged file, or another encoding?).") from None
    lines = [line.rstrip("\r") for line in text.split("\n")]
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise CaptionsFileError(f"{path}:1: expected captions for {num_images} images, got an empty file.")

    def check_caption(caption, number):
        if not caption:
            raise CaptionsFileError(f"{path}:{number}: expected a caption, got an empty line.")
        if len(caption) > MAX_CAPTION_CHARS:
            raise CaptionsFileError(f"{path}:{number}: expected a caption of at most {MAX_CAPTION_CHARS} "
                                    f"characters, got {len(caption)}.")

    if "\t" not in lines[0]:
        for number, line in enumerate(lines, 1):
            if number > num_images:
                raise CaptionsFileError(f"{path}:{number}: expected {num_images} captions (one per image), "
                                        f"got {len(lines)} lines.")
            check_caption(line.strip(), number)
        if len(lines) != num_images:
            raise CaptionsFileError(f"{path}:{len(lines)}: expected {num_images} captions (one per image), "
                                    f"got {len(lines)} lines.")
        return [[line.strip()] for line in lines]

    captions = [[] for _ in range(num_images)]
    for number, line in enumerate(lines, 1):
        index, tab, caption = line.partition("\t")
        if not tab:
            raise CaptionsFileError(f"{path}:{number}: expected '<image index>\\t<caption>', got {line[:40]!r} "
                                    f"with no tab.")
        index = index.strip()
        if not re.fullmatch(r"[0-9]+", index):
            raise CaptionsFileError(f"{path}:{number}: expected an integer image index, got {index[:20]!r}.")
        if int(index) >= num_images:
            raise CaptionsFileError(f"{path}:{number}: expected an image index in [0, {num_images - 1}], "
                                    f"got {int(index)}.")
        caption = caption.strip()
        check_caption(caption, number)
        captions[int(index)].append(caption)
    missing = [i for i, c in enumerate(captions) if not c]
    if missing:
        shown = ", ".join(map(str, missing[:5])) + (", ..." if len(missing) > 5 else "")
        raise CaptionsFileError(f"{path}: expected at least one caption for every image, got none for "
                                f"{len(missing)} image(s): {shown}.")
    return captions
