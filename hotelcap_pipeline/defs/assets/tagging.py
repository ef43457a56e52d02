"""Stage 3: CLIP embeddings (sharded), zero-shot tags, tag statistics and k-modes clusters.

`image_tags` is deliberately not sharded: it is a small matrix product over stored embeddings, and
the calibrated method standardises each tag over the whole collection, which shards would change.
No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
Stage modules that pull in torch or scikit-learn are imported inside the assets, so loading the code
location (dagster dev, every step subprocess) stays fast.
"""

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.metadata import save_figures
from hotelcap_pipeline.defs.partitions import per_shard_runs, shards
from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings
from hotelcap_pipeline.sharding import with_shard
from hotelcap_pipeline.tagging.methods import DEFAULT_THRESHOLDS, METHODS, PRIMARY_METHOD, SCORE_KINDS
from hotelcap_pipeline.tagging.vocabulary import load_templates, load_vocabulary

GROUP = "tagging"


@dg.asset(
    partitions_def=shards,
    backfill_policy=per_shard_runs,
    group_name=GROUP,
    kinds={"pytorch", "open_clip", "parquet"},
    pool="gpu",
    code_version="1",
)
def image_embeddings(
    context: dg.AssetExecutionContext, settings: HotelcapSettings, clip: ClipResource, hotel_images: pl.DataFrame
) -> dg.Output:
    """One L2-normalised CLIP embedding per ok photo, keyed by (photo sha256, model): photos already
    embedded by the same model are reused, so a rerun without new photos computes nothing."""
    from hotelcap_pipeline.tagging.embed import embed_images

    store = settings.store()
    cached = store.read_shards("image_embeddings", context.partition_keys, missing_ok=True)
    store.pull(hotel_images.filter(pl.col("status") == "ok").get_column("path").to_list())
    model = clip.get(settings)
    context.log.info(f"embedding with {model.model_id} on {model.device}")

    def progress(done: int, total: int) -> None:
        context.log.info(f"embeddings: {done}/{total} computed")

    table, stats = embed_images(
        hotel_images, store.root, model, cached, batch_size=clip.batch_size, workers=clip.workers, progress=progress
    )
    errors = stats.pop("errors", [])
    return dg.Output(
        with_shard(table),
        metadata={"model": model.model_id, "device": model.device, **stats,
                  "errors": "\n".join(errors) or "none"},
    )


class TagConfig(dg.Config):
    seed_threshold: float = Field(default=DEFAULT_THRESHOLDS["seed"], description="Cosine threshold, seed method.")
    ensemble_threshold: float = Field(default=DEFAULT_THRESHOLDS["ensemble"], description="Cosine, ensemble.")
    calibrated_threshold: float = Field(
        default=DEFAULT_THRESHOLDS["calibrated"], description="Robust z threshold, calibrated method."
    )


@dg.asset(
    group_name=GROUP,
    kinds={"open_clip", "parquet"},
    code_version="1",
    deps=["vocabulary", "prompt_templates"],
)
def image_tags(
    config: TagConfig, settings: HotelcapSettings, clip: ClipResource, image_embeddings: pl.DataFrame
) -> dg.Output:
    """Tags in the visitors' vocabulary, by every method (seed, ensemble, calibrated) side by side;
    every tag's score is kept in score_<label> so thresholds can change without recomputing."""
    from hotelcap_pipeline.tagging.tags import tag_all_methods

    vocabulary = load_vocabulary()
    thresholds = {"seed": config.seed_threshold, "ensemble": config.ensemble_threshold,
                  "calibrated": config.calibrated_threshold}
    table = tag_all_methods(
        image_embeddings.sort("image_id"), clip.get(settings), vocabulary, thresholds=thresholds,
        templates=load_templates(),
    )
    per_method = table.group_by("method").agg(pl.col("tags").list.len().mean().alias("mean_tags"))
    return dg.Output(
        table,
        metadata={
            "photos": image_embeddings.height,
            "vocabulary": ", ".join(t.label for t in vocabulary),
            "methods": ", ".join(METHODS),
            "mean_tags_per_photo": dg.MetadataValue.json(
                {m: round(float(v), 3) for m, v in per_method.sort("method").iter_rows()}
            ),
        },
    )


@dg.asset(group_name=GROUP, kinds={"polars", "matplotlib"}, code_version="1")
def tag_stats(settings: HotelcapSettings, image_tags: pl.DataFrame) -> dg.Output:
    """The original review's numbers per method (mean tags per photo, mean top-1 score, 1st-10th gap,
    distinct tags per hotel) beside the original study's, with tag frequency and co-occurrence figures."""
    from hotelcap_pipeline.tagging.stats import cooccurrence_figure, tag_frequency_figure, tag_statistics

    table = tag_statistics(image_tags, SCORE_KINDS)
    labels = [t.label for t in load_vocabulary()]
    figures = {
        "tag_frequency": tag_frequency_figure(image_tags, labels),
        f"tag_cooccurrence_{PRIMARY_METHOD}": cooccurrence_figure(image_tags, PRIMARY_METHOD, labels),
        "tag_cooccurrence_seed": cooccurrence_figure(image_tags, "seed", labels),
    }
    return dg.Output(table, metadata=save_figures(figures, settings.store(), prefix="tag_stats_"))


class ClusterConfig(dg.Config):
    method: str = Field(default=PRIMARY_METHOD, description="Which tagging method's tags to cluster.")
    k_max: int = Field(default=12, description="Largest k of the elbow search.")
    seed: int = Field(default=0, description="Seed of k-modes' initialisation.")


@dg.asset(group_name=GROUP, kinds={"kmodes", "parquet"}, code_version="1")
def tag_clusters(settings: HotelcapSettings, config: ClusterConfig, image_tags: pl.DataFrame) -> dg.Output:
    """k-modes clusters of the binary tag vectors: k by the cost elbow, and k = hotels, k = chains for the
    comparison, with ARI, NMI and purity against hotel and chain and a plain answer on whether clusters
    match classes."""
    from hotelcap_pipeline.tagging.clusters import cluster_tags

    rows = image_tags.filter(pl.col("method") == config.method).sort("image_id")
    labels = [t.label for t in load_vocabulary()]
    analysis = cluster_tags(rows, labels, k_range=range(1, config.k_max + 1), seed=config.seed)
    summary = analysis.summary
    figures = save_figures({"tag_clusters_elbow": analysis.elbow_png}, settings.store())
    return dg.Output(
        analysis.assignments.with_columns(pl.lit(config.method).alias("method")),
        metadata={
            "method": config.method,
            "elbow_k": summary["elbow_k"],
            "n_hotels": summary["n_hotels"],
            "n_chains": summary["n_chains"],
            "answer": dg.MetadataValue.md(summary["answer"]),
            "summary": dg.MetadataValue.json(summary),
            **figures,
        },
    )
