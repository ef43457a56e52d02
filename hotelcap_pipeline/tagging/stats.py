"""``tag_stats``: the original study's tagging numbers, per method, and two figures."""

from __future__ import annotations

import numpy as np
import polars as pl
from matplotlib.figure import Figure

from hotelcap_pipeline.criteria import ORIGINAL_STUDY, STUDY_METRICS
from hotelcap_pipeline.figures import figure_png, new_figure
from hotelcap_pipeline.frames import number

GAP_RANK = 10
# Top-1 score and gap are comparable with the study only for cosine scores (not for softmax or logits).
COSINE_ONLY = ("mean_top1_score", "mean_gap_1st_10th")


def score_columns(tags_df: pl.DataFrame) -> list[str]:
    return [c for c in tags_df.columns if c.startswith("score_")]


def score_matrix(tags_df: pl.DataFrame) -> np.ndarray:
    return tags_df.select(score_columns(tags_df)).to_numpy().astype(np.float64)


def top1_and_gap(scores: np.ndarray, rank: int = GAP_RANK) -> tuple[np.ndarray, np.ndarray]:
    """Per photo: the best score, and the best minus the ``rank``-th best (the last one if fewer tags)."""
    ordered = -np.sort(-scores, axis=1)
    nth = ordered[:, min(rank, ordered.shape[1]) - 1]
    return ordered[:, 0], ordered[:, 0] - nth


def method_statistics(tags_df: pl.DataFrame) -> dict[str, float]:
    """The study's numbers for one method's rows (image_id, hotel_id, tags, score_*)."""
    top1, gap = top1_and_gap(score_matrix(tags_df))
    per_hotel = (
        tags_df.select("hotel_id", "tags")
        .explode("tags", empty_as_null=True)
        .drop_nulls("tags")
        .group_by("hotel_id")
        .agg(pl.col("tags").n_unique().alias("distinct"))
    )
    # A hotel whose photos carry no tag at all still counts, with 0 distinct tags.
    hotels = tags_df.select("hotel_id").unique().join(per_hotel, on="hotel_id", how="left").fill_null(0)
    return {
        "photos": tags_df.height,
        "hotels": hotels.height,
        "mean_tags_per_photo": float(number(tags_df["tags"].list.len().mean(), default=0.0)),
        "mean_top1_score": float(top1.mean()) if len(top1) else float("nan"),
        "mean_gap_1st_10th": float(gap.mean()) if len(gap) else float("nan"),
        "mean_distinct_tags_per_hotel": float(number(hotels["distinct"].mean(), default=0.0)),
        "max_distinct_tags_per_hotel": int(number(hotels["distinct"].max(), default=0)),
        "min_distinct_tags_per_hotel": int(number(hotels["distinct"].min(), default=0)),
    }


def _methods(tags_df: pl.DataFrame) -> list[str]:
    return tags_df["method"].unique(maintain_order=True).to_list() if "method" in tags_df.columns else ["-"]


def _rows_of(tags_df: pl.DataFrame, method: str) -> pl.DataFrame:
    return tags_df.filter(pl.col("method") == method) if "method" in tags_df.columns else tags_df


def tag_statistics(
    tags_df: pl.DataFrame, score_kinds: dict[str, str] | None = None, *, include_original: bool = True
) -> pl.DataFrame:
    """One row per method of the long ``image_tags`` table, plus the original study's row.

    ``score_kinds`` names what the scores are per method (cosine, z...), since top-1 and gap are in
    those units.
    """
    rows = [
        {"method": m, "score_kind": (score_kinds or {}).get(m, ""), **method_statistics(_rows_of(tags_df, m))}
        for m in _methods(tags_df)
    ]
    if include_original:
        rows.append({**ORIGINAL_STUDY, "score_kind": "cosine", "photos": None, "hotels": None})
    return pl.DataFrame(rows).select("method", "score_kind", "photos", "hotels", *STUDY_METRICS)


