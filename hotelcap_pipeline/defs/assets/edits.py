"""Stage 4: the most different photos, their diffusion edit series (sharded), and the visitor's portrait.

No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
"""

import dataclasses
import io

import dagster as dg
import polars as pl
from pydantic import Field

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.defs.io import table_output
from hotelcap_pipeline.defs.partitions import per_shard_runs, shards
from hotelcap_pipeline.defs.resources import ClipResource, DiffusionResource, HotelcapSettings, seed_field
from hotelcap_pipeline.defs.ui_metadata import add_shard_metadata, declared_schema, served_figures, ui_table
from hotelcap_pipeline.edits.schema import EDIT_COLUMNS, PORTRAIT_COLUMNS, SELECTION_COLUMNS, VALIDATION_COLUMNS
from hotelcap_pipeline.ratelimit import Interval
from hotelcap_pipeline.sharding import SHARD_KEYS, with_shard
from hotelcap_pipeline.store import DataStore
from hotelcap_pipeline.tagging.methods import PRIMARY_METHOD, TaggingMethod

GROUP = "edits"
PROGRESS_EVERY_S = 5.0


class SelectionConfig(dg.Config):
    k: int = Field(default=8, ge=1, le=50, description="How many photos to edit (the study asks for 5-10).")
    seed: int | None = seed_field("the first pick")
    method: TaggingMethod = Field(default=PRIMARY_METHOD, description="Tagging method whose tags explain each pick.")
    subject_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of the picks that show each object an edit series changes (a bed, a window), where "
        "enough photos show it; 0: diversity alone.",
    )


@dg.asset(group_name=GROUP, kinds={"numpy", "parquet"}, code_version="3",
          deps=["image_embeddings", "image_tags", "hotel_images", "edit_series"],
          metadata=declared_schema(SELECTION_COLUMNS, "edit_selection"))
def edit_selection(context: dg.AssetExecutionContext, config: SelectionConfig, settings: HotelcapSettings) -> dg.Output:
    """The k most different photos: farthest-point sampling on the CLIP embeddings, a new hotel while one
    is left, and a share of the picks showing each object a series changes; each with its tags as the
    reason."""
    from hotelcap_pipeline.edits.selection import select_diverse
    from hotelcap_pipeline.edits.series import load_series

    store = settings.store()
    files = store.read_shards("hotel_images", SHARD_KEYS).select("image_id", "path")
    embeddings = store.read_shards("image_embeddings", SHARD_KEYS).join(files, on="image_id", how="inner")
    tags = store.read_table("image_tags").filter(pl.col("method") == config.method).select("image_id", "tags")
    subjects = [s.subject for s in load_series() if s.subject]
    picked = select_diverse(embeddings, tags, config.k, settings.seed_for(config.seed), tags_method=config.method,
                            subjects=subjects, subject_share=config.subject_share)
    picked = with_shard(picked).select(list(SELECTION_COLUMNS))  # the declared columns, in their order
    # On the materialization only: Output metadata is stored again in the STEP_OUTPUT event.
    context.add_asset_metadata(
        {"photos": picked.height, "hotels": picked.get_column("hotel_id").n_unique(),
         "reasons": dg.MetadataValue.md("\n".join(f"- {r}" for r in picked.get_column("reason")))}
    )
    return table_output(picked)


class ValidationConfig(dg.Config):
    rooms: int = Field(default=96, ge=16, le=400, description="Rooms per series (half fit the rule, half test it).")
    seed: int | None = seed_field("the validation rooms")


