"""One function per report section; each reads its tables and says plainly what is not there yet.

Every sentence with a number is generated from the tables; nothing here is a canned result.
"""

from __future__ import annotations

import io
import re

import numpy as np
import polars as pl

from hotelcap_pipeline.figures import figure_png, new_figure
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
from hotelcap_pipeline.tagging.stats import ORIGINAL_STUDY, STUDY_METRICS

ALPHA = 0.05
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
# Ways to change one condition and keep the rest of the room (the study's open question).
EDIT_LITERATURE = (
    (
        "SDEdit",
        "2108.01073",
        "img2img: the strength trades realism of the change against faithfulness; "
        "this project sweeps it per photo and keeps the best edit that stays recognisable",
    ),
    (
        "ControlNet",
        "2302.05543",
        "conditions on the photo's Canny edges, so walls, furniture and windows "
        "keep their place (the `controlnet` mode)",
    ),
    (
        "InstructPix2Pix",
        "2211.09800",
        "edits from an instruction with an image guidance scale that "
        "anchors the output to the photo (the `instruct-pix2pix` mode)",
    ),
    (
        "Prompt-to-Prompt",
        "2208.01626",
        "swaps one word's cross-attention maps, so only the pixels tied to that word change",
    ),
    (
        "Null-text inversion",
        "2211.09794",
        "inverts a real photo exactly so Prompt-to-Prompt edits apply to it",
    ),
    (
        "Blended Latent Diffusion",
        "2206.02779",
        "restricts the change to a mask (the bed, the window), leaving every pixel outside it untouched",
    ),
)


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _num(x: float) -> str:
    return f"{x:.3g}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def _png(image: object) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")  # type: ignore[attr-defined]
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
    "tag_stats",
    "tag_clusters",
    "edit_selection",
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
                "**Demo profile:** the dataset is the small embedded one; the CLIP and diffusion models are "
                "tiny random-weight models built here. Their tags, clusters and edits are meaningless: the "
                "numbers below show that every stage runs end to end, not how well the method works. Run the "
                "`hotels50k` profile for real results."
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
        return s.add(Missing("tag_stats"))
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
    s.add(*stage_figures(tables.store, ("tag_stats_", "image_tags_")))
    return s


# --- Clusters ------------------------------------------------------------------------------------


def cluster_agreement(clusters: pl.DataFrame) -> dict[str, object]:
    from hotelcap_pipeline.tagging.clusters import agreement

    labels = clusters["cluster"].to_numpy()
    return {
        "photos": clusters.height,
        "k": clusters["cluster"].n_unique(),
        "n_hotels": clusters["hotel_id"].n_unique(),
        "n_chains": clusters["chain_id"].n_unique(),
        "vs_hotel": agreement(clusters["hotel_id"].to_numpy(), labels),
        "vs_chain": agreement(clusters["chain_id"].to_numpy(), labels),
    }


def clusters_section(ctx: ReportContext, tables: ReportTables) -> Section:
    s = Section("Clusters vs classes", "clusters")
    clusters = tables.get("tag_clusters")
    if clusters is None:
        return s.add(Missing("tag_clusters"))
    a = cluster_agreement(clusters)
    h, c = a["vs_hotel"], a["vs_chain"]
    matches = a["k"] in (a["n_hotels"], a["n_chains"])
    s.add(
        Paragraph(
            f"k-modes on the photo x tag matrix gave {a['k']} clusters for {a['photos']} photos of "
            f"{a['n_hotels']} hotels and {a['n_chains']} chains: the number of clusters "
            f"{'matches' if matches else 'does not match'} the number of classes. Agreement with hotels: "
            f"ARI {h['ari']:.2f}, NMI {h['nmi']:.2f}, purity {h['purity']:.2f}; with chains: "
            f"ARI {c['ari']:.2f}, "
            f"NMI {c['nmi']:.2f}, purity {c['purity']:.2f} (ARI 0 = chance, 1 = the same grouping)."
        )
    )
    summary = ctx.cluster_summary
    if summary and summary.get("answer"):
        s.add(Paragraph(str(summary["answer"])))
    if summary:
        rows = [
            {
                "k": f"{name} (k = {summary[name]['k'] if 'k' in summary[name] else summary.get('elbow_k')})",
                **{
                    f"{vs}_{m}": summary[name][vs][m]
                    for vs in ("vs_hotel", "vs_chain")
                    for m in ("ari", "nmi", "purity")
                },
            }
            for name in ("elbow", "k_hotels", "k_chains")
            if name in summary
        ]
        if rows:
            s.add(Table(pl.DataFrame(rows), "Agreement of clusters with hotels and chains, by choice of k"))
    sizes = (
        clusters.group_by("cluster")
        .agg(
            pl.len().alias("photos"),
            pl.col("hotel_id").n_unique().alias("hotels"),
            pl.col("hotel_id").mode().first().alias("main_hotel"),
        )
        .sort("cluster")
    )
    s.add(Table(sizes, "Photos and hotels per cluster"))
    figures = stage_figures(tables.store, ("tag_clusters_",))
    if not figures and summary and summary.get("k_range") and summary.get("costs"):
        from hotelcap_pipeline.tagging.clusters import elbow_figure

        figures = [
            Figure(
                f"{REPORT_FIGURE_PREFIX}cluster_elbow.png",
                elbow_figure(summary["k_range"], summary["costs"], summary["elbow_k"]),
                "k-modes cost by number of clusters",
            )
        ]
    s.add(*figures)
    return s


# --- Edits ---------------------------------------------------------------------------------------


def edit_summary(edits: pl.DataFrame) -> pl.DataFrame:
    """One row per series: how many edits, the mean scores, and the share that keeps the room recognisable."""
    ok = pl.col("status") == "ok"
    return edits.group_by("edit", maintain_order=True).agg(
        pl.len().alias("photos"),
        ok.sum().alias("ok"),
        pl.col("strength").filter(ok).mean().alias("strength"),
        pl.col("clip_image_sim").filter(ok).mean().alias("clip_image_sim"),
        pl.col("directional").filter(ok).mean().alias("directional"),
        pl.col("ssim").filter(ok).mean().alias("ssim"),
        (pl.col("clip_image_sim") >= pl.col("preserve_threshold")).filter(ok).mean().alias("recognisable"),
    )


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
            "`ssim` the layout similarity; `recognisable` is the share of edits above the series' "
            "similarity threshold."
        ),
        Table(summary, "diffusion_edits per series (means over rendered edits)"),
    )
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
            + " ".join(_mislead_sentence(r) for r in summary.iter_rows(named=True))
        )
    )
    modes = set(edits["mode"].drop_nulls().to_list()) if "mode" in edits.columns else set()
    s.add(
        Paragraph(
            f"Changing one thing without touching the rest (modes used here: {', '.join(sorted(modes))}):"
        ),
        Bullets(
            tuple(
                f"{name} ([arXiv:{ref}](https://arxiv.org/abs/{ref})): {why}"
                for name, ref, why in EDIT_LITERATURE
            )
        ),
    )
    return s


def _mislead_sentence(row: dict) -> str:
    share = row["recognisable"]
    if row["ok"] == 0 or share is None:
        return f"`{row['edit']}`: nothing rendered."
    if share >= 0.8:
        return f"`{row['edit']}`: no, {pct(share)} of the edits keep the room recognisable."
    return f"`{row['edit']}`: possibly, only {pct(share)} of the edits keep the room recognisable."


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
    }
    command = " ".join(f"{k}={v}" for k, v in env.items() if v) + " hotelcap materialize"
    s.add(
        Paragraph(f"`{command}`"),
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
