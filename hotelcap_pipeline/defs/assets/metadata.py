"""Stage 1: the Hotels-50K metadata tables, the dataset review and the sample of hotels."""


from dataclasses import replace

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.io import table_output
from hotelcap_pipeline.defs.resources import HotelcapSettings, seed_field
from hotelcap_pipeline.defs.ui_metadata import declared_schema, save_figures
from hotelcap_pipeline.metadata.extract import ExtractLimits
from hotelcap_pipeline.metadata.occlusion import (
    OCCLUSION_COLUMNS,
    OCCLUSIONS,
    TestTree,
    empty_index,
    occlusion_counts,
    with_occlusion,
)
from hotelcap_pipeline.metadata.parse import SCHEMAS, OnBadRows, read_table
from hotelcap_pipeline.metadata.sample import sample_hotels as draw_sample
from hotelcap_pipeline.metadata.source import resolve_dataset, resolve_test_photos
from hotelcap_pipeline.sharding import with_shard

GROUP = "metadata"

TABLE_DESCRIPTIONS = {
    "chains": "Hotel chains from chain_info.csv (chain_id -1 is 'unknown').",
    "hotels": "Hotels from hotel_info.csv: name, chain, coordinates.",
    "train_images": "Train photos from train_set.csv (no header row upstream): URL, source, raw and parsed "
    "upload timestamp.",
    "test_images": "Test photos from test_set.csv: URL, source, raw and parsed upload timestamp; with "
    "HOTELCAP_TEST_PHOTOS, each photo's occlusion level, its file in the test-photo tree and its mask.",
}
_IMAGE_COLUMNS = {**SCHEMAS["images"], "uploaded_at": pl.Datetime("us")}
# Each table's columns, declared once on the asset for the UI (a materialization repeats them only if they differ).
TABLE_COLUMNS = {"chains": SCHEMAS["chains"], "hotels": SCHEMAS["hotels"], "train_images": _IMAGE_COLUMNS,
                 "test_images": {**_IMAGE_COLUMNS, **OCCLUSION_COLUMNS}}
SAMPLE_COLUMNS = {**SCHEMAS["hotels"], "n_train_images": pl.Int64, "sample_rank": pl.Int64, "seed": pl.Int64,
                  "shard": pl.Utf8}
STATS_COLUMNS = {"section": pl.Utf8, "metric": pl.Utf8, "value": pl.Float64}
# test_images 2: the occlusion, occlusions, photo_path and mask_path columns.
CODE_VERSIONS = {"chains": "1", "hotels": "1", "train_images": "1", "test_images": "2"}

_LIMITS = ExtractLimits()
# The upstream test photos: one 3.14 GB archive of 17,954 photos at up to four occlusion levels, with masks;
# JPEGs barely compress, so the ratio limit stays the metadata's.
TEST_PHOTO_LIMITS = ExtractLimits(max_total_bytes=20_000_000_000, max_members=1_000_000)


class MetadataConfig(dg.Config):
    on_bad_rows: OnBadRows = Field(
        default="error",
        description="'error' stops on an unparsable row (naming file, line, column); 'skip' drops and counts it.",
    )
    # Archive limits (ExtractLimits' defaults): the real archive unpacks to ~150 MB in 4 members, ratio near 5.
    max_unpacked_mb: int = Field(default=_LIMITS.max_total_bytes // 1_000_000, ge=1,
                                 description="An archive unpacking to more MB in all is refused.")
    max_member_mb: int = Field(default=_LIMITS.max_member_bytes // 1_000_000, ge=1,
                               description="An archive member unpacking to more MB is refused.")
    max_members: int = Field(default=_LIMITS.max_members, ge=1, description="An archive with more members is refused.")
    max_ratio: float = Field(default=_LIMITS.max_ratio, gt=1,
                             description="An archive unpacking to more than this many times its size is refused.")
    test_photos_max_unpacked_mb: int = Field(
        default=TEST_PHOTO_LIMITS.max_total_bytes // 1_000_000, ge=1,
        description="The test-photo archive (HOTELCAP_TEST_PHOTOS) is refused if it unpacks to more MB in all; "
        "max_member_mb and max_ratio apply to it too.")
    test_photos_max_members: int = Field(
        default=TEST_PHOTO_LIMITS.max_members, ge=1,
        description="The test-photo archive is refused if it has more members.")


@dg.multi_asset(
    outs={
        key: dg.AssetOut(
            description=desc, group_name=GROUP, kinds={"polars", "parquet"}, code_version=CODE_VERSIONS[key],
            is_required=False, metadata=declared_schema(TABLE_COLUMNS[key], key),
        )
        for key, desc in TABLE_DESCRIPTIONS.items()
    },
    can_subset=True,
)
def metadata_tables(context: dg.AssetExecutionContext, config: MetadataConfig, settings: HotelcapSettings):
    """Fetch (aiohttp, atomic, once), extract safely and parse the four CSVs into typed tables; with
    HOTELCAP_TEST_PHOTOS, the test photos' tree gives test_images its occlusion and mask columns."""
    s = settings.settings()
    limits = ExtractLimits(max_total_bytes=config.max_unpacked_mb * 1_000_000,
                           max_member_bytes=config.max_member_mb * 1_000_000,
                           max_members=config.max_members, max_ratio=config.max_ratio)
    folder = resolve_dataset(s.dataset, settings.store().raw_dataset, insecure_hosts=s.insecure_hosts,
                             limits=limits, origins=s.origins)
    context.log.info(f"reading Hotels-50K metadata from {folder}")
    for key in sorted(context.op_execution_context.selected_output_names):
        df, report = read_table(folder, key, on_bad_rows=config.on_bad_rows)
        metadata = {"source": s.dataset, **_reading_metadata(report.as_metadata())}
        if key == "test_images":
            tree = None
            if s.test_photos:
                store = settings.store()
                tree = resolve_test_photos(
                    s.test_photos, store.root, store.raw_dataset, insecure_hosts=s.insecure_hosts,
                    limits=replace(limits, max_total_bytes=config.test_photos_max_unpacked_mb * 1_000_000,
                                   max_members=config.test_photos_max_members),
                    origins=s.origins,
                )
                context.log.info(f"test photos from {s.test_photos}: {tree.index.height} photos indexed"
                                 + (" (extracted before, reused)" if tree.reused else ""))
            df = with_occlusion(df, tree.index if tree is not None else empty_index())
            metadata |= _test_photo_metadata(df, tree, s.test_photos)
        # On the materialization only: Output metadata is stored again in the STEP_OUTPUT event.
        context.add_asset_metadata(metadata, asset_key=key)
        yield table_output(df, output_name=key)