@dg.asset(
    group_name=GROUP,
    kinds={"open_clip", "parquet"},
    code_version="3",
    deps=["edit_series"],
    metadata=declared_schema(VALIDATION_COLUMNS, "edit_validation"),
)
def edit_validation(
    context: dg.AssetExecutionContext, config: ValidationConfig, settings: HotelcapSettings, clip: ClipResource
) -> dg.Output:
    """The edit scores validated on edits whose rightness is known: for each series with a world condition,
    synthetic rooms re-rendered with exactly that condition changed (true edits) and wrong edits (noise, the
    unchanged photo, another room, two conditions changed), scored with the run's CLIP and on their pixels. The
    acceptance rule (a threshold per score) is fitted on half of the rooms and its acceptance rates measured on
    the other."""
    from hotelcap_pipeline.edits.series import load_series
    from hotelcap_pipeline.edits.validation import score_aucs, validate_series, validation_summary

    model = clip.get(settings)
    series = [s for s in load_series() if s.world_condition]
    if not series:
        raise ValueError("no edit series names a world_condition: nothing can validate the edit rule")
    table = pl.concat([validate_series(model, s, config.rooms, settings.seed_for(config.seed)) for s in series])
    summary = validation_summary(table, [s.name for s in series])
    aucs = pl.concat(
        [score_aucs(table.filter(pl.col("series") == s.name)).with_columns(pl.lit(s.name).alias("series"))
         for s in series]
    )
    context.add_asset_metadata(
        {
            "clip_model": model.model_id,
            "validated_series": ", ".join(summary.filter(pl.col("validated"))["series"].to_list()) or "none",
            "summary": dg.MetadataValue.md(ui_table(summary, max_rows=20, max_width=80)),
            "score_auc": dg.MetadataValue.md(ui_table(aucs, max_rows=80)),
        }
    )
    return table_output(table)


@dg.asset(
    partitions_def=shards,
    backfill_policy=per_shard_runs,
    group_name=GROUP,
    kinds={"diffusers", "pytorch", "parquet"},
    pool="gpu",
    code_version="3",
    deps=["edit_series", "edit_selection", "edit_validation"],
    metadata=declared_schema({**EDIT_COLUMNS, "shard": pl.Utf8}, "diffusion_edits"),
)
def diffusion_edits(
    context: dg.AssetExecutionContext, settings: HotelcapSettings, clip: ClipResource, diffusion: DiffusionResource
) -> dg.Output:
    """Every (selected photo x edit series) with img2img, ControlNet or InstructPix2Pix at the photo's aspect
    ratio: a small strength sweep scored by CLIP image similarity (same room?), CLIP directional similarity
    (did the asked change happen?), SSIM (layout kept?) and two pixel scores (did anything else appear?), the
    best strength the series' validated rule accepts kept. Edits already
    rendered with the same photo bytes, model, settings and seed are reused."""
    from hotelcap_pipeline.edits.render import render_edits
    from hotelcap_pipeline.edits.series import load_series
    from hotelcap_pipeline.edits.validation import rule_of, rule_validated

    store = settings.store()
    edit_validation = store.read_table("edit_validation")
    selection = store.read_table("edit_selection").filter(pl.col("shard").is_in(context.partition_keys))
    previous = store.read_shards("diffusion_edits", context.partition_keys, missing_ok=True)
    if previous is not None:
        store.pull(previous.get_column("path").drop_nulls().to_list())
    store.pull(selection.get_column("path").to_list())
    # A series' seed in the YAML is an offset to the run's seed, so HOTELCAP_SEED moves every edit.
    series = [dataclasses.replace(x, seed=x.seed + settings.settings().seed) for x in load_series()]

    # Every few seconds and the last one: a rerun that reuses every edit writes two lines, not one per edit.
    progress_due = Interval(PROGRESS_EVERY_S)

    def progress(done: int, total: int, what: str) -> None:
        if progress_due.due(final=done == total):
            context.log.info(f"edits: {done}/{total} {what}")

    # The fitted rule chooses among the sweep even when it failed validation (it is still the best rule the
    # data gave); only a validated rule lets the report call a series worked.
    rules = {s.name: rule_of(edit_validation, s.name) for s in series}
    rows = render_edits(
        selection, store.root, series, diffusion.get(settings), clip.get(settings), previous,
        rules=rules, max_side=diffusion.edit_side(settings), progress=progress,
    )
    rows = with_shard(rows)
    store.push(rows.filter((pl.col("status") == "ok") & ~pl.col("reused")).get_column("path").to_list())
    validated = {s.name for s in series if rules[s.name] is not None and rule_validated(edit_validation, s.name)}
    add_shard_metadata(context, rows, lambda shard_rows, shard: _edit_shard_metadata(shard_rows, shard, series, store,
                                                                                      validated))
    # The rules are the run's, not a shard's: once, in the log, rather than copied onto every shard.
    described = (f"- {n}: {rule.describe() if rule else 'no validated rule'}" for n, rule in rules.items())
    context.log.info("edit rules:\n" + "\n".join(described))
    return dg.Output(rows)


