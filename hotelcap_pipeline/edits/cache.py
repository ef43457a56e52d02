"""Cache keys and PNGs that carry their own settings, so a rerun can tell what a file was made from."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Any

from PIL import Image
from PIL.PngImagePlugin import PngInfo

PNG_KEY = "hotelcap"


def cache_key(payload: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:24]


def png_bytes(image: Image.Image, meta: dict[str, Any] | None = None) -> bytes:
    info = PngInfo()
    if meta is not None:
        info.add_text(PNG_KEY, json.dumps(meta, sort_keys=True))
    buf = io.BytesIO()
    image.save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def read_png_meta(path: Path) -> dict[str, Any] | None:
    """The metadata ``png_bytes`` stored, or None when the file is missing, unreadable or has none."""
    try:
        with Image.open(path) as im:
            text = getattr(im, "text", {}).get(PNG_KEY)
    except OSError:
        return None
    return json.loads(text) if text else None
