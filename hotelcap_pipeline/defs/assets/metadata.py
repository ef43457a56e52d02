"""Stage 1: the Hotels-50K metadata tables, the dataset review and the sample of hotels."""


import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.resources import HotelcapSettings, seed_field
from hotelcap_pipeline.defs.ui_metadata import save_figures
from hotelcap_pipeline.metadata.extract import ExtractLimits
from hotelcap_pipeline.metadata.parse import OnBadRows, read_table
from hotelcap_pipeline.metadata.sample import sample_hotels as draw_sample
from hotelcap_pipeline.metadata.source import resolve_dataset
from hotelcap_pipeline.sharding import with_shard

GROUP = "metadata"

TABLE_DESCRIPTIONS = {
    "chains": "Hotel chains from chain_info.csv (chain_id -1 is 'unknown').",
    "hotels": "Hotels from hotel_info.csv: name, chain, coordinates.",
    "train_images": "Train photos from train_set.csv (no header row upstream): URL, source, raw and parsed "
    "upload timestamp.",
    "test_images": "Test photos from test_set.csv: URL, source, raw and parsed upload timestamp.",
}


_LIMITS = ExtractLimits()


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


@dg.multi_asset(
    outs={
        key: dg.AssetOut(
            description=desc, group_name=GROUP, kinds={"polars", "parquet"}, code_version="1", is_required=False
        )
        for key, desc in TABLE_DESCRIPTIONS.items()
    },
    can_subset=True,
)
def metadata_tables(context: dg.AssetExecutionContext, config: MetadataConfig, settings: HotelcapSettings):
    """Fetch (aiohttp, atomic, once), extract safely and parse the four CSVs into typed tables."""
    s = settings.settings()
    limits = ExtractLimits(max_total_bytes=config.max_unpacked_mb * 1_000_000,
                           max_member_bytes=config.max_member_mb * 1_000_000,
                           max_members=config.max_members, max_ratio=config.max_ratio)
    folder = resolve_dataset(s.dataset, settings.store().raw_dataset, insecure_hosts=s.insecure_hosts,
                             limits=limits)
    context.log.info(f"reading Hotels-50K metadata from {folder}")
    for key in sorted(context.op_execution_context.selected_output_names):
        df, report = read_table(folder, key, on_bad_rows=config.on_bad_rows)
        yield dg.Output(df, output_name=key, metadata={"source": s.dataset, **report.as_metadata()})


@dg.asset(group_name=GROUP, kinds={"polars", "scipy"}, code_version="1")
def dataset_stats(
    settings: HotelcapSettings,
    chains: pl.DataFrame,
    hotels: pl.DataFrame,
    train_images: pl.DataFrame,
    test_images: pl.DataFrame,
) -> dg.Output:
    """Dataset review: counts, balance (Gini), image sources, and exponential vs log-normal fits of
    hotels per chain with Kolmogorov-Smirnov, Anderson-Darling and Shapiro-Wilk tests."""
    from hotelcap_pipeline.metadata.stats import review_dataset  # scipy: imported when the asset runs

    review = review_dataset(chains, hotels, train_images, test_images)
    store = settings.store()
    figures = save_figures(review.figures, store, prefix="dataset_")
    return dg.Output(review.table, metadata={**review.headline, **figures})


class SampleConfig(dg.Config):
    n_hotels: int | None = Field(
        default=None, ge=1, description="How many hotels; default: the settings resource's n_hotels."
    )
    seed: int | None = seed_field("the draw")
    min_train_images: int = Field(default=0, ge=0, description="Only hotels with at least this many train photos.")
    chains: list[int] = Field(default_factory=list, description="Only hotels of these chain ids (empty: all).")


@dg.asset(group_name=GROUP, kinds={"polars"}, code_version="1")
def sampled_hotels(
    config: SampleConfig, settings: HotelcapSettings, hotels: pl.DataFrame, train_images: pl.DataFrame
) -> dg.Output:
    """The hotels of this run, drawn reproducibly from the seed; raising n only adds hotels."""
    seed = settings.seed_for(config.seed)
    sample = with_shard(
        draw_sample(
            hotels, train_images, config.n_hotels or settings.settings().n_hotels, seed,
            min_train_images=config.min_train_images, chains=config.chains or None,
        )
    )
    return dg.Output(
        sample,
        metadata={
            "hotels": sample.height,
            "train_photos": int(sample.get_column("n_train_images").sum()),
            "seed": seed,
            "chains": sample.get_column("chain_id").n_unique(),
        },
    )
