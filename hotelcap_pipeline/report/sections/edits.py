"""The edit series: chosen photos, scores, the validated acceptance rule, before/after grids, the portrait."""

from __future__ import annotations

from typing import Literal

import polars as pl

from hotelcap_pipeline.criteria import EDIT_RULE_NEGATIVE, EDIT_RULE_TRUE
from hotelcap_pipeline.edits.summary import edit_summary
from hotelcap_pipeline.figures import image_png
from hotelcap_pipeline.report.document import Bullets, Figure, MarkdownText, Missing, Paragraph, Section, Table
from hotelcap_pipeline.report.sections.common import pct, without_title
from hotelcap_pipeline.report.tables import REPORT_FIGURE_PREFIX, ReportTables
from hotelcap_pipeline.settings import ASSETS_DIR
from hotelcap_pipeline.terminal import markdown_text


def edits_section(tables: ReportTables) -> Section:
    from hotelcap_pipeline.edits.render import before_after_grid

    s = Section("Edit series and their scores", "edits")
    selection = tables.get("edit_selection")
    if selection is None:
        s.add(Missing("edit_selection"))
    else:
        cols = [
            c
            for c in ("rank", "image_id", "hotel_id", "min_distance", "tags", "reason")
            if c in selection.columns
        ]
        s.add(
            Paragraph(
                f"{selection.height} photos chosen to be as different from each other as possible, and, first, so "
                "that each object an edit series changes (a bed, a window) shows on a share of them (the reason "
                "says which rule chose a photo):"
            ),
            Table(selection.select(cols), "edit_selection"),
        )
    edits = tables.get("diffusion_edits")
    if edits is None:
        return s.add(Missing("diffusion_edits"))
    summary = edit_summary(edits)
    s.add(
        Paragraph(
            "Scores: `clip_image_sim` is the CLIP image similarity of the edit to the original (is it still "
            "the same room?), `directional` how far the image moved in the direction of the text change, "
            "`ssim` the layout similarity, `local_change` the share of the photo whose change a relighting does "
            "not explain (something appeared or went), `change_elsewhere` the part of it outside the largest "
            "changed region; `accepted` is the share of photos whose chosen edit passed the "
            "series' acceptance rule fitted on known edits (empty: the series has no rule)."
        ),
        Table(summary, "diffusion_edits per series (means over rendered edits)"),
    )
    s.add(*validation_blocks(tables, summary["edit"].to_list()))
    states = _rule_states(tables, summary["edit"].to_list())
    # The grids show stored photos and edits: a remote store's are fetched here first (only what is missing).
    shown = edits.filter(pl.col("status") == "ok")
    tables.store.pull([*shown["source_path"].drop_nulls(), *shown["path"].drop_nulls()])
    for row in summary.iter_rows(named=True):
        name = row["edit"]
        try:
            grid = before_after_grid(edits, tables.store.root, name, rule_validated=states[name] == VALIDATED)
        except (OSError, ValueError) as exc:
            s.add(Paragraph(f"No before/after grid for `{name}`: {markdown_text(str(exc))}"))
            continue
        s.add(
            Figure(
                # A series name is already a safe file name, and two names never map to one file.
                f"{REPORT_FIGURE_PREFIX}edits_{name}.png",
                image_png(grid),
                f"{name}: original (left) and the strength the sweep chose (right), with its scores; "
                + _GRID_MARKS[states[name]],
            )
        )
    failed = edits.filter(pl.col("status") == "failed")
    if failed.height:
        s.add(Table(failed.select("edit", "image_id", "error").head(10), "Edits that failed"))
    skipped = edits.filter(pl.col("status") == "skipped")
    if skipped.height:
        why = skipped.group_by("edit", "error", maintain_order=True).agg(pl.len().alias("photos"))
        s.add(Table(why, "Edits not tried, and why"))
    s.add(
        Paragraph(
            "Would an edited photo mislead the visitors? Only an edit that its series' validated rule accepts "
            "(the asked change happened, the room was kept, nothing else changed) should be shown:"
        ),
        Bullets(tuple(_mislead_sentence(r, states[r["edit"]]) for r in summary.iter_rows(named=True))),
    )
    modes = set(edits["mode"].drop_nulls().to_list()) if "mode" in edits.columns else set()
    s.add(Paragraph(f"Modes used here: {', '.join(sorted(modes))}."))
    literature = ASSETS_DIR / "edit_literature.md"
    if literature.is_file():
        s.add(MarkdownText(without_title(literature.read_text(encoding="utf-8"))))
    return s


