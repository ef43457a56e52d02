"""The report's frame: what produced it, which tables it read, and how to reproduce the run."""

from __future__ import annotations

import json
import shlex

import polars as pl

from hotelcap_pipeline.report.context import MACHINE_SETTINGS, ReportContext, portable_path
from hotelcap_pipeline.report.document import Bullets, Paragraph, Section, Table
from hotelcap_pipeline.report.tables import ReportTables
from hotelcap_pipeline.settings import ENV_VARS

REPORT_TABLES = (
    "chains",
    "hotels",
    "train_images",
    "test_images",
    "dataset_stats",
    "sampled_hotels",
    "hotel_images",
    "image_embeddings",
    "image_tags",
    "tag_evaluation",
    "tag_stats",
    "tag_clusters",
    "edit_selection",
    "edit_validation",
    "diffusion_edits",
    "visitor_portrait",
)
# The big metadata tables are only counted from dataset_stats; reading them here would cost minutes.
_NOT_READ = {"chains", "hotels", "train_images", "test_images"}


def about_section(ctx: ReportContext, tables: ReportTables) -> Section:
    s = Section("About this report", "about")
    s.add(
        Paragraph(
            f"Produced by profile `{ctx.profile}` with CLIP `{ctx.clip_label}` and diffusion model "
            f"`{ctx.diffusion_model}`, seed {ctx.seed}, {ctx.n_hotels} sampled hotels, device `{ctx.device}`."
        )
    )
    if ctx.is_demo:
        s.add(
            Paragraph(
                "**Demo profile: every number below comes from a synthetic world, not from real hotels.** "
                "The photos are procedural renders of hotel rooms whose contents and conditions are known, "
                "so tags, captions, clusters and the edit rule are measured against that truth. The CLIP is "
                "a small model trained on other renders of the same world; the diffusion model is a tiny "
                "random-weight one, so its edits are noise and the edit rule must reject them. Run the "
                "`hotels50k` profile (and label some photos) for numbers about real hotels."
            )
        )
    rows = []
    for key in REPORT_TABLES:
        frame = None if key in _NOT_READ else tables.get(key)
        present = _materialized(tables, key) if key in _NOT_READ else frame is not None
        rows.append(
            {"table": key, "materialized": present, "rows": frame.height if frame is not None else None}
        )
    s.add(Table(pl.DataFrame(rows), "Tables read by this report (rows –: a big metadata table, counted in the "
                                     "dataset review instead of read)"))
    return s


def _materialized(tables: ReportTables, key: str) -> bool:
    """Whether the store holds the big table ``key``, without reading or fetching it: a remote store is asked
    through its bucket's listing, since the report may be built on a machine whose local copy lacks it."""
    store = tables.store
    return not store.missing([store.table(key).relative_to(store.root).as_posix()])


def _recorded_models(tables: ReportTables) -> list[str]:
    found = []
    for key, columns in (
        ("image_embeddings", ("model",)),
        ("diffusion_edits", ("model", "clip_model")),
        ("visitor_portrait", ("model",)),
    ):
        frame = tables.get(key)
        for column in columns:
            if frame is not None and column in frame.columns:
                # A ControlNet edit records "base|controlnet"; each part is shown as the settings are.
                found += [
                    f"`{key}.{column}`: {'|'.join(portable_path(part) for part in m.split('|'))}"
                    for m in sorted(frame[column].drop_nulls().unique().to_list())
                ]
    return found


def reproduce_section(ctx: ReportContext, tables: ReportTables) -> Section:
    s = Section("How to reproduce", "reproduce")
    env = {var: str(getattr(ctx, name)) for name, var in ENV_VARS.items() if name not in MACHINE_SETTINGS}
    command = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items() if v) + " hotelcap materialize"
    if ctx.run_config:
        command += " --config-json " + shlex.quote(json.dumps(ctx.run_config, sort_keys=True))
    s.add(
        Paragraph(f"`{command}`"),
        Paragraph(
            f"Seed and number of hotels as `sampled_hotels` recorded them; models as the run's settings named "
            f"them; device `{ctx.device}` (as resolved where the report was written); paths relative to the "
            "checkout (`/path/to/...` stands for a file on the machine that ran it)."
        ),
        Paragraph(
            "Same inputs, same seed, same outputs: every random choice takes the seed, and work already "
            "done (photos, embeddings, edits) is reused."
        ),
    )
    models = _recorded_models(tables)
    if models:
        s.add(Paragraph("Models recorded in the tables:"), Bullets(tuple(models)))
    s.add(
        Table(
            pl.DataFrame({"package": list(ctx.packages), "version": list(ctx.packages.values())}),
            "Package versions",
        )
    )
    return s
