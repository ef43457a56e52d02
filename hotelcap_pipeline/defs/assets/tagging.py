"""Stage 3: CLIP embeddings (sharded), zero-shot tags, tag statistics and k-modes clusters.

`image_tags` is deliberately not sharded: it is a small matrix product over stored embeddings, and
the calibrated method standardises each tag over the whole collection, which shards would change.
No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
Stage modules that pull in torch or scikit-learn are imported inside the assets, so loading the code
location (dagster dev, every step subprocess) stays fast.
"""

from pathlib import Path

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.defs.io import table_output
from hotelcap_pipeline.defs.partitions import per_shard_runs, shards
from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings, seed_field
from hotelcap_pipeline.defs.ui_metadata import declared_schema, save_figures, ui_table
from hotelcap_pipeline.frames import number
from hotelcap_pipeline.models import clip_code_version
from hotelcap_pipeline.settings import load_settings
from hotelcap_pipeline.sharding import SHARD_KEYS, with_shard
from hotelcap_pipeline.tagging.methods import (
    DEFAULT_THRESHOLDS,
    METHODS,
    PRIMARY_METHOD,
    SCORE_KINDS,
    TaggingMethod,
)
from hotelcap_pipeline.tagging.schema import EMBEDDING_SCHEMA, EVALUATION_SCHEMA
from hotelcap_pipeline.tagging.vocabulary import load_templates, load_vocabulary, score_column
from hotelcap_pipeline.yaml_input import InputFileError

GROUP = "tagging"
_IDS = {"image_id": pl.Int64, "hotel_id": pl.Int64, "chain_id": pl.Int64}
STATS_COLUMNS = {"method": pl.Utf8, "score_kind": pl.Utf8, "photos": pl.Int64, "hotels": pl.Int64,
                 "mean_tags_per_photo": pl.Float64, "mean_top1_score": pl.Float64, "mean_gap_1st_10th": pl.Float64,
                 "mean_distinct_tags_per_hotel": pl.Float64, "max_distinct_tags_per_hotel": pl.Int64,
                 "min_distinct_tags_per_hotel": pl.Int64}
EVALUATION_COLUMNS = EVALUATION_SCHEMA  # declared on tag_evaluation


def tag_columns() -> dict[str, pl.DataType | type[pl.DataType]]:
    """image_tags' columns with the vocabulary as the definitions load (none declared if it cannot be read:
    the run reports that; every materialization then carries its own schema)."""
    try:
        labels = [t.label for t in load_vocabulary()]
    except (InputFileError, OSError):
        return {}
    return {**_IDS, "method": pl.Utf8, "tags": pl.List(pl.Utf8), "caption": pl.Utf8,
            **{score_column(label): pl.Float32 for label in labels}}


def cluster_columns(labelled: bool) -> dict[str, pl.DataType | type[pl.DataType]]:
    """tag_clusters' columns; room kinds only come with a labels file."""
    kinds = {"room_kind": pl.Utf8} if labelled else {}
    ks = ["cluster", "cluster_k_hotels", "cluster_k_chains"] + (["cluster_k_room_kinds"] if labelled else [])
    return {**_IDS, **kinds, **dict.fromkeys(ks, pl.Int32), "method": pl.Utf8}


@dg.asset(
    partitions_def=shards,
    backfill_policy=per_shard_runs,
    group_name=GROUP,
    kinds={"pytorch", "open_clip", "parquet"},
    pool="gpu",
    # The CLIP is part of the version: another model marks the embeddings and everything after them stale.
    # A code version is fixed when the definitions load, so this one reads the environment then: a new
    # CLIP (HOTELCAP_CLIP_*) makes the embeddings stale once the code location is reloaded.
    code_version=f"1-clip-{clip_code_version(load_settings())}",
    deps=["hotel_images"],
    metadata=declared_schema({**EMBEDDING_SCHEMA, "shard": pl.Utf8}, "image_embeddings"),
)
def image_embeddings(context: dg.AssetExecutionContext, settings: HotelcapSettings, clip: ClipResource) -> dg.Output:
    """One L2-normalised CLIP embedding per ok photo, keyed by (photo sha256, model): photos already
    embedded by the same model are reused, so a rerun without new photos computes nothing."""
    from hotelcap_pipeline.tagging.embed import EmbeddingCheckpoint, embed_images

    store = settings.store()
    hotel_images = store.read_shards("hotel_images", context.partition_keys)
    cached = store.read_shards("image_embeddings", context.partition_keys, missing_ok=True)
    store.pull(hotel_images.filter(pl.col("status") == "ok").get_column("path").to_list())
    model = clip.get(settings)
    context.log.info(f"embedding with {model.model_id} on {model.device}")

    tables = []
    checkpoints = []
    # Shard by shard, so each shard's materialization shows its own counts and throughput.
    for shard in context.partition_keys:
        def progress(done: int, total: int, shard: str = shard) -> None:
            context.log.info(f"embeddings of {shard}: {done}/{total} computed")

        # Saved in parts as they are computed: a killed run resumes from the last part.
        checkpoint = EmbeddingCheckpoint(store.table("image_embeddings"), shard)
        table, stats = embed_images(
            hotel_images.filter(pl.col("shard") == shard), store.root, model, cached,
            batch_size=clip.batch_size, workers=clip.workers, progress=progress, checkpoint=checkpoint,
        )
        checkpoints.append(checkpoint)
        errors = stats.pop("errors", [])
        # The errors only when there are any ("failed" counts them).
        context.add_asset_metadata({**stats, **({"errors": "\n".join(errors)} if errors else {}),
                                    "model": model.model_id, "device": model.device}, partition_key=shard)
        tables.append(table)
    for checkpoint in checkpoints:
        checkpoint.clear()  # everything they held is in the table returned now
    return dg.Output(with_shard(pl.concat(tables)))


