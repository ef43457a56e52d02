"""Read the tables the report needs once each, with "not there yet" as an answer instead of an error."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hotelcap_pipeline.report.document import Figure
from hotelcap_pipeline.store import DataStore

REPORT_FIGURE_PREFIX = "report_"


class ReportTables:
    """The store's tables, each read on first use; ``None`` for a table not materialized yet."""

    def __init__(self, store: DataStore) -> None:
        self.store = store
        self._frames: dict[str, pl.DataFrame | None] = {}

    def get(self, key: str) -> pl.DataFrame | None:
        if key not in self._frames:
            try:
                self._frames[key] = self.store.read_table(key)
            except FileNotFoundError:
                self._frames[key] = None
        return self._frames[key]

    def resolve(self, path: str) -> Path:
        """Tables store paths relative to the store root (or absolute ones)."""
        p = Path(path)
        return p if p.is_absolute() else self.store.root / p


def stage_figures(store: DataStore, prefixes: tuple[str, ...]) -> list[Figure]:
    """Figures a stage saved under report/figures/ as ``<prefix><name>.png``, in name order."""
    if not store.figures.is_dir():
        return []
    paths = sorted(
        p
        for p in store.figures.glob("*.png")
        if p.name.startswith(prefixes) and not p.name.startswith((REPORT_FIGURE_PREFIX, "."))
    )
    return [Figure(p.name, p.read_bytes(), p.stem.replace("_", " ")) for p in paths]
