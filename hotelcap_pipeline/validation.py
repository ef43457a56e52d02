"""Data checks behind the Dagster asset checks: each returns the problems it found (empty = fine)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

MAX_LISTED = 10


DECODE_SAMPLE = 20


def image_file_problems(manifest: pl.DataFrame, store_root: Path, decode_sample: int = DECODE_SAMPLE) -> list[str]:
    """Every `ok` photo exists with the byte count the manifest records; a sample of them decodes whole
    at the recorded width and height.

    The download wrote, hashed and counted every file a moment ago, so a full decode of each would only
    repeat that work (it was a fifth of a run's time); a size check catches missing and truncated files,
    the sample a writer that went wrong everywhere. The sample is spread evenly over the rows.
    """
    problems = []
    rows = manifest.filter(pl.col("status") == "ok").select("image_id", "path", "width", "height", "bytes").rows()
    step = max(1, len(rows) // max(1, decode_sample))
    for n, (image_id, rel, width, height, size) in enumerate(rows):
        path = Path(store_root) / rel
        try:
            on_disk = path.stat().st_size
        except OSError as exc:
            problems.append(f"image {image_id}: {path} is missing ({exc.strerror})")
            continue
        if size is not None and on_disk != size:
            problems.append(f"image {image_id}: {path} has {on_disk} bytes, manifest says {size}")
            continue
        if n % step:
            continue
        try:
            with Image.open(path) as im:
                im.load()
                dims = im.size
        except (OSError, SyntaxError) as exc:
            problems.append(f"image {image_id}: {path} does not decode ({exc})")
            continue
        if dims != (width, height):
            problems.append(f"image {image_id}: {path} is {dims[0]}x{dims[1]}, manifest says {width}x{height}")
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
