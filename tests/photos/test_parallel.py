"""The worker processes' plumbing: rows reach the parent in batches, in order, and none is lost on exit."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from hotelcap_pipeline.photos.parallel import RowBatcher, split_by_owner


def _pipe() -> tuple[Connection, Connection]:
    read_fd, write_fd = os.pipe()
    return Connection(read_fd, writable=False), Connection(write_fd, readable=False)


def _received(reader: Connection) -> list[list[tuple[int, dict]]]:
    batches = []
    while True:
        try:
            batches.append(reader.recv())
        except EOFError:
            return batches


def test_rows_from_several_threads_arrive_once_each_in_the_order_added() -> None:
    reader, writer = _pipe()
    batches: list[list[tuple[int, dict]]] = []
    receiving = threading.Thread(target=lambda: batches.extend(_received(reader)))
    receiving.start()
    with RowBatcher(writer, interval_s=0.001) as rows:
        def add(start: int) -> None:
            for i in range(start, start + 500):
                rows.add(i, {"n": i})
                if i % 100 == 0:
                    time.sleep(0.002)  # let the sender run between adds

        threads = [threading.Thread(target=add, args=(k * 1000,)) for k in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    receiving.join()
    got = [index for batch in batches for index, _ in batch]
    assert sorted(got) == [k * 1000 + i for k in range(3) for i in range(500)]
    for k in range(3):  # each thread's rows keep their order
        mine = [i for i in got if i // 1000 == k]
        assert mine == sorted(mine)
    assert len(batches) > 1  # sent while rows were still being added, not all at the end


def test_rows_added_just_before_exit_are_sent_and_the_connection_closed() -> None:
    reader, writer = _pipe()
    with RowBatcher(writer, interval_s=60.0) as rows:
        rows.add(7, {"status": "ok"})
    assert _received(reader) == [[(7, {"status": "ok"})]]


def test_split_by_owner_keeps_owners_together_and_balances_parts() -> None:
    items = [(owner, i) for owner, size in enumerate([5, 4, 3, 3, 1]) for i in range(size)]
    parts = split_by_owner(items, lambda item: item[0], 2)
    assert sorted(len(p) for p in parts) == [8, 8]
    for part in parts:
        owners = {o for o, _ in part}
        assert all(o not in {x for x, _ in other} for other in parts if other is not part for o in owners)


def test_a_worker_process_imports_neither_polars_nor_dagster() -> None:
    # Each worker pays its imports once per run, on every core at once; polars alone took ~0.1 s of 0.4 s.
    probe = ("import sys; import hotelcap_pipeline.photos.worker, hotelcap_pipeline.photos.batch; "
             "print(sorted(m for m in ('polars', 'dagster', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