def tag_matrix(tags_df: pl.DataFrame, labels: list[str]) -> np.ndarray:
    """Boolean (N, T): photo n carries tag labels[t]."""
    index = {label: k for k, label in enumerate(labels)}
    matrix = np.zeros((tags_df.height, len(labels)), dtype=bool)
    for n, tags in enumerate(tags_df["tags"].to_list()):
        for tag in tags or ():
            if tag in index:
                matrix[n, index[tag]] = True
    return matrix


def labels_of(tags_df: pl.DataFrame) -> list[str]:
    """Vocabulary labels in column order, recovered from the score columns."""
    words = tags_df["tags"].explode(empty_as_null=True).drop_nulls().unique().to_list()
    known = {t.replace(" ", "_"): t for t in words}
    return [
        known.get(c.removeprefix("score_"), c.removeprefix("score_").replace("_", " ")) for c in score_columns(tags_df)
    ]


def tag_frequency_figure(tags_df: pl.DataFrame, labels: list[str] | None = None) -> bytes:
    """Bar chart: share of photos carrying each tag, one bar per method."""
    labels = labels or labels_of(tags_df)
    methods = _methods(tags_df)
    fig = Figure(figsize=(max(8.0, 0.5 * len(labels)), 4.5))
    ax = fig.subplots()
    width = 0.8 / max(1, len(methods))
    x = np.arange(len(labels))
    for i, method in enumerate(methods):
        share = tag_matrix(_rows_of(tags_df, method), labels).mean(axis=0) if tags_df.height else np.zeros(len(x))
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, share, width, label=method)
    ax.set_xticks(x, labels, rotation=60, ha="right")
    ax.set_ylabel("share of photos with the tag")
    ax.set_title("Tag frequency per method")
    ax.legend()
    return figure_png(
        fig, "Share of photos carrying each tag, per method: a tag on nearly every photo tells a visitor "
        "nothing about that photo, one on none is never found by search."
    )


def cooccurrence(matrix: np.ndarray) -> np.ndarray:
    """P(column j | row i): among photos with tag i, the share that also carry tag j."""
    counts = matrix.T.astype(np.float64) @ matrix.astype(np.float64)
    diagonal = np.diag(counts).copy()
    return counts / np.where(diagonal > 0, diagonal, 1.0)[:, None]


def cooccurrence_figure(tags_df: pl.DataFrame, method: str | None = None, labels: list[str] | None = None) -> bytes:
    """Heatmap of P(tag j | tag i) for one method (the first in the table by default)."""
    method = method or _methods(tags_df)[0]
    labels = labels or labels_of(tags_df)
    conditional = cooccurrence(tag_matrix(_rows_of(tags_df, method), labels))
    fig = Figure(figsize=(0.42 * len(labels) + 3, 0.42 * len(labels) + 2))
    ax = fig.subplots()
    image = ax.imshow(conditional, vmin=0, vmax=1, cmap="viridis")
    ax.set_xticks(range(len(labels)), labels, rotation=60, ha="right")
    ax.set_yticks(range(len(labels)), labels)
    ax.set_xlabel("tag j")
    ax.set_ylabel("tag i")
    ax.set_title(f"Co-occurrence P(j | i), method {method}")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return figure_png(
        fig, f"Co-occurrence of the `{method}` tags: row i, column j is the share of photos tagged i that are "
        "also tagged j (bright: they come together; the diagonal is 1 for every tag given at least once)."
    )


def with_original_study(stats: pl.DataFrame) -> pl.DataFrame:
    """The ``tag_stats`` rows and the original study's as one more row (cosine scores)."""
    if "method" in stats.columns and (stats["method"] == ORIGINAL_STUDY["method"]).any():
        return stats
    row = {k: [v] for k, v in ORIGINAL_STUDY.items()} | {"score_kind": ["cosine"]}
    return pl.concat([stats, pl.DataFrame(row)], how="diagonal_relaxed")


TAGGING_COMPARISON_CAPTION = "Each method's tagging numbers divided by the original study's (dashed line: the same)"


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
    return figure_png(fig, TAGGING_COMPARISON_CAPTION)
