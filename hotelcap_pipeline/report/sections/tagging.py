"""Tagging per method against the original study and against known truth, and the clusters of the tags."""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.criteria import ORIGINAL_STUDY
from hotelcap_pipeline.frames import number
from hotelcap_pipeline.report.document import Bullets, Figure, Missing, Paragraph, Section, Table
from hotelcap_pipeline.report.sections.common import num, pct
from hotelcap_pipeline.report.tables import REPORT_FIGURE_PREFIX, ReportTables
from hotelcap_pipeline.report.verdicts import tag_evaluation
from hotelcap_pipeline.tagging.stats import TAGGING_COMPARISON_CAPTION, tagging_comparison_figure, with_original_study


def tagging_section(tables: ReportTables) -> Section:
    s = Section("Tagging results per method vs the original study", "tagging")
    stats = tables.get("tag_stats")
    if stats is None:
        return s.add(Missing("tag_stats"), *evaluation_blocks(tables))
    stats = with_original_study(stats)
    study = ORIGINAL_STUDY
    study_hotel = (
        f"{study['mean_distinct_tags_per_hotel']} / {study['max_distinct_tags_per_hotel']} / "
        f"{study['min_distinct_tags_per_hotel']}"
    )
    s.add(
        Paragraph(
            "The original study (pretrained CLIP ViT-B-32, 20 tags, 'a photo of a {label}', threshold 0.25) "
            f"found {study['mean_tags_per_photo']} tags per photo, a mean top-1 cosine of {study['mean_top1_score']}, "
            f"a mean gap of {study['mean_gap_1st_10th']} between the 1st and 10th tag, and {study_hotel} distinct "
            "tags per hotel (mean / max / min)."
        ),
        Table(stats, "tag_stats: one row per method, and the study's"),
    )
    items = []
    for row in stats.filter(pl.col("method") != ORIGINAL_STUDY["method"]).iter_rows(named=True):
        kind = row.get("score_kind") or "cosine"
        text = (
            f"`{row['method']}` ({kind} scores): {num(row['mean_tags_per_photo'])} tags per photo "
            f"(study {study['mean_tags_per_photo']}); {num(row['mean_distinct_tags_per_hotel'])} / "
            f"{row['max_distinct_tags_per_hotel']} / "
            f"{row['min_distinct_tags_per_hotel']} distinct tags per hotel (study {study_hotel})"
        )
        top1, gap = row.get("mean_top1_score"), row.get("mean_gap_1st_10th")
        if kind == "cosine" and top1 is not None and gap is not None:
            text += (
                f"; top-1 cosine {num(top1)} (study {study['mean_top1_score']}), gap 1st-10th {num(gap)} "
                f"(study {study['mean_gap_1st_10th']}), so the "
                f"gap is {pct(gap / top1) if top1 else 'n/a'} of the top score"
            )
        elif top1 is not None:
            text += f"; top-1 {num(top1)} and gap {num(gap or 0.0)} are {kind} units, not cosines"
        items.append(text + ".")
    s.add(Bullets(tuple(items)))
    s.add(
        Figure(
            f"{REPORT_FIGURE_PREFIX}tagging_vs_study.png",
            tagging_comparison_figure(stats),
            TAGGING_COMPARISON_CAPTION,
        )
    )
    s.add(*tables.figures_of("tag_stats"))
    s.add(*evaluation_blocks(tables))
    return s


def _unmeasured_tags(evaluation: pl.DataFrame) -> list[Paragraph]:
    """Vocabulary words no labelled photo shows: left out of the ranking averages and macro recall, and every
    time one is given to a labelled photo it is wrong, which macro precision and F1 count."""
    from hotelcap_pipeline.tagging.evaluation import ALL, CAPTION_ROW, HELD_OUT, LABELLED

    absent = sorted(set(evaluation.filter(
        (pl.col("split") == ALL) & (pl.col("tag") != CAPTION_ROW) & (pl.col("n_present") == 0))["tag"].to_list()))
    if not absent:
        return []
    them = "it" if len(absent) == 1 else "them"
    given = ""
    if "n_given" in evaluation.columns:
        # Only a labelled photo shows a tag is wrong: counted on the split each method is judged on (as the
        # verdicts), never over every tagged photo.
        rows = evaluation.filter(
            pl.col("tag").is_in(absent)
            & (pl.col("split") == pl.when(pl.col("method") == LABELLED).then(pl.lit(HELD_OUT)).otherwise(pl.lit(ALL)))
        )
        counts = rows.group_by("method", maintain_order=True).agg(pl.col("n_given").sum(), pl.col("photos").max())
        parts = []
        for method, n, photos in counts.iter_rows():
            judged = f"{photos} {'held-out' if method == LABELLED else 'labelled'} photos"
            # One word: n photos; several: n tags given, as a photo may get more than one of them.
            parts.append(f"`{method}` on {n} of {judged}" if len(absent) == 1
                         else f"`{method}` {n} time{'' if n == 1 else 's'} on {judged}")
        given = f" The methods give {them} anyway, always wrongly: {', '.join(parts)}."
    return [Paragraph(
        f"Not measured: {', '.join(absent)}: no labelled photo shows {them}, so there is no ROC AUC, AP or "
        f"recall to compute, and the medians, mAP and macro recall above leave {them} out; macro precision and F1 "
        f"count {them} as wrong wherever a method gives {them}.{given}"
    )]


