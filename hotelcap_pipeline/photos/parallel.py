"""Spread a download over worker processes, one event loop each, and collect their rows in the parent.

One process with threads for the CPU work tops out near 70% of the 2-core ceiling: the event loop and the
resize threads queue for the GIL, and glibc hands freed image buffers back to the kernel only to fault
them in again (benchmarks/bench_download.py). Worker processes avoid both; each owns whole directories,
so the stale-temp sweep of one can never delete another's half-written file.

Rows travel to the parent one message each (a single pipe write, so a worker killed mid-send cannot tear
one), which keeps progress reporting and the manifest in the parent. Photos of a worker that died are
returned as lost, with its exit code, for the caller to record as failed rows.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import queue
import sys
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

Emit = Callable[[int, dict], None]
# Picklable: a top-level function or a functools.partial of one.
PartWorker = Callable[[Sequence, Emit], None]
T = TypeVar("T")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


def split_by_owner(items: Sequence[T], owner: Callable[[T], Hashable], parts: int) -> list[list[T]]:
    """Split ``items`` into at most ``parts`` lists; items with the same owner stay together.

    Owners are placed largest first on the least-loaded list (LPT), so lists come out nearly equal.
    """
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(owner(item), []).append(item)
    buckets: list[list[T]] = [[] for _ in range(max(1, parts))]
    for group in sorted(groups.values(), key=len, reverse=True):
        min(buckets, key=len).extend(group)
    return [b for b in buckets if b]


def keep_freed_memory() -> None:
    """Keep freed heap memory in this process instead of returning (and re-faulting) it per photo.

    Decoding a photo allocates a few MB that glibc would trim back to the kernel after each one; in a
    worker process that only handles photos, holding on to it saves ~1/3 of the system time. No-op
    where the C library has no ``mallopt`` (macOS, musl).
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest accepted value


def _exit_when_orphaned(parent_pid: int, interval_s: float = 0.5) -> None:
    # A parent killed with SIGKILL cannot stop its workers; they notice and stop within interval_s.
    while True:
        time.sleep(interval_s)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_main(worker: PartWorker, part: Sequence, rows: multiprocessing.Queue, parent_pid: int) -> None:
    threading.Thread(target=_exit_when_orphaned, args=(parent_pid,), daemon=True).start()
    keep_freed_memory()
    worker(part, lambda index, row: rows.put((index, row)))


def run_in_processes(parts: Sequence[Sequence], worker: PartWorker, index_of: Callable[[object], int],
                     emit: Emit, poll_s: float = 0.5) -> dict[int, str]:
    """Run ``worker(part, emit)`` for each part in its own spawned process; relay rows to ``emit``.

    Returns ``{index: reason}`` for the items whose worker ended before reporting them.
    """
    context = multiprocessing.get_context("spawn")  # forking a process with threads (polars, loops) is unsafe
    rows: multiprocessing.Queue = context.Queue()
    owner = {index_of(item): n for n, part in enumerate(parts) for item in part}
    processes = [
        context.Process(target=_worker_main, args=(worker, part, rows, os.getpid()),
                        name=f"hotelcap-photos-{n}", daemon=True)
        for n, part in enumerate(parts)
    ]
    pending = set(owner)
    try:
        for process in processes:
            process.start()
        while pending:
            try:
                index, row = rows.get(timeout=poll_s)
            except queue.Empty:
                if all(p.exitcode is not None for p in processes):
                    break  # every worker is gone and the pipe is drained
                continue
            if index in pending:
                pending.discard(index)
                emit(index, row)
    finally:
        for process in processes:
            if process.is_alive() and pending:
                process.terminate()
        for process in processes:
            process.join()
        rows.close()
    return {index: f"photo worker process ended (exit code {processes[owner[index]].exitcode}) before this "
                   "photo was done" for index in sorted(pending)}
