"""Photos on disk: store a resized photo atomically, and decide whether a stored one can be reused.

These run in the CPU worker pool (threads or processes), so they are plain top-level functions.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.photos.resize import ResizeSpec, inspect_stored, resize_photo


class PhotoWriteError(OSError):
    """Writing the resized photo failed (disk full, permissions); decoding errors are never this."""


@dataclass(frozen=True)
class StoredPhoto:
    width: int
    height: int
    orig_width: int | None
    orig_height: int | None
    sha256: str
    bytes: int


def store_photo(data: bytes, dest: str | Path, spec: ResizeSpec) -> StoredPhoto:
    """Resize downloaded bytes and write the JPEG to ``dest`` atomically.

    Raises ``ImageRejected`` for unusable bytes and :class:`PhotoWriteError` when the write fails.
    """
    encoded = resize_photo(data, spec)
    try:
        atomic_write_bytes(dest, encoded.jpeg)
    except OSError as exc:
        raise PhotoWriteError(exc.errno, exc.strerror or str(exc)) from exc
    return StoredPhoto(encoded.width, encoded.height, encoded.orig_width, encoded.orig_height,
                       hashlib.sha256(encoded.jpeg).hexdigest(), len(encoded.jpeg))


def reusable_photo(dest: str | Path, spec: ResizeSpec) -> StoredPhoto | None:
    """The stored photo at ``dest`` if it decodes completely and has the size ``spec`` asks for."""
    try:
        data = Path(dest).read_bytes()
    except OSError:
        return None
    info = inspect_stored(data, spec)
    if info is None:
        return None
    return StoredPhoto(info.width, info.height, info.orig_width, info.orig_height,
                       hashlib.sha256(data).hexdigest(), len(data))


def remove_stale_temps(directory: Path) -> int:
    """Delete temporary files a killed run left behind (``atomic_files.atomic_path`` names them ``.<name>.*``)."""
    removed = 0
    try:
        entries = list(directory.iterdir())
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(".") and ".tmp" in entry.name and entry.is_file():
            entry.unlink(missing_ok=True)
            removed += 1
    return removed
