"""Which photos to fetch: the train (and optionally test) rows of the sampled hotels."""

from __future__ import annotations

import polars as pl


def photo_requests(sampled_hotels: pl.DataFrame, train_images: pl.DataFrame,
                   test_images: pl.DataFrame | None = None) -> pl.DataFrame:
    """One request per photo of the sampled hotels, in the columns ``download_images`` takes."""
    hotels = sampled_hotels.select("hotel_id", "chain_id", *(["shard"] if "shard" in sampled_hotels.columns else []))
    frames = [("train", train_images)] + ([("test", test_images)] if test_images is not None else [])
    parts = [
        images.join(hotels, on="hotel_id", how="inner").select(
            "image_id", "hotel_id", "chain_id", "image_source", pl.col("image_url").alias("url"),
            pl.lit(split).alias("split"), *(["shard"] if "shard" in hotels.columns else []),
        )
        for split, images in frames
    ]
    return pl.concat(parts).sort("split", "image_id", descending=[True, False])


def redirect_urls(requests: pl.DataFrame, prefix: str, base_url: str) -> pl.DataFrame:
    """Fetch ``prefix...`` URLs from ``base_url`` instead (the manifest keeps the original URL)."""
    url = pl.col("url")
    return requests.with_columns(
        pl.when(url.str.starts_with(prefix))
        .then(pl.lit(base_url) + url.str.slice(len(prefix)))
        .otherwise(None)
        .alias("fetch_url")
    )
