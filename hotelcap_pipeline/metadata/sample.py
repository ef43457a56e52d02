"""A reproducible sample of hotels.

Candidates are sorted by hotel_id and permuted with a seeded generator, and the first ``n`` are
taken: the same seed gives the same hotels whatever the row order of the CSV, and raising ``n``
only adds hotels (so the photo stage fetches only the new ones).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl


class SamplingError(ValueError):
    pass


def sample_hotels(
    hotels: pl.DataFrame,
    train_images: pl.DataFrame,
    n: int,
    seed: int,
    *,
    min_train_images: int = 0,
    chains: Sequence[int] | None = None,
) -> pl.DataFrame:
    """``n`` hotels with their train photo count, in sampling order (``sample_rank``)."""
    counts = train_images.group_by("hotel_id").len("n_train_images")
    candidates = (
        hotels.join(counts, on="hotel_id", how="left")
        .with_columns(pl.col("n_train_images").fill_null(0).cast(pl.Int64))
        .filter(pl.col("n_train_images") >= min_train_images)
    )
    if chains:
        candidates = candidates.filter(pl.col("chain_id").is_in(list(chains)))
    candidates = candidates.sort("hotel_id")
    if candidates.height == 0:
        raise SamplingError(
            f"no hotel has at least {min_train_images} train photos"
            + (f" in chains {list(chains)}" if chains else "")
        )
    order = np.random.default_rng(seed).permutation(candidates.height)[: min(n, candidates.height)]
    return candidates[order.tolist()].with_columns(
        pl.int_range(pl.len(), dtype=pl.Int64).alias("sample_rank"), pl.lit(seed, pl.Int64).alias("seed")
    )
