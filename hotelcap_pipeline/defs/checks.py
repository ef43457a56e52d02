"""Asset checks; the blocking ones stop bad data from reaching later stages."""

import dagster as dg
import polars as pl

from hotelcap_pipeline import outcomes, validation
from hotelcap_pipeline.defs.partitions import run_shard_keys
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary


def _result(problems: list[str], **metadata: int) -> dg.AssetCheckResult:
    # The description is the one line `hotelcap materialize` prints last when a blocking check fails. The list
    # of problems is there only when there are any (a passed check says n_problems 0): every evaluation is
    # stored three times (the run's log, the index, the check's execution record).
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={**({"problems": "\n".join(problems)} if problems else {}), "n_problems": len(problems),
                  **metadata},
        description="; ".join(problems[:3]) + (f" (and {len(problems) - 3} more)" if len(problems) > 3 else "")
        if problems else None,
    )


@dg.asset_check(asset="hotel_images", blocking=True,
                description="Every ok photo's file exists with the recorded byte count; an even sample of 20 "
                "decodes whole at the recorded size.")
def hotel_images_files_decode(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store = settings.store()
    manifest = store.read_shards("hotel_images", run_shard_keys(context))
    return _result(validation.image_file_problems(manifest, store.root), checked=manifest.height)


@dg.asset_check(asset="hotel_images", blocking=True,
                description="Enough photos were fetched: at least the settings' min_ok_share (default half) are ok.")
def hotel_images_mostly_ok(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store, shards = settings.store(), run_shard_keys(context)
    manifest = store.read_shards("hotel_images", shards)
    ok = manifest.filter(pl.col("status") == "ok").height
    if manifest.is_empty() and store.read_table("sampled_hotels").filter(pl.col("shard").is_in(shards)).is_empty():
        # A backfill run of a shard that holds no sampled hotel: nothing was asked, nothing is missing.
        return _result([], ok=0, photos=0)
    dataset_setting = settings.settings().origins["dataset"].setting
    return _result(outcomes.photo_share_problems(manifest, settings.min_ok_share, dataset_setting),
                   ok=ok, photos=manifest.height)


@dg.asset_check(asset="image_embeddings", blocking=True, description="One unit-length embedding per ok photo.")
def image_embeddings_unit_and_complete(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store, shards = settings.store(), run_shard_keys(context)
    embeddings = store.read_shards("image_embeddings", shards)
    problems = validation.embedding_problems(embeddings, store.read_shards("hotel_images", shards))
    return _result(problems, checked=embeddings.height)


@dg.asset_check(asset="image_tags", blocking=True, description="Every assigned tag is in the vocabulary.")
def image_tags_in_vocabulary(settings: HotelcapSettings) -> dg.AssetCheckResult:
    labels = [t.label for t in load_vocabulary()]
    return _result(validation.unknown_tag_problems(settings.store().read_table("image_tags"), labels))


@dg.asset_check(asset="diffusion_edits", description="Every edit row's image file exists.")
def diffusion_edits_files_exist(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store = settings.store()
    edits = store.read_shards("diffusion_edits", run_shard_keys(context))
    return _result(validation.missing_file_problems(edits, store.root))


@dg.asset_check(asset="diffusion_edits", blocking=True,
                description="Every edit series that ran (its model available) produced at least one edit.")
def diffusion_edits_series_rendered(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    edits = settings.store().read_shards("diffusion_edits", run_shard_keys(context))
    skipped = edits.filter(pl.col("status") == "skipped").get_column("edit").unique().sort().to_list()
    return _result(outcomes.edit_series_problems(edits), ok=edits.filter(pl.col("status") == "ok").height,
                   skipped_series=len(skipped))


PHOTO_CHECKS = [hotel_images_files_decode, hotel_images_mostly_ok]
TAGGING_CHECKS = [image_embeddings_unit_and_complete, image_tags_in_vocabulary]
EDIT_CHECKS = [diffusion_edits_files_exist, diffusion_edits_series_rendered]
