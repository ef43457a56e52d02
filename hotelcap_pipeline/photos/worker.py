"""Entry point of one photo worker process (started by ``parallel.run_in_processes``, not by users).

    main([ROW_FD, PARENT_PID]), with pickled messages on stdin: first ``(worker, items)`` (or None: nothing
    to do), then more lists of items as the parent hands them out, then None (no more)
"""

from __future__ import annotations

import gc
import os
import pickle
import sys
import threading
from multiprocessing.connection import Connection

# What the worker function needs (aiohttp, Pillow, simplejpeg), imported before the first items arrive, so it
# overlaps the parent checking and grouping the rows rather than following it.
import hotelcap_pipeline.photos.batch  # noqa: F401
from hotelcap_pipeline.photos.parallel import ItemStream, RowBatcher, exit_when_orphaned, keep_freed_memory

GC_THRESHOLD = 50_000  # container allocations between young-generation collections (CPython's default: 700)


def main(argv: list[str]) -> None:
    row_fd, parent_pid = argv
    threading.Thread(target=exit_when_orphaned, args=(int(parent_pid),), daemon=True).start()
    keep_freed_memory()
    first = pickle.load(sys.stdin.buffer)
    if first is None:
        return
    worker, items = first
    stream: ItemStream = ItemStream(items)
    threading.Thread(target=_read_more, args=(stream,), daemon=True).start()
    gc.freeze()  # modules and the first items live to the end: keep the collector from walking them per cycle
    # A photo's short-lived containers (the request, its futures, the row) are freed by reference counting;
    # at CPython's default threshold the collector still ran every ~17 photos and took ~0.7% of the CPU
    # (perf, 6,000 photos).
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    gc.enable()  # off while this process imported (see parallel._BOOT)
    with RowBatcher(Connection(int(row_fd), readable=False)) as rows:
        worker(stream, rows.add)
    # Every row is sent and the pipe closed. The parent waits for this process to exit, and the interpreter's
    # teardown of what it imported would hold it ~30 ms longer at the very end of a run.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _read_more(stream: ItemStream) -> None:
    """Add the parent's further lists of items to ``stream`` until it says there are no more."""
    try:
        while (items := pickle.load(sys.stdin.buffer)) is not None:
            stream.extend(items)
    except EOFError:
        pass  # the parent is gone; exit_when_orphaned ends this process
    finally:
        stream.close()
