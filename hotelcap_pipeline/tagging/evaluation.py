"""``tag_evaluation``: every tagging method and its captions measured against known truth.

Per method and tag: precision, recall and F1 of the tags given, and two threshold-free numbers of the
tag's score: average precision, and ROC AUC of the score for photos that show the object against photos
that do not (0.5 = present and absent score alike, the original study's complaint; 1 = always apart).

A fourth method, ``labelled``, needs no training of CLIP: on a seeded half of the labelled photos it fits
one threshold per tag on the ensemble cosines (the one with the best F1), and is measured on the other
half. Every zero-shot method is measured on that held-out half too, so the comparison is like for like.

Captions are read back into tag sets and scored per caption (precision, recall, F1 against the photo's
true tags); when the labels name room kinds, the caption's room word is checked against them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from sklearn.metrics import average_precision_score, roc_auc_score

from hotelcap_pipeline.criteria import auc_interval
from hotelcap_pipeline.figures import figure_png, new_figure
from hotelcap_pipeline.settings import ENVIRONMENT, Origin
from hotelcap_pipeline.tagging.captions import caption_room, caption_tags, captions_for, room_kind_word
from hotelcap_pipeline.tagging.schema import EVALUATION_SCHEMA
from hotelcap_pipeline.tagging.tags import decide_tags
from hotelcap_pipeline.tagging.vocabulary import score_column
from hotelcap_pipeline.yaml_input import InputFileError

LABELLED = "labelled"
LABELLED_SCORES = "ensemble"  # the zero-shot scores the labelled method thresholds
ALL = "all labelled photos"
HELD_OUT = "held-out half"
CAPTION_ROW = "(caption)"


def precision_recall_f1(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """Of boolean vectors; NaN where undefined (no predictions and no positives)."""
    truth, predicted = np.asarray(truth, bool), np.asarray(predicted, bool)
    tp = float(np.sum(truth & predicted))
    n_pred, n_true = float(predicted.sum()), float(truth.sum())
    precision = tp / n_pred if n_pred else (0.0 if n_true else float("nan"))
    recall = tp / n_true if n_true else float("nan")
    if np.isnan(precision) or np.isnan(recall):
        return precision, recall, float("nan")
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def ranking_scores(truth: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """(average precision, ROC AUC) of ``scores`` for the positives of ``truth``; NaN with one class only."""
    truth = np.asarray(truth, bool)
    if truth.all() or not truth.any():
        return float("nan"), float("nan")
    return float(average_precision_score(truth, scores)), float(roc_auc_score(truth, scores))


def fit_f1_threshold(truth: np.ndarray, scores: np.ndarray) -> float:
    """The threshold (tagging means score > threshold) with the best F1 on these photos.

    Candidates lie midway between neighbouring distinct scores; of equally good ones the middle is taken.
    A tag with no positive photo gets +inf (never given).
    """
    truth, scores = np.asarray(truth, bool), np.asarray(scores, np.float64)
    if not truth.any():
        return float("inf")
    values = np.unique(scores)
    candidates = np.concatenate([[values[0] - 1e-6], (values[:-1] + values[1:]) / 2])
    f1 = np.array([precision_recall_f1(truth, scores > c)[2] for c in candidates])
    f1 = np.nan_to_num(f1, nan=-1.0)
    best = np.flatnonzero(f1 == f1.max())
    return float(candidates[best[len(best) // 2]])


def held_out_mask(image_ids: Sequence[int], seed: int) -> np.ndarray:
    """True for the half of the photos the labelled method is measured on (the other half fits it)."""
    ids = np.asarray(image_ids)
    order = np.random.default_rng(seed).permutation(np.argsort(ids, kind="stable"))
    mask = np.zeros(len(ids), dtype=bool)
    mask[order[: len(ids) // 2]] = True
    return mask


def truth_matrix(labels: pl.DataFrame, labels_order: Sequence[str]) -> np.ndarray:
    index = {label: k for k, label in enumerate(labels_order)}
    matrix = np.zeros((labels.height, len(labels_order)), dtype=bool)
    for i, tags in enumerate(labels["tags"].to_list()):
        for tag in tags:
            matrix[i, index[tag]] = True
    return matrix


def _tag_rows(
    method: str, split: str, labels_order: Sequence[str], truth: np.ndarray, scores: np.ndarray,
    given: np.ndarray, thresholds: np.ndarray | None = None,
) -> list[dict]:
    rows = []
    for k, tag in enumerate(labels_order):
        precision, recall, f1 = precision_recall_f1(truth[:, k], given[:, k])
        ap, auc = ranking_scores(truth[:, k], scores[:, k])
        n_present, n_absent, n_given = int(truth[:, k].sum()), int((~truth[:, k]).sum()), int(given[:, k].sum())
        low, high = auc_interval(auc, n_present, n_absent)
        rows.append(
            {
                "method": method, "split": split, "tag": tag, "precision": precision, "recall": recall,
                "f1": f1, "average_precision": ap, "auc": auc, "auc_low": low, "auc_high": high,
                "n_present": n_present, "n_absent": n_absent, "n_given": n_given,
                "threshold": None if thresholds is None else float(thresholds[k]), "photos": len(truth),
            }
        )
    return rows


def _caption_row(
    method: str, split: str, captions: Sequence[str], true_tags: Sequence[Sequence[str]],
    room_kinds: Sequence[str | None], labels_order: Sequence[str],
) -> dict:
    scores = np.array(
        [
            precision_recall_f1(
                np.isin(labels_order, list(truth)), np.isin(labels_order, caption_tags(caption, labels_order))
            )
            for caption, truth in zip(captions, true_tags, strict=True)
        ],
        dtype=np.float64,
    ).reshape(-1, 3)
    # Any spelling of a kind (Bedroom, desk corner) is that kind; one no caption can name raises, never a silent miss.
    kinds = [(caption_room(c), room_kind_word(k)) for c, k in zip(captions, room_kinds, strict=True) if k]
    return {
        "method": method, "split": split, "tag": CAPTION_ROW,
        # A caption of a photo with no true tag has no recall: it counts 0 only if it names objects.
        "precision": float(np.nanmean(scores[:, 0])) if len(scores) else None,
        "recall": float(np.nanmean(scores[:, 1])) if len(scores) else None,
        "f1": float(np.nanmean(np.nan_to_num(scores[:, 2], nan=0.0))) if len(scores) else None,
        "n_present": len(captions), "n_absent": 0,
        "accuracy": float(np.mean([said == true for said, true in kinds])) if kinds else None,
        "room_photos": len(kinds),
        "photos": len(captions),
    }


def evaluate_tags(
    image_tags: pl.DataFrame, labels: pl.DataFrame, labels_order: Sequence[str], *, seed: int = 0,
    labels_origin: Origin | None = None,
) -> pl.DataFrame:
    """The ``tag_evaluation`` table: one row per (method, split, tag), plus a caption row per method.
    ``labels_origin``: the setting that named the labels file (default: HOTELCAP_LABELS), for the error."""
    labelled = image_tags.join(labels.rename({"tags": "true_tags"}), on="image_id", how="inner")
    if labelled.is_empty():
        named = (labels_origin or ENVIRONMENT["labels"]).source
        raise InputFileError(
            f"none of the {labels.height} labelled image ids is among the {image_tags['image_id'].n_unique()} "
            f"tagged photos: the labels file ({named}) belongs to another collection"
        )
    columns = [score_column(label) for label in labels_order]
    rows: list[dict] = []
    # polars keys each partition by the tuple of its group values: here (method,).
    partitions = labelled.partition_by("method", as_dict=True)
    by_method: dict[str, pl.DataFrame] = {key[0]: frame.sort("image_id") for key, frame in partitions.items()}
    for method, frame in sorted(by_method.items()):
        truth = truth_matrix(frame.rename({"true_tags": "tags", "tags": "given"}), labels_order)
        scores = frame.select(columns).to_numpy().astype(np.float64)
        given = truth_matrix(frame.select(pl.col("tags")), labels_order)
        held = held_out_mask(frame["image_id"].to_list(), seed)
        for split, mask in ((ALL, np.ones(len(frame), bool)), (HELD_OUT, held)):
            rows += _tag_rows(method, split, labels_order, truth[mask], scores[mask], given[mask])
            rows.append(
                _caption_row(
                    method, split, frame["caption"].filter(pl.Series(mask)).to_list(),
                    frame["true_tags"].filter(pl.Series(mask)).to_list(),
                    frame["room_kind"].filter(pl.Series(mask)).to_list(), labels_order,
                )
            )
        if method == LABELLED_SCORES:
            rows += _labelled_rows(frame, truth, scores, held, labels_order)
    return pl.DataFrame(rows, schema=EVALUATION_SCHEMA, strict=False)


def _labelled_rows(
    frame: pl.DataFrame, truth: np.ndarray, scores: np.ndarray, held: np.ndarray, labels_order: Sequence[str]
) -> list[dict]:
    thresholds = np.array([fit_f1_threshold(truth[~held, k], scores[~held, k]) for k in range(truth.shape[1])])
    given = decide_tags(scores[held], thresholds)
    captions = captions_for(given, scores[held], labels_order)
    return [
        *_tag_rows(LABELLED, HELD_OUT, labels_order, truth[held], scores[held], given, thresholds),
        _caption_row(
            LABELLED, HELD_OUT, captions, frame["true_tags"].filter(pl.Series(held)).to_list(),
            frame["room_kind"].filter(pl.Series(held)).to_list(), labels_order,
        ),
    ]


def evaluation_summary(table: pl.DataFrame) -> pl.DataFrame:
    """One row per (method, split): median and mean per-tag AUC, mAP, macro P/R/F1 and the caption scores.

    Tags with no present or no absent photo have no AUC or AP and are left out of those averages. Macro
    precision is averaged over the tags given at least once, macro recall over the tags present at least
    once, and macro F1 over both: a tag given but never present counts F1 0 (all its tags are wrong), a tag
    neither given nor present is left out.
    """
    tags = table.filter(pl.col("tag") != CAPTION_ROW)
    captions = table.filter(pl.col("tag") == CAPTION_ROW).select(
        "method", "split", pl.col("f1").alias("caption_f1"), pl.col("accuracy").alias("caption_room_accuracy"),
        pl.col("room_photos").alias("caption_room_photos"),
    )
    measured = (pl.col("n_present") > 0) & (pl.col("n_absent") > 0)
    present, given = pl.col("n_present") > 0, pl.col("n_given") > 0
    return (
        tags.group_by("method", "split", maintain_order=True)
        .agg(
            pl.col("photos").max(),
            measured.sum().alias("tags_measured"),
            pl.col("auc").filter(measured).median().alias("median_auc"),
            pl.col("auc").filter(measured).mean().alias("mean_auc"),
            pl.col("average_precision").filter(measured).mean().alias("map"),
            pl.col("precision").filter(given).mean().alias("macro_precision"),
            pl.col("recall").filter(present).mean().alias("macro_recall"),
            # F1 is NaN (no recall) for a tag given but never present: every one of its tags is wrong.
            pl.col("f1").fill_nan(0.0).filter(given | present).mean().alias("macro_f1"),
        )
        .join(captions, on=["method", "split"], how="left")
    )


def auc_figure(table: pl.DataFrame) -> bytes:
    """Per-tag ROC AUC bars, one colour per method (all labelled photos; labelled: its held-out half)."""
    rows = table.filter(
        (pl.col("tag") != CAPTION_ROW) & (pl.col("n_present") > 0) & (pl.col("n_absent") > 0)
        & ((pl.col("split") == ALL) | (pl.col("method") == LABELLED))
    )
    tags = sorted(rows["tag"].unique().to_list())
    methods = rows["method"].unique(maintain_order=True).to_list()
    fig, ax = new_figure(max(8, 0.45 * len(tags) + 2), 4)
    x = np.arange(len(tags))
    width = 0.8 / max(1, len(methods))
    for i, method in enumerate(methods):
        ordered = pl.DataFrame({"tag": tags}).join(rows.filter(pl.col("method") == method), on="tag", how="left")
        auc, low, high = (ordered[c].to_numpy().astype(np.float64) for c in ("auc", "auc_low", "auc_high"))
        errors = np.nan_to_num(np.vstack([auc - low, high - auc]), nan=0.0)
        ax.bar(x + (i - (len(methods) - 1) / 2) * width, auc, width, label=method, yerr=errors,
               error_kw={"elinewidth": 0.6, "capsize": 1.5, "ecolor": "0.3"})
    ax.axhline(0.5, color="black", linewidth=1, linestyle="--")
    ax.set_xticks(x, tags, rotation=45, ha="right")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("ROC AUC, present vs absent")
    ax.set_title("How well each tag's score separates photos that show it (dashed: chance)")
    ax.legend(fontsize=8)
    return figure_png(
        fig, "Per-tag ROC AUC of each method's score: photos that show the object against photos that do not "
        "(every labelled photo; `labelled`: its held-out half), with 95% intervals (Newcombe's; wide where few "
        "photos show the object). 0.5 (dashed) is chance, 1 perfectly apart; a tag shown on "
        "every labelled photo or on none has no bar."
    )


def score_distribution_figure(
    image_tags: pl.DataFrame, labels: pl.DataFrame, method: str, tags: Sequence[str]
) -> bytes:
    """Histograms of a method's score for photos that show each tag and photos that do not."""
    frame = image_tags.filter(pl.col("method") == method).join(
        labels.rename({"tags": "true_tags"}), on="image_id", how="inner"
    )
    fig, axes = new_figure(3.2 * max(1, len(tags)), 3, ncols=max(1, len(tags)))
    for ax, tag in zip(np.atleast_1d(axes), tags, strict=False):
        present = frame["true_tags"].list.contains(tag).to_numpy()
        values = frame[score_column(tag)].to_numpy()
        bins = np.linspace(values.min(), values.max() + 1e-9, 16) if len(values) else 10
        ax.hist(values[~present], bins=bins, alpha=0.6, label="absent")
        ax.hist(values[present], bins=bins, alpha=0.6, label="present")
        ax.set_title(tag)
        ax.set_xlabel(f"{method} score")
    np.atleast_1d(axes)[0].legend(fontsize=8)
    fig.suptitle(f"Scores of photos that show the object and photos that do not ({method})")
    return figure_png(
        fig, f"The `{method}` method's score for photos that show each of {', '.join(tags)} and for photos "
        "that do not: the less the two histograms overlap, the better one threshold tells them apart (the "
        "original study found them almost alike)."
    )
