"""The worker processes' plumbing: work handed out as workers drain, items streamed to a worker's event loop,
rows back to the parent in batches, in order, none lost on exit."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection

from hotelcap_pipeline.photos.parallel import HandOut, ItemStream, RowBatcher, group_by_owner


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


def test_group_by_owner_keeps_owners_together_largest_first_in_order() -> None:
    items = [(owner, i) for i, owner in enumerate([2, 0, 1, 0, 2, 0])]
    assert group_by_owner(items, lambda item: item[0]) == [[(0, 1), (0, 3), (0, 5)], [(2, 0), (2, 4)], [(1, 2)]]


def _simulate(speeds: list[int], groups: list[list[int]], keep_ahead: int) -> tuple[list[list[int]], list[int]]:
    """Workers finishing ``speeds[n]`` items per tick; returns what each got and the tick each finished."""
    hand_out = HandOut(groups, len(speeds), keep_ahead)
    got: list[list[int]] = [hand_out.share(n) for n in range(len(speeds))]
    queues = [list(items) for items in got]
    finished_at = [0] * len(speeds)
    tick = 0
    while any(queues) or not hand_out.exhausted:
        tick += 1
        for n, speed in enumerate(speeds):
            done, queues[n] = queues[n][:speed], queues[n][speed:]
            hand_out.finished(n, len(done))
            if done:
                finished_at[n] = tick
            more = hand_out.share(n)
            got[n] += more
            queues[n] += more
        assert tick < 10_000
    return got, finished_at


def test_hand_out_gives_a_faster_worker_more_and_both_finish_together() -> None:
    groups = [[g * 20 + i for i in range(20)] for g in range(300)]  # 300 folders of 20 photos
    got, finished_at = _simulate([3, 1], groups, keep_ahead=16)
    assert sorted(i for items in got for i in items) == list(range(6000))  # each item handed out once
    assert 4200 < len(got[0]) < 4800  # ~3/4 to the worker three times as fast
    assert abs(finished_at[0] - finished_at[1]) <= 20 + 16  # at most a group and the reserve apart
    for items in got:  # groups stay whole
        assert all(i // 20 not in {j // 20 for j in other} for other in got if other is not items for i in items)


def test_hand_out_sends_large_shares_first_and_single_groups_last() -> None:
    hand_out = HandOut([[g] * 10 for g in range(100)], workers=2, keep_ahead=10)
    first = hand_out.share(0)
    assert len(first) == 250  # half of an even split of 1,000
    assert hand_out.share(0) == []  # it holds more than keep_ahead
    shares = []
    while not hand_out.exhausted:
        hand_out.finished(1, hand_out.unfinished[1])
        shares.append(len(hand_out.share(1)))
    assert shares[0] > shares[-1] == 10
    assert hand_out.unsent() == []


def test_hand_out_with_nothing_to_do_is_exhausted_at_once() -> None:
    hand_out: HandOut[int] = HandOut([[], []], workers=2, keep_ahead=0)
    assert hand_out.exhausted and hand_out.share(0) == []


def test_item_stream_delivers_items_added_from_another_thread_once_each() -> None:
    stream: ItemStream[int] = ItemStream([0, 1])

    def feed() -> None:
        for start in range(2, 200, 10):
            time.sleep(0.002)
            stream.extend(range(start, start + 10))
        stream.close()

    async def take_all() -> list[int]:
        taken: list[int] = []

        async def taker() -> None:
            while (item := await stream.next()) is not None:
                taken.append(item)
                await asyncio.sleep(0)

        feeder = threading.Thread(target=feed)
        feeder.start()
        await asyncio.gather(*(taker() for _ in range(5)))
        feeder.join()
        return taken

    taken = asyncio.run(take_all())
    assert sorted(taken) == list(range(202))


def test_a_closed_empty_item_stream_ends_at_once() -> None:
    assert asyncio.run(ItemStream([], closed=True).next()) is None


def test_a_worker_process_imports_neither_polars_nor_dagster() -> None:
    # Each worker pays its imports once per run, on every core at once; polars alone took ~0.1 s of 0.4 s.
    probe = ("import sys; import hotelcap_pipeline.photos.worker, hotelcap_pipeline.photos.batch; "
             "print(sorted(m for m in ('polars', 'dagster', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
