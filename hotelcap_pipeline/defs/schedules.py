"""Jobs per stage group, the weekly refresh, the input sensor and the declarative automation.

Nothing here launches a run while nothing changes: the weekly refresh is off until turned on, the
`observe_inputs` sensor records an observation only when a file under assets/ changed, and the cheap
assets downstream of those files follow an update through their eager automation condition.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import dagster as dg

from hotelcap_pipeline.defs.inputs import INPUT_FILES, observe_inputs
from hotelcap_pipeline.sharding import SHARD_KEYS

SHARDED_ASSETS = ["hotel_images", "image_embeddings"]
ALL_SHARDS = {
    "dagster/asset_partition_range_start": SHARD_KEYS[0],
    "dagster/asset_partition_range_end": SHARD_KEYS[-1],
}
# Cheap on CPU (seconds to minutes at 1,000 hotels) and downstream of the files under assets/: when an
# upstream update lands (a new vocabulary observed, new embeddings), they rerun by themselves. The GPU and
# network stages (photos, embeddings, edits, portrait) never start on their own.
EAGER_ASSETS = ["image_tags", "tag_evaluation", "tag_stats", "tag_clusters", "report"]

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
    # diffusion_edits is sharded too, but it follows stages over every shard (tags, clusters, edit_selection):
    # in a shard's run here it would render from a selection made before that shard's new photos.
    description="Photos and embeddings, per shard; backfill it to run shards in parallel. diffusion_edits, "
    "also sharded, depends on stages over every shard: backfill it by itself once they have run.",
)
refresh_job = dg.define_asset_job(
    "refresh_job",
    selection=dg.AssetSelection.all() - dg.AssetSelection.assets(*INPUT_FILES),
    description="Everything, every shard: re-sample and fetch photos that are new since the last run.",
)
observe_inputs_job = dg.define_asset_job(
    "observe_inputs_job", selection=dg.AssetSelection.assets(*INPUT_FILES),
    description="Hash the files under assets/ so edits to them mark dependent assets stale "
    "(the observe_inputs sensor and `hotelcap materialize` record the same observations without a run).",
)


@dg.schedule(
    job=refresh_job, cron_schedule="0 3 * * 1", execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description="Off by default (turn it on under Automation). Mondays 03:00 UTC: one run of the whole graph "
    "over every shard. Photos, embeddings and edits already stored are reused, so the run fetches only what "
    "the source added since last week and recomputes what depends on it.",
)
def weekly_refresh(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    return dg.RunRequest(run_key=context.scheduled_execution_time.isoformat(), tags=ALL_SHARDS)


def with_automation(assets: Iterable[Any]) -> list[Any]:
    """The assets, the cheap ones downstream of the inputs with an eager automation condition."""
    eager = dg.AutomationCondition.eager()
    out: list[Any] = []
    for a in assets:
        if isinstance(a, dg.AssetsDefinition) and any(k.to_user_string() in EAGER_ASSETS for k in a.keys):
            a = a.map_asset_specs(
                lambda spec: spec.replace_attributes(automation_condition=eager)
                if spec.key.to_user_string() in EAGER_ASSETS else spec
            )
        out.append(a)
    return out


follow_updates = dg.AutomationConditionSensorDefinition(
    "follow_updates",
    target=dg.AssetSelection.assets(*EAGER_ASSETS),
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=60,
    description="Once a minute: runs image_tags, tag_evaluation, tag_stats, tag_clusters and the report when "
    "something upstream of them was updated (an edited vocabulary or prompt templates, new embeddings) and "
    "nothing upstream is missing or running. Launches nothing while nothing changes.",
)

JOBS = [metadata_job, photos_job, tagging_job, edits_job, report_job, sharded_stages_job, refresh_job,
        observe_inputs_job]
SCHEDULES = [weekly_refresh]
SENSORS = [observe_inputs, follow_updates]
