"""The data store layout (docs/design.md, "Data store layout") and atomic table writes.

Everything the pipeline writes goes through here or ``atomic_files``, so a killed run never leaves a
half-written file: write to a temporary sibling, then rename over the target.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, overload

import polars as pl

from hotelcap_pipeline.atomic_files import FILE_MODE, atomic_path

logger = logging.getLogger(__name__)
# Tables whose rows name stored files (relative to the store root) that must be there for the table to hold.
FILE_COLUMNS = {"hotel_images": "path", "diffusion_edits": "path", "visitor_portrait": "path"}
# Outputs that are files, not tables.
FILE_OUTPUTS = {"report": ("report/index.html", "report/report.md")}


class DamagedFileError(FileNotFoundError):
    """A stored file that exists but cannot be read (truncated, overwritten): handled as a missing one."""

    def __init__(self, path: Path, reason: str, key: str) -> None:
        super().__init__(f"{path} is damaged ({reason}): materialize '{key}' again (hotelcap materialize "
                         "rebuilds it)")
        self.path, self.reason = path, reason


def parquet_problem(path: Path) -> str | None:
    """Why ``path`` is not a readable Parquet file ("missing", "damaged (...)"), or None when it is.

    Checks the magic bytes at both ends and parses the footer: a truncated or overwritten file fails here
    without reading its data.
    """
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return "missing"
    if not path.is_file():
        return "not a file"
    if size < 12:
        return f"damaged ({size} bytes, too short for Parquet)"
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(-4, os.SEEK_END)
        tail = fh.read(4)
    if head != b"PAR1" or tail != b"PAR1":
        return "damaged (not a complete Parquet file: truncated or overwritten)"
    try:
        pl.read_parquet_schema(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        return f"damaged ({first_line(exc)})"
    return None


def first_line(exc: BaseException) -> str:
    """An exception's message cut to its first line (its type's name when it has none), for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def read_parquet_checked(path: Path, key: str) -> pl.DataFrame:
    """Read one Parquet file; a damaged one raises :class:`DamagedFileError` naming it and what to run."""
    try:
        return pl.read_parquet(path)
    except FileNotFoundError:
        raise
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise DamagedFileError(path, first_line(exc), key) from None


def write_parquet_atomic(df: pl.DataFrame, target: Path) -> None:
    with atomic_path(target) as tmp:
        df.write_parquet(tmp, compression="zstd", compression_level=1, statistics=True)


def _is_shard(path: Path) -> bool:
    # Hidden names are other writers' temporary files (atomic_path) and checkpoints, never shards. match()
    # as glob("*.parquet"), so a bucket's listing and a local folder name the same files.
    return path.match("*.parquet") and not path.name.startswith(".")


def is_remote(spec: str | os.PathLike[str]) -> bool:
    text = str(spec)
    return "://" in text and not text.startswith("file://")


