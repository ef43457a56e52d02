"""'What worked and what did not', decided from measured numbers against the thresholds in ``criteria``.

Every line is a ``Verdict``: one measured value, one named threshold, the number of things measured.
What was not measured (no labels, too few items, a series the world cannot validate) is listed as such,
never as a success.
"""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.criteria import (
    CAPTION_F1,
    CAPTION_ROOM,
    EDIT_ACCEPTED,
    LABELLED_GAIN,
    PHOTOS_OK,
    TAG_AUC,
    TAG_F1,
    Verdict,
    fmt,
)
from hotelcap_pipeline.report.document import Bullets, Missing, Paragraph, Section
from hotelcap_pipeline.report.tables import ReportTables
from hotelcap_pipeline.terminal import markdown_text


def photo_verdicts(tables: ReportTables) -> list[Verdict]:
    images = tables.get("hotel_images")
    if images is None or images.is_empty():
        return []
    ok = images.filter(pl.col("status") == "ok").height
    return [
        Verdict("Photo download", PHOTOS_OK, ok / images.height, images.height, "photos requested",
                f"{ok} photos fetched and resized", f"only {ok} photos fetched and resized")
    ]


def tag_evaluation(tables: ReportTables) -> pl.DataFrame | None:
    """``tag_evaluation`` as the report reads it: a table from before ``room_photos`` was kept gets the column
    empty, so that its caption room verdict counts every caption (below) instead of failing the report."""
    table = tables.get("tag_evaluation")
    if table is not None and "room_photos" not in table.columns:
        table = table.with_columns(pl.lit(None, pl.Int64).alias("room_photos"))
    return table


def tagging_verdicts(tables: ReportTables) -> list[Verdict]:
    from hotelcap_pipeline.tagging.evaluation import ALL, HELD_OUT, LABELLED, evaluation_summary

    table = tag_evaluation(tables)
    if table is None or table.is_empty():
        return []
    summary = evaluation_summary(table)
    verdicts: list[Verdict] = []
    for row in summary.iter_rows(named=True):
        if row["split"] != (HELD_OUT if row["method"] == LABELLED else ALL):
            continue
        where = f"Tagging `{row['method']}`" + (" (held-out half)" if row["split"] == HELD_OUT else "")
        verdicts += [
            Verdict(where, TAG_AUC, row["median_auc"], row["photos"], "labelled photos",
                    "photos that show an object score above those that do not",
                    "present and absent objects score almost alike"),
            Verdict(where, TAG_F1, row["macro_f1"], row["photos"], "labelled photos",
                    "the tags given are mostly right", "the tags given are too often wrong or missing"),
            Verdict(f"Captions `{row['method']}`", CAPTION_F1, row["caption_f1"], row["photos"], "captions",
                    "captions name what the photo shows", "captions miss or invent objects"),
        ]
        if row["caption_room_accuracy"] is not None:  # labels without room kinds: nothing to compare
            verdicts.append(
                # n: the captions of photos whose room kind is known (tables from before it was kept: all)
                Verdict(f"Captions `{row['method']}`", CAPTION_ROOM, row["caption_room_accuracy"],
                        row.get("caption_room_photos") or row["photos"], "captions of photos with a known room kind",
                        "captions call the room what it is", "captions too often name the wrong room")
            )
    held = summary.filter(pl.col("split") == HELD_OUT)
    labelled = held.filter(pl.col("method") == LABELLED)
    zero_shot = held.filter(pl.col("method") != LABELLED).drop_nulls("macro_f1")
    if labelled.height and zero_shot.height:
        best = zero_shot.sort("macro_f1", descending=True).row(0, named=True)
        gain = labelled["macro_f1"][0] - best["macro_f1"]
        ours, theirs = _apart(labelled["macro_f1"][0], best["macro_f1"])
        # A gain under the bar is still a gain: the sentence says so rather than "no better".
        short = (f"labelled F1 {ours} gains only {fmt(gain, 0.0)} over {theirs} (needs {LABELLED_GAIN.symbol} "
                 f"{LABELLED_GAIN.bar:g})" if gain > 0 else f"labelled F1 {ours} is no better than {theirs}")
        verdicts.append(
            Verdict(f"Per-tag thresholds from labels vs `{best['method']}`", LABELLED_GAIN, gain,
                    labelled["photos"][0], "held-out photos", f"labelled F1 {ours} beats {theirs} without training",
                    short)
        )
    return verdicts


def _apart(a: float, b: float) -> tuple[str, str]:
    """``a`` and ``b`` to 2 decimals, or as many more (up to 6) as tell them apart when they differ."""
    decimals = 2
    while decimals < 6 and a != b and f"{a:.{decimals}f}" == f"{b:.{decimals}f}":
        decimals += 1
    return f"{a:.{decimals}f}", f"{b:.{decimals}f}"


def cluster_verdict_list(tables: ReportTables) -> list[Verdict]:
    from hotelcap_pipeline.tagging.clusters import agreement_table, cluster_verdicts, study_method_first

    clusters = tables.get("tag_clusters")
    if clusters is None or clusters.is_empty():
        return []
    methods = clusters["method"].unique(maintain_order=True).to_list() if "method" in clusters.columns else []
    table = agreement_table(clusters)
    return [v for m in study_method_first(methods) for v in cluster_verdicts(table, m)]


