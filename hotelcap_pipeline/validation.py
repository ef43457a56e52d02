"""Data checks behind the Dagster asset checks: each returns the problems it found (empty = fine)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

MAX_LISTED = 10


def image_file_problems(manifest: pl.DataFrame, store_root: Path) -> list[str]:
    """Every `ok` photo exists, decodes, and has the width and height the manifest records."""
    problems = []
    for image_id, rel, width, height in manifest.filter(pl.col("status") == "ok").select(
        "image_id", "path", "width", "height"
    ).iter_rows():
        path = Path(store_root) / rel
        try:
            with Image.open(path) as im:
                im.load()
                size = im.size
        except (OSError, SyntaxError) as exc:
            problems.append(f"image {image_id}: {path} does not decode ({exc})")
            continue
        if size != (width, height):
            problems.append(f"image {image_id}: {path} is {size[0]}x{size[1]}, manifest says {width}x{height}")
    return problems


def embedding_problems(embeddings: pl.DataFrame, manifest: pl.DataFrame, tolerance: float = 1e-3) -> list[str]:
    """One unit-length embedding per `ok` photo, and none for photos that are not `ok`."""
    problems = []
    ok_ids = set(manifest.filter(pl.col("status") == "ok").get_column("image_id").to_list())
    ids = embeddings.get_column("image_id").to_list()
    if len(ids) != len(set(ids)):
        problems.append(f"{len(ids) - len(set(ids))} duplicated image_id(s)")
    missing, extra = ok_ids - set(ids), set(ids) - ok_ids
    if missing:
        problems.append(f"{len(missing)} ok photo(s) without embedding, e.g. {sorted(missing)[:MAX_LISTED]}")
    if extra:
        problems.append(f"{len(extra)} embedding(s) of photos that are not ok, e.g. {sorted(extra)[:MAX_LISTED]}")
    if embeddings.height:
        norms = np.linalg.norm(np.asarray(embeddings.get_column("embedding").to_list(), dtype=np.float64), axis=1)
        off = np.flatnonzero(np.abs(norms - 1.0) > tolerance)
        if off.size:
            bad = [ids[i] for i in off[:MAX_LISTED]]
            problems.append(f"{off.size} embedding(s) not unit length (e.g. image {bad[0]}: norm {norms[off[0]]:.4f})")
    return problems


def unknown_tag_problems(tags: pl.DataFrame, vocabulary: Iterable[str]) -> list[str]:
    """Every assigned tag is a vocabulary word."""
    known = set(vocabulary)
    used = tags.select(pl.col("tags").explode(empty_as_null=True).drop_nulls().unique()).get_column("tags").to_list()
    unknown = sorted(set(used) - known)
    return [f"tags outside the vocabulary: {', '.join(unknown[:MAX_LISTED])}"] if unknown else []


def missing_file_problems(table: pl.DataFrame, store_root: Path, column: str = "path") -> list[str]:
    """Every row's file (path relative to the store root) exists."""
    missing = [p for p in table.get_column(column).drop_nulls().to_list() if not (Path(store_root) / p).is_file()]
    return [f"{len(missing)} file(s) missing, e.g. {missing[:MAX_LISTED]}"] if missing else []
