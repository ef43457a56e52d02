"""When a rate-limited action (a progress line in the run's log) is due: every few seconds, and the last one."""

from __future__ import annotations

import math
import time
from collections.abc import Callable


class Interval:
    """Due at most once every ``seconds``, counted from the first call (``due_at_start``) or from creation,
    and always for the final call."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic, *,
                 due_at_start: bool = True) -> None:
        self._seconds = seconds
        self._clock = clock
        self._last = -math.inf if due_at_start else clock()

    def due(self, final: bool = False) -> bool:
        now = self._clock()
        if final or now - self._last >= self._seconds:
            self._last = now
            return True
        return False
