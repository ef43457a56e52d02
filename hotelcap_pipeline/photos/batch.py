"""Fetch, resize and store one batch of photos on one event loop in this process.

Network waits run on the asyncio event loop; decode/resize/encode/write run on a few threads beside it, so
both overlap. ``download`` runs this in-process for small batches and once per worker process for large
ones, so this module imports nothing the workers do not need (no polars): their start-up is paid per run.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from hotelcap_pipeline.http import SessionPolicy, open_session
from hotelcap_pipeline.photos.fetch import FetchLimits, PhotoFetcher
from hotelcap_pipeline.photos.parallel import Emit, ItemStream
from hotelcap_pipeline.photos.resize import ImageRejected, ResizeSpec
from hotelcap_pipeline.photos.storage import (
    PhotoWriteError,
    StoredPhoto,
    remove_stale_temps,
    reusable_photo,
    store_photo,
)

# The request columns a manifest row repeats, with their Python types (``download`` gives their dtypes).
REQUEST_FIELDS: dict[str, type] = {
    "image_id": int, "hotel_id": int, "chain_id": int, "image_source": str, "url": str, "split": str,
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
    # download.PHOTOS_PER_PROCESS photos (a process costs ~0.4 s of start-up), so small batches stay in-process.
    processes: int | None = None
    # Decode/resize threads per process; None: 2 in a worker process, one per core in-process.
    cpu_workers: int | None = None
    progress_interval_s: float = 2.0


@dataclass(frozen=True)
class Job:
    """One requested photo: its request row, the URL to fetch and its store-relative path, or why not."""

    index: int
    row: dict[str, Any]
    fetch_url: str = ""
    relpath: str = ""
    error: str | None = None  # set: nothing to fetch, the row fails with this reason

    @property
    def folder(self) -> str:
        """The store-relative folder of the photo: the unit a worker process owns and sweeps of stale temps."""
        return self.relpath.rpartition("/")[0]  # relpath is POSIX; ~10x cheaper than a Path per photo


def _typed(value: object, kind: type) -> object:
    # A malformed request (say, a path in image_id) still gets its row; the raw value is in the error.
    if value is None:
        return None
    if kind is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else None
    return str(value)


def result_row(job: Job, photo: StoredPhoto | None, error: str | None, reused: bool, attempts: int) -> dict:
    """The manifest row of ``job``: its request columns, then the stored photo's facts or the error."""
    row = {k: _typed(job.row.get(k), kind) for k, kind in REQUEST_FIELDS.items()}
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


@contextlib.contextmanager
def _pillow_block_cache(blocks: int) -> Iterator[None]:
    # Pillow frees every image's pixel blocks by default; reusing them saves the page faults of new ones.
    before = Image.core.get_blocks_max()
    Image.core.set_blocks_max(max(before, blocks))
    try:
        yield
    finally:
        Image.core.set_blocks_max(before)


def fetch_and_store(jobs: Sequence[Job] | ItemStream[Job], emit: Emit, *, store_root: Path,
                    options: DownloadOptions) -> None:
    """Fetch, resize and store ``jobs`` on one event loop in this process; ``emit(index, row)`` per job.

    ``jobs`` may be a stream that is still being filled (a worker process's): this returns once it is
    closed and every job in it has its row.
    """
    threads = options.cpu_workers or (os.cpu_count() or 2)
    with _pillow_block_cache(4 * threads), \
            concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="photo-cpu") as executor:
        asyncio.run(_run(jobs, store_root, options, executor, emit))


async def _run(jobs: Sequence[Job] | ItemStream[Job], store_root: Path, options: DownloadOptions,
               executor: concurrent.futures.Executor, emit: Emit) -> None:
    loop = asyncio.get_running_loop()
    spec = options.resize
    # One sweep of stale temp files per directory, finished before any write there in this run.
    sweeps: dict[str, asyncio.Future[int]] = {}
    stream = jobs if isinstance(jobs, ItemStream) else ItemStream(jobs, closed=True)
    root = os.fspath(store_root)

    async def handle(job: Job, fetcher: PhotoFetcher) -> dict:
        # Strings, not Paths, on this per-photo path (relpath is POSIX and checked by image_relpath).
        dest, folder = f"{root}/{job.relpath}", f"{root}/{job.folder}"
        if folder not in sweeps:
            sweeps[folder] = loop.run_in_executor(executor, remove_stale_temps, Path(folder))
        await sweeps[folder]
        if os.path.exists(dest):
            existing = await loop.run_in_executor(executor, reusable_photo, dest, spec)
            if existing is not None:
                return result_row(job, existing, None, True, 0)
        fetched = await fetcher.fetch(job.fetch_url)
        if fetched.data is None:
            return result_row(job, None, fetched.error, False, fetched.attempts)
        try:
            photo = await loop.run_in_executor(executor, store_photo, fetched.data, dest, spec)
        except ImageRejected as exc:
            return result_row(job, None, str(exc), False, fetched.attempts)
        except PhotoWriteError as exc:
            error = f"could not write {job.relpath}: {exc.strerror}"
            return result_row(job, None, error, False, fetched.attempts)
        return result_row(job, photo, None, False, fetched.attempts)

    async def worker(fetcher: PhotoFetcher) -> None:
        while (job := await stream.next()) is not None:  # each job is taken by exactly one worker
            try:
                result = await handle(job, fetcher)
            except Exception as exc:  # one photo's surprise must not end the batch
                result = result_row(job, None, f"unexpected error: {type(exc).__name__}: {exc}", False, 0)
            emit(job.index, result)

    async with open_session(options.session) as session:
        fetcher = PhotoFetcher(session, options.session, options.fetch, random.Random(),
                               local_roots=options.local_roots)
        known = len(jobs) if isinstance(jobs, Sequence) else options.session.limit  # a stream's end is not known
        n_workers = max(1, min(options.session.limit, known))
        await asyncio.gather(*(worker(fetcher) for _ in range(n_workers)))
