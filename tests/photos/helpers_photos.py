"""Request tables and options shared by the photo tests."""

from __future__ import annotations

from dataclasses import replace

import polars as pl

from hotelcap_pipeline.photos import DownloadOptions

FAST = DownloadOptions(
    max_in_flight=8, per_host=8, total_timeout_s=5, stall_timeout_s=0.5, connect_timeout_s=2, retries=1,
    backoff_base_s=0.01, retry_after_max_s=5, max_body_bytes=1_000_000, max_pixels=10_000_000,
    max_redirects=3, processes=1, cpu_workers=2, progress_interval_s=0,
)


def fast(**changes: object) -> DownloadOptions:
    return replace(FAST, **changes)


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
