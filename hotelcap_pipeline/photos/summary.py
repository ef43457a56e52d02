"""What a download run produced, for the asset metadata: counts, failures grouped, sizes, a contact sheet."""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl
from PIL import Image, ImageOps

# "HTTP 503 after 4 attempts" and "HTTP 503 after 2 attempts" are the same reason.
_ATTEMPTS_SUFFIX = re.compile(r" after \d+ attempts$")


def failure_reason(error: str) -> str:
    return _ATTEMPTS_SUFFIX.sub("", error)


def summarize_manifest(manifest: pl.DataFrame, top_sizes: int = 10) -> dict:
    """Counts, failure reasons with counts (most common first), and the distinct stored sizes."""
    ok = manifest.filter(pl.col("status") == "ok")
    failed = manifest.filter(pl.col("status") != "ok")
    reasons = (
        failed.select(pl.col("error").fill_null("unknown").map_elements(failure_reason, return_dtype=pl.Utf8))
        .group_by("error").len().sort(["len", "error"], descending=[True, False])
    )
    sizes = (
        ok.select((pl.col("width").cast(pl.Utf8) + "x" + pl.col("height").cast(pl.Utf8)).alias("size"))
        .group_by("size").len().sort(["len", "size"], descending=[True, False])
    )
    return {
        "requested": manifest.height,
        "ok": ok.height,
        "failed": failed.height,
        "reused": int(manifest["reused"].sum() or 0),
        "fetched": int(ok.filter(~pl.col("reused")).height),
        "failure_reasons": dict(zip(reasons["error"].to_list(), reasons["len"].to_list(), strict=True)),
        "distinct_sizes": sizes.height,
        "top_sizes": dict(zip(sizes["size"].head(top_sizes).to_list(), sizes["len"].head(top_sizes).to_list(),
                              strict=True)),
        "stored_bytes": int(ok["bytes"].sum() or 0),
    }


def contact_sheet(manifest: pl.DataFrame, store_root: Path, max_images: int = 24,
                  thumb: int = 96) -> Image.Image:
    """A grid of up to ``max_images`` thumbnails of stored photos, in manifest order (deterministic)."""
    paths = manifest.filter(pl.col("status") == "ok")["path"].head(max_images).to_list()
    columns = max(1, min(8, len(paths)))
    rows = max(1, -(-len(paths) // columns))
    gap = 2
    sheet = Image.new("RGB", (columns * (thumb + gap) + gap, rows * (thumb + gap) + gap), (255, 255, 255))
    for i, rel in enumerate(paths):
        try:
            with Image.open(Path(store_root) / rel) as im:
                im.draft("RGB", (thumb, thumb))  # a JPEG decodes at 1/4-1/8 scale: the sheet is 8x cheaper
                tile = ImageOps.pad(im.convert("RGB"), (thumb, thumb), color=(255, 255, 255))
        except OSError:
            continue  # a file removed since the manifest was written leaves a blank tile
        row, col = divmod(i, columns)
        sheet.paste(tile, (gap + col * (thumb + gap), gap + row * (thumb + gap)))
    return sheet
