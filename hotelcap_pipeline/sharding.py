"""Shards: a stable hash of hotel_id, so the heavy stages split into a few partitions.

One partition per hotel would mean 50,000 partitions, which Dagster advises against; a fixed
number of hash shards keeps every photo of a hotel together and the partition list short, and a
hotel never changes shard when the sample grows.
"""

from __future__ import annotations

import hashlib

import polars as pl

N_SHARDS = 8
SHARD_KEYS = [f"shard-{i:02d}" for i in range(N_SHARDS)]


def shard_of(hotel_id: int) -> str:
    digest = hashlib.blake2b(str(int(hotel_id)).encode(), digest_size=8).digest()
    return SHARD_KEYS[int.from_bytes(digest, "big") % N_SHARDS]


def with_shard(df: pl.DataFrame, column: str = "hotel_id") -> pl.DataFrame:
    """Add the ``shard`` column from ``column`` (the hotel id)."""
    return df.with_columns(pl.col(column).map_elements(shard_of, return_dtype=pl.Utf8).alias("shard"))
