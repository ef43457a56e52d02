"""Spread a download over worker processes, one event loop each, and collect their rows in the parent.

One process with threads for the CPU work tops out near 70% of the 2-core ceiling: the event loop and the
resize threads queue for the GIL, and glibc hands freed image buffers back to the kernel only to fault
them in again (benchmarks/bench_download.py). Worker processes avoid both; each owns whole directories,
so the stale-temp sweep of one can never delete another's half-written file.

Workers are plain subprocesses running ``hotelcap_pipeline.photos.worker``, not ``multiprocessing``
children: those re-import the caller's main script, which hangs or recurses in a script without a
``__main__`` guard. Workers start first and import while the parent splits the work; a worker then
reads its part from its stdin and sends its rows over a pipe in small batches
(``RowBatcher``, every 50 ms; one message per row woke the parent for every photo); progress and the
manifest stay in the parent. Photos of a worker that died, including any whose batch it had not sent, are
returned as lost, with its exit code, for the caller to record as failed rows (a rerun reuses the files
they left).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import pickle
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Hashable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TypeVar, cast

Emit = Callable[[int, dict], None]
# Picklable: a top-level function or a functools.partial of one.
PartWorker = Callable[[Sequence, Emit], None]
T = TypeVar("T")

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# Appended, not put on PYTHONPATH: the package is found wherever the caller found it, and nothing in its
# folder can shadow the standard library.
# The collector stays off while the worker imports (it would walk the growing module graph ~10 ms' worth);
# the worker turns it back on once its part has arrived.
_BOOT = ("import gc; gc.disable(); import sys; sys.path.append(sys.argv[1]); "
         "from hotelcap_pipeline.photos.worker import main; main(sys.argv[2:])")


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
        mallopt = ctypes.CDLL(None).mallopt  # the C library already loaded into this process
    except (OSError, AttributeError):
        return
    mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    mallopt(_M_MMAP_THRESHOLD, 32 << 20)  # glibc's largest accepted value


def exit_when_orphaned(parent_pid: int, interval_s: float = 0.5) -> None:
    """Loop (in a daemon thread) until the parent is gone, then exit: a parent killed with SIGKILL
    cannot stop its workers, so they notice within ``interval_s`` and stop writing."""
    while True:
        time.sleep(interval_s)
        if os.getppid() != parent_pid:
            os._exit(1)


class RowBatcher:
    """Collects ``(index, row)`` pairs from any thread and sends them as lists every ``interval_s``.

    Used as a context manager: leaving it sends what is left and closes the connection.
    """

    def __init__(self, connection: Connection, interval_s: float = 0.05) -> None:
        self._connection = connection
        self._interval_s = interval_s
        self._rows: list[tuple[int, dict]] = []
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._sender = threading.Thread(target=self._send_every_interval, daemon=True)

    def add(self, index: int, row: dict) -> None:
        with self._lock:
            self._rows.append((index, row))

    def _flush(self) -> None:
        with self._lock:
            rows, self._rows = self._rows, []
            if rows:  # sent under the lock: batches leave in order and never interleave
                self._connection.send(rows)

    def _send_every_interval(self) -> None:
        while not self._done.wait(self._interval_s):
            self._flush()

    def __enter__(self) -> RowBatcher:
        self._sender.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._done.set()
        self._sender.join()
        self._flush()
        self._connection.close()


def _spawn() -> tuple[subprocess.Popen, Connection]:
    read_fd, write_fd = os.pipe()
    try:
        process = subprocess.Popen(
            [sys.executable, "-c", _BOOT, _PACKAGE_ROOT, str(write_fd), str(os.getpid())],
            pass_fds=(write_fd,), stdin=subprocess.PIPE,
            # Workers do no linear algebra; numpy's OpenBLAS would start a thread per core at import, which
            # spun for ~0.4% of the run's CPU (perf, 6,000 photos). A worker already runs one decode thread
            # per core share, so OpenCV's own pool (used by the resize, imported when first needed) would
            # oversubscribe.
            env={**os.environ, "OPENBLAS_NUM_THREADS": "1", "OPENCV_FOR_THREADS_NUM": "1"},
        )
    except BaseException:
        os.close(read_fd)
        raise
    finally:
        os.close(write_fd)  # the worker holds the only write end: its exit is our end of file
    return process, Connection(read_fd, writable=False)


def _send_part(process: subprocess.Popen, payload: bytes) -> None:
    # Waits until the worker has finished importing and reads; a worker that died meanwhile is found by its
    # closed row pipe, and its photos are reported lost.
    assert process.stdin is not None
    with contextlib.suppress(OSError), process.stdin:
        process.stdin.write(payload)


def run_in_processes(processes: int, split: Callable[[], Sequence[Sequence[T]]], worker: PartWorker,
                     index_of: Callable[[T], int], emit: Emit) -> dict[int, str]:
    """Start ``processes`` workers, then call ``split()`` for their parts (at most ``processes``) while
    they import; run ``worker(part, emit)`` on each part in its own process and relay the rows to ``emit``.

    Returns ``{index: reason}`` for the items whose worker ended before reporting them.
    """
    started: list[subprocess.Popen] = []
    open_pipes: list[Connection] = []
    pending: set[int] = set()
    owner: dict[int, int] = {}
    senders: list[threading.Thread] = []
    try:
        for _ in range(processes):
            process, pipe = _spawn()
            started.append(process)
            open_pipes.append(pipe)
        parts = list(split())
        if len(parts) > processes:
            raise ValueError(f"run_in_processes: {len(parts)} parts for {processes} processes")
        owner = {index_of(item): n for n, part in enumerate(parts) for item in part}
        pending = set(owner)
        payloads = [pickle.dumps((worker, part), protocol=pickle.HIGHEST_PROTOCOL) for part in parts]
        payloads += [pickle.dumps(None)] * (processes - len(parts))  # nothing to do: the worker exits
        senders = [threading.Thread(target=_send_part, args=(process, payload), daemon=True)
                   for process, payload in zip(started, payloads, strict=True)]
        for sender in senders:
            sender.start()
        while open_pipes:
            for ready in wait(open_pipes):
                pipe = cast(Connection, ready)  # wait() returns some of the objects it was given
                try:
                    batch = pipe.recv()
                except EOFError:
                    open_pipes.remove(pipe)
                    pipe.close()
                    continue
                for index, row in batch:
                    if index in pending:
                        pending.discard(index)
                        emit(index, row)
    finally:
        for process in started:
            if process.poll() is None and (pending or not senders):
                process.terminate()
        for process in started:
            process.wait()
        for sender in senders:
            sender.join()
        for pipe in open_pipes:
            pipe.close()
    return {index: f"photo worker process ended (exit code {started[owner[index]].returncode}) before "
                   "this photo was done" for index in sorted(pending)}
