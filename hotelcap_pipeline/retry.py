"""The one retry policy of every HTTP path: exponential backoff with full jitter, capped, Retry-After honoured.

Retried: timeouts, connection errors, 408 (a timeout), 429 and 5xx. Never retried: other 4xx. A 429 or
503 that says ``Retry-After`` is waited for (seconds or an HTTP date, capped); every other wait is
drawn uniformly from ``[0, min(max_s, base_s * 2**(attempt-1))]`` so that many clients do not retry in
lockstep against a struggling host. Nothing here knows about aiohttp: callers turn their failures into
:class:`Retryable` inside the attempt.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")

# Statuses whose Retry-After the server means for us; on other statuses the header is ignored.
RETRY_AFTER_STATUSES = frozenset({429, 503})


class Retryable(Exception):
    """Raised by an attempt that may succeed if tried again; ``retry_after_s`` is the server's wish."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class RetriesExhausted(Exception):
    """Every allowed attempt failed with a retryable error; ``reason`` is the last one."""

    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(f"{reason} after {attempts} attempts")
        self.reason = reason
        self.attempts = attempts


@dataclass(frozen=True)
class RetryPolicy:
    retries: int = 3  # attempts after the first one
    base_s: float = 0.5
    max_s: float = 30.0
    retry_after_max_s: float = 60.0

    def delay(self, attempt: int, rng: random.Random, retry_after_s: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after_s is not None:
            return min(max(0.0, retry_after_s), self.retry_after_max_s)
        return rng.uniform(0.0, min(self.max_s, self.base_s * 2 ** (attempt - 1)))


def retryable_status(status: int) -> bool:
    return status in (408, 429) or status >= 500


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def status_retry(status: int, retry_after: str | None = None) -> Retryable | None:
    """The retry request for an HTTP status, or None when the status is not worth another attempt."""
    if not retryable_status(status):
        return None
    wait = parse_retry_after(retry_after) if status in RETRY_AFTER_STATUSES else None
    return Retryable(f"HTTP {status}", wait)


async def retry_async(
    attempt: Callable[[int], Awaitable[T]],
    policy: RetryPolicy,
    rng: random.Random | None = None,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_retry: Callable[[int, str, float], None] | None = None,
) -> T:
    """Call ``attempt(n)`` (n = 1, 2, ...) until it returns; only :class:`Retryable` leads to another try.

    Raises :class:`RetriesExhausted` after ``policy.retries + 1`` failed attempts; any other exception
    of ``attempt`` propagates at once. ``on_retry(n, reason, wait_s)`` hears of each failed attempt that
    is followed by another, so a slow failure is reported while it happens.
    """
    rng = rng or random.Random()
    n = 0
    while True:
        n += 1
        try:
            return await attempt(n)
        except Retryable as exc:
            if n > policy.retries:
                raise RetriesExhausted(exc.reason, n) from exc
            wait_s = policy.delay(n, rng, exc.retry_after_s)
            if on_retry is not None:
                on_retry(n, exc.reason, wait_s)
            await sleep(wait_s)
