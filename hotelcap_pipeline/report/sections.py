"""One function per report section; each reads its tables and says plainly what is not there yet.

Every sentence with a number is generated from the tables; nothing here is a canned result.
"""

from __future__ import annotations

import io
import json
import re
import shlex
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from hotelcap_pipeline.criteria import ALPHA, MIN_TEST_N, ORIGINAL_STUDY, STUDY_METRICS
from hotelcap_pipeline.edits.summary import edit_summary
from hotelcap_pipeline.figures import figure_png, new_figure
from hotelcap_pipeline.frames import number
from hotelcap_pipeline.report.context import ReportContext
from hotelcap_pipeline.report.document import (
    Bullets,
    Figure,
    MarkdownText,
    Missing,
    Paragraph,
    Section,
    Table,
)
from hotelcap_pipeline.report.tables import REPORT_FIGURE_PREFIX, ReportTables, stage_figures
from hotelcap_pipeline.settings import ASSETS_DIR

if TYPE_CHECKING:
    from PIL import Image

TEST_NAMES = {"ks": "Kolmogorov-Smirnov", "ad": "Anderson-Darling", "shapiro": "Shapiro-Wilk on logs"}
# The persona's priorities (assets/persona.md, "What a room must show them") and the words that find them.
PRIORITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the workspace comes first", ("desk", "chair", "lamp", "table", "coffee machine")),
    ("a spotless bathroom", ("bathtub", "shower", "toilet", "sink", "mirror", "towel")),
    ("a bed that is simply a bed", ("bed", "pillow")),
    ("no television (a tag to filter it out)", ("television",)),
    ("light and air", ("window", "curtains", "balcony", "plant")),
)
COSINE_ONLY = ("mean_top1_score", "mean_gap_1st_10th")
def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _num(x: float) -> str:
    return f"{x:.3g}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


# --- About ---------------------------------------------------------------------------------------

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
        path = tables.store.table(key)
        present = path.exists()
        frame = tables.get(key) if present and key not in _NOT_READ else None
        rows.append(
            {"table": key, "materialized": present, "rows": frame.height if frame is not None else None}
        )
    s.add(Table(pl.DataFrame(rows), "Tables read by this report"))
    return s


# --- Dataset -------------------------------------------------------------------------------------


def _balance_word(gini: float) -> str:
    if gini >= 0.4:
        return "far from balanced"
    if gini >= 0.2:
        return "moderately unbalanced"
    return "close to balanced"


def _fit_sentence(fit: dict[str, float]) -> str:
    if "expon_loglik" not in fit:
        return "Too few chains to fit a distribution to the hotels per chain."
    if fit.get("n", 0) < MIN_TEST_N:
        return (
            f"Hotels per known chain: {fit.get('n', 0):.0f} values, too few to test a distribution (at least "
            f"{MIN_TEST_N} needed); no fit is reported."
        )
    better = "log-normal" if fit["lognorm_loglik"] > fit["expon_loglik"] else "exponential"
    parts = [
        f"Hotels per known chain (n = {fit.get('n', 0):.0f}): the {better} law fits better by log-likelihood "
        f"({_num(fit['lognorm_loglik'])} log-normal vs {_num(fit['expon_loglik'])} exponential)."
    ]
    for law, keys in (
        ("exponential", ("expon_ks_p", "expon_ad_p")),
        ("log-normal", ("lognorm_ks_p", "lognorm_ad_p", "log_shapiro_p")),
    ):
        ps = {k: fit[k] for k in keys if k in fit and fit[k] == fit[k]}
        if not ps:
            continue
        rejected = [k for k, p in ps.items() if p < ALPHA]
        listed = ", ".join(f"{TEST_NAMES[k.split('_')[-2]]} p = {_num(p)}" for k, p in ps.items())
        verdict = f"rejected by {len(rejected)} of {len(ps)} tests" if rejected else "not rejected"
        parts.append(f"At α = {ALPHA}, the {law} hypothesis is {verdict} ({listed}).")
    parts.append("KS p-values use parameters fitted on the same data, so they are optimistic.")
    return " ".join(parts)


