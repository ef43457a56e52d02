"""Checks of the metadata, review and summary tables: references, row counts against the tables they come
from, values in range.

Not blocking: a failure shows on the asset's page and in the run, and the next stages still run. So they run
in one step (``table_checks``, after the last checked asset of the run): a step per check would add three
step events (~4 kB) to every run's log each, for nothing they gate. Each check is still its own check in the
UI, and a run evaluates only those of its selected assets. Every table a check compares is read from the data
store, not loaded as a Dagster input: each input would add two events to every run's log (see defs.ui_metadata).
"""

from collections.abc import Callable, Iterator

import dagster as dg
import polars as pl

from hotelcap_pipeline import consistency
from hotelcap_pipeline.defs.checks import _result
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary


def _tables(settings: HotelcapSettings, *keys: str) -> list[pl.DataFrame]:
    store = settings.store()
    return [store.read_table(key) for key in keys]


def dataset_stats_match_inputs(settings: HotelcapSettings) -> dg.AssetCheckResult:
    dataset_stats, *tables = _tables(settings, "dataset_stats", "chains", "hotels", "train_images", "test_images")
    return _result(consistency.dataset_stats_problems(dataset_stats, *tables), rows=dataset_stats.height)


def sampled_hotels_match_inputs(settings: HotelcapSettings) -> dg.AssetCheckResult:
    sampled_hotels, hotels, train_images = _tables(settings, "sampled_hotels", "hotels", "train_images")
    return _result(consistency.sampled_hotels_problems(sampled_hotels, hotels, train_images),
                   hotels=sampled_hotels.height)


def tag_stats_match_tags(settings: HotelcapSettings) -> dg.AssetCheckResult:
    tag_stats, image_tags = _tables(settings, "tag_stats", "image_tags")
    return _result(consistency.tag_stats_problems(tag_stats, image_tags, len(load_vocabulary())))


def tag_clusters_cover_tags(settings: HotelcapSettings) -> dg.AssetCheckResult:
    tag_clusters, image_tags = _tables(settings, "tag_clusters", "image_tags")
    return _result(consistency.tag_clusters_problems(tag_clusters, image_tags), rows=tag_clusters.height)


def edit_selection_valid(settings: HotelcapSettings) -> dg.AssetCheckResult:
    edit_selection, manifest = _tables(settings, "edit_selection", "hotel_images")
    return _result(consistency.edit_selection_problems(edit_selection, manifest), photos=edit_selection.height)


def report_files_complete(settings: HotelcapSettings) -> dg.AssetCheckResult:
    store = settings.store()
    html, markdown = store.report / "index.html", store.report / "report.md"
    store.pull([html, markdown, store.figures])
    return _result(consistency.report_problems(html, markdown))


def train_images_reference_known_hotels(settings: HotelcapSettings) -> dg.AssetCheckResult:
    train_images, hotels = _tables(settings, "train_images", "hotels")
    orphans = train_images.join(hotels, on="hotel_id", how="anti")
    problems = [f"{orphans.height} photo(s) of unknown hotels, e.g. {orphans.get_column('image_id').head(5).to_list()}"]
    return _result(problems if orphans.height else [], orphans=orphans.height)


Check = Callable[[HotelcapSettings], dg.AssetCheckResult]
# check name -> (checked asset, description, check)
CHECKS: dict[str, tuple[str, str, Check]] = {
    "train_images_reference_known_hotels": (
        "train_images", "Every train photo belongs to a known hotel.", train_images_reference_known_hotels),
    "dataset_stats_match_inputs": (
        "dataset_stats", "The review's counts equal the four tables' row counts; shares and Gini lie in [0, 1]; "
        "every value is finite.", dataset_stats_match_inputs),
    "sampled_hotels_match_inputs": (
        "sampled_hotels", "Distinct known hotels, with the train photo counts and shards their ids give.",
        sampled_hotels_match_inputs),
    "tag_stats_match_tags": (
        "tag_stats", "Photos and hotels per method as in image_tags; tags per photo and distinct tags per hotel "
        "within [0, vocabulary size], min <= mean <= max.", tag_stats_match_tags),
    "tag_clusters_cover_tags": (
        "tag_clusters", "One cluster per photo and method of image_tags; cluster ids are non-negative.",
        tag_clusters_cover_tags),
    "edit_selection_valid": (
        "edit_selection", "Distinct photos stored ok in hotel_images, ranks 1..n, distances in [0, 2].",
        edit_selection_valid),
    "report_files_complete": (
        "report", "index.html and report.md exist and are not empty, and every figure report.md links exists.",
        report_files_complete),
}


@dg.multi_asset_check(
    specs=[dg.AssetCheckSpec(name, asset=asset, description=description)
           for name, (asset, description, _) in CHECKS.items()],
    can_subset=True,
    name="table_checks",
)
def table_checks(context: dg.AssetCheckExecutionContext, settings: HotelcapSettings) -> Iterator[dg.AssetCheckResult]:
    for key in sorted(context.selected_asset_check_keys, key=lambda k: k.name):
        _, _, check = CHECKS[key.name]
        try:
            result = check(settings)
        except (OSError, ValueError, pl.exceptions.PolarsError) as exc:
            # One check that cannot read its tables fails with the reason; the others in this step still run.
            result = _result([f"could not run: {type(exc).__name__}: {exc}"])
        yield dg.AssetCheckResult(asset_key=key.asset_key, check_name=key.name, passed=result.passed,
                                  metadata=result.metadata, description=result.description)


TABLE_CHECKS = [table_checks]
