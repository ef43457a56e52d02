"""Where a photo lives in the store, built only from validated CSV fields.

The tree is the upstream downloader's: ``images/<split>/<chain_id>/<hotel_id>/<image_source>/<image_id>.jpg``.
Every component comes from a CSV row, so each is checked before it touches the filesystem: ids are
integers, the split is a known word and the source a short safe name, so no row can escape the store.
"""

from __future__ import annotations

import re

SPLITS = ("train", "test")
_SAFE_SOURCE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class UnsafePathError(ValueError):
    """A row field that cannot be used as a path component."""


def _as_id(name: str, value: object, *, allow_negative: bool) -> int:
    # bool is an int subclass; a True hotel id is a data bug, not 1.
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and re.fullmatch(r"-?[0-9]{1,19}", value):
            value = int(value)
        else:
            raise UnsafePathError(f"{name} must be an integer, got {value!r}")
    if value < (-1 if allow_negative else 0):
        raise UnsafePathError(f"{name} out of range: {value}")
    return value


def image_relpath(split: object, chain_id: object, hotel_id: object, image_source: object,
                  image_id: object) -> str:
    """The store-relative POSIX path of one photo, or :class:`UnsafePathError` naming the bad field."""
    if split not in SPLITS:
        raise UnsafePathError(f"split must be one of {SPLITS}, got {split!r}")
    chain = _as_id("chain_id", chain_id, allow_negative=True)  # -1 is the "unknown" chain
    hotel = _as_id("hotel_id", hotel_id, allow_negative=False)
    image = _as_id("image_id", image_id, allow_negative=False)
    if not isinstance(image_source, str) or not _SAFE_SOURCE.fullmatch(image_source):
        raise UnsafePathError(f"image_source must match {_SAFE_SOURCE.pattern}, got {image_source!r}")
    # A string, not a PurePosixPath: built for every request before the download starts (~4 us less each).
    return f"images/{split}/{chain}/{hotel}/{image_source}/{image}.jpg"
