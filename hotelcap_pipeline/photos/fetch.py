"""Fetch one photo's bytes: redirects checked hop by hop, limits enforced while streaming, retries.

Retried: timeouts, connection errors, 408, 429 and 5xx (``Retry-After`` honoured, capped). Not retried:
other 4xx, bodies that are not images or too large, redirect loops, refused addresses.
"""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from hotelcap_pipeline.http import (
    PermanentFetchError,
    SessionPolicy,
    describe_client_error,
    follow_redirects,
    is_refused,
    local_path_of,
)

# Servers often label photos loosely; these are decoded and judged by the decoder instead.
_AMBIGUOUS_TYPES = frozenset({"", "application/octet-stream", "binary/octet-stream", "application/binary"})


@dataclass(frozen=True)
class FetchLimits:
    total_timeout_s: float = 60.0
    stall_timeout_s: float = 20.0
    connect_timeout_s: float = 15.0
    max_body_bytes: int = 25_000_000
    max_redirects: int = 5
    retries: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 30.0
    retry_after_max_s: float = 60.0


@dataclass(frozen=True)
class FetchOutcome:
    data: bytes | None
    error: str | None
    attempts: int


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


def _megabytes(n: int) -> str:
    return f"{n / 1e6:g} MB"


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


class PhotoFetcher:
    """Fetches photo bytes over one shared session (http/https) or from local files."""

    def __init__(self, session: aiohttp.ClientSession, policy: SessionPolicy, limits: FetchLimits,
                 rng: random.Random | None = None) -> None:
        self._session = session
        self._policy = policy
        self._limits = limits
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=limits.total_timeout_s,
                                              sock_connect=limits.connect_timeout_s,
                                              sock_read=limits.stall_timeout_s)

    async def fetch(self, url: str) -> FetchOutcome:
        try:
            local = local_path_of(url)
        except ValueError as exc:
            return FetchOutcome(None, str(exc), 0)
        if local is not None:
            return await asyncio.to_thread(self._read_local, local)
        attempts = 0
        while True:
            attempts += 1
            try:
                return FetchOutcome(await self._attempt(URL(url)), None, attempts)
            except PermanentFetchError as exc:
                return FetchOutcome(None, str(exc), attempts)
            except _Retryable as exc:
                reason, retry_after = exc.reason, exc.retry_after_s
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if is_refused(exc):
                    return FetchOutcome(None, describe_client_error(exc), attempts)
                reason, retry_after = describe_client_error(exc), None
            if attempts > self._limits.retries:
                return FetchOutcome(None, f"{reason} after {attempts} attempts", attempts)
            await asyncio.sleep(self._delay(attempts, retry_after))

    def _delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self._limits.retry_after_max_s)
        # Full jitter keeps many clients from retrying in lockstep against a struggling host.
        ceiling = min(self._limits.backoff_max_s, self._limits.backoff_base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0.0, ceiling)

    async def _attempt(self, url: URL) -> bytes:
        limits = self._limits
        async with follow_redirects(self._session, self._policy, url, max_redirects=limits.max_redirects,
                                    timeout=self._timeout) as resp:
            if resp.status in (408, 429) or resp.status >= 500:
                raise _Retryable(f"HTTP {resp.status}", parse_retry_after(resp.headers.get("Retry-After")))
            if resp.status >= 300:
                raise PermanentFetchError(f"HTTP {resp.status}")
            content_type = resp.content_type.lower() if "Content-Type" in resp.headers else ""
            if not content_type.startswith("image/") and content_type not in _AMBIGUOUS_TYPES:
                raise PermanentFetchError(f"not an image ({content_type})")
            if resp.content_length is not None:
                if resp.content_length > limits.max_body_bytes:
                    raise PermanentFetchError(f"body larger than {_megabytes(limits.max_body_bytes)}")
                return await resp.read()  # the parser stops at Content-Length: no more can arrive
            body = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > limits.max_body_bytes:
                    raise PermanentFetchError(f"body larger than {_megabytes(limits.max_body_bytes)}")
            return bytes(body)

    def _read_local(self, path: Path) -> FetchOutcome:
        try:
            size = path.stat().st_size
            if size > self._limits.max_body_bytes:
                return FetchOutcome(None, f"file larger than {_megabytes(self._limits.max_body_bytes)}", 1)
            return FetchOutcome(path.read_bytes(), None, 1)
        except FileNotFoundError:
            return FetchOutcome(None, "file not found", 1)
        except OSError as exc:
            return FetchOutcome(None, f"file not readable ({exc.strerror})", 1)