def edit_verdicts(tables: ReportTables) -> tuple[list[Verdict], list[str]]:
    """Verdicts on the edit series, then on the rules that judge them (a validated rule: its true edits and
    its worst wrong kind; a failed one: what failed), and sentences on what could not be judged."""
    from hotelcap_pipeline.edits.validation import rule_validated, rule_verdicts

    edits = tables.get("diffusion_edits")
    if edits is None or edits.is_empty():
        return [], []
    validation = tables.get("edit_validation")
    verdicts: list[Verdict] = []
    rules: list[Verdict] = []
    unjudged: list[str] = []
    for name in edits["edit"].unique(maintain_order=True).to_list():
        rows = edits.filter(pl.col("edit") == name)
        if validation is None:
            unjudged.append(f"Edits `{name}`: not judged: `edit_validation` is not materialized, so no acceptance "
                            f"rule could be read ({rows.height} photos).")
            continue
        if validation.filter(pl.col("series") == name).is_empty():
            unjudged.append(
                f"Edits `{name}`: not judged: the synthetic world cannot show this change, so no acceptance "
                f"rule was validated for it ({rows.height} photos)."
            )
            continue
        on_rule = rule_verdicts(validation, name)  # the true edits first, then each wrong kind
        if not rule_validated(validation, name, on_rule):
            failed_classes = [v for v in on_rule if v.status == "did not work"]
            verdicts += failed_classes
            if failed_classes:
                unjudged.append(f"Edits `{name}`: not judged: its acceptance rule failed validation (above).")
            else:  # no class failed, some could not be measured: the rule is untested, not wrong
                unjudged += [v.sentence() for v in on_rule if v.status == "not measured"]
                unjudged.append(f"Edits `{name}`: not judged: its acceptance rule could not be validated (too "
                                "few held-out rooms, above).")
            continue
        # The wrong kind accepted most; on a tie the last, two changes, the hardest to tell from a true edit.
        rules += [on_rule[0], max(reversed(on_rule[1:]), key=lambda v: v.value)]
        # A skipped photo (the model unavailable) was never tried; a failed render was, and counts as not accepted.
        tried = rows.filter(pl.col("status") != "skipped")
        if tried.is_empty():
            # Error text is data (model paths, library messages): shown as itself, never read as Markdown.
            reasons = "; ".join(sorted({markdown_text(str(e)) for e in rows["error"].to_list() if e})) or (
                "no reason recorded")
            unjudged.append(f"Edits `{name}`: not measured: none of its {rows.height} photos was rendered ({reasons}).")
            continue
        accepted = tried.filter((pl.col("status") == "ok") & pl.col("accepted").fill_null(False)).height
        failed = (tried["status"] == "failed").sum()
        also = f"; {failed} renders failed" if failed else ""
        verdicts.append(
            Verdict(f"Edits `{name}`", EDIT_ACCEPTED, accepted / tried.height, tried.height, "photos tried",
                    f"{accepted} edit{'' if accepted == 1 else 's'} passed the validated rule (the change "
                    f"happened and the room was kept){also}",
                    (f"only {accepted} of {tried.height} edits passed" if accepted else "no edit passed")
                    + f" the validated rule{also}")
        )
    return verdicts + rules, unjudged


def findings(tables: ReportTables) -> tuple[list[str], list[str], list[str]]:
    """(worked, did not work, not measured) as sentences that name their evidence."""
    edit_list, unjudged = edit_verdicts(tables)
    verdicts = [*photo_verdicts(tables), *tagging_verdicts(tables), *cluster_verdict_list(tables), *edit_list]
    worked = [v.sentence() for v in verdicts if v.status == "worked"]
    failed = [v.sentence() for v in verdicts if v.status == "did not work"]
    unmeasured = [v.sentence() for v in verdicts if v.status == "not measured"] + unjudged
    evaluation = tables.get("tag_evaluation")
    if evaluation is None:  # not made yet, which says nothing about labels (the demo ships them)
        unmeasured.append(f"Tags and captions: not measured against truth: {Missing('tag_evaluation').text}")
    elif evaluation.is_empty():
        unmeasured.append(
            "Tags and captions: not measured against truth: no labels file (set HOTELCAP_LABELS to a CSV of "
            "image_id,tags for 100-300 of your photos)."
        )
    return worked, failed, unmeasured


def findings_section(tables: ReportTables, demo: bool = False) -> Section:
    s = Section("What worked and what did not", "findings")
    if demo:  # the UI shows this section on its own, away from the report's opening caveat
        s.add(Paragraph("*Demo profile: measured on the synthetic world, not on real hotels.*"))
    worked, failed, unmeasured = findings(tables)
    s.add(Paragraph("**Worked:**"), Bullets(tuple(worked)) if worked else Paragraph("Nothing measured worked."))
    s.add(Paragraph("**Did not work:**"), Bullets(tuple(failed)) if failed else Paragraph("Nothing measured failed."))
    if unmeasured:
        s.add(Paragraph("**Not measured:**"), Bullets(tuple(unmeasured)))
    return s
