"""Cache keys and PNGs that carry their own settings, so a rerun can tell what a file was made from."""

from __future__ import annotations

import functools
import hashlib
import json
import zlib
from pathlib import Path
from typing import Any

from PIL import Image

from hotelcap_pipeline.figures import image_png, png_text

PNG_KEY = "hotelcap"
# Joins the models of a mode that uses two (ControlNet: base|controlnet), as EditorSource.model_for does.
MODEL_SEPARATOR = "|"


def cache_key(payload: dict[str, Any]) -> str:
    """A short stable hash of ``payload``; its ``model`` is taken by identity, not by where it lies on disk."""
    if isinstance(payload.get("model"), str):
        payload = {**payload, "model": model_identity(payload["model"])}
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def model_identity(model: str) -> str:
    """A model as cache keys know it: a hub id as given; a local file or folder by its content hash alone.

    The same weights copied or moved elsewhere (a data store moved, restored from an object store) keep
    their identity (renamed too), so nothing made with them is rendered again; different weights under the
    same path do not.
    """
    parts = model.split(MODEL_SEPARATOR)
    return MODEL_SEPARATOR.join(_one_identity(part) for part in parts)


def _one_identity(model: str) -> str:
    path = Path(model).expanduser()
    if path.is_file():
        stat = path.stat()
        return f"sha256:{_file_digest(str(path.resolve()), stat.st_size, stat.st_mtime_ns)}"
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        digest = hashlib.sha256()
        for f in files:
            stat = f.stat()
            digest.update(f"{f.relative_to(path).as_posix()}\0{stat.st_size}\0".encode())
            digest.update(_file_digest(str(f.resolve()), stat.st_size, stat.st_mtime_ns).encode())
        return f"sha256:{digest.hexdigest()[:16]}"
    return model  # a hub id ("org/name") names itself


@functools.lru_cache(maxsize=4096)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    # Keyed by size and mtime too: a file replaced in place is hashed again; the weights of a large model
    # are hashed once per process.
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()[:16]


def png_bytes(image: Image.Image, meta: dict[str, Any] | None = None) -> bytes:
    """PNG bytes carrying ``meta`` (the settings the image was made with), read back by ``read_png_meta``."""
    return image_png(image, None if meta is None else {PNG_KEY: json.dumps(meta, sort_keys=True)})


def image_problem(path: Path, size: tuple[int, int] | None = None) -> str | None:
    """Why the stored image at ``path`` cannot be reused (missing, does not decode, wrong size), or None."""
    try:
        with Image.open(path) as im:
            im.load()  # the whole image: a truncated or overwritten file fails here, not in a later stage
            if size is not None and im.size != tuple(size):
                return f"{path}: {im.size[0]}x{im.size[1]}, expected {size[0]}x{size[1]}"
    except FileNotFoundError:
        return f"{path}: missing"
    except (OSError, SyntaxError, ValueError, zlib.error, Image.DecompressionBombError) as exc:
        return f"{path}: does not decode ({type(exc).__name__}: {exc})"
    return None


def read_png_meta(path: Path) -> dict[str, Any] | None:
    """The metadata ``png_bytes`` stored, or None when the file is missing, does not decode whole, or has none."""
    text = png_text(path, PNG_KEY)
    try:
        meta = json.loads(text) if text else None
    except json.JSONDecodeError:
        return None
    return meta if isinstance(meta, dict) else None
