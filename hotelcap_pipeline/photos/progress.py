"""Progress of a download run, reported at a bounded rate (every few seconds, and once at the end)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from hotelcap_pipeline.ratelimit import Interval

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProgressEvent:
    """Counts so far; ``final`` on the one event sent when every photo is done."""

    done: int
    ok: int
    failed: int
    reused: int
    remaining: int
    total: int
    elapsed_s: float
    rate_per_s: float
    final: bool

    def describe(self) -> str:
        return (f"photos: {self.done}/{self.total} done, {self.failed} failed, {self.reused} reused, "
                f"{self.remaining} left, {self.rate_per_s:.1f}/s")


# The one callback type of the photo stage: the Dagster asset logs to the run, the default to `logging`.
ProgressCallback = Callable[[ProgressEvent], None]


def log_progress(event: ProgressEvent) -> None:
    """Default callback: one log line per event."""
    logger.info(event.describe())


class ProgressTracker:
    """Counts outcomes and calls ``callback`` at most every ``interval_s`` seconds, plus a final event."""

    def __init__(self, total: int, callback: ProgressCallback | None, interval_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self._callback = callback or log_progress
        self._clock = clock
        self._start = clock()
        self._due = Interval(interval_s, clock, due_at_start=False)
        self.ok = self.failed = self.reused = 0

    def record(self, status: str, reused: bool) -> None:
        if status == "ok":
            self.ok += 1
        else:
            self.failed += 1
        self.reused += int(reused)
        if self._due.due():
            self._callback(self.snapshot(final=False))

    def snapshot(self, final: bool) -> ProgressEvent:
        done = self.ok + self.failed
        elapsed = max(self._clock() - self._start, 1e-9)
        return ProgressEvent(done=done, ok=self.ok, failed=self.failed, reused=self.reused,
                             remaining=self.total - done, total=self.total, elapsed_s=round(elapsed, 3),
                             rate_per_s=done / elapsed, final=final)

    def finish(self) -> ProgressEvent:
        event = self.snapshot(final=True)
        self._callback(event)
        return event
