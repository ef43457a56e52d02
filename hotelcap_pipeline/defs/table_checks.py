"""Checks of the review and summary tables: row counts against the tables they come from, values in range.

Not blocking: a failure shows on the asset's page and in the run, and the next stages still run. Every table a
check compares is read from the data store (it was written upstream of the checked asset), not loaded as a
Dagster input: each input would add two events to every run's log (see defs.ui_metadata).
"""

import dagster as dg
import polars as pl

from hotelcap_pipeline import consistency
from hotelcap_pipeline.defs.checks import _result
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary


def _tables(settings: HotelcapSettings, *keys: str) -> list[pl.DataFrame]:
    store = settings.store()
    return [store.read_table(key) for key in keys]


@dg.asset_check(asset="dataset_stats",
                description="The review's counts equal the four tables' row counts; shares and Gini lie in [0, 1]; "
                "every value is finite.")
def dataset_stats_match_inputs(settings: HotelcapSettings) -> dg.AssetCheckResult:
    dataset_stats, *tables = _tables(settings, "dataset_stats", "chains", "hotels", "train_images", "test_images")
    return _result(consistency.dataset_stats_problems(dataset_stats, *tables), rows=dataset_stats.height)


@dg.asset_check(asset="sampled_hotels",
                description="Distinct known hotels, with the train photo counts and shards their ids give.")
def sampled_hotels_match_inputs(settings: HotelcapSettings) -> dg.AssetCheckResult:
    sampled_hotels, hotels, train_images = _tables(settings, "sampled_hotels", "hotels", "train_images")
    return _result(consistency.sampled_hotels_problems(sampled_hotels, hotels, train_images),
                   hotels=sampled_hotels.height)


@dg.asset_check(asset="tag_stats",
                description="Photos and hotels per method as in image_tags; tags per photo and distinct tags per "
                "hotel within [0, vocabulary size], min <= mean <= max.")
def tag_stats_match_tags(settings: HotelcapSettings) -> dg.AssetCheckResult:
    tag_stats, image_tags = _tables(settings, "tag_stats", "image_tags")
    return _result(consistency.tag_stats_problems(tag_stats, image_tags, len(load_vocabulary())))


@dg.asset_check(asset="tag_clusters",
                description="One cluster per photo and method of image_tags; cluster ids are non-negative.")
def tag_clusters_cover_tags(settings: HotelcapSettings) -> dg.AssetCheckResult:
    tag_clusters, image_tags = _tables(settings, "tag_clusters", "image_tags")
    return _result(consistency.tag_clusters_problems(tag_clusters, image_tags), rows=tag_clusters.height)


@dg.asset_check(asset="edit_selection",
                description="Distinct photos stored ok in hotel_images, ranks 1..n, distances in [0, 2].")
def edit_selection_valid(settings: HotelcapSettings) -> dg.AssetCheckResult:
    edit_selection, manifest = _tables(settings, "edit_selection", "hotel_images")
    return _result(consistency.edit_selection_problems(edit_selection, manifest), photos=edit_selection.height)


@dg.asset_check(asset="report", description="index.html and report.md exist and are not empty, and every figure "
                "report.md links exists.")
def report_files_complete(settings: HotelcapSettings) -> dg.AssetCheckResult:
    store = settings.store()
    html, markdown = store.report / "index.html", store.report / "report.md"
    store.pull([html, markdown, store.figures])
    return _result(consistency.report_problems(html, markdown))


TABLE_CHECKS = [dataset_stats_match_inputs, sampled_hotels_match_inputs, tag_stats_match_tags,
                tag_clusters_cover_tags, edit_selection_valid, report_files_complete]
