"""Dagster metadata a person wants at a glance: row counts, schemas, previews, figures."""

from __future__ import annotations

import base64
import io
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import dagster as dg
import polars as pl

from hotelcap_pipeline.store import DataStore, atomic_write_bytes

if TYPE_CHECKING:
    from PIL import Image


def markdown_table(df: pl.DataFrame, max_rows: int = 8, max_width: int = 48) -> str:
    def cell(v: Any) -> str:
        text = str(v) if not isinstance(v, list) else ", ".join(map(str, v[:6])) + (" …" if len(v) > 6 else "")
        text = text.replace("|", "\\|").replace("\n", " ")
        return text if len(text) <= max_width else text[: max_width - 1] + "…"

    head = df.head(max_rows)
    lines = ["| " + " | ".join(head.columns) + " |", "|" + "---|" * head.width]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in head.iter_rows()]
    return "\n".join(lines)


def table_metadata(df: pl.DataFrame, path: str | None = None) -> dict[str, Any]:
    schema = dg.TableSchema(columns=[dg.TableColumn(name, str(dtype)) for name, dtype in df.schema.items()])
    meta: dict[str, Any] = {
        "dagster/row_count": df.height,
        "dagster/column_schema": schema,
        "preview": dg.MetadataValue.md(markdown_table(df.select([c for c in df.columns if c != "embedding"]))),
    }
    if path is not None:
        meta["path"] = dg.MetadataValue.path(str(path))
    return meta


def png_metadata(png: bytes, title: str = "") -> dg.MetadataValue:
    """An image embedded in Markdown, shown inline on the asset's page in the UI."""
    encoded = base64.b64encode(png).decode("ascii")
    return dg.MetadataValue.md(f"![{title}](data:image/png;base64,{encoded})")


def image_metadata(image: Image.Image, title: str = "") -> dg.MetadataValue:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return png_metadata(buf.getvalue(), title)


def save_figures(figures: Mapping[str, bytes], store: DataStore, prefix: str = "") -> dict[str, Any]:
    """Write PNG figures under report/figures/ of the store and return their metadata entries."""
    meta: dict[str, Any] = {}
    paths = []
    for name, png in figures.items():
        path = store.figures / f"{prefix}{name}.png"
        atomic_write_bytes(path, png)
        paths.append(path)
        meta[f"figure_{name}"] = png_metadata(png, name)
        meta[f"figure_{name}_path"] = dg.MetadataValue.path(store.location(path))
    store.push(paths)
    return meta