def dataset_section(tables: ReportTables) -> Section:
    s = Section("Dataset review", "dataset")
    stats = tables.get("dataset_stats")
    if stats is None:
        s.add(Missing("dataset_stats"))
    else:
        v = {(sec, m): val for sec, m, val in stats.select("section", "metric", "value").iter_rows()}
        counts = {m: val for (sec, m), val in v.items() if sec == "counts"}
        if counts:
            s.add(
                Paragraph(
                    f"{counts.get('chains', 0):.0f} chains (classes), {counts.get('hotels', 0):.0f} hotels, "
                    f"{counts.get('train_images', 0):.0f} train and {counts.get('test_images', 0):.0f} test "
                    f"photos; {pct(counts.get('share_train_images_chain_unknown', 0.0))} of the train photos "
                    "belong to hotels of the unknown chain (-1)."
                )
            )
        for label, section in (
            ("Train photos per hotel", "images_per_hotel"),
            ("Hotels per known chain", "hotels_per_chain_known"),
        ):
            if (section, "gini") in v:
                gini = v[(section, "gini")]
                s.add(
                    Paragraph(
                        f"{label}: median {_num(v.get((section, 'median'), 0.0))}, max "
                        f"{_num(v.get((section, 'max'), 0.0))}, Gini {gini:.2f}: {_balance_word(gini)}."
                    )
                )
        s.add(
            Paragraph(_fit_sentence({m: val for (sec, m), val in v.items() if sec == "hotels_per_chain_fit"}))
        )
        for section in stats.get_column("section").unique(maintain_order=True).to_list():
            part = stats.filter(pl.col("section") == section).select("metric", "value")
            s.add(Table(part, section.replace("_", " ")))
        s.add(*stage_figures(tables.store, ("dataset_",)))
    s.add(*photos_blocks(tables))
    return s


def photos_blocks(tables: ReportTables) -> list:
    images = tables.get("hotel_images")
    if images is None:
        return [Missing("hotel_images")]
    ok = images.filter(pl.col("status") == "ok")
    failed = images.height - ok.height
    blocks: list = []
    sizes = ok.group_by("width", "height").len("photos").sort(["photos", "width", "height"], descending=True)
    blocks.append(
        Paragraph(
            f"Photos of the sampled hotels: {ok.height} of {images.height} downloaded and resized "
            f"({failed} failed), from {images['hotel_id'].n_unique()} hotels; {sizes.height} distinct sizes "
            "after resizing to a longer side of 640 px (the study found 46 sizes among 406 photos)."
        )
    )
    if sizes.height:
        blocks.append(Table(sizes.head(8), "Most common photo sizes"))
    if failed and "error" in images.columns:
        reasons = (
            images.filter(pl.col("status") != "ok")
            .with_columns(pl.col("error").fill_null("unknown").str.slice(0, 80).alias("error"))
            .group_by("error")
            .len("photos")
            .sort(["photos", "error"], descending=[True, False])
        )
        blocks.append(Table(reasons.head(8), "Why photos failed"))
    return blocks


# --- Persona -------------------------------------------------------------------------------------


def _tag_shares(tags: pl.DataFrame, words: tuple[str, ...]) -> float:
    return float(
        tags.select(pl.col("tags").list.eval(pl.element().is_in(list(words))).list.any().mean()).item()
    )


