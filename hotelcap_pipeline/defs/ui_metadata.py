"""Dagster metadata a person wants at a glance: row counts, schemas, previews, figures.

Everything here lands in the event log, which keeps every materialization forever (twice: the run's own
database and the index): figures, contact sheets and edit grids are written once to the data store and an
event carries only their URL on the report server (no image bytes), Markdown previews are bounded
(MARKDOWN_MAX_CHARS), and a sharded
table declares its column schema once on the asset, not on every shard's materialization. Metadata goes on
the materialization only (``context.add_asset_metadata``), never with the Output, which Dagster would store
a second time in the STEP_OUTPUT event. tests/ui/test_event_log_size.py bounds what a rerun writes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import dagster as dg
import polars as pl

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.defs.columns import column_description
from hotelcap_pipeline.figures import png_caption
from hotelcap_pipeline.report.serve import report_url
from hotelcap_pipeline.store import DataStore
from hotelcap_pipeline.table_format import markdown_table

# A Markdown table in one event stays below this many characters (rows are dropped to fit).
MARKDOWN_MAX_CHARS = 1_500
COLUMN_SCHEMA = "dagster/column_schema"


def ui_table(df: pl.DataFrame, max_rows: int = 8, max_width: int = 48, max_chars: int = MARKDOWN_MAX_CHARS) -> str:
    """The first rows of ``df`` as Markdown for an asset page, within one event's character budget."""
    return markdown_table(df, max_rows=max_rows, max_width=max_width, max_chars=max_chars)


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
        meta["preview"] = dg.MetadataValue.md(ui_table(shown, max_rows=preview_rows, max_chars=preview_chars))
    if path is not None:
        meta["path"] = dg.MetadataValue.path(str(path))
    return meta


def write_figure(png: bytes, store: DataStore, name: str) -> Path:
    """Write one PNG figure as ``report/figures/<name>.png`` of the store (where the report server serves it)."""
    path = store.figures / f"{name}.png"
    atomic_write_bytes(path, png)
    store.push([path])
    return path


FIGURE_FILES = "figure_files"  # the entry the report reads a stage's figures from


def declared_figures(instance: dg.DagsterInstance, assets: list[str]) -> dict[str, list[str]]:
    """The figure files each asset's latest materialization declared (paths relative to the store)."""
    found: dict[str, list[str]] = {}
    for key in assets:
        event = instance.get_latest_materialization_event(dg.AssetKey(key))
        materialization = event.asset_materialization if event else None
        entry = materialization.metadata.get(FIGURE_FILES) if materialization else None
        if entry is not None and isinstance(entry.value, dict):
            found[key] = [str(v) for v in entry.value.values()]
    return found


def served_figures(store: DataStore, paths: Iterable[Path], images: int | None = None) -> str:
    """Markdown showing figures where `hotelcap ui` serves the report (its ``figures/`` folder): the first ``images``
    (all by default) as full-size images, each a link to the file, the rest as links. A thumbnail small
    enough for the event log would be illegible (a chart squeezed into 1.5 kB is ~80 px wide); a URL costs
    ~150 bytes. Without the report server the images show their names, and the files are in the store. A
    caption the PNG carries is shown under its image."""
    lines = []
    for i, path in enumerate(paths):
        url = urljoin(report_url(), Path(path).relative_to(store.report).as_posix())
        if images is None or i < images:
            caption = png_caption(Path(path))
            lines.append(f"[![{path.stem}]({url})]({url})" + (f"\n\n*{caption}*" if caption else ""))
        else:
            lines.append(f"- [{path.stem}]({url})")
    return "\n\n".join(lines) if images is None else "\n".join(lines)


def save_figures(figures: Mapping[str, bytes], store: DataStore, prefix: str = "") -> dict[str, Any]:
    """Write PNG figures under report/figures/ of the store: one ``figures`` entry that shows them from the
    report server, and one ``figure_files`` entry (name -> path relative to the store) through which the
    report finds them."""
    paths = {name: write_figure(png, store, f"{prefix}{name}") for name, png in figures.items()}
    if not paths:
        return {}
    return {
        "figures": dg.MetadataValue.md(served_figures(store, paths.values())),
        FIGURE_FILES: dg.MetadataValue.json({n: p.relative_to(store.root).as_posix() for n, p in paths.items()}),
    }


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
