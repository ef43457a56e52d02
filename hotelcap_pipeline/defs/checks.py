"""Asset checks; the blocking ones stop bad data from reaching later stages."""

import dagster as dg
import polars as pl

from hotelcap_pipeline import validation
from hotelcap_pipeline.defs.partitions import run_shard_keys
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary


def _result(problems: list[str], **metadata: int) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"problems": "\n".join(problems) or "none", "n_problems": len(problems), **metadata},
    )


@dg.asset_check(asset="train_images", additional_ins={"hotels": dg.AssetIn("hotels")},
                description="Every train photo belongs to a known hotel.")
def train_images_reference_known_hotels(train_images: pl.DataFrame, hotels: pl.DataFrame) -> dg.AssetCheckResult:
    orphans = train_images.join(hotels, on="hotel_id", how="anti")
    problems = [f"{orphans.height} photo(s) of unknown hotels, e.g. {orphans.get_column('image_id').head(5).to_list()}"]
    return _result(problems if orphans.height else [], orphans=orphans.height)


@dg.asset_check(asset="hotel_images", blocking=True,
                description="Every ok photo's file exists and decodes at the recorded size.")
def hotel_images_files_decode(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store = settings.store()
    manifest = store.read_shards("hotel_images", run_shard_keys(context))
    return _result(validation.image_file_problems(manifest, store.root), checked=manifest.height)


@dg.asset_check(asset="image_embeddings", blocking=True, description="One unit-length embedding per ok photo.")
def image_embeddings_unit_and_complete(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store, shards = settings.store(), run_shard_keys(context)
    embeddings = store.read_shards("image_embeddings", shards)
    problems = validation.embedding_problems(embeddings, store.read_shards("hotel_images", shards))
    return _result(problems, checked=embeddings.height)


@dg.asset_check(asset="image_tags", blocking=True, description="Every assigned tag is in the vocabulary.")
def image_tags_in_vocabulary(image_tags: pl.DataFrame) -> dg.AssetCheckResult:
    labels = [t.label for t in load_vocabulary()]
    return _result(validation.unknown_tag_problems(image_tags, labels))


@dg.asset_check(asset="diffusion_edits", description="Every edit row's image file exists.")
def diffusion_edits_files_exist(
    context: dg.AssetCheckExecutionContext, settings: HotelcapSettings
) -> dg.AssetCheckResult:
    store = settings.store()
    edits = store.read_shards("diffusion_edits", run_shard_keys(context))
    return _result(validation.missing_file_problems(edits, store.root))


METADATA_CHECKS = [train_images_reference_known_hotels]
PHOTO_CHECKS = [hotel_images_files_decode]
TAGGING_CHECKS = [image_embeddings_unit_and_complete, image_tags_in_vocabulary]
EDIT_CHECKS = [diffusion_edits_files_exist]
