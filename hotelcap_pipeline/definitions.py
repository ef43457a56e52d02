"""The code location: assembles assets, checks, resources, jobs, schedules and sensors; nothing else."""

import dagster as dg

from hotelcap_pipeline.defs import checks
from hotelcap_pipeline.defs.assets import edits, metadata, photos, report, tagging
from hotelcap_pipeline.defs.distributed import distributed_shards_job
from hotelcap_pipeline.defs.inputs import input_assets
from hotelcap_pipeline.defs.io import parquet_io_manager
from hotelcap_pipeline.defs.materialize import materialize_job
from hotelcap_pipeline.defs.resources import ClipResource, DiffusionResource, HotelcapSettings
from hotelcap_pipeline.defs.schedules import JOBS, SCHEDULES, SENSORS, with_automation
from hotelcap_pipeline.defs.table_checks import TABLE_CHECKS

settings = HotelcapSettings()

defs = dg.Definitions(
    assets=[*input_assets, *with_automation(dg.load_assets_from_modules([metadata, photos, tagging, edits, report]))],
    asset_checks=[*checks.PHOTO_CHECKS, *checks.TAGGING_CHECKS, *checks.EDIT_CHECKS,
                  *TABLE_CHECKS],
    jobs=[*JOBS, materialize_job, distributed_shards_job],
    schedules=SCHEDULES,
    sensors=SENSORS,
    resources={
        "settings": settings,
        "clip": ClipResource(),
        "diffusion": DiffusionResource(),
        "io_manager": parquet_io_manager,
    },
)