class TagConfig(dg.Config):
    seed_threshold: float = Field(
        default=DEFAULT_THRESHOLDS["seed"], ge=-1, le=1, description="Cosine threshold, seed method.")
    ensemble_threshold: float = Field(
        default=DEFAULT_THRESHOLDS["ensemble"], ge=-1, le=1, description="Cosine, ensemble.")
    calibrated_threshold: float = Field(
        default=DEFAULT_THRESHOLDS["calibrated"], description="Robust z threshold, calibrated method."
    )


@dg.asset(
    group_name=GROUP,
    kinds={"open_clip", "parquet"},
    code_version="1",
    deps=["vocabulary", "prompt_templates", "image_embeddings"],
    metadata=declared_schema(tag_columns(), "image_tags"),
)
def image_tags(
    context: dg.AssetExecutionContext, config: TagConfig, settings: HotelcapSettings, clip: ClipResource
) -> dg.Output:
    """Tags in the visitors' vocabulary, by every method (seed, ensemble, calibrated) side by side, and a
    one-sentence caption in the visitors' words per photo; every tag's score is kept in `score_<label>` so
    thresholds can change without recomputing."""
    from hotelcap_pipeline.tagging.tags import tag_all_methods
    from hotelcap_pipeline.tagging.text_cache import CachedTextEncoder

    image_embeddings = settings.store().read_shards("image_embeddings", SHARD_KEYS)
    vocabulary = load_vocabulary()
    thresholds = {"seed": config.seed_threshold, "ensemble": config.ensemble_threshold,
                  "calibrated": config.calibrated_threshold}
    # Prompt embeddings are kept per (model, prompt): a rerun with unchanged prompts and model encodes none.
    texts = CachedTextEncoder(clip.get(settings), settings.store().models / "text_embeddings")
    table = tag_all_methods(
        image_embeddings.sort("image_id"), texts, vocabulary, thresholds=thresholds, templates=load_templates(),
    )
    texts.save()
    per_method = table.group_by("method").agg(pl.col("tags").list.len().mean().alias("mean_tags"))
    # On the materialization only: Output metadata is stored again in the STEP_OUTPUT event.
    context.add_asset_metadata(
        {
            "photos": image_embeddings.height,
            "prompts_encoded": texts.encoded,
            "vocabulary": ", ".join(t.label for t in vocabulary),
            "methods": ", ".join(METHODS),
            "mean_tags_per_photo": dg.MetadataValue.json(
                {m: round(float(v), 3) for m, v in per_method.sort("method").iter_rows()}
            ),
            "captions": dg.MetadataValue.md(
                ui_table(table.filter(pl.col("method") == "seed").select("image_id", "tags", "caption"),
                               max_rows=10, max_width=90)
            ),
        }
    )
    return table_output(table)


@dg.asset(group_name=GROUP, kinds={"polars", "matplotlib"}, code_version="3", deps=["image_tags"],
          metadata=declared_schema(EVALUATION_COLUMNS, "tag_evaluation"))
def tag_evaluation(context: dg.AssetExecutionContext, settings: HotelcapSettings) -> dg.Output:
    """Tags and captions measured against known truth (the labels CSV, HOTELCAP_LABELS): per method
    (seed, ensemble, calibrated, and labelled: per-tag thresholds fitted on half of the labelled photos)
    and tag, precision, recall, F1, average precision and ROC AUC of present vs absent photos. Without a
    labels file the table is empty and says so."""
    from hotelcap_pipeline.tagging.evaluation import (
        auc_figure,
        evaluate_tags,
        evaluation_summary,
        score_distribution_figure,
    )
    from hotelcap_pipeline.tagging.labels import read_labels

    s = settings.settings()
    if not s.labels:

        context.add_asset_metadata(
            {"labels": "none: set HOTELCAP_LABELS to a CSV of image_id,tags to measure the tags"}
        )
        return table_output(pl.DataFrame(schema=EVALUATION_SCHEMA))
    labels_order = [t.label for t in load_vocabulary()]
    labels = read_labels(s.labels, labels_order, s.origin("labels"))
    image_tags = settings.store().read_table("image_tags")
    table = evaluate_tags(image_tags, labels, labels_order, seed=s.seed, labels_origin=s.origin("labels"))
    summary = evaluation_summary(table)
    common = (
        labels.explode("tags", empty_as_null=True).drop_nulls("tags").group_by("tags").len()
        .sort(["len", "tags"], descending=True)
    )
    shown = [t for t in common["tags"].to_list() if common.filter(pl.col("tags") == t)["len"][0] > 0][:4]
    figures = {
        "tag_evaluation_auc": auc_figure(table),
        "tag_evaluation_scores_seed": score_distribution_figure(image_tags, labels, "seed", shown),
    }
    context.add_asset_metadata(
        {
            "labels": Path(s.labels).name,
            "labelled_photos": int(number(table["photos"].max(), default=0)),
            "split": f"labelled: per-tag thresholds fitted on one half of the labelled photos (seed {s.seed}), "
            "measured on the other half",
            "summary": dg.MetadataValue.md(ui_table(summary, max_rows=20)),
            **save_figures(figures, settings.store()),
        }
    )
    return table_output(table)


