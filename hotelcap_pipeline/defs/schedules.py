"""Jobs per stage group, the weekly refresh, and the observation of the inputs under assets/."""

import dagster as dg

from hotelcap_pipeline.defs.inputs import INPUT_FILES
from hotelcap_pipeline.defs.partitions import shards
from hotelcap_pipeline.sharding import SHARD_KEYS

SHARDED_ASSETS = ["hotel_images", "image_embeddings"]
ALL_SHARDS = {
    "dagster/asset_partition_range_start": SHARD_KEYS[0],
    "dagster/asset_partition_range_end": SHARD_KEYS[-1],
}

metadata_job = dg.define_asset_job("metadata_job", selection=dg.AssetSelection.groups("metadata"),
                                   description="Metadata tables, dataset review, sample of hotels.")
photos_job = dg.define_asset_job("photos_job", selection=dg.AssetSelection.groups("photos"),
                                 description="Download and resize photos; backfill shards in parallel.")
tagging_job = dg.define_asset_job("tagging_job", selection=dg.AssetSelection.groups("tagging"),
                                  description="Embeddings, tags, statistics, clusters.")
edits_job = dg.define_asset_job("edits_job", selection=dg.AssetSelection.groups("edits"),
                                description="Edit selection, diffusion edits, visitor portrait.")
report_job = dg.define_asset_job("report_job", selection=dg.AssetSelection.groups("report"),
                                 description="The report.")
sharded_stages_job = dg.define_asset_job(
    "sharded_stages_job",
    selection=dg.AssetSelection.assets(*SHARDED_ASSETS),
    partitions_def=shards,
    description="The heavy per-shard stages; backfill it to run shards in parallel.",
)
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.keys(*INPUT_FILES),
    description="Everything, every shard: re-sample and fetch photos that are new since the last run.",
)
observe_inputs_job = dg.define_asset_job(
    "observe_inputs_job", selection=dg.AssetSelection.keys(*INPUT_FILES),
    description="Hash the files under assets/ so edits to them mark dependent assets stale.",
)


@dg.schedule(job=refresh_job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
             default_status=dg.DefaultScheduleStatus.STOPPED)
def weekly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Monday 03:00 UTC: rerun the graph over every shard (work already done is reused)."""
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat(), tags=ALL_SHARDS)


observe_inputs = dg.ScheduleDefinition(
    job=observe_inputs_job, cron_schedule="*/5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Every 5 minutes: record the content hash of vocabulary, templates, edit series, persona.",
)

JOBS = [metadata_job, photos_job, tagging_job, edits_job, report_job, sharded_stages_job, refresh_job,
        observe_inputs_job]
SCHEDULES = [weekly_refresh, observe_inputs]
