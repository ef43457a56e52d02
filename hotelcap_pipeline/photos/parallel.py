"""Spread a download over worker processes, one event loop each, and collect their rows in the parent.

One process with threads for the CPU work tops out near 70% of the 2-core ceiling: the event loop and the
resize threads queue for the GIL, and glibc hands freed image buffers back to the kernel only to fault
them in again (benchmarks/bench_download.py). Worker processes avoid both; each owns whole directories,
so the stale-temp sweep of one can never delete another's half-written file.

Workers are plain subprocesses running ``hotelcap_pipeline.photos.worker``, not ``multiprocessing``
children: those re-import the caller's main script, which hangs or recurses in a script without a
``__main__`` guard. Workers start first and import while the parent groups the work. The parent then
hands the groups out as the workers drain them (``_Feeder`` writes to a worker's stdin; the worker's
``ItemStream`` takes them on its event loop), so a worker that runs slower (a busier core, larger photos,
a slower host) gets less, and all finish together. Rows come back over a pipe in small batches
(``RowBatcher``, every 50 ms; one message per row woke the parent for every photo); progress and the
manifest stay in the parent. Photos of a worker that died, including any whose batch it had not sent, are
returned as lost, with its exit code, for the caller to record as failed rows (a rerun reuses the files
they left).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import ctypes
import math
import os
import pickle
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Generic, TypeVar, cast

T = TypeVar("T")
Emit = Callable[[int, dict], None]

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])
# Appended, not put on PYTHONPATH: the package is found wherever the caller found it, and nothing in its
# folder can shadow the standard library.
# The collector stays off while the worker imports (it would walk the growing module graph ~10 ms' worth);
# the worker turns it back on once its first items have arrived.
_BOOT = ("import gc; gc.disable(); import sys; sys.path.append(sys.argv[1]); "
         "from hotelcap_pipeline.photos.worker import main; main(sys.argv[2:])")


def group_by_owner(items: Iterable[T], owner: Callable[[T], Hashable]) -> list[list[T]]:
    """``items`` grouped by owner (a group goes to one worker process), largest groups first, each in order."""
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(owner(item), []).append(item)
    return sorted(groups.values(), key=len, reverse=True)


class ItemStream(Generic[T]):
    """Items that keep arriving while they are worked on: added from any thread, taken on one event loop.

    ``next()`` returns the next item, waits while none is there, and returns None once the stream is closed
    and empty. Any number of coroutines of one loop may take from it.
    """

    def __init__(self, items: Iterable[T] = (), closed: bool = False) -> None:
        self._items: collections.deque[T] = collections.deque(items)
        self._closed = closed
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    def extend(self, items: Iterable[T]) -> None:
        with self._lock:
            self._items.extend(items)
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            waiters, self._waiters = self._waiters, []
        self._wake(waiters)

    @staticmethod
    def _wake(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]]) -> None:
        for loop, waiter in waiters:
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
                loop.call_soon_threadsafe(_set_done, waiter)

    async def next(self) -> T | None:
        while True:
            with self._lock:
                if self._items:
                    return self._items.popleft()
                if self._closed:
                    return None
                loop = asyncio.get_running_loop()
                waiter = loop.create_future()
                self._waiters.append((loop, waiter))
            await waiter


def _set_done(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


# Picklable: a top-level function or a functools.partial of one. It returns once the stream is closed and
# every item in it has its row.
StreamWorker = Callable[[ItemStream, Emit], None]


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


class _Feeder:
    """Writes a worker's messages to its stdin from a thread of its own, so that a worker still importing
    (or stuck) never stalls the parent's relay loop. ``end()`` closes the stream: the worker finishes what
    it holds and exits."""

    def __init__(self, process: subprocess.Popen) -> None:
        self._process = process
        self._messages: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._ended = False
        self._thread = threading.Thread(target=self._write, daemon=True)
        self._thread.start()

    def send(self, message: object) -> None:
        if not self._ended:
            self._messages.put(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def end(self) -> None:
        if not self._ended:
            self._messages.put(pickle.dumps(None))
            self._messages.put(None)
            self._ended = True

    def join(self) -> None:
        self._thread.join()

    def _write(self) -> None:
        # A worker that died is found by its closed row pipe, and its items are reported lost.
        stdin = self._process.stdin
        assert stdin is not None
        with contextlib.suppress(OSError), stdin:
            while (message := self._messages.get()) is not None:
                stdin.write(message)
                stdin.flush()


class HandOut(Generic[T]):
    """Which groups of items go to which worker, and when (guided self-scheduling).

    A worker is topped up whenever fewer than ``keep_ahead`` of its items are unfinished, with a share that
    shrinks as the work runs out (half of an even split of what is left): the first shares are large, the
    last ones single groups, so a faster worker takes more and all of them finish together. A group
    is never split.
    """

    def __init__(self, groups: Iterable[Sequence[T]], workers: int, keep_ahead: int) -> None:
        self._waiting = collections.deque(group for group in groups if group)
        self._remaining = sum(len(group) for group in self._waiting)
        self._workers = max(1, workers)
        self._keep_ahead = max(1, keep_ahead)  # zero would leave a drained worker waiting forever
        self.unfinished = [0] * self._workers

    @property
    def exhausted(self) -> bool:
        return not self._waiting

    def share(self, worker: int) -> list[T]:
        """The items to hand ``worker`` now (none while it holds enough or nothing is left)."""
        items: list[T] = []
        if self.unfinished[worker] >= self._keep_ahead:
            return items
        want = max(self._keep_ahead - self.unfinished[worker], math.ceil(self._remaining / (2 * self._workers)))
        while self._waiting and len(items) < want:
            items.extend(self._waiting.popleft())
        self._remaining -= len(items)
        self.unfinished[worker] += len(items)
        return items

    def finished(self, worker: int, count: int = 1) -> None:
        self.unfinished[worker] -= count

    def unsent(self) -> list[T]:
        return [item for group in self._waiting for item in group]


def run_in_processes(processes: int, groups: Callable[[], Sequence[Sequence[T]]], worker: StreamWorker,
                     index_of: Callable[[T], int], emit: Emit, keep_ahead: int) -> dict[int, str]:
    """Start ``processes`` workers, then call ``groups()`` for the work while they import: lists of items
    that must go to the same process, largest first. Run ``worker(stream, emit)`` in each process, hand the
    groups out as the workers drain (``HandOut``), and relay the rows to ``emit``.

    Returns ``{index: reason}`` for the items whose worker ended before reporting them, and for any left
    unsent because every worker had ended.
    """
    started: list[subprocess.Popen] = []
    feeders: list[_Feeder] = []
    open_pipes: dict[Connection, int] = {}
    pending: set[int] = set()
    owner: dict[int, int] = {}
    hand_out: HandOut[T] = HandOut((), processes, keep_ahead)
    finished = False

    def top_up(n: int, first: bool = False) -> None:
        items = hand_out.share(n)
        for item in items:
            index = index_of(item)
            owner[index] = n
            pending.add(index)
        if items:
            feeders[n].send((worker, items) if first else items)
        if hand_out.exhausted:  # a first share is empty only here: the worker reads the end and exits
            for feeder in feeders:
                feeder.end()

    try:
        for n in range(processes):
            process, pipe = _spawn()
            started.append(process)
            open_pipes[pipe] = n
            feeders.append(_Feeder(process))
        hand_out = HandOut(groups(), processes, keep_ahead)
        for n in range(processes):
            top_up(n, first=True)
        while open_pipes:
            for ready in wait(list(open_pipes)):
                pipe = cast(Connection, ready)  # wait() returns some of the objects it was given
                n = open_pipes[pipe]
                try:
                    batch = pipe.recv()
                except EOFError:
                    del open_pipes[pipe]
                    pipe.close()
                    continue
                for index, row in batch:
                    if index in pending:
                        pending.discard(index)
                        hand_out.finished(n)
                        emit(index, row)
                if not hand_out.exhausted:
                    top_up(n)
        finished = True
    finally:
        for feeder in feeders:
            feeder.end()
        for process in started:
            if process.poll() is None and not finished:
                process.terminate()
        for process in started:
            process.wait()
        for feeder in feeders:
            feeder.join()
        for pipe in open_pipes:
            pipe.close()
    lost = {index: f"photo worker process ended (exit code {started[owner[index]].returncode}) before "
                   "this photo was done" for index in sorted(pending)}
    codes = ", ".join(str(process.returncode) for process in started)
    for item in hand_out.unsent():
        lost[index_of(item)] = f"every photo worker process ended (exit codes {codes}) before this photo was handed out"
    return lost