def evaluation_blocks(tables: ReportTables) -> list:
    """Tags and captions against known truth: the summary per method, per-tag AUC, caption examples."""
    from hotelcap_pipeline.tagging.evaluation import (
        CAPTION_ROW,
        HELD_OUT,
        LABELLED,
        LABELLED_SCORES,
        evaluation_summary,
    )

    table = tag_evaluation(tables)
    if table is None:
        return [Missing("tag_evaluation")]
    if table.is_empty():
        return [Paragraph("No labels file was given (HOTELCAP_LABELS), so the tags were not measured against truth.")]
    summary = evaluation_summary(table)
    held = table.filter((pl.col("method") == LABELLED) & (pl.col("tag") != CAPTION_ROW))
    labelled = int(number(summary["photos"].max()))
    blocks: list = [
        Paragraph(
            f"Measured against known truth on {labelled} labelled photos. ROC AUC is how well a "
            "tag's score separates photos that show the object from photos that do not (0.5: chance, the "
            "original study's complaint that present and absent tags score almost alike; 1: always apart); "
            "mAP is the mean average precision over tags. The `labelled` method fits one threshold per tag on "
            f"the `{LABELLED_SCORES}` scores of one half of the labelled photos and is measured on the other half "
            f"({HELD_OUT}); every method is also measured on that half so the rows compare like with like (so "
            f"`labelled` has the AUC and mAP of `{LABELLED_SCORES}` there: only its thresholds differ)."
        ),
        Table(summary, "tag_evaluation per method and split"),
        *_unmeasured_tags(table),
    ]
    if held.height:
        blocks.append(
            Table(
                held.select("tag", "threshold", "precision", "recall", "f1", "auc", "auc_low", "auc_high",
                            "n_present", "n_absent"),
                "labelled: per-tag thresholds fitted on the other half, measured on the held-out half",
            )
        )
    blocks += tables.figures_of("tag_evaluation")
    tags = tables.get("image_tags")
    if tags is not None and "caption" in tags.columns:
        examples = tags.filter(pl.col("method") == "seed").sort("image_id").select("image_id", "caption").head(6)
        blocks.append(Table(examples, "Captions (method seed), first photos"))
    return blocks


# --- Clusters ------------------------------------------------------------------------------------


def clusters_section(tables: ReportTables) -> Section:
    from hotelcap_pipeline.tagging.clusters import agreement_table, cluster_verdicts, study_method_first

    s = Section("Clusters vs classes", "clusters")
    clusters = tables.get("tag_clusters")
    if clusters is None:
        return s.add(Missing("tag_clusters"))
    if clusters.is_empty() or "method" not in clusters.columns:  # as cluster_verdict_list: nothing to judge
        return s.add(Paragraph("`tag_clusters` holds no clustering per tagging method, so there is nothing to "
                               "compare with hotels, chains or room kinds."))
    table = agreement_table(clusters)
    methods = study_method_first(clusters["method"].unique(maintain_order=True).to_list())
    method = methods[0]
    elbow = table.filter((pl.col("method") == method) & (pl.col("k_choice") == "elbow"))
    groups = ", ".join(f"{r['groups']} {r['grouping']}s" for r in elbow.iter_rows(named=True))
    s.add(
        Paragraph(
            f"k-modes on the photo x tag matrix of each tagging method; the answer below is about the `{method}` "
            f"tags (the study's method), the others follow it and are side by side in the table. The cost "
            f"elbow of the `{method}` tags is at k = {elbow['k'][0] if elbow.height else 'n/a'} (the sample has "
            f"{groups}). Each clustering is also run with k equal to the number of hotels, chains and (where "
            "labels exist) room kinds."
        ),
        Bullets(tuple(v.sentence() for m in methods for v in cluster_verdicts(table, m))),
        Table(table, "Agreement of clusters with each grouping, per method and choice of k (ARI 0: chance)"),
        *tables.figures_of("tag_clusters"),
    )
    return s
