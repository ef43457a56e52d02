"""Dagster metadata a person wants at a glance: row counts, schemas, previews, figures.

Everything here lands in the event log, which keeps every materialization forever (twice: the run's own
database and the index): figures are written once to the data store and only a small thumbnail (at most
PREVIEW_MAX_BYTES) goes into an event, Markdown previews are bounded (MARKDOWN_MAX_CHARS), and a sharded
table declares its column schema once on the asset, not on every shard's materialization. Metadata goes on
the materialization only (``context.add_asset_metadata``), never with the Output, which Dagster would store
a second time in the STEP_OUTPUT event. tests/ui/test_event_log_size.py bounds what a rerun writes.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable, Mapping
from typing import Any

import dagster as dg
import polars as pl
from PIL import Image

from hotelcap_pipeline.defs.columns import column_description
from hotelcap_pipeline.store import DataStore, atomic_write_bytes

# A thumbnail inlined in one event stays below this; the full-size figure is a file in the data store.
PREVIEW_MAX_BYTES = 1_500
PREVIEW_MAX_SIDE = 240
# A Markdown table in one event stays below this many characters (rows are dropped to fit).
MARKDOWN_MAX_CHARS = 1_500
COLUMN_SCHEMA = "dagster/column_schema"


def markdown_table(df: pl.DataFrame, max_rows: int = 8, max_width: int = 48,
                   max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """The first rows of ``df`` as a Markdown table: at most ``max_rows`` rows and ``max_chars`` characters."""
    def cell(v: Any) -> str:
        text = str(v) if not isinstance(v, list) else ", ".join(map(str, v[:6])) + (" …" if len(v) > 6 else "")
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    head = df.head(max_rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    used = sum(len(line) + 1 for line in lines)
    for shown, row in enumerate(head.iter_rows()):
        line = "| " + " | ".join(cell(v) for v in row) + " |"
        if used + len(line) + 1 > max_chars:
            lines.append(f"\n({df.height - shown} more rows)")
            break
        lines.append(line)
        used += len(line) + 1
    return "\n".join(lines)


def column_schema(columns: Mapping[str, Any], asset: str) -> dg.TableSchema:
    """Columns (name -> polars dtype) with their types and what each one holds."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(name, str(dtype), description=column_description(asset, name))
            for name, dtype in columns.items()
        ]
    )


def table_schema(df: pl.DataFrame, asset: str) -> dg.TableSchema:
    """The table's columns with their types and what each one holds."""
    return column_schema(df.schema, asset)


def declared_schema(columns: Mapping[str, Any], asset: str) -> dict[str, Any]:
    """Definition metadata of a table: its column schema once, instead of on every materialization (the UI
    shows the definition's schema when a materialization carries none; one whose columns differ carries its own)."""
    return {COLUMN_SCHEMA: column_schema(columns, asset)} if columns else {}


def table_metadata(df: pl.DataFrame, asset: str, path: str | None = None, *, schema: bool = True,
                   preview_rows: int = 5, preview_chars: int = MARKDOWN_MAX_CHARS) -> dict[str, Any]:
    """Row count, column schema (unless the asset declares it), a bounded preview (none with
    ``preview_rows=0``) and the file."""
    meta: dict[str, Any] = {"dagster/row_count": df.height}
    if schema:
        meta[COLUMN_SCHEMA] = table_schema(df, asset)
    if preview_rows > 0:
        shown = df.select([c for c in df.columns if c != "embedding"])
        meta["preview"] = dg.MetadataValue.md(markdown_table(shown, max_rows=preview_rows, max_chars=preview_chars))
    if path is not None:
        meta["path"] = dg.MetadataValue.path(str(path))
    return meta


def thumbnail_jpeg(image: Image.Image | bytes, max_side: int = PREVIEW_MAX_SIDE,
                   max_bytes: int = PREVIEW_MAX_BYTES) -> bytes:
    """A JPEG of ``image`` no larger than ``max_bytes``: shrunk until it fits."""
    im = Image.open(io.BytesIO(image)) if isinstance(image, bytes) else image
    im = im.convert("RGB")
    side = max_side
    while True:
        thumb = im.copy()
        thumb.thumbnail((side, side))
        buf = io.BytesIO()
        thumb.save(buf, format="JPEG", quality=70, optimize=True)
        if buf.tell() <= max_bytes or side <= 32:
            return buf.getvalue()
        side = int(side * 0.8)


def preview_metadata(image: Image.Image | bytes, title: str, path: str | None = None,
                     max_bytes: int = PREVIEW_MAX_BYTES) -> dg.MetadataValue:
    """A bounded thumbnail shown inline on the asset's page, and where the full-size file is."""
    encoded = base64.b64encode(thumbnail_jpeg(image, max_bytes=max_bytes)).decode("ascii")
    text = f"![{title}](data:image/jpeg;base64,{encoded})"
    if path is not None:
        text += f"\n\nFull size: `{path}`"
    return dg.MetadataValue.md(text)


def save_figure(png: bytes, store: DataStore, name: str, max_bytes: int = PREVIEW_MAX_BYTES) -> dg.MetadataValue:
    """Write one PNG figure under report/figures/ and return its bounded preview entry."""
    path = store.figures / f"{name}.png"
    atomic_write_bytes(path, png)
    store.push([path])
    return preview_metadata(png, name, store.location(path), max_bytes=max_bytes)


FIGURE_FILES = "figure_files"  # the entry the report reads a stage's figures from


def save_figures(figures: Mapping[str, bytes], store: DataStore, prefix: str = "") -> dict[str, Any]:
    """Write PNG figures under report/figures/ of the store: one bounded preview entry per figure, and
    one ``figure_files`` entry (name -> path relative to the store) through which the report finds them."""
    meta: dict[str, Any] = {
        f"figure_{name}": save_figure(png, store, f"{prefix}{name}") for name, png in figures.items()
    }
    files = {name: (store.figures / f"{prefix}{name}.png").relative_to(store.root).as_posix() for name in figures}
    if files:
        meta[FIGURE_FILES] = dg.MetadataValue.json(files)
    return meta


def add_shard_metadata(
    context: dg.AssetExecutionContext,
    table: pl.DataFrame,
    describe: Callable[[pl.DataFrame, str], Mapping[str, Any]],
) -> None:
    """Give every shard the run covers its own metadata, from its own rows (``shard`` column).

    One run may cover all shards; metadata passed with the Output would be copied onto every
    partition's materialization, so each shard would show the whole run's counts.
    """
    for key in context.partition_keys:
        context.add_asset_metadata(dict(describe(table.filter(pl.col("shard") == key), key)), partition_key=key)
