"""Fetch one photo's bytes: redirects checked hop by hop, limits enforced while streaming, retries.

Retries follow the shared policy of :mod:`hotelcap_pipeline.retry`. Not retried: other 4xx, bodies
that are not images or too large, redirect loops and bad Locations, refused addresses, untrusted TLS
certificates, responses aiohttp cannot parse.
"""

from __future__ import annotations

import asyncio
import errno
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from yarl import URL

from hotelcap_pipeline.http import (
    IDENTITY_ENCODING,
    PermanentFetchError,
    SessionPolicy,
    as_retry_failure,
    follow_redirects,
    local_path_of,
    read_capped,
)
from hotelcap_pipeline.retry import RetriesExhausted, RetryPolicy, retry_async, status_retry
from hotelcap_pipeline.retry import parse_retry_after as parse_retry_after  # re-exported for callers

LOCAL_FILES_HINT = ("the dataset is remote; set HOTELCAP_ALLOW_LOCAL_FILES=1 (or a list of folders) to let "
                    "its rows name local files")
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

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(self.retries, self.backoff_base_s, self.backoff_max_s, self.retry_after_max_s)


@dataclass(frozen=True)
class FetchOutcome:
    data: bytes | None
    error: str | None
    attempts: int


def _megabytes(n: int) -> str:
    return f"{n / 1e6:g} MB"


class PhotoFetcher:
    """Fetches photo bytes over one shared session (http/https) or from local files."""

    def __init__(self, session: aiohttp.ClientSession, policy: SessionPolicy, limits: FetchLimits,
                 rng: random.Random | None = None, local_roots: Sequence[str | Path] = ()) -> None:
        self._session = session
        # Local files are read only under these folders; none: a dataset's local paths are refused.
        self._local_roots = tuple(Path(os.path.realpath(r)) for r in local_roots)
        self._policy = policy
        self._limits = limits
        self._rng = rng or random.Random()
        self._timeout = aiohttp.ClientTimeout(total=limits.total_timeout_s,
                                              sock_connect=limits.connect_timeout_s,
                                              sock_read=limits.stall_timeout_s)
        # One slot per connection the connector allows a host: an attempt waits here, before its total
        # timeout starts, instead of in the connector's queue, where a slow host's photos timed out unsent.
        self._host_slots: dict[tuple[str | None, int | None], asyncio.Semaphore] = {}

    async def fetch(self, url: str) -> FetchOutcome:
        try:
            local = local_path_of(url)
        except ValueError as exc:
            return FetchOutcome(None, str(exc), 0)
        if local is not None:
            return await asyncio.to_thread(self._read_local, local)
        try:
            parsed = URL(url)
        except ValueError as exc:  # "Invalid IPv6 URL": no request can be made
            return FetchOutcome(None, f"invalid URL ({exc})", 0)
        host = (parsed.host, parsed.port)
        slot = self._host_slots.get(host)
        if slot is None:
            # 0 is aiohttp's "no per-host limit".
            slot = asyncio.Semaphore(max(1, self._policy.limit_per_host or self._policy.limit))
            self._host_slots[host] = slot
        attempts = 0

        async def once(n: int) -> bytes:
            nonlocal attempts
            attempts = n
            try:
                async with slot:  # held for one attempt only, not across the back-off between attempts
                    return await self._attempt(parsed)
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                raise as_retry_failure(exc, self._policy.insecure_setting) from exc

        try:
            data = await retry_async(once, self._limits.retry_policy, self._rng)
        except PermanentFetchError as exc:
            return FetchOutcome(None, str(exc), attempts)
        except RetriesExhausted as exc:
            return FetchOutcome(None, str(exc), exc.attempts)
        return FetchOutcome(data, None, attempts)

    async def _attempt(self, url: URL) -> bytes:
        limits = self._limits
        async with follow_redirects(self._session, self._policy, url, IDENTITY_ENCODING,
                                    max_redirects=limits.max_redirects, timeout=self._timeout) as resp:
            retry = status_retry(resp.status, resp.headers.get("Retry-After"))
            if retry is not None:
                raise retry
            if resp.status >= 300:
                raise PermanentFetchError(f"HTTP {resp.status}")
            content_type = resp.content_type.lower() if "Content-Type" in resp.headers else ""
            if not content_type.startswith("image/") and content_type not in _AMBIGUOUS_TYPES:
                raise PermanentFetchError(f"not an image ({content_type})")
            too_large = PermanentFetchError(f"body larger than {_megabytes(limits.max_body_bytes)}")
            if resp.content_length is not None and resp.content_length > limits.max_body_bytes:
                raise too_large
            if resp.content_length is not None and resp.headers.get("Content-Encoding", "identity").lower() in (
                    "", "identity"):
                # An uncompressed body is exactly Content-Length bytes, checked above: one read, one copy.
                return await resp.read()
            # Content-Length counts the bytes on the wire; a compressed body can inflate far beyond it, so the
            # cap is applied to the decoded stream (aiohttp inflates it in bounded steps as it is read).
            body = bytearray()
            async for chunk in resp.content.iter_chunked(1 << 16):
                body += chunk
                if len(body) > limits.max_body_bytes:
                    raise too_large
            return bytes(body)

    def _read_local(self, path: Path) -> FetchOutcome:
        if not self._local_roots:
            return FetchOutcome(None, f"local file refused: {LOCAL_FILES_HINT}", 0)
        real = Path(os.path.realpath(path))  # symlinks and '..' resolved before the folder check
        if not any(real == root or root in real.parents for root in self._local_roots):
            return FetchOutcome(None, "local file outside the allowed folders ("
                                + ", ".join(str(r) for r in self._local_roots) + ")", 0)
        try:
            return FetchOutcome(read_capped(real, self._limits.max_body_bytes), None, 1)
        except FileNotFoundError:
            return FetchOutcome(None, "file not found", 1)
        except OSError as exc:
            if exc.errno == errno.EFBIG:
                return FetchOutcome(None, f"file larger than {_megabytes(self._limits.max_body_bytes)}", 1)
            return FetchOutcome(None, f"file not readable ({exc.strerror})", 1)


def local_file_roots(dataset: str, allowed: Sequence[str] = ()) -> tuple[str, ...]:
    """The folders a dataset's rows may name local files under: those the user allowed, plus, for a
    dataset that is itself local (a folder or an archive on disk), the folder it lives in."""
    roots = list(allowed)
    try:
        local = local_path_of(dataset)
    except ValueError:
        local = None
    if local is not None:
        roots.append(str(local if local.is_dir() else local.parent))
    return tuple(dict.fromkeys(roots))
