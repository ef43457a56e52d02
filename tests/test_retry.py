"""The one retry policy both HTTP paths use."""

from __future__ import annotations

import asyncio
import random

import pytest

from hotelcap_pipeline.retry import (
    RetriesExhausted,
    Retryable,
    RetryPolicy,
    parse_retry_after,
    retry_async,
    status_retry,
)


def test_waits_are_jittered_capped_and_seeded() -> None:
    policy = RetryPolicy(retries=5, base_s=1.0, max_s=4.0)
    waits = [policy.delay(n, random.Random(7)) for n in range(1, 6)]
    assert waits == [policy.delay(n, random.Random(7)) for n in range(1, 6)]
    assert all(0.0 <= w <= min(4.0, 2 ** (n - 1)) for n, w in enumerate(waits, start=1))
    assert policy.delay(1, random.Random(0), retry_after_s=120.0) == policy.retry_after_max_s


def test_which_statuses_are_retried() -> None:
    assert status_retry(404) is None and status_retry(400) is None and status_retry(403) is None
    assert status_retry(408) is not None and status_retry(500) is not None
    assert status_retry(429, "7").retry_after_s == 7.0
    assert status_retry(500, "7").retry_after_s is None  # Retry-After counts only on 429 and 503
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=0.0) > 0
    assert parse_retry_after("soon") is None


def test_retry_async_gives_up_after_the_allowed_attempts_and_passes_other_errors() -> None:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    async def always_busy(n: int) -> str:
        raise Retryable("HTTP 503", retry_after_s=1.0)

    with pytest.raises(RetriesExhausted, match="HTTP 503 after 3 attempts"):
        asyncio.run(retry_async(always_busy, RetryPolicy(retries=2), random.Random(0), sleep))
    assert waits == [1.0, 1.0]

    async def second_time_lucky(n: int) -> int:
        if n == 1:
            raise Retryable("timeout")
        return n

    assert asyncio.run(retry_async(second_time_lucky, RetryPolicy(), random.Random(0), sleep)) == 2

    async def broken(n: int) -> None:
        raise ValueError("not an image")

    with pytest.raises(ValueError):
        asyncio.run(retry_async(broken, RetryPolicy(), random.Random(0), sleep))
