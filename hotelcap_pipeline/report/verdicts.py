"""'What worked and what did not', decided from the numbers in the tables, never written in advance."""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.report.context import ReportContext
from hotelcap_pipeline.report.document import Bullets, Paragraph, Section
from hotelcap_pipeline.report.sections import cluster_agreement, edit_summary, pct
from hotelcap_pipeline.report.tables import ReportTables
from hotelcap_pipeline.tagging.stats import ORIGINAL_STUDY

MAX_FAILED_PHOTOS = 0.10  # more failed downloads than this is a problem worth naming
MIN_GAP_SHARE = 0.25  # a 1st-10th gap below this share of the top score: present and absent tags look alike
MIN_CLUSTER_ARI = 0.3  # clusters that follow hotels at least this well count as matching them
MIN_RECOGNISABLE = 0.8


def findings(ctx: ReportContext, tables: ReportTables) -> tuple[list[str], list[str]]:
    """(worked, did not work) as sentences with the numbers behind them."""
    worked: list[str] = []
    failed: list[str] = []
    if ctx.is_demo:
        failed.append(
            f"The demo profile's models (`{ctx.clip_model}`, `{ctx.diffusion_model}`) are random, so its "
            "tags, clusters and edits are meaningless; only the pipeline itself is being tested."
        )

    images = tables.get("hotel_images")
    if images is not None and images.height:
        bad = images.filter(pl.col("status") != "ok").height / images.height
        (failed if bad > MAX_FAILED_PHOTOS else worked).append(
            f"Photo download: {pct(1 - bad)} of {images.height} photos fetched and resized, "
            f"{pct(bad)} failed."
        )

    stats = tables.get("tag_stats")
    if stats is not None:
        for row in stats.filter(pl.col("method") != ORIGINAL_STUDY["method"]).iter_rows(named=True):
            top1, gap = row.get("mean_top1_score"), row.get("mean_gap_1st_10th")
            if (row.get("score_kind") or "cosine") == "cosine" and top1 and gap is not None:
                share = gap / top1
                (failed if share < MIN_GAP_SHARE else worked).append(
                    f"Tagging `{row['method']}`: the gap between the 1st and 10th tag is {pct(share)} of the "
                    f"top cosine ({gap:.3f} of {top1:.3f}); "
                    + (
                        "present and absent tags score almost alike."
                        if share < MIN_GAP_SHARE
                        else "tags in the photo stand out from the rest."
                    )
                )
            distinct = row.get("mean_distinct_tags_per_hotel")
            if distinct is not None:
                worked.append(
                    f"Tagging `{row['method']}`: {row['mean_tags_per_photo']:.2f} tags per photo and "
                    f"{distinct:.2f} distinct tags per hotel (study: 2.16 and 10.46)."
                )

    clusters = tables.get("tag_clusters")
    if clusters is not None and clusters.height:
        a = cluster_agreement(clusters)
        ari = a["vs_hotel"]["ari"]  # type: ignore[index]
        (worked if ari >= MIN_CLUSTER_ARI else failed).append(
            f"Clusters: {a['k']} k-modes clusters vs {a['n_hotels']} hotels, ARI {ari:.2f} against hotels: "
            + (
                "the tags separate hotels."
                if ari >= MIN_CLUSTER_ARI
                else "tags of common objects do not tell hotels apart."
            )
        )

    edits = tables.get("diffusion_edits")
    if edits is not None and edits.height:
        for row in edit_summary(edits).iter_rows(named=True):
            share = row["recognisable"]
            if row["ok"] < row["photos"]:
                failed.append(
                    f"Edits `{row['edit']}`: {row['photos'] - row['ok']} of {row['photos']} failed."
                )
            if share is not None:
                (worked if share >= MIN_RECOGNISABLE else failed).append(
                    f"Edits `{row['edit']}`: {pct(share)} keep the room recognisable (mean CLIP similarity "
                    f"{row['clip_image_sim']:.2f}, SSIM {row['ssim']:.2f})."
                )
        flagged = (
            edits.filter(pl.col("nan_or_black").fill_null(False)).height
            if "nan_or_black" in edits.columns
            else 0
        )
        if flagged:
            failed.append(f"Edits: {flagged} chosen edits are NaN or black images.")
    return worked, failed


def findings_section(ctx: ReportContext, tables: ReportTables) -> Section:
    s = Section("What worked and what did not", "findings")
    worked, failed = findings(ctx, tables)
    s.add(Paragraph("**Worked:**"), Bullets(tuple(worked)) if worked else Paragraph("Nothing measured yet."))
    s.add(
        Paragraph("**Did not work:**"),
        Bullets(tuple(failed)) if failed else Paragraph("Nothing measured failed."),
    )
    return s
