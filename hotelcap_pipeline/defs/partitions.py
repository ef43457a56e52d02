"""Static hash shards of hotel_id for the heavy stages (see hotelcap_pipeline.sharding)."""

import dagster as dg

from hotelcap_pipeline.sharding import SHARD_KEYS

shards = dg.StaticPartitionsDefinition(SHARD_KEYS)
# One run may cover a range of shards (hotelcap materialize covers all of them); a backfill from
# the UI can still split shards across runs and machines.
single_run = dg.BackfillPolicy.single_run()
