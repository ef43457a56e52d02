"""PNG figures without pyplot's global state (safe in threads and without a display), and PNG images.

A figure's caption travels inside its PNG (the standard ``Description`` text chunk), so whoever shows the
file (the report, an image viewer) can say what it shows and how to read it, not just its file name.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from matplotlib.figure import Figure
from PIL import Image
from PIL.PngImagePlugin import PngInfo


def new_figure(width: float = 6, height: float = 3.5, ncols: int = 1) -> tuple[Figure, Any]:
    fig = Figure(figsize=(width, height))
    return fig, fig.subplots(ncols=ncols)


CAPTION_KEY = "Description"


def figure_png(fig: Figure, caption: str, dpi: int = 110) -> bytes:
    """``fig`` as PNG bytes carrying ``caption``: what the figure shows and how to read it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight", metadata={CAPTION_KEY: caption})
    return buffer.getvalue()


def png_text(source: Path | bytes, key: str) -> str | None:
    """The PNG text chunk ``key`` of a file or of PNG bytes; None when it is missing or the PNG does not
    decode whole (a truncated or overwritten file, a decompression bomb)."""
    try:
        with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
            image.load()
            text = getattr(image, "text", {}).get(key)
    except (OSError, SyntaxError, ValueError, zlib.error, Image.DecompressionBombError):
        return None
    return text if isinstance(text, str) else None


def png_caption(source: Path | bytes) -> str | None:
    """The caption ``figure_png`` stored in a PNG; None if it has none."""
    caption = png_text(source, CAPTION_KEY)
    return caption if caption and caption.strip() else None


def image_png(image: Image.Image, text: Mapping[str, str] | None = None) -> bytes:
    """``image`` as PNG bytes, with ``text`` as PNG text chunks."""
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", pnginfo=info)
    return buffer.getvalue()
