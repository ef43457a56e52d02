"""The data store layout (docs/design.md, "Data store layout") and atomic writes.

Everything the pipeline writes goes through here, so a killed run never leaves a
half-written file: write to a temporary sibling, then rename over the target.
"""

from __future__ import annotations

import contextlib
import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import polars as pl


def _temp_beside(target: Path, suffix: str) -> tuple[int, Path]:
    # The folder usually exists: create it only when the first try says it does not (one syscall less
    # per photo).
    try:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    except FileNotFoundError:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=suffix, dir=target.parent)
    return fd, Path(name)


@contextlib.contextmanager
def atomic_path(target: Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``target``; it replaces ``target`` only if the block succeeds."""
    target = Path(target)
    fd, tmp = _temp_beside(target, suffix if suffix is not None else ".tmp" + target.suffix)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_bytes(target: Path, data: bytes) -> None:
    target = Path(target)
    fd, tmp = _temp_beside(target, ".tmp" + target.suffix)
    try:
        with open(fd, "wb") as f:
            f.write(data)
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def atomic_write_text(target: Path, text: str) -> None:
    atomic_write_bytes(target, text.encode("utf-8"))


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)


def is_remote(spec: str | os.PathLike[str]) -> bool:
    text = str(spec)
    return "://" in text and not text.startswith("file://")


def local_cache_for(url: str) -> Path:
    """Where a remote store keeps its local working copy (HOTELCAP_CACHE_DIR, default ~/.cache/hotelcap)."""
    base = Path(os.environ.get("HOTELCAP_CACHE_DIR") or Path.home() / ".cache" / "hotelcap")
    return (base / re.sub(r"[^A-Za-z0-9._-]+", "_", url.rstrip("/"))).resolve()


@dataclass(frozen=True)
class DataStore:
    """Paths of the fixed store layout under one root.

    A local store is its own root. An object-store URL (``s3://bucket/prefix``, through fsspec) keeps a
    local working copy as ``root``: stages read and write plain files there, ``pull`` fetches what a
    stage needs and is missing locally, and ``push`` uploads what it wrote (one PUT per object, so a
    reader never sees half an object). Credentials and endpoint come from the usual environment
    (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL for S3-compatible servers).
    """

    root: Path
    remote: str | None = None

    @classmethod
    def at(cls, spec: str | os.PathLike[str]) -> DataStore:
        text = str(spec)
        if is_remote(text):
            return cls(local_cache_for(text), text.rstrip("/"))
        if text.startswith("file://"):
            text = text[len("file://"):]
        return cls(Path(text).expanduser().resolve())

    def _fs(self):  # -> (fsspec.AbstractFileSystem, base path)
        import fsspec

        return fsspec.core.url_to_fs(self.remote)

    def _rel(self, path: Path | str) -> str:
        path = Path(path)
        return (path.relative_to(self.root) if path.is_absolute() else path).as_posix()

    def push(self, paths: Iterable[Path | str]) -> int:
        """Upload files (or whole folders) under ``root`` to the remote store; returns files sent."""
        if self.remote is None:
            return 0
        fs, base = self._fs()
        local: list[str] = []
        for path in paths:
            full = self.root / self._rel(path)
            local += [str(f) for f in full.rglob("*") if f.is_file()] if full.is_dir() else [str(full)]
        local = [f for f in local if Path(f).is_file() and not Path(f).name.startswith(".")]
        if local:
            fs.put(local, [f"{base}/{self._rel(f)}" for f in local])
        return len(local)

    def pull(self, paths: Iterable[Path | str], *, refresh: bool = False) -> int:
        """Fetch files (or folders) missing from the local copy, or all of them with ``refresh``
        (tables change between runs; photos and edits are immutable under their path)."""
        if self.remote is None:
            return 0
        fs, base = self._fs()
        wanted: list[str] = []
        for path in paths:
            rel = self._rel(path)
            remote = f"{base}/{rel}"
            if fs.isdir(remote):
                wanted += [self._rel_remote(f, base) for f in fs.find(remote)]
            elif fs.exists(remote):
                wanted.append(rel)
        missing = [r for r in wanted if refresh or not (self.root / r).exists()]
        for rel in missing:
            with atomic_path(self.root / rel) as tmp:
                fs.get_file(f"{base}/{rel}", str(tmp))
        return len(missing)

    def location(self, path: Path | str) -> str:
        """Where ``path`` lives for a person: the object URL for a remote store, else the local path."""
        return f"{self.remote}/{self._rel(path)}" if self.remote else str(self.root / self._rel(path))

    @staticmethod
    def _rel_remote(found: str, base: str) -> str:
        return found[len(base.rstrip("/")) + 1:] if found.startswith(base.rstrip("/")) else found


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

    @overload
    def read_shards(
        self, key: str, shard_keys: Iterable[str], *, missing_ok: Literal[False] = False
    ) -> pl.DataFrame: ...

    @overload
    def read_shards(self, key: str, shard_keys: Iterable[str], *, missing_ok: bool) -> pl.DataFrame | None: ...

    def read_shards(self, key: str, shard_keys: Iterable[str], *, missing_ok: bool = False) -> pl.DataFrame | None:
        """Read some shards of a sharded table. Every one must exist, unless ``missing_ok``: then the
        shards written so far are read (None when there are none), as a stage reading its own last output does."""
        files = [self.table(key) / f"{shard}.parquet" for shard in shard_keys]
        if not files and not missing_ok:
            raise ValueError(f"{self.table(key)}: no shard keys given, so there is no shard to read")
        self.pull(files, refresh=True)
        missing = [f.name for f in files if not f.exists()]
        if missing and not missing_ok:
            raise FileNotFoundError(f"{self.table(key)}: shards not materialized yet: {', '.join(missing)}")
        found = [f for f in files if f.exists()]
        return pl.concat([pl.read_parquet(f) for f in found], how="vertical_relaxed") if found else None

    def read_table(self, key: str) -> pl.DataFrame:
        """Read a table asset, whole or sharded (a folder of Parquet files)."""
        path = self.table(key)
        self.pull([path], refresh=True)
        if path.is_dir():
            # Hidden names are other writers' temporary files (atomic_path), never shards.
            parts = sorted(p for p in path.glob("*.parquet") if not p.name.startswith("."))
            if not parts:
                raise FileNotFoundError(f"{path} holds no shard yet")
            return pl.concat([pl.read_parquet(p) for p in parts], how="diagonal_relaxed")
        if not path.exists():
            raise FileNotFoundError(f"{path} does not exist: materialize '{key}' first")
        return pl.read_parquet(path)
