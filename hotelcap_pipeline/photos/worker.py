"""Entry point of one photo worker process (started by ``parallel.run_in_processes``, not by users).

    main([ROW_FD, PARENT_PID]), with the pickled ``(worker, part)`` on stdin (None: nothing to do)
"""

from __future__ import annotations

import gc
import pickle
import sys
import threading
from multiprocessing.connection import Connection

import cv2

from hotelcap_pipeline.photos.parallel import RowBatcher, exit_when_orphaned, keep_freed_memory

GC_THRESHOLD = 50_000  # container allocations between young-generation collections (CPython's default: 700)


def main(argv: list[str]) -> None:
    row_fd, parent_pid = argv
    threading.Thread(target=exit_when_orphaned, args=(int(parent_pid),), daemon=True).start()
    keep_freed_memory()
    # The process already runs one decode thread per core share; OpenCV's own pool on top would oversubscribe.
    cv2.setNumThreads(1)
    job = pickle.load(sys.stdin.buffer)  # sent once this process has imported what it needs
    if job is None:
        return
    worker, part = job
    gc.freeze()  # modules and the part live to the end: keep the collector from walking them per cycle
    # A photo's short-lived containers (the request, its futures, the row) are freed by reference counting;
    # at CPython's default threshold the collector still ran every ~17 photos and took ~0.7% of the CPU
    # (perf, 6,000 photos).
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    with RowBatcher(Connection(int(row_fd), readable=False)) as rows:
        worker(part, rows.add)