# What is known of a series' acceptance rule, told apart as the findings (``edit_verdicts``) do.
RuleState = Literal["validated", "failed validation", "untested", "no rule", "edit_validation missing"]
VALIDATED: RuleState = "validated"
FAILED: RuleState = "failed validation"
UNTESTED: RuleState = "untested"  # no held-out class failed, some had too few rooms to measure
NO_RULE: RuleState = "no rule"
UNREAD: RuleState = "edit_validation missing"
_GRID_MARKS: dict[RuleState, str] = {
    VALIDATED: "each edit marked accepted or REJECTED by the series' validated rule",
    FAILED: "each edit marked as passing or failing the series' rule, which failed validation",
    UNTESTED: "each edit marked as passing or failing the series' rule, which could not be validated (too few "
              "held-out rooms)",
    NO_RULE: "not validated: `edit_validation` holds no rule for it (the synthetic world cannot show this change)",
    UNREAD: "each edit marked by the rule it was made under, unvalidated here: `edit_validation` is not "
            "materialized",
}


def _rule_states(tables: ReportTables, series: list[str]) -> dict[str, RuleState]:
    from hotelcap_pipeline.edits.validation import rule_verdicts

    validation = tables.get("edit_validation")
    if validation is None:
        return {name: UNREAD for name in series}
    held = set(validation["series"].unique().to_list())
    states: dict[str, RuleState] = {}
    for name in series:
        if name not in held:
            states[name] = NO_RULE
            continue
        statuses = {v.status for v in rule_verdicts(validation, name)}
        states[name] = (VALIDATED if statuses == {"worked"} else FAILED if "did not work" in statuses
                        else UNTESTED)
    return states


def _mislead_sentence(row: dict, state: RuleState) -> str:
    name = f"`{row['edit']}`"
    if row["ok"] == 0:
        return f"{name}: nothing rendered."
    if state == UNREAD:
        return f"{name}: unknown: `edit_validation` is not materialized, so no acceptance rule could be read."
    if state == NO_RULE:
        return f"{name}: unknown: the synthetic world cannot show this change, so no acceptance rule was validated."
    if row["accepted"] is None:  # edits made before the series had a rule
        return f"{name}: unknown: no rule judged its edits."
    share = f"{pct(row['accepted'])} of {row['ok']} rendered photo{'' if row['ok'] == 1 else 's'}"
    if state == FAILED:
        return f"{name}: its rule failed validation, so its verdict says little ({share} accepted)."
    if state == UNTESTED:
        return (f"{name}: its rule could not be validated (too few held-out rooms), so its verdict says little "
                f"({share} accepted).")
    return f"{name}: {share} have an edit the validated rule accepts."