def local_cache_for(url: str) -> Path:
    """Where a remote store keeps its local working copy (HOTELCAP_CACHE_DIR, default ~/.cache/hotelcap):
    a readable form of the URL and a digest of it and of the endpoint, so that s3://b/team/prod and
    s3://b/team_prod, or one bucket name on two servers, never share a copy."""
    base = Path(os.environ.get("HOTELCAP_CACHE_DIR") or Path.home() / ".cache" / "hotelcap")
    url = url.rstrip("/")
    digest = hashlib.sha256(f"{url}\n{os.environ.get('AWS_ENDPOINT_URL', '')}".encode()).hexdigest()[:10]
    return (base / f"{re.sub(r'[^A-Za-z0-9._-]+', '_', url)}-{digest}").resolve()


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
        (tables change between runs; photos and edits are immutable under their path).

        A local file the bucket no longer holds is kept (another process may be writing it, not pushed yet);
        the table readers leave it out (``table_files``)."""
        if self.remote is None:
            return 0
        fs, base = self._fs()
        wanted: list[str] = []
        for path in paths:
            rel = self._rel(path)
            if not refresh and (self.root / rel).is_file():
                continue  # held already: no request to the bucket (a folder is still listed for new files)
            wanted += self._bucket_files(fs, base, rel)
        return self._fetch(fs, base, wanted, refresh=refresh)

    def _bucket_files(self, fs, base: str, rel: str) -> list[str]:
        """What the bucket holds at ``rel`` (store-relative): a folder's files (one listing), the file, or none."""
        remote = f"{base}/{rel}"
        if fs.isdir(remote):
            return [self._rel_remote(f, base) for f in fs.find(remote)]
        return [rel] if fs.exists(remote) else []

    def _fetch(self, fs, base: str, rels: Iterable[str], *, refresh: bool) -> int:
        """Download the bucket's ``rels`` into the local copy: all of them with ``refresh``, else those it lacks."""
        missing = [r for r in rels if refresh or not (self.root / r).exists()]
        for rel in missing:
            with atomic_path(self.root / rel) as tmp:
                fs.get_file(f"{base}/{rel}", str(tmp))
        return len(missing)

    def table_files(self, key: str, shard_keys: Iterable[str] | None = None, *, refresh: bool = False) -> list[Path]:
        """The files that hold table ``key`` now: its one file, or its shards (sorted; only those of
        ``shard_keys`` when given); none when the store holds neither.

        A remote store answers from its bucket (one listing, as ``pull``) and fetches those files into the
        local copy (all of them with ``refresh``, else the ones it lacks): a shard deleted from the bucket, or
        left over from a rewrite with fewer shards, is left out, though the local copy keeps it (see ``pull``).
        Without ``refresh`` a table file the local copy holds is taken as it is, with no request (as ``pull``).
        """
        path = self.table(key)
        wanted = None if shard_keys is None else {path / f"{k}.parquet" for k in shard_keys}
        if self.remote is None:
            if wanted is not None:
                return sorted(f for f in wanted if f.exists())
            if path.is_dir():
                return sorted(p for p in path.glob("*.parquet") if _is_shard(p))
            return [path] if path.exists() else []
        if not refresh and wanted is None and path.is_file():
            return [path]
        fs, base = self._fs()
        rel = self._rel(path)
        # This process's cached listing of the folder may predate another machine's change (isdir answers from it).
        fs.invalidate_cache(f"{base}/{rel}")
        held = [self.root / r for r in self._bucket_files(fs, base, rel)]
        if held != [path]:
            held = [f for f in held if f.parent == path and _is_shard(f) and (wanted is None or f in wanted)]
        self._fetch(fs, base, [self._rel(f) for f in held], refresh=refresh)
        return sorted(held)

    def location(self, path: Path | str) -> str:
        """Where ``path`` lives for a person: the object URL for a remote store, else the local path."""
        rel = self._rel(path)
        if self.remote:
            return self.remote if rel == "." else f"{self.remote}/{rel}"
        return str(self.root / rel)

    @staticmethod
    def _rel_remote(found: str, base: str) -> str:
        return found[len(base.rstrip("/")) + 1:] if found.startswith(base.rstrip("/")) else found

    def missing(self, paths: Iterable[str]) -> list[str]:
        """The store-relative ``paths`` the store does not hold: not in the local copy and, for a remote
        store, not in the bucket either (one listing per top-level folder, not a request per file)."""
        absent = [p for p in paths if not (self.root / p).is_file()]
        if self.remote is None or not absent:
            return absent
        fs, base = self._fs()
        held: set[str] = set()
        for top in sorted({p.split("/", 1)[0] for p in absent}):
            held.update(self._rel_remote(f, base) for f in fs.find(f"{base}/{top}"))
        return [p for p in absent if p not in held]


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
        keys = list(shard_keys)
        files = [self.table(key) / f"{shard}.parquet" for shard in keys]
        if not files and not missing_ok:
            raise ValueError(f"{self.table(key)}: no shard keys given, so there is no shard to read")
        held = set(self.table_files(key, keys, refresh=True))  # a remote store's: those its bucket holds now
        missing = [f.name for f in files if f not in held]
        if missing and not missing_ok:
            raise FileNotFoundError(f"{self.table(key)}: shards not materialized yet: {', '.join(missing)}")
        frames = []
        for f in files:
            if f not in held:
                continue
            try:
                frames.append(read_parquet_checked(f, key))
            except DamagedFileError as exc:
                if not missing_ok:
                    raise
                # A stage reading its own last output recomputes what the damaged shard held.
                logger.warning("%s is damaged (%s): treated as missing, its rows are computed again",
                               exc.path, exc.reason)
        return pl.concat(frames, how="vertical_relaxed") if frames else None

    def read_table(self, key: str) -> pl.DataFrame:
        """Read a table asset, whole or sharded (a folder of Parquet files)."""
        path = self.table(key)
        files = self.table_files(key, refresh=True)
        if files == [path]:
            return read_parquet_checked(path, key)
        if files:
            return pl.concat([read_parquet_checked(p, key) for p in files], how="diagonal_relaxed")
        if path.is_dir():
            raise FileNotFoundError(f"{path} holds no shard yet")
        raise FileNotFoundError(f"{path} does not exist: materialize '{key}' first")


