"""Stage 2: download and resize the sampled hotels' photos (sharded by hotel).

No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
"""

import contextlib

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.partitions import per_shard_runs, shards
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.defs.ui_metadata import image_metadata
from hotelcap_pipeline.demo.dataset import DEMO_URL_PREFIX
from hotelcap_pipeline.demo.server import serve_directory
from hotelcap_pipeline.photos import DownloadOptions, contact_sheet, download_images, summarize_manifest
from hotelcap_pipeline.photos.requests import photo_requests, redirect_urls
from hotelcap_pipeline.photos.resize import Resample
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import with_shard
from hotelcap_pipeline.store import DataStore


def _stored_paths(store: DataStore, shard_keys: list[str]) -> list[str]:
    """Photo files listed as ok by the previous manifest of these shards (empty on a first run)."""
    previous = store.read_shards("hotel_images", shard_keys, missing_ok=True)
    if previous is None:
        return []
    return previous.filter(pl.col("status") == "ok").get_column("path").to_list()


class PhotosConfig(dg.Config):
    include_test: bool = Field(default=False, description="Also fetch the sampled hotels' test photos.")
    upscale: bool = Field(default=True, description="Upscale photos smaller than 640 px, as upstream does.")
    max_in_flight: int = Field(default=64, description="Concurrent requests in all.")
    per_host: int = Field(default=16, description="Concurrent requests per host.")
    retries: int = Field(default=3, description="Retries for timeouts, connection errors, 429 and 5xx.")
    processes: int | None = Field(
        default=None, description="Worker processes, each with its own event loop (default: one per core, "
        "for batches of at least 200 photos a process).")
    resample: Resample = Field(default="hamming", description="Resize filter: lanczos, bicubic, hamming or box.")
    allowed_networks: list[str] = Field(
        default_factory=list, description="CIDRs allowed although private or link-local (opt-in)."
    )


@dg.asset(
    partitions_def=shards,
    backfill_policy=per_shard_runs,
    group_name="photos",
    kinds={"aiohttp", "pillow", "parquet"},
    code_version="1",
)
def hotel_images(
    context: dg.AssetExecutionContext,
    config: PhotosConfig,
    settings: HotelcapSettings,
    sampled_hotels: pl.DataFrame,
    train_images: pl.DataFrame,
    test_images: pl.DataFrame,
) -> dg.Output:
    """Manifest of the sampled hotels' photos, fetched with aiohttp and resized to a longer side of
    640 under images/<split>/<chain>/<hotel>/<source>/<id>.jpg; failed photos are rows too, with the reason."""
    s = settings.settings()
    store = settings.store()
    sample = sampled_hotels.filter(pl.col("shard").is_in(context.partition_keys))
    requests = photo_requests(sample, train_images, test_images if config.include_test else None)
    options = DownloadOptions(
        max_in_flight=config.max_in_flight, per_host=config.per_host, retries=config.retries,
        upscale=config.upscale, insecure_hosts=s.insecure_hosts, allowed_networks=tuple(config.allowed_networks),
        processes=config.processes, resample=config.resample,
    )

    def progress(event: dict) -> None:
        context.log.info(
            f"photos: {event['done']}/{event['total']} done, {event['failed']} failed, "
            f"{event['remaining']} left, {event['rate_per_s']:.1f}/s"
        )

    # With an object store, photos stored by earlier runs (any machine) come back and are not fetched again.
    store.pull(_stored_paths(store, context.partition_keys))
    with contextlib.ExitStack() as stack:
        if settings.is_demo:
            # Demo URLs name a placeholder host; a loopback server plays it so the real client runs.
            base = stack.enter_context(serve_directory(DEMO_DIR / "photos"))
            requests = redirect_urls(requests, DEMO_URL_PREFIX, base)
        n_shards = len(context.partition_keys)
        context.log.info(f"{requests.height} photos of {sample.height} hotels in {n_shards} shard(s)")
        manifest = download_images(requests, store.root, options, progress=progress)
    manifest = with_shard(manifest)
    store.push(manifest.filter((pl.col("status") == "ok") & ~pl.col("reused")).get_column("path").to_list())
    summary = summarize_manifest(manifest)
    return dg.Output(
        manifest,
        metadata={
            **{k: v for k, v in summary.items() if not isinstance(v, dict)},
            "failure_reasons": dg.MetadataValue.json(summary["failure_reasons"]),
            "top_sizes": dg.MetadataValue.json(summary["top_sizes"]),
            "contact_sheet": image_metadata(contact_sheet(manifest, store.root), "contact sheet"),
        },
    )