def validation_blocks(tables: ReportTables, series: list[str]) -> list:
    """How the acceptance rule was chosen and how well it separates true edits from wrong ones."""
    from hotelcap_pipeline.edits.validation import NEGATIVE_CLASSES, score_aucs, validation_summary

    validation = tables.get("edit_validation")
    if validation is None:
        return [Missing("edit_validation")]
    summary = validation_summary(validation, series)
    if summary.is_empty():
        return [Paragraph("None of the edited series has an acceptance rule in `edit_validation` (no photos were "
                          "edited, or the series were renamed since it was materialized): there is nothing to "
                          "validate here.")]
    aucs = [
        score_aucs(validation.filter(pl.col("series") == name)).with_columns(pl.lit(name).alias("series"))
        for name in summary["series"].to_list()
    ]
    blocks: list = [
        Paragraph(
            "The acceptance rule is chosen from edits whose rightness is known: synthetic rooms re-rendered with "
            "exactly the series' condition changed (true edits) and wrong edits: "
            + ", ".join(NEGATIVE_CLASSES)
            + ". The rule asks that the change went the asked way (directional at least a bar), that the picture "
            "changed at all (SSIM at most a bar), that the room was kept (CLIP image similarity and SSIM at least "
            "a bar) and that nothing else changed (off_direction, the CLIP image change the text change does not "
            "explain; local_change, the share of the photo whose change a relighting does not explain; and "
            "change_elsewhere, the part of it outside the largest changed region; each at most a bar); a bar can "
            "be left unset. Thresholds are fitted on half of the rooms; the "
            "shares below are measured on the other half. A rule is validated when it accepts at least "
            f"{EDIT_RULE_TRUE.bar:.0%} of true edits and at most {EDIT_RULE_NEGATIVE.bar:.0%} of every wrong kind. "
            "`close_calls` names the kinds whose share's 95% interval (Wilson's, from the held-out rooms) reaches "
            "across its bar: for them another draw of rooms may well turn the verdict."
        ),
        Table(summary, "Edit rule per series: held-out share accepted per kind of candidate"),
    ]
    if aucs:
        long = pl.concat(aucs)
        cells = [f"{auc:.2f} ({low:.2f}-{high:.2f})"
                 for auc, low, high in long.select("auc", "auc_low", "auc_high").rows()]
        wide = long.with_columns(pl.Series("cell", cells)).pivot(
            on="score", index=["series", "negative_class", "n_true", "n_negative"], values="cell")
        blocks += [
            Table(wide, "ROC AUC of each score, true edits vs each kind of wrong edit (95% interval)"),
            Paragraph(
                "ROC AUC 1: every true edit scores higher than every wrong one of that kind; 0.5: the score "
                "cannot tell them apart; 0: every true edit scores lower, which separates just as well for a "
                "score used as an upper bound (an unchanged photo has a higher SSIM than any true edit). In "
                "brackets, the AUC's 95% interval (Newcombe's score interval) from the `n_true` true and "
                "`n_negative` wrong edits it rests on (fitting and held-out rooms together, taken as independent "
                "draws though each room gives one edit of each kind): an AUC of 1 on a few dozen edits still "
                "leaves room below it."
            ),
        ]
    return blocks


# --- Portrait ------------------------------------------------------------------------------------

PORTRAIT_FILE = "visitor_portrait.png"


def portrait_section(tables: ReportTables) -> Section:
    s = Section("The visitor's portrait", "portrait")
    table = tables.get("visitor_portrait")
    record: dict = table.row(0, named=True) if table is not None and table.height else {}
    path = tables.resolve(record["path"]) if record.get("path") else tables.store.figures / PORTRAIT_FILE
    if not path.is_file():
        return s.add(Missing("visitor_portrait"))
    prompt = record.get("prompt")
    s.add(
        Figure(
            path.name if path.parent == tables.store.figures else f"{REPORT_FIGURE_PREFIX}{PORTRAIT_FILE}",
            path.read_bytes(),
            f"Portrait from the persona: {prompt}" if prompt else "Portrait from the persona",
        )
    )
    details = {k: record[k] for k in ("model", "seed", "steps", "guidance", "width", "height") if k in record}
    if details:
        s.add(Paragraph(", ".join(f"{k} {v}" for k, v in details.items()) + "."))
    if record.get("nan_or_black"):
        s.add(Paragraph("The model returned a NaN or black image: the portrait above is not usable."))
    return s