def stored_problem(store: DataStore, asset_name: str, shard_keys: Iterable[str] | None = None) -> str | None:
    """Why the stored output of ``asset_name`` cannot be used as it is, or None when it can.

    A table must be there and parse as Parquet (every shard of a sharded one, or the ``shard_keys`` given);
    a table that lists stored files (photos, edits) must find them; the report must have its pages. The
    run history can say an asset is up to date while its files were deleted or damaged since: this says
    what the store itself holds. A remote store is judged by its bucket: missing tables are fetched into
    the working copy, and listed files not there are looked up in the bucket.
    """
    if asset_name in FILE_OUTPUTS:
        store.pull(FILE_OUTPUTS[asset_name])
        for rel in FILE_OUTPUTS[asset_name]:
            target = store.root / rel
            if not target.is_file() or target.stat().st_size == 0:
                return f"{store.location(target)} is missing or empty"
        return None
    path = store.table(asset_name)
    held = store.table_files(asset_name)  # a remote store's tables as the bucket holds them (missing ones fetched)
    if path.is_dir():
        if shard_keys is not None:
            files = [path / f"{k}.parquet" for k in shard_keys]
        else:
            files = held
            if not files:
                return f"{store.location(path)} holds no shard"
    elif path.exists():
        files = [path]
    else:
        return f"{store.location(path)} is missing"
    for f in files:
        problem = parquet_problem(f) if f in held else "missing"
        if problem is not None:
            return f"{store.location(f)} is {problem}"
    column = FILE_COLUMNS.get(asset_name)
    if column is None:
        return None
    for f in files:
        try:
            table = pl.read_parquet(f, columns=[column, "status"] if asset_name == "hotel_images" else [column])
        except (pl.exceptions.PolarsError, OSError) as exc:
            return f"{store.location(f)} is damaged ({first_line(exc)})"
        if "status" in table.columns:
            table = table.filter(pl.col("status") == "ok")
        absent = store.missing(table.get_column(column).drop_nulls().to_list())
        if absent:
            return f"{store.location(absent[0])} is missing ({f.name} lists it)"
    return None


LOCK_NAME = ".hotelcap.lock"


class StoreBusyError(RuntimeError):
    """Another process holds the data store's lock."""


@contextlib.contextmanager
def store_lock(store: DataStore, what: str = "hotelcap materialize") -> Iterator[None]:
    """Hold the data store's lock for the block, or raise :class:`StoreBusyError` naming who holds it.

    Two runs on one store would render the same edits twice and race on the same tables. The lock is an
    advisory ``flock`` on ``<root>/.hotelcap.lock``: the kernel drops it when its holder exits, however it
    exits (a SIGKILLed run leaves no stale lock). A remote store locks its local working copy only.
    """
    try:
        import fcntl
    except ImportError:  # no flock (Windows): run unlocked rather than not at all
        yield
        return
    store.root.mkdir(parents=True, exist_ok=True)
    path = store.root / LOCK_NAME
    fd = os.open(path, os.O_RDWR | os.O_CREAT, FILE_MODE)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode(errors="replace").strip() or "another process"
            raise StoreBusyError(f"data store {store.root} is in use by {holder}; wait for it to finish "
                                 "(or stop it) and run again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{what} (pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S')})".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock
