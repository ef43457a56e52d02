"""Static hash shards of hotel_id for the heavy stages (see hotelcap_pipeline.sharding)."""

from __future__ import annotations

import warnings

import dagster as dg

from hotelcap_pipeline.sharding import SHARD_KEYS

# The sharded assets choose their backfill policy on purpose; the beta notice would repeat in every process.
warnings.filterwarnings("ignore", message="Parameter `backfill_policy` of function `asset`", category=dg.BetaWarning)

shards = dg.StaticPartitionsDefinition(SHARD_KEYS)
# A backfill launches one run per shard, so shards run side by side as far as their pools allow (dagster-k8s
# or dagster-celery across machines); `hotelcap materialize` still covers every shard in one run through a
# partition range, which the assets handle.
per_shard_runs = dg.BackfillPolicy.multi_run(max_partitions_per_run=1)


def run_shard_keys(context: dg.AssetCheckExecutionContext | dg.AssetExecutionContext) -> list[str]:
    """The shards a run covers, from its partition tags (all shards when it names none).

    Checks of sharded assets are not partitioned, so they look here to check only this run's shards.
    """
    tags = context.run.tags
    if "dagster/partition" in tags:
        return [tags["dagster/partition"]]
    start, end = tags.get("dagster/asset_partition_range_start"), tags.get("dagster/asset_partition_range_end")
    if start and end:
        return SHARD_KEYS[SHARD_KEYS.index(start): SHARD_KEYS.index(end) + 1]
    return list(SHARD_KEYS)
