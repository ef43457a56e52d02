"""The data store layout (DESIGN.md, "Data store layout") and atomic writes.

Everything the pipeline writes goes through here, so a killed run never leaves a
half-written file: write to a temporary sibling, then rename over the target.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import polars as pl


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=suffix if suffix is not None else ".tmp" + target.suffix,
        dir=target.parent,
    )
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    with atomic_path(target) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)


@dataclass(frozen=True)
class DataStore:
    """Paths of the fixed store layout under one root."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str]) -> DataStore:
        return cls(Path(root).expanduser().resolve())

    @property
    def tables(self) -> Path:
        return self.root / "tables"

    def table(self, key: str) -> Path:
        return self.tables / f"{key}.parquet"

    @property
    def raw_dataset(self) -> Path:
        return self.root / "raw" / "hotels50k"

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def edits(self) -> Path:
        return self.root / "edits"

    @property
    def models(self) -> Path:
        return self.root / "models"

    @property
    def report(self) -> Path:
        return self.root / "report"

    @property
    def figures(self) -> Path:
        return self.report / "figures"

    def read_table(self, key: str) -> pl.DataFrame:
        """Read a table asset, whole or sharded (a folder of Parquet files)."""
        path = self.table(key)
        if path.is_dir():
            parts = sorted(path.glob("*.parquet"))
            if not parts:
                raise FileNotFoundError(f"{path} holds no shard yet")
            return pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: materialize '{key}' first")
        return pl.read_parquet(path)
