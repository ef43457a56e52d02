"""The code location: assembles assets, checks, resources, jobs and schedules; nothing else."""

from __future__ import annotations

import dagster as dg

from hotelcap_pipeline.defs.assets import metadata, photos
from hotelcap_pipeline.defs.io import ParquetTableIOManager
from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings

settings = HotelcapSettings()

defs = dg.Definitions(
    assets=dg.load_assets_from_modules([metadata, photos]),
    resources={
        "settings": settings,
        "clip": ClipResource(settings=settings),
        "io_manager": ParquetTableIOManager(settings=settings),
    },
)