MAX_LISTED = 20


def _reading_metadata(report: dict) -> dict:
    """The file read, and what reading it found (rows, header, rows skipped and why, blank lines,
    duplicates, undecodable bytes) as one JSON entry: each entry costs ~130 bytes in every run's log and
    again in the index, and these counts are mostly 0."""
    return {"file": report["file"],
            "reading": dg.MetadataValue.json({k: v for k, v in report.items() if k != "file"})}


def _test_photo_metadata(test_images: pl.DataFrame, tree: TestTree | None, source: str) -> dict:
    """Photos and masks per occlusion level, rows matched, and the files that did not fit the layout."""
    if tree is None:
        return {"test_photos": "none (HOTELCAP_TEST_PHOTOS is empty: occlusion and mask columns are null)"}
    counts = occlusion_counts(tree.index)
    in_tree = set(tree.index.get_column("image_id").to_list())
    matched = test_images.filter(pl.col("occlusion").is_not_null()).height
    return {
        "test_photos": source,
        "test_photos_in_tree": tree.index.height,
        **{f"photos_{level}": n for level, n in counts["photos"].items()},
        "photos_per_occlusion": dg.MetadataValue.json(counts["photos"]),
        "masks_per_occlusion": dg.MetadataValue.json(counts["masks"]),
        "rows_with_photo": matched,
        "rows_without_photo": test_images.height - matched,
        "tree_photos_not_in_test_set": len(in_tree - set(test_images.get_column("image_id").to_list())),
        "outside_layout": len(tree.outside_layout),
        "outside_layout_examples": dg.MetadataValue.json(tree.outside_layout[:MAX_LISTED]),
        **({"index_per_level": dg.MetadataValue.path(str(tree.index_file))} if tree.index_file else {}),
    }


@dg.asset(group_name=GROUP, kinds={"polars", "scipy"}, code_version="2",
          deps=["chains", "hotels", "train_images", "test_images"],
          metadata=declared_schema(STATS_COLUMNS, "dataset_stats"))
def dataset_stats(context: dg.AssetExecutionContext, settings: HotelcapSettings) -> dg.Output:
    """Dataset review: counts, balance (Gini), image sources, and exponential vs log-normal fits of
    hotels per chain with Kolmogorov-Smirnov, Anderson-Darling and Shapiro-Wilk tests."""
    from hotelcap_pipeline.metadata.stats import review_dataset  # scipy: imported when the asset runs

    store = settings.store()
    test_images = store.read_table("test_images")
    review = review_dataset(store.read_table("chains"), store.read_table("hotels"), store.read_table("train_images"),
                            test_images)
    figures = save_figures(review.figures, store, prefix="dataset_")
    context.add_asset_metadata({**review.headline, **_occlusion_headline(test_images), **figures})
    return table_output(review.table)


def _occlusion_headline(test_images: pl.DataFrame) -> dict:
    """Test photos per occlusion level they are held at (a photo counts once per level), when known."""
    if "occlusions" not in test_images.columns or test_images.get_column("occlusion").is_null().all():
        return {}
    held = test_images.select(pl.col("occlusions").explode()).drop_nulls().to_series()
    return {"test_photos_per_occlusion": dg.MetadataValue.json(
        {level: int((held == level).sum()) for level in OCCLUSIONS}
    )}


class SampleConfig(dg.Config):
    n_hotels: int | None = Field(
        default=None, ge=1, description="How many hotels; default: the settings resource's n_hotels."
    )
    seed: int | None = seed_field("the draw")
    min_train_images: int = Field(default=0, ge=0, description="Only hotels with at least this many train photos.")
    chains: list[int] = Field(default_factory=list, description="Only hotels of these chain ids (empty: all).")


@dg.asset(group_name=GROUP, kinds={"polars"}, code_version="1", deps=["hotels", "train_images"],
          metadata=declared_schema(SAMPLE_COLUMNS, "sampled_hotels"))
def sampled_hotels(context: dg.AssetExecutionContext, config: SampleConfig, settings: HotelcapSettings) -> dg.Output:
    """The hotels of this run, drawn reproducibly from the seed; raising n only adds hotels."""
    seed = settings.seed_for(config.seed)
    store = settings.store()
    hotels, train_images = store.read_table("hotels"), store.read_table("train_images")
    sample = with_shard(
        draw_sample(
            hotels, train_images, config.n_hotels or settings.settings().n_hotels, seed,
            min_train_images=config.min_train_images, chains=config.chains or None,
        )
    )
    context.add_asset_metadata(
        {
            "hotels": sample.height,
            "train_photos": int(sample.get_column("n_train_images").sum()),
            "seed": seed,
            "chains": sample.get_column("chain_id").n_unique(),
        }
    )
    return table_output(sample)
