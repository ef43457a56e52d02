"""Request tables and options shared by the photo tests."""

from __future__ import annotations

import dataclasses
from dataclasses import replace

import polars as pl

from hotelcap_pipeline.http import SessionPolicy
from hotelcap_pipeline.photos import DownloadOptions, ResizeSpec
from hotelcap_pipeline.photos.fetch import FetchLimits

FAST = DownloadOptions(
    fetch=FetchLimits(total_timeout_s=5, stall_timeout_s=0.5, connect_timeout_s=2, retries=1, backoff_base_s=0.01,
                      retry_after_max_s=5, max_body_bytes=1_000_000, max_redirects=3),
    resize=ResizeSpec(max_pixels=10_000_000),
    session=SessionPolicy(limit=8, limit_per_host=8),
    processes=1, cpu_workers=2, progress_interval_s=0,
)
# Short names the tests change, and the part of the options each lives in.
_ALIASES = {"max_in_flight": ("session", "limit"), "per_host": ("session", "limit_per_host")}


def fast(**changes: object) -> DownloadOptions:
    """FAST with ``changes``; a field of the fetch limits, the resize or the session may be named directly."""
    options = FAST
    for name, value in changes.items():
        part, field = _ALIASES.get(name, (None, name))
        if part is None:
            part = next((p for p in ("fetch", "resize", "session")
                         if field in {f.name for f in dataclasses.fields(getattr(options, p))}), None)
        if part is None:
            options = replace(options, **{field: value})
        else:
            options = replace(options, **{part: replace(getattr(options, part), **{field: value})})
    return options


def requests_for(urls: list[str], *, first_id: int = 1001, source: str = "traffickcam",
                 fetch_urls: list[str | None] | None = None) -> pl.DataFrame:
    n = len(urls)
    frame = pl.DataFrame({
        "image_id": list(range(first_id, first_id + n)),
        "hotel_id": [391 + i % 3 for i in range(n)],
        "chain_id": [-1 if i % 2 else 3 for i in range(n)],
        "image_source": [source] * n,
        "url": urls,
        "split": ["train"] * n,
    }, schema={"image_id": pl.Int64, "hotel_id": pl.Int64, "chain_id": pl.Int64, "image_source": pl.Utf8,
               "url": pl.Utf8, "split": pl.Utf8})
    if fetch_urls is not None:
        frame = frame.with_columns(pl.Series("fetch_url", fetch_urls, dtype=pl.Utf8))
    return frame
