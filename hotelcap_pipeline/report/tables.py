"""Read the tables the report needs once each, with "not there yet" as an answer instead of an error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import polars as pl

from hotelcap_pipeline.figures import png_caption
from hotelcap_pipeline.report.document import Figure
from hotelcap_pipeline.store import DataStore

REPORT_FIGURE_PREFIX = "report_"  # figures the report draws itself, beside the stages' under report/figures/


class ReportTables:
    """The store's tables, each read on first use; ``None`` for a table not materialized yet.

    ``figures`` maps an asset to the figure files it declared (paths relative to the store root); the
    report asset reads them from each stage's materialization metadata.
    """

    def __init__(self, store: DataStore, figures: Mapping[str, Sequence[str]] | None = None) -> None:
        self.store = store
        self.figure_files = dict(figures or {})
        self._frames: dict[str, pl.DataFrame | None] = {}

    def get(self, key: str) -> pl.DataFrame | None:
        if key not in self._frames:
            try:
                self._frames[key] = self.store.read_table(key)
            except FileNotFoundError:
                self._frames[key] = None
        return self._frames[key]

    def resolve(self, path: str) -> Path:
        """Tables store paths relative to the store root (or absolute ones). A file of a remote store is
        fetched into its local copy first: the report may be built on a machine that made none of them."""
        p = Path(path)
        if p.is_absolute():
            return p
        self.store.pull([p])
        return self.store.root / p

    def figures_of(self, asset: str) -> list[Figure]:
        """The figures ``asset`` declared, in its order; a declared file that is gone is skipped."""
        found = []
        for relative in self.figure_files.get(asset, ()):
            path = self.resolve(relative)
            if path.is_file():
                data = path.read_bytes()
                found.append(Figure(path.name, data, png_caption(data) or path.stem.replace("_", " ")))
        return found
