"""Download, resize and store the requested photos; return the manifest (one row per request).

The photos are fetched and stored by ``batch`` (one event loop with a few decode threads). Large batches
run one such loop per core in worker processes (``parallel``), which measured ~1.2x one process on
2 cores (GIL contention and allocator churn); small batches stay in this process, where start-up costs
nothing.
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import polars as pl

from hotelcap_pipeline.photos.batch import REQUEST_FIELDS, DownloadOptions, Job, fetch_and_store, result_row
from hotelcap_pipeline.photos.parallel import group_by_owner, run_in_processes
from hotelcap_pipeline.photos.paths import UnsafePathError, image_relpath
from hotelcap_pipeline.photos.progress import ProgressCallback, ProgressTracker

REQUEST_COLUMNS = {name: pl.Int64 if kind is int else pl.Utf8 for name, kind in REQUEST_FIELDS.items()}
MANIFEST_SCHEMA = {
    **REQUEST_COLUMNS,
    "path": pl.Utf8, "width": pl.Int32, "height": pl.Int32, "orig_width": pl.Int32, "orig_height": pl.Int32,
    "sha256": pl.Utf8, "bytes": pl.Int64, "status": pl.Utf8, "error": pl.Utf8, "reused": pl.Boolean,
    "attempts": pl.Int32,
}


def _jobs(requests: pl.DataFrame) -> Iterator[Job]:
    has_fetch_url = "fetch_url" in requests.columns
    for index, row in enumerate(requests.iter_rows(named=True)):
        url = row.get("url")
        fetch_url = (row.get("fetch_url") if has_fetch_url else None) or url
        try:
            rel = image_relpath(row.get("split"), row.get("chain_id"), row.get("hotel_id"),
                                row.get("image_source"), row.get("image_id"))
        except UnsafePathError as exc:
            yield Job(index, row, error=f"unsafe path: {exc}")
            continue
        if not fetch_url:
            yield Job(index, row, error="no URL")
            continue
        yield Job(index, row, fetch_url, rel)


PHOTOS_PER_PROCESS = 200


def process_count(options: DownloadOptions, n_photos: int) -> int:
    if options.processes is not None:
        return max(1, min(options.processes, n_photos))
    return max(1, min(os.cpu_count() or 1, n_photos // PHOTOS_PER_PROCESS))


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
    tracker = ProgressTracker(requests.height, progress, options.progress_interval_s)
    rows: list[dict | None] = [None] * requests.height
    jobs: list[Job] = []

    def emit(index: int, row: dict) -> None:
        rows[index] = row
        tracker.record(row["status"], row["reused"])

    def fetchable_jobs() -> list[Job]:
        jobs.extend(_jobs(requests))
        for job in jobs:
            if job.error is not None:
                emit(job.index, result_row(job, None, job.error, False, 0))
        return [job for job in jobs if job.error is None]

    # Counted before the rows are checked, so that worker processes start importing meanwhile.
    processes = process_count(options, requests.height)
    if processes == 1:
        fetchable = fetchable_jobs()
        if fetchable:
            fetch_and_store(fetchable, emit, store_root=store_root, options=options)
    else:
        per_process = _per_process(options, processes)
        worker = functools.partial(fetch_and_store, store_root=store_root, options=per_process)

        def groups() -> list[list[Job]]:
            # A folder goes to one process, which alone sweeps it of stale temporary files.
            return group_by_owner(fetchable_jobs(), lambda job: job.folder)

        # Each process is kept twice its requests in flight ahead: enough that it never waits for the
        # parent's next hand-out (rows come back every 50 ms), few enough that all finish together.
        lost = run_in_processes(processes, groups, worker, lambda job: job.index, emit,
                                keep_ahead=2 * per_process.session.limit)
        for index, reason in lost.items():
            emit(index, result_row(jobs[index], None, reason, False, 0))
    tracker.finish()
    manifest = pl.DataFrame([r for r in rows if r is not None], schema=MANIFEST_SCHEMA, strict=False)
    return manifest.with_row_index("_order").sort(["image_id", "_order"], nulls_last=True).drop("_order")