def _edit_shard_metadata(rows: pl.DataFrame, shard: str, series: list, store: DataStore, validated: set[str]) -> dict:
    """One shard's counts, and its before/after grids written to report/figures/ (shown by URL, not inlined)."""
    from hotelcap_pipeline.edits.render import before_after_grid

    grids = []
    for s in series:
        if rows.filter((pl.col("edit") == s.name) & (pl.col("status") == "ok")).height:
            buf = io.BytesIO()
            before_after_grid(rows, store.root, s.name, rule_validated=s.name in validated).save(buf, format="PNG")
            path = store.figures / f"edits_{s.name}_{shard}.png"
            atomic_write_bytes(path, buf.getvalue())
            grids.append(path)
    store.push(grids)
    failed = rows.filter(pl.col("status") == "failed")
    skipped = rows.filter(pl.col("status") == "skipped")
    return {
        "edits": rows.height,
        "rendered": rows.filter(~pl.col("reused") & (pl.col("status") == "ok")).height,
        "reused": rows.filter(pl.col("reused")).height,
        "failed": failed.height,
        # Not tried: the series' model is unavailable, or the photo does not show what the series changes.
        "skipped": skipped.height,
        "accepted": rows.filter(pl.col("accepted").fill_null(False)).height,
        "errors": "\n".join(failed.get_column("error").drop_nulls().to_list()) or "none",
        "skip_reasons": "\n".join(sorted(set(skipped.get_column("error").drop_nulls().to_list()))) or "none",
        "grids": dg.MetadataValue.md(served_figures(store, grids) or "no edit in this shard"),
    }


class PortraitConfig(dg.Config):
    seed: int | None = seed_field("the portrait")
    steps: int = Field(default=30, ge=1, description="Denoising steps.")
    size: int = Field(default=512, ge=64, le=2048, multiple_of=8, description="Side of the square portrait, px.")


@dg.asset(group_name=GROUP, kinds={"diffusers", "parquet"}, code_version="1", deps=["persona"], pool="gpu",
          metadata=declared_schema(PORTRAIT_COLUMNS, "visitor_portrait"))
def visitor_portrait(
    context: dg.AssetExecutionContext, settings: HotelcapSettings, diffusion: DiffusionResource, config: PortraitConfig
) -> dg.Output:
    """A text-to-image portrait of a typical visitor from the persona in assets/persona.md, with the edits'
    diffusion model and seed rules (reused when prompt, model and settings are unchanged)."""
    from hotelcap_pipeline.edits.portrait import PERSONA_FILE, render_portrait

    store = settings.store()
    out = store.figures / "visitor_portrait.png"
    store.pull([out])
    record = render_portrait(  # the editors load only when the stored portrait cannot be reused
        diffusion.get(settings), PERSONA_FILE.read_text(encoding="utf-8"),
        settings.seed_for(config.seed), out, (config.size, config.size), steps=config.steps,
    )
    store.push([out])
    row = {**record, "path": str(out.relative_to(store.root))}
    context.add_asset_metadata(
        {"prompt": record.get("prompt", ""), "reused": bool(record.get("reused")),
         "portrait": dg.MetadataValue.md(served_figures(store, [out]))}
    )
    # The declared columns in their order, whether the portrait was rendered now or reused.
    return table_output(pl.DataFrame([row], schema=PORTRAIT_COLUMNS))
