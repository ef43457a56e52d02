"""Stage 2: download and resize the sampled hotels' photos (sharded by hotel).

No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
"""

import contextlib

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.partitions import per_shard_runs, shards
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.defs.ui_metadata import add_shard_metadata, declared_schema, served_figures, write_figure
from hotelcap_pipeline.demo.dataset import DEMO_URL_PREFIX
from hotelcap_pipeline.demo.server import serve_directory
from hotelcap_pipeline.figures import image_png
from hotelcap_pipeline.http import SessionPolicy
from hotelcap_pipeline.photos import (
    MANIFEST_SCHEMA,
    DownloadOptions,
    contact_sheet,
    download_images,
    summarize_manifest,
)
from hotelcap_pipeline.photos.fetch import FetchLimits, local_file_roots
from hotelcap_pipeline.photos.progress import ProgressEvent
from hotelcap_pipeline.photos.requests import photo_requests, photo_tree_roots, redirect_urls
from hotelcap_pipeline.photos.resize import Resample, ResizeSpec
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
    max_in_flight: int = Field(default=64, ge=1, description="Concurrent requests in all.")
    per_host: int = Field(default=16, ge=1, description="Concurrent requests per host.")
    retries: int = Field(default=3, ge=0, le=10, description="Retries for timeouts, connection errors, 429 and 5xx.")
    processes: int | None = Field(
        default=None, ge=1, description="Worker processes, each with its own event loop (default: one per core, "
        "for batches of at least 200 photos a process).")
    resample: Resample = Field(
        default="area", description="Resize filter for what is left after DCT-domain scaling: area (OpenCV "
        "INTER_AREA), lanczos, bicubic, hamming or box.")
    allowed_networks: list[str] = Field(
        default_factory=list, description="CIDRs allowed although private or link-local (opt-in)."
    )
    local_roots: list[str] = Field(
        default_factory=list, description="Folders whose files the dataset's rows may name (file:// or a path), "
        "besides HOTELCAP_ALLOW_LOCAL_FILES and a local dataset's own folder (opt-in).")


@dg.asset(
    partitions_def=shards,
    backfill_policy=per_shard_runs,
    group_name="photos",
    kinds={"aiohttp", "pillow", "parquet"},
    code_version="1",
    # Caps how many shards fetch at once across runs (a backfill is one run per shard), so the upstream
    # hosts see a bounded number of connections: `dagster instance concurrency set photos N`.
    pool="photos",
    deps=["sampled_hotels", "train_images", "test_images"],
    metadata=declared_schema({**MANIFEST_SCHEMA, "shard": pl.Utf8}, "hotel_images"),
)
def hotel_images(context: dg.AssetExecutionContext, config: PhotosConfig, settings: HotelcapSettings) -> dg.Output:
    """Manifest of the sampled hotels' photos, fetched with aiohttp and resized to a longer side of
    640 under `images/<split>/<chain>/<hotel>/<source>/<id>.jpg`; failed photos are rows too, with the reason.
    Each shard's materialization shows that shard's counts, failure reasons, sizes and contact sheet."""
    s = settings.settings()
    store = settings.store()
    sample = store.read_table("sampled_hotels").filter(pl.col("shard").is_in(context.partition_keys))
    # Test photos already extracted from HOTELCAP_TEST_PHOTOS are read from their files, not fetched.
    requests = photo_requests(sample, store.read_table("train_images"),
                              store.read_table("test_images") if config.include_test else None,
                              store_root=store.root)
    trees = photo_tree_roots(s.test_photos, store.root) if config.include_test else ()
    options = DownloadOptions(
        fetch=FetchLimits(retries=config.retries),
        resize=ResizeSpec(upscale=config.upscale, resample=config.resample),
        session=SessionPolicy(limit=config.max_in_flight, limit_per_host=config.per_host,
                              insecure_hosts=s.insecure_hosts, allowed_networks=tuple(config.allowed_networks),
                              insecure_setting=s.origins["insecure_hosts"].setting),
        local_roots=local_file_roots(s.dataset, (*s.allow_local_files, *config.local_roots, *trees)),
        processes=config.processes,
    )

    def progress(event: ProgressEvent) -> None:
        context.log.info(event.describe())

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
    add_shard_metadata(context, manifest, lambda rows, shard: _shard_metadata(rows, shard, store))
    return dg.Output(manifest)


def _shard_metadata(manifest: pl.DataFrame, shard: str, store: DataStore) -> dict:
    summary = summarize_manifest(manifest)
    sheet = (
        dg.MetadataValue.md(served_figures(store, [
            write_figure(image_png(contact_sheet(manifest, store.root)), store, f"contact_sheet_{shard}")]))
        if summary["ok"] else dg.MetadataValue.text("no stored photo in this shard")
    )
    # "requested" is the shard's row count, which the IO manager records as dagster/row_count.
    return {
        **{k: v for k, v in summary.items() if not isinstance(v, dict) and k != "requested"},
        "failure_reasons": dg.MetadataValue.json(summary["failure_reasons"]),
        "top_sizes": dg.MetadataValue.json(summary["top_sizes"]),
        "contact_sheet": sheet,
    }