@dg.asset(group_name=GROUP, kinds={"polars", "matplotlib"}, code_version="2", deps=["image_tags"],
          metadata=declared_schema(STATS_COLUMNS, "tag_stats"))
def tag_stats(context: dg.AssetExecutionContext, settings: HotelcapSettings) -> dg.Output:
    """The original review's numbers per method (mean tags per photo, mean top-1 score, 1st-10th gap,
    distinct tags per hotel) beside the original study's, with tag frequency and co-occurrence figures."""
    from hotelcap_pipeline.tagging.stats import cooccurrence_figure, tag_frequency_figure, tag_statistics

    image_tags = settings.store().read_table("image_tags")
    table = tag_statistics(image_tags, SCORE_KINDS)
    labels = [t.label for t in load_vocabulary()]
    figures = {
        "tag_frequency": tag_frequency_figure(image_tags, labels),
        f"tag_cooccurrence_{PRIMARY_METHOD}": cooccurrence_figure(image_tags, PRIMARY_METHOD, labels),
        "tag_cooccurrence_seed": cooccurrence_figure(image_tags, "seed", labels),
    }
    context.add_asset_metadata(save_figures(figures, settings.store(), prefix="tag_stats_"))
    return table_output(table)


class ClusterConfig(dg.Config):
    method: TaggingMethod = Field(
        default="seed",
        description="The tagging method whose clusters the answer is about (the study clustered the seed "
        "method's tags); every method is clustered side by side.",
    )
    k_max: int = Field(default=12, ge=2, description="Largest k of the elbow search.")
    seed: int | None = seed_field("k-modes' initialisation")


@dg.asset(group_name=GROUP, kinds={"kmodes", "parquet"}, code_version="3", deps=["image_tags"],
          metadata=declared_schema(cluster_columns(bool(load_settings().labels)), "tag_clusters"))
def tag_clusters(context: dg.AssetExecutionContext, settings: HotelcapSettings, config: ClusterConfig) -> dg.Output:
    """k-modes clusters of the binary tag vectors of every tagging method (one block of rows per method):
    k by the cost elbow, and k = the number of hotels, chains and (where labels exist) room kinds, with
    ARI, NMI and purity against each, and an answer on whether clusters match classes."""
    from hotelcap_pipeline.tagging.clusters import agreement_table, cluster_tags, match_answer

    labels = [t.label for t in load_vocabulary()]
    s = settings.settings()
    room_kinds = None
    if s.labels:
        from hotelcap_pipeline.tagging.labels import read_labels

        room_kinds = (read_labels(s.labels, labels, s.origin("labels"))
                      .select("image_id", "room_kind").drop_nulls("room_kind"))
    image_tags = settings.store().read_table("image_tags")
    blocks, summaries, elbow_png = [], {}, None
    for method in image_tags["method"].unique(maintain_order=True).to_list():
        rows = image_tags.filter(pl.col("method") == method).sort("image_id")
        analysis = cluster_tags(rows, labels, k_range=range(1, config.k_max + 1), seed=settings.seed_for(config.seed),
                                room_kinds=room_kinds)
        blocks.append(analysis.assignments.with_columns(pl.lit(method).alias("method")))
        summaries[method] = analysis.summary
        if method == config.method:
            elbow_png = analysis.elbow_png
    if config.method not in summaries:
        raise ValueError(f"tag_clusters.method={config.method!r}: image_tags holds {', '.join(summaries)}")
    table = pl.concat(blocks, how="diagonal_relaxed")
    agreements = agreement_table(table)
    answer = match_answer(agreements, summaries[config.method], config.method)
    figures = save_figures({"tag_clusters_elbow": elbow_png}, settings.store()) if elbow_png else {}
    context.add_asset_metadata(
        {
            "method": config.method,
            "elbow_k": summaries[config.method]["elbow_k"],
            "answer": dg.MetadataValue.md(answer),
            "agreement": dg.MetadataValue.md(ui_table(agreements, max_rows=60)),
            **figures,
        }
    )
    return table_output(table)