def _first_method(tags: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    if "method" not in tags.columns:
        return "-", tags
    method = sorted(tags["method"].unique().to_list())[0]
    return method, tags.filter(pl.col("method") == method)


def persona_section(ctx: ReportContext, tables: ReportTables) -> Section:
    from hotelcap_pipeline.edits.series import load_series
    from hotelcap_pipeline.tagging.vocabulary import load_vocabulary

    s = Section("The visitors, and why the tags and edits suit them", "persona")
    if ctx.persona_path.exists():
        text = ctx.persona_path.read_text(encoding="utf-8")
        # The file's own title duplicates this section's; its portrait prompt is shown with the portrait.
        body = re.sub(r"\A#\s[^\n]*\n", "", text).split("\n## Portrait", 1)[0]
        s.add(MarkdownText(body))
    else:
        s.add(Paragraph(f"The persona file `{ctx.persona_path}` is missing."))

    vocabulary = load_vocabulary(ctx.vocabulary_path) if ctx.vocabulary_path.exists() else []
    labels = [t.label for t in vocabulary]
    items = []
    for need, words in PRIORITIES:
        covered = [w for w in words if w in labels]
        items.append(
            f"{need}: tags {', '.join(covered)}" if covered else f"{need}: no tag covers it yet (a gap)"
        )
    others = sorted(set(labels) - {w for _, ws in PRIORITIES for w in ws})
    if others:
        items.append(f"other tags: {', '.join(others)}")
    s.add(
        Paragraph(
            f"The visitors know a few plain words; the vocabulary has {len(labels)} of them, chosen "
            "for what the persona looks for in a room:"
        ),
        Bullets(tuple(items)),
    )
    if vocabulary:
        s.add(Table(pl.DataFrame({"tag": labels, "why": [t.reason for t in vocabulary]}), "The vocabulary"))

    tags = tables.get("image_tags")
    if tags is not None and tags.height:
        method, rows = _first_method(tags)
        shares = [f"{need.split(' (')[0]}: {pct(_tag_shares(rows, words))}" for need, words in PRIORITIES]
        s.add(
            Paragraph(
                f"Share of this run's {rows.height} photos with a tag for each need (method `{method}`): "
                + "; ".join(shares)
                + "."
            )
        )

    if ctx.edit_series_path.exists():
        series = load_series(ctx.edit_series_path)
        s.add(
            Paragraph(
                "Each edit series changes one condition a visitor may meet on arrival and keeps the rest: a "
                "chosen edit must keep the CLIP image similarity to the original photo above the series' "
                "threshold, so the guest still finds the room that was advertised."
            ),
            Table(
                pl.DataFrame(
                    {
                        "series": [x.name for x in series],
                        "condition": [x.condition for x in series],
                        "mode": [x.mode for x in series],
                        "strengths": [", ".join(f"{v:g}" for v in x.sweep) for x in series],
                        "keep similarity ≥": [x.preserve_threshold for x in series],
                    }
                ),
                "The edit series",
            ),
        )
    return s


# --- Tagging -------------------------------------------------------------------------------------


def _with_original(stats: pl.DataFrame) -> pl.DataFrame:
    if "method" in stats.columns and (stats["method"] == ORIGINAL_STUDY["method"]).any():
        return stats
    row = {k: [v] for k, v in ORIGINAL_STUDY.items()} | {"score_kind": ["cosine"]}
    return pl.concat([stats, pl.DataFrame(row)], how="diagonal_relaxed")


def tagging_comparison_figure(stats: pl.DataFrame) -> bytes:
    """Each method's numbers over the study's (1 = the same); top-1 and gap only for cosine scores."""
    methods = stats.filter(pl.col("method") != ORIGINAL_STUDY["method"])
    fig, ax = new_figure(8, 4)
    x = np.arange(len(STUDY_METRICS))
    width = 0.8 / max(1, methods.height)
    for i, row in enumerate(methods.iter_rows(named=True)):
        ratios = [
            (row[m] / ORIGINAL_STUDY[m])
            if row.get(m) is not None
            and (row.get("score_kind") in ("cosine", "", None) or m not in COSINE_ONLY)
            else np.nan
            for m in STUDY_METRICS
        ]
        ax.bar(x + (i - (methods.height - 1) / 2) * width, ratios, width, label=str(row["method"]))
    ax.axhline(1.0, color="black", linewidth=1, linestyle="--")
    ax.set_xticks(x, [m.replace("_", " ") for m in STUDY_METRICS], rotation=25, ha="right")
    ax.set_ylabel("this run / original study")
    ax.set_title("Tagging numbers relative to the original study")
    ax.legend()
    return figure_png(fig)


def tagging_section(tables: ReportTables) -> Section:
    s = Section("Tagging results per method vs the original study", "tagging")
    stats = tables.get("tag_stats")
    if stats is None:
        return s.add(Missing("tag_stats"), *evaluation_blocks(tables))
    stats = _with_original(stats)
    s.add(
        Paragraph(
            "The original study (pretrained CLIP ViT-B-32, 20 tags, 'a photo of a {label}', threshold 0.25) "
            "found 2.16 tags per photo, a mean top-1 cosine of 0.266, a mean gap of 0.053 between the 1st "
            "and 10th tag, and 10.46 / 18 / 2 distinct tags per hotel (mean / max / min)."
        ),
        Table(stats, "tag_stats: one row per method, and the study's"),
    )
    items = []
    for row in stats.filter(pl.col("method") != ORIGINAL_STUDY["method"]).iter_rows(named=True):
        kind = row.get("score_kind") or "cosine"
        text = (
            f"`{row['method']}` ({kind} scores): {_num(row['mean_tags_per_photo'])} tags per photo "
            f"(study 2.16); {_num(row['mean_distinct_tags_per_hotel'])} / "
            f"{row['max_distinct_tags_per_hotel']} / "
            f"{row['min_distinct_tags_per_hotel']} distinct tags per hotel (study 10.46 / 18 / 2)"
        )
        top1, gap = row.get("mean_top1_score"), row.get("mean_gap_1st_10th")
        if kind == "cosine" and top1 is not None and gap is not None:
            text += (
                f"; top-1 cosine {_num(top1)} (study 0.266), gap 1st-10th {_num(gap)} (study 0.053), so the "
                f"gap is {pct(gap / top1) if top1 else 'n/a'} of the top score"
            )
        elif top1 is not None:
            text += f"; top-1 {_num(top1)} and gap {_num(gap or 0.0)} are {kind} units, not cosines"
        items.append(text + ".")
    s.add(Bullets(tuple(items)))
    s.add(
        Figure(
            f"{REPORT_FIGURE_PREFIX}tagging_vs_study.png",
            tagging_comparison_figure(stats),
            "Each method's tagging numbers divided by the original study's (dashed line: the same)",
        )
    )
    s.add(*stage_figures(tables.store, ("tag_stats_",)))
    s.add(*evaluation_blocks(tables))
    return s


def evaluation_blocks(tables: ReportTables) -> list:
    """Tags and captions against known truth: the summary per method, per-tag AUC, caption examples."""
    from hotelcap_pipeline.tagging.evaluation import CAPTION_ROW, HELD_OUT, LABELLED, evaluation_summary

    table = tables.get("tag_evaluation")
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
            f"one half of the labelled photos and is measured on the other half ({HELD_OUT}); every method is "
            "also measured on that half so the rows compare like with like."
        ),
        Table(summary, "tag_evaluation per method and split"),
    ]
    if held.height:
        blocks.append(
            Table(
                held.select("tag", "threshold", "precision", "recall", "f1", "auc", "n_present", "n_absent"),
                "labelled: per-tag thresholds fitted on the other half, measured on the held-out half",
            )
        )
    blocks += stage_figures(tables.store, ("tag_evaluation_",))
    tags = tables.get("image_tags")
    if tags is not None and "caption" in tags.columns:
        examples = tags.filter(pl.col("method") == "seed").sort("image_id").select("image_id", "caption").head(6)
        blocks.append(Table(examples, "Captions (method seed), first photos"))
    return blocks


