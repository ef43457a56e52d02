"""Which photos to fetch: the train (and optionally test) rows of the sampled hotels."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from hotelcap_pipeline.http import local_path_of


def photo_requests(sampled_hotels: pl.DataFrame, train_images: pl.DataFrame,
                   test_images: pl.DataFrame | None = None, *, store_root: Path | None = None) -> pl.DataFrame:
    """One request per photo of the sampled hotels, in the columns ``download_images`` takes.

    A test row whose photo is already on disk (``photo_path`` from the test-photo tree: relative to
    ``store_root``, or absolute) is read from that file (``fetch_url``) instead of its URL.
    """
    hotels = sampled_hotels.select("hotel_id", "chain_id", *(["shard"] if "shard" in sampled_hotels.columns else []))
    frames = [("train", train_images)] + ([("test", test_images)] if test_images is not None else [])
    parts = [
        images.join(hotels, on="hotel_id", how="inner").select(
            "image_id", "hotel_id", "chain_id", "image_source", pl.col("image_url").alias("url"),
            pl.lit(split).alias("split"), *(["shard"] if "shard" in hotels.columns else []),
            _local_file(images, store_root).alias("fetch_url"),
        )
        for split, images in frames
    ]
    return pl.concat(parts).sort("split", "image_id", descending=[True, False])


def _local_file(images: pl.DataFrame, store_root: Path | None) -> pl.Expr:
    if store_root is None or "photo_path" not in images.columns:
        return pl.lit(None, dtype=pl.Utf8)
    # An absolute path stays as it is (as under pathlib's join); a relative one is the store's.
    path = pl.col("photo_path")
    return pl.when(path.str.starts_with("/")).then(path).otherwise(pl.lit(f"{Path(store_root)}/") + path)


def photo_tree_roots(test_photos: str, store_root: Path) -> tuple[str, ...]:
    """The folders test photos from HOTELCAP_TEST_PHOTOS are read under: the store's extracted tree, and the
    folder given when it is one (empty when the variable is)."""
    if not test_photos:
        return ()
    roots = [str(Path(store_root) / "images" / "test")]
    try:
        local = local_path_of(test_photos)
    except ValueError:
        local = None
    if local is not None and local.is_dir():
        roots.append(str(local))
    return tuple(roots)


def redirect_urls(requests: pl.DataFrame, prefix: str, base_url: str) -> pl.DataFrame:
    """Fetch ``prefix...`` URLs from ``base_url`` instead (the manifest keeps the original URL); a row
    already read from a local file keeps it."""
    url = pl.col("url")
    redirected = pl.lit(base_url) + url.str.slice(len(prefix))
    fallback = pl.col("fetch_url") if "fetch_url" in requests.columns else pl.lit(None, dtype=pl.Utf8)
    return requests.with_columns(
        pl.when(fallback.is_null() & url.str.starts_with(prefix))
        .then(redirected)
        .otherwise(fallback)
        .alias("fetch_url")
    )
