"""Download, resize and store the requested photos; return the manifest (one row per request).

Network waits run on one asyncio event loop; decode/resize/encode/write run on a few threads beside it,
so both overlap. Large batches run one such loop per core in worker processes (``parallel``), which
measured ~1.2x one process on 2 cores (GIL contention and allocator churn); small batches stay in this
process, where start-up costs nothing.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import functools
import math
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import polars as pl
from PIL import Image

from hotelcap_pipeline.http import SessionPolicy, open_session
from hotelcap_pipeline.photos.fetch import FetchLimits, PhotoFetcher
from hotelcap_pipeline.photos.parallel import Emit, run_in_processes, split_by_owner
from hotelcap_pipeline.photos.paths import UnsafePathError, image_relpath
from hotelcap_pipeline.photos.progress import ProgressCallback, ProgressTracker
from hotelcap_pipeline.photos.resize import ImageRejected, ResizeSpec
from hotelcap_pipeline.photos.storage import StoredPhoto, remove_stale_temps, reusable_photo, store_photo

REQUEST_COLUMNS = {
    "image_id": pl.Int64, "hotel_id": pl.Int64, "chain_id": pl.Int64,
    "image_source": pl.Utf8, "url": pl.Utf8, "split": pl.Utf8,
}
MANIFEST_SCHEMA = {
    **REQUEST_COLUMNS,
    "path": pl.Utf8, "width": pl.Int32, "height": pl.Int32, "orig_width": pl.Int32, "orig_height": pl.Int32,
    "sha256": pl.Utf8, "bytes": pl.Int64, "status": pl.Utf8, "error": pl.Utf8, "reused": pl.Boolean,
    "attempts": pl.Int32,
}


@dataclass(frozen=True)
class DownloadOptions:
    """How a download runs: the network limits, the resize, the connection policy, and where it runs."""

    fetch: FetchLimits = field(default_factory=FetchLimits)
    resize: ResizeSpec = field(default_factory=ResizeSpec)
    # ``limit`` is the number of requests in flight in all, ``limit_per_host`` per host.
    session: SessionPolicy = field(default_factory=SessionPolicy)
    # Folders whose regular files a row may name (file:// or a plain path); empty: local files are refused.
    local_roots: tuple[str, ...] = ()
    # Worker processes, each with its own event loop; None: one per core, but only as many as give each
    # PHOTOS_PER_PROCESS photos (a process costs ~0.7 s of start-up), so small batches stay in-process.
    processes: int | None = None
    # Decode/resize threads per process; None: 2 in a worker process, one per core in-process.
    cpu_workers: int | None = None
    progress_interval_s: float = 2.0


@dataclass(frozen=True)
class _Job:
    index: int
    row: dict[str, Any]
    fetch_url: str = ""
    relpath: str = ""
    error: str | None = None  # set: nothing to fetch, the row fails with this reason


def _jobs(requests: pl.DataFrame) -> Iterator[_Job]:
    has_fetch_url = "fetch_url" in requests.columns
    for index, row in enumerate(requests.iter_rows(named=True)):
        url = row.get("url")
        fetch_url = (row.get("fetch_url") if has_fetch_url else None) or url
        try:
            rel = image_relpath(row.get("split"), row.get("chain_id"), row.get("hotel_id"),
                                row.get("image_source"), row.get("image_id"))
        except UnsafePathError as exc:
            yield _Job(index, row, error=f"unsafe path: {exc}")
            continue
        if not fetch_url:
            yield _Job(index, row, error="no URL")
            continue
        yield _Job(index, row, fetch_url, rel.as_posix())


def _typed(value: object, dtype: type[pl.DataType]) -> object:
    # A malformed request (say, a path in image_id) still gets its row; the raw value is in the error.
    if value is None:
        return None
    if dtype == pl.Int64:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return str(value)


def _result(job: _Job, photo: StoredPhoto | None, error: str | None, reused: bool, attempts: int) -> dict:
    row = {k: _typed(job.row.get(k), dtype) for k, dtype in REQUEST_COLUMNS.items()}
    stored: dict[str, object]
    if photo is None:
        stored = dict.fromkeys(("path", "width", "height", "orig_width", "orig_height", "sha256", "bytes"))
    else:
        stored = {
            "path": job.relpath, "width": photo.width, "height": photo.height,
            "orig_width": photo.orig_width, "orig_height": photo.orig_height,
            "sha256": photo.sha256, "bytes": photo.bytes,
        }
    return {
        **row, **stored,
        "status": "failed" if photo is None else "ok", "error": error, "reused": reused, "attempts": attempts,
    }


PHOTOS_PER_PROCESS = 200


def process_count(options: DownloadOptions, n_photos: int) -> int:
    if options.processes is not None:
        return max(1, min(options.processes, n_photos))
    return max(1, min(os.cpu_count() or 1, n_photos // PHOTOS_PER_PROCESS))


@contextlib.contextmanager
def _pillow_block_cache(blocks: int) -> Iterator[None]:
    # Pillow frees every image's pixel blocks by default; reusing them saves the page faults of new ones.
    before = Image.core.get_blocks_max()
    Image.core.set_blocks_max(max(before, blocks))
    try:
        yield
    finally:
        Image.core.set_blocks_max(before)


def fetch_and_store(jobs: Sequence[_Job], emit: Emit, *, store_root: Path, options: DownloadOptions) -> None:
    """Fetch, resize and store ``jobs`` on one event loop in this process; ``emit(index, row)`` per job."""
    threads = options.cpu_workers or (os.cpu_count() or 2)
    with _pillow_block_cache(4 * threads), \
            concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="photo-cpu") as executor:
        asyncio.run(_run(jobs, store_root, options, executor, emit))


async def _run(jobs: Sequence[_Job], store_root: Path, options: DownloadOptions,
               executor: concurrent.futures.Executor, emit: Emit) -> None:
    loop = asyncio.get_running_loop()
    spec = options.resize
    # One sweep of stale temp files per directory, finished before any write there in this run.
    sweeps: dict[Path, asyncio.Future[int]] = {}
    pending = iter(jobs)

    async def handle(job: _Job, fetcher: PhotoFetcher) -> dict:
        dest = store_root / job.relpath
        if dest.parent not in sweeps:
            sweeps[dest.parent] = loop.run_in_executor(executor, remove_stale_temps, dest.parent)
        await sweeps[dest.parent]
        if dest.exists():
            existing = await loop.run_in_executor(executor, reusable_photo, dest, spec)
            if existing is not None:
                return _result(job, existing, None, True, 0)
        fetched = await fetcher.fetch(job.fetch_url)
        if fetched.data is None:
            return _result(job, None, fetched.error, False, fetched.attempts)
        try:
            photo = await loop.run_in_executor(executor, store_photo, fetched.data, dest, spec)
        except ImageRejected as exc:
            return _result(job, None, str(exc), False, fetched.attempts)
        except OSError as exc:
            error = f"could not write {job.relpath}: {exc.strerror}"
            return _result(job, None, error, False, fetched.attempts)
        return _result(job, photo, None, False, fetched.attempts)

    async def worker(fetcher: PhotoFetcher) -> None:
        for job in pending:  # a shared iterator: each job is taken by exactly one worker
            try:
                result = await handle(job, fetcher)
            except Exception as exc:  # one photo's surprise must not end the batch
                result = _result(job, None, f"unexpected error: {type(exc).__name__}: {exc}", False, 0)
            emit(job.index, result)

    async with open_session(options.session) as session:
        fetcher = PhotoFetcher(session, options.session, options.fetch, random.Random(),
                               local_roots=options.local_roots)
        n_workers = max(1, min(options.session.limit, len(jobs)))
        await asyncio.gather(*(worker(fetcher) for _ in range(n_workers)))


def _per_process(options: DownloadOptions, processes: int) -> DownloadOptions:
    # The limits hold for the whole download, so each process gets its share of them.
    session = replace(options.session, limit=math.ceil(options.session.limit / processes),
                      limit_per_host=math.ceil(options.session.limit_per_host / processes))
    return replace(options, session=session, cpu_workers=options.cpu_workers or 2)


def download_images(requests: pl.DataFrame, store_root: Path, options: DownloadOptions,
                    progress: ProgressCallback | None = None) -> pl.DataFrame:
    """Fetch, resize and store every requested photo; the manifest has one row per request.

    ``requests`` has image_id, hotel_id, chain_id, image_source, url, split and optionally fetch_url
    (fetched instead of url when set; the manifest records url). Photos already stored and valid are
    reused without a request. The manifest is sorted by image_id and holds no timings, so the same
    inputs give the same table; ``progress`` gets counts and rates, the last event with ``final=True``.
    """
    missing = [c for c in REQUEST_COLUMNS if c not in requests.columns]
    if missing:
        raise ValueError(f"download_images: requests lack columns {missing}")
    store_root = Path(store_root)
    jobs = list(_jobs(requests))
    tracker = ProgressTracker(len(jobs), progress, options.progress_interval_s)
    rows: list[dict | None] = [None] * len(jobs)

    def emit(index: int, row: dict) -> None:
        rows[index] = row
        tracker.record(row["status"], row["reused"])

    fetchable = [job for job in jobs if job.error is None]
    for job in jobs:
        if job.error is not None:
            emit(job.index, _result(job, None, job.error, False, 0))
    processes = process_count(options, len(fetchable))
    if processes == 1:
        if fetchable:
            fetch_and_store(fetchable, emit, store_root=store_root, options=options)
    else:
        # Owner: the photo's folder (relpath is POSIX; rpartition is ~10x cheaper than a Path per photo).
        parts = split_by_owner(fetchable, lambda job: job.relpath.rpartition("/")[0], processes)
        worker = functools.partial(fetch_and_store, store_root=store_root,
                                   options=_per_process(options, len(parts)))
        lost = run_in_processes(parts, worker, lambda job: job.index, emit)
        for index, reason in lost.items():
            emit(index, _result(jobs[index], None, reason, False, 0))
    tracker.finish()
    manifest = pl.DataFrame([r for r in rows if r is not None], schema=MANIFEST_SCHEMA, strict=False)
    return manifest.with_row_index("_order").sort(["image_id", "_order"], nulls_last=True).drop("_order")