# --- Clusters ------------------------------------------------------------------------------------


def clusters_section(tables: ReportTables) -> Section:
    from hotelcap_pipeline.tagging.clusters import agreement_table, cluster_verdicts

    s = Section("Clusters vs classes", "clusters")
    clusters = tables.get("tag_clusters")
    if clusters is None:
        return s.add(Missing("tag_clusters"))
    table = agreement_table(clusters)
    methods = clusters["method"].unique(maintain_order=True).to_list()
    method = "seed" if "seed" in methods else methods[0]
    elbow = table.filter((pl.col("method") == method) & (pl.col("k_choice") == "elbow"))
    groups = ", ".join(f"{r['groups']} {r['grouping']}s" for r in elbow.iter_rows(named=True))
    s.add(
        Paragraph(
            f"k-modes on the photo x tag matrix of each tagging method; the answer below is about the `{method}` "
            f"tags (the study's method), the others are side by side in the table. The cost elbow gives "
            f"k = {elbow['k'][0] if elbow.height else 'n/a'} for {groups}. Each clustering is also run with k "
            "equal to the number of hotels, chains and (where labels exist) room kinds."
        ),
        Bullets(tuple(v.sentence() for v in cluster_verdicts(table, method))),
        Table(table, "Agreement of clusters with each grouping, per method and choice of k (ARI 0: chance)"),
        *stage_figures(tables.store, ("tag_clusters_",)),
    )
    return s


