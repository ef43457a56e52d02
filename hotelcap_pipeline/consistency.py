"""Consistency of the review and summary tables with the tables they were computed from.

Each function returns the problems it found (empty: consistent), each naming the table, the value found
and the value expected, for the asset checks in ``hotelcap_pipeline.defs.table_checks``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import polars as pl

from hotelcap_pipeline.sharding import shard_of


def _metric(stats: pl.DataFrame, section: str, metric: str) -> float | None:
    found = stats.filter((pl.col("section") == section) & (pl.col("metric") == metric))["value"]
    return float(found[0]) if found.len() else None


def dataset_stats_problems(
    stats: pl.DataFrame, chains: pl.DataFrame, hotels: pl.DataFrame, train: pl.DataFrame, test: pl.DataFrame
) -> list[str]:
    """The review's counts equal the tables' row counts; shares lie in [0, 1]; every value is finite."""
    problems = []
    for name, table in (("chains", chains), ("hotels", hotels), ("train_images", train), ("test_images", test)):
        found = _metric(stats, "counts", name)
        if found != table.height:
            problems.append(f"dataset_stats counts/{name} = {found}, but {name} has {table.height} rows")
    for section, metric, value in stats.iter_rows():
        if value is None or not math.isfinite(value):
            problems.append(f"dataset_stats {section}/{metric} is {value}")
        elif ("share" in section or "share" in metric or metric == "gini") and not 0 <= value <= 1:
            problems.append(f"dataset_stats {section}/{metric} = {value}, outside [0, 1]")
    return problems


def sampled_hotels_problems(sample: pl.DataFrame, hotels: pl.DataFrame, train: pl.DataFrame) -> list[str]:
    """Distinct known hotels, their train photo counts and shards as the inputs say."""
    problems = []
    if sample.is_empty():
        return ["sampled_hotels is empty"]
    if sample["hotel_id"].n_unique() != sample.height:
        problems.append(f"sampled_hotels: {sample.height - sample['hotel_id'].n_unique()} duplicate hotel_id(s)")
    unknown = sample.join(hotels, on="hotel_id", how="anti")["hotel_id"].to_list()
    if unknown:
        problems.append(f"sampled_hotels: hotel_id(s) not in hotels: {unknown[:5]}")
    counts = train.group_by("hotel_id").len()
    joined = sample.join(counts, on="hotel_id", how="left").with_columns(pl.col("len").fill_null(0))
    wrong = joined.filter(pl.col("n_train_images") != pl.col("len"))
    if wrong.height:
        row = wrong.row(0, named=True)
        problems.append(f"sampled_hotels: n_train_images of {wrong.height} hotel(s) differ from train_images, "
                        f"e.g. hotel {row['hotel_id']}: {row['n_train_images']} vs {row['len']}")
    moved = [h for h, s in sample.select("hotel_id", "shard").iter_rows() if shard_of(h) != s]
    if moved:
        problems.append(f"sampled_hotels: shard does not match the hotel_id hash for {moved[:5]}")
    return problems


def tag_stats_problems(stats: pl.DataFrame, tags: pl.DataFrame, vocabulary_size: int) -> list[str]:
    """Per method: photos and hotels counted as in image_tags, means within their possible ranges."""
    problems = []
    expected = tags.group_by("method").agg(pl.col("image_id").n_unique().alias("p"), pl.col("hotel_id").n_unique()
                                           .alias("h"))
    for method, photos, hotels in expected.iter_rows():
        row = stats.filter(pl.col("method") == method)
        if row.is_empty():
            problems.append(f"tag_stats has no row for method {method}")
            continue
        r = row.row(0, named=True)
        if (r["photos"], r["hotels"]) != (photos, hotels):
            problems.append(f"tag_stats {method}: {r['photos']} photos / {r['hotels']} hotels, image_tags has "
                            f"{photos} / {hotels}")
        if not 0 <= r["mean_tags_per_photo"] <= vocabulary_size:
            problems.append(f"tag_stats {method}: mean_tags_per_photo {r['mean_tags_per_photo']} outside "
                            f"[0, {vocabulary_size}]")
        low, mean, high = (r["min_distinct_tags_per_hotel"], r["mean_distinct_tags_per_hotel"],
                           r["max_distinct_tags_per_hotel"])
        if not 0 <= low <= mean <= high <= vocabulary_size:
            problems.append(f"tag_stats {method}: distinct tags per hotel min {low} / mean {mean} / max {high} "
                            f"not ordered within [0, {vocabulary_size}]")
    return problems


def tag_clusters_problems(clusters: pl.DataFrame, tags: pl.DataFrame) -> list[str]:
    """One cluster per photo and method of image_tags, every cluster id a non-negative integer."""
    problems = []
    want = tags.select("method", "image_id").unique()
    have = clusters.select("method", "image_id")
    if have.height != want.height or have.join(want, on=["method", "image_id"], how="anti").height:
        problems.append(f"tag_clusters has {have.height} (method, photo) rows, image_tags {want.height}")
    for column in [c for c in clusters.columns if c == "cluster" or c.startswith("cluster_k_")]:
        bad = clusters.filter(pl.col(column).is_null() | (pl.col(column) < 0)).height
        if bad:
            problems.append(f"tag_clusters.{column}: {bad} null or negative cluster id(s)")
    return problems


def edit_selection_problems(selection: pl.DataFrame, manifest: pl.DataFrame) -> list[str]:
    """Distinct stored photos, ranks 1..n, distances within a cosine distance's range [0, 2]."""
    problems = []
    if selection.is_empty():
        return ["edit_selection is empty: no photo to edit"]
    if selection["image_id"].n_unique() != selection.height:
        problems.append("edit_selection picks a photo twice")
    ok = manifest.filter(pl.col("status") == "ok").select("image_id")
    missing = selection.join(ok, on="image_id", how="anti")["image_id"].to_list()
    if missing:
        problems.append(f"edit_selection: photo(s) not stored ok in hotel_images: {missing[:5]}")
    if sorted(selection["rank"].to_list()) != list(range(1, selection.height + 1)):
        problems.append(f"edit_selection ranks are {sorted(selection['rank'].to_list())}, not 1..{selection.height}")
    distances = selection["min_distance"].drop_nulls()
    if distances.len() != selection.height - 1 or ((distances < 0) | (distances > 2)).any():
        problems.append("edit_selection.min_distance: every pick but the first needs a distance in [0, 2]")
    return problems


def report_problems(html: Path, markdown: Path) -> list[str]:
    """Both report files exist and are not empty, and every figure the Markdown links exists beside it."""
    problems = [f"{p} is missing or empty" for p in (html, markdown) if not p.is_file() or p.stat().st_size == 0]
    if markdown.is_file():
        links = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", markdown.read_text(encoding="utf-8"))
        local = [link for link in links if "://" not in link and not link.startswith("data:")]
        problems += [f"{markdown.name} links {link}, which does not exist" for link in local
                     if not (markdown.parent / link).is_file()]
    return problems