# --- Edits ---------------------------------------------------------------------------------------


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
            Paragraph(f"{selection.height} photos chosen to be as different from each other as possible:"),
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
            "`ssim` the layout similarity; `accepted` is the share of photos whose chosen edit passed the "
            "series' acceptance rule fitted on known edits (empty: the series has no rule)."
        ),
        Table(summary, "diffusion_edits per series (means over rendered edits)"),
    )
    s.add(*validation_blocks(tables, summary["edit"].to_list()))
    for row in summary.iter_rows(named=True):
        name = row["edit"]
        try:
            grid = before_after_grid(edits, tables.store.root, name)
        except (OSError, ValueError) as exc:
            s.add(Paragraph(f"No before/after grid for `{name}`: {exc}"))
            continue
        s.add(
            Figure(
                f"{REPORT_FIGURE_PREFIX}edits_{_slug(name)}.png",
                _png(grid),
                f"{name}: original (left) and chosen edit (right), with strength and scores",
            )
        )
    failed = edits.filter(pl.col("status") != "ok")
    if failed.height:
        s.add(Table(failed.select("edit", "image_id", "error").head(10), "Edits that failed"))
    s.add(
        Paragraph(
            "Would an edited photo mislead the visitors? "
            + " ".join(_mislead_sentence(r, _validated(tables)) for r in summary.iter_rows(named=True))
        )
    )
    modes = set(edits["mode"].drop_nulls().to_list()) if "mode" in edits.columns else set()
    s.add(Paragraph(f"Modes used here: {', '.join(sorted(modes))}."))
    literature = ASSETS_DIR / "edit_literature.md"
    if literature.is_file():
        s.add(MarkdownText(re.sub(r"\A#\s[^\n]*\n", "", literature.read_text(encoding="utf-8"))))
    return s


def _mislead_sentence(row: dict, validated: set[str]) -> str:
    if row["ok"] == 0:
        return f"`{row['edit']}`: nothing rendered."
    if row["accepted"] is None:
        return f"`{row['edit']}`: unknown, no rule can judge this change."
    trust = "validated" if row["edit"] in validated else "not validated, so this says little"
    return (
        f"`{row['edit']}`: {pct(row['accepted'])} of the photos have an edit that the series' rule ({trust}) "
        "accepts as the asked change with the room kept; the others should not be shown."
    )


def _validated(tables: ReportTables) -> set[str]:
    from hotelcap_pipeline.edits.validation import rule_validated

    validation = tables.get("edit_validation")
    if validation is None:
        return set()
    return {name for name in validation["series"].unique().to_list() if rule_validated(validation, name)}


def validation_blocks(tables: ReportTables, series: list[str]) -> list:
    """How the acceptance rule was chosen and how well it separates true edits from wrong ones."""
    from hotelcap_pipeline.edits.validation import NEGATIVE_CLASSES, score_aucs, validation_summary

    validation = tables.get("edit_validation")
    if validation is None:
        return [Missing("edit_validation")]
    summary = validation_summary(validation, series)
    aucs = [
        score_aucs(validation.filter(pl.col("series") == name)).with_columns(pl.lit(name).alias("series"))
        for name in summary["series"].to_list()
    ]
    blocks: list = [
        Paragraph(
            "The acceptance rule is chosen from edits whose rightness is known: synthetic rooms re-rendered with "
            "exactly the series' condition changed (true edits) and wrong edits: "
            + ", ".join(NEGATIVE_CLASSES)
            + ". Thresholds are fitted on half of the rooms; the shares below are measured on the other half. "
            "A rule is validated when it accepts at least 90% of true edits and at most 10% of every wrong kind."
        ),
        Table(summary, "Edit rule per series: held-out share accepted per kind of candidate"),
    ]
    if aucs:
        wide = pl.concat(aucs).pivot(on="score", index=["series", "negative_class"], values="auc")
        blocks.append(Table(wide, "ROC AUC of each score, true edits vs each kind of wrong edit"))
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


# --- Reproduce -----------------------------------------------------------------------------------


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
                found += [
                    f"`{key}.{column}`: {m}" for m in sorted(frame[column].drop_nulls().unique().to_list())
                ]
    return found


def reproduce_section(ctx: ReportContext, tables: ReportTables) -> Section:
    s = Section("How to reproduce", "reproduce")
    env = {
        "HOTELCAP_PROFILE": ctx.profile,
        "HOTELCAP_SEED": str(ctx.seed),
        "HOTELCAP_N_HOTELS": str(ctx.n_hotels),
        "HOTELCAP_DATASET": ctx.dataset,
        "HOTELCAP_CLIP_MODEL": ctx.clip_model,
        "HOTELCAP_CLIP_PRETRAINED": ctx.clip_pretrained,
        "HOTELCAP_DIFFUSION_MODEL": ctx.diffusion_model,
        "HOTELCAP_LABELS": ctx.labels,
    }
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
