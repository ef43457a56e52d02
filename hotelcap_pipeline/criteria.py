"""Every threshold behind a verdict, and the original study's reference numbers, in one place.

A verdict compares one measured value with one named threshold and carries its evidence (metric, value,
threshold, n), so each "worked" / "did not work" line of the report and each "answer" in the UI says what
it rests on. Nothing here is a finding by itself: findings are computed where the numbers are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

Status = Literal["worked", "did not work", "not measured"]


@dataclass(frozen=True)
class Threshold:
    """A named bar a measured value must clear (``value >= bar``, or ``<=`` when lower is better)."""

    metric: str
    bar: float
    meaning: str
    higher_is_better: bool = True
    # Fewer measured items than this and the value is "too few to judge", neither pass nor fail.
    min_n: int = 1
    # The value is the share of the n items that did something: its evidence carries the share's 95%
    # interval, and an interval reaching across the bar is said to be a close call.
    share: bool = False

    def passes(self, value: float) -> bool:
        return value >= self.bar if self.higher_is_better else value <= self.bar

    @property
    def symbol(self) -> str:
        return "≥" if self.higher_is_better else "≤"


# --- Photos ---------------------------------------------------------------------------------------
# This run's own count, not an estimate from a sample: no interval.
PHOTOS_OK = Threshold("share of photos stored", 0.9, "the photo stage delivered the sample", min_n=1)

# --- Tags against known truth (tag_evaluation) -----------------------------------------------------
# ROC AUC of a tag's score, photos showing the object vs photos not showing it: 0.5 = chance (the
# original study's complaint that present and absent tags score almost alike), 1 = perfectly apart.
TAG_AUC = Threshold(
    "median per-tag ROC AUC", 0.75, "present tags score clearly above absent ones", min_n=8
)
TAG_F1 = Threshold("macro F1 of the tags", 0.5, "the tags are right often enough to search by", min_n=8)
CAPTION_F1 = Threshold("mean caption tag-set F1", 0.5, "captions name what the photo shows", min_n=8)
# Where labels give room kinds: the caption's room word must be right this often (four kinds; naming the
# commonest kind for every photo scores 0.34 on the demo: 41 bedrooms among its 120 labelled photos).
CAPTION_ROOM = Threshold("share of captions naming the photo's room kind", 0.7, "captions name the right room",
                         min_n=8, share=True)
# The labelled method must beat the best zero-shot method on the same held-out photos by this much.
LABELLED_GAIN = Threshold("macro F1 gain over the best zero-shot method", 0.02, "a few labels help", min_n=8)
# The demo CLIP must reach this on held-out renders (benchmarks/bench_demo_clip.py).
DEMO_CLIP_AUC = Threshold("median per-tag ROC AUC on held-out renders", 0.9, "the demo CLIP sees", min_n=8)

# --- Clusters ---------------------------------------------------------------------------------------
# Adjusted Rand index: 0 = chance agreement, 1 = the same grouping.
CLUSTER_ARI = Threshold("ARI", 0.3, "the clusters follow this grouping", min_n=8)

# --- Edits --------------------------------------------------------------------------------------------
# The acceptance rule is validated on the synthetic world's known-good and known-bad edits: it must
# accept at least this share of true one-condition edits...
EDIT_RULE_TRUE = Threshold("share of true edits accepted", 0.9, "the rule accepts real changes", min_n=8, share=True)
# ...and at most this share of every negative class (noise, unchanged, another room, two changes).
EDIT_RULE_NEGATIVE = Threshold(
    "share of a negative class accepted", 0.1, "the rule rejects wrong edits", higher_is_better=False, min_n=8,
    share=True,
)
# A series worked when its rule is validated and at least this share of its photos got an accepted edit.
# Fewer than 4 photos tried is too few to say: at 3, even none or all of them leaves the 95% interval
# across the bar (edit_selection gives each series' subject its share of the picks).
EDIT_ACCEPTED = Threshold("share of photos with an accepted edit", 0.5, "the series changed what it asked", min_n=4,
                          share=True)
# Series that the world cannot validate fall back to "keep CLIP image similarity >= the series'
# preserve_threshold" (from the edit series file) and are never counted as worked.

# --- Statistical tests -------------------------------------------------------------------------------
ALPHA = 0.05
MIN_TEST_N = 8  # fewer values than this: "too few to test", not a result

# --- The original study --------------------------------------------------------------------------------
# Pretrained CLIP ViT-B-32, 20 tags, "a photo of a {label}", threshold 0.25, 10 hotels, 406 photos.
STUDY_METRICS = (
    "mean_tags_per_photo",
    "mean_top1_score",
    "mean_gap_1st_10th",
    "mean_distinct_tags_per_hotel",
    "max_distinct_tags_per_hotel",
    "min_distinct_tags_per_hotel",
)
ORIGINAL_STUDY = {
    "method": "original study",
    "mean_tags_per_photo": 2.16,
    "mean_top1_score": 0.266,
    "mean_gap_1st_10th": 0.053,
    "mean_distinct_tags_per_hotel": 10.46,
    "max_distinct_tags_per_hotel": 18,
    "min_distinct_tags_per_hotel": 2,
}


def _shown(value: float, bar: float | None, spec: str, digits: int) -> str:
    """``value`` as ``spec`` (g or f) with ``digits``, or more where fewer would print a value that compares with
    ``bar`` otherwise than the real one (0.8996 shown as 0.9 against a bar of 0.9 reads as a pass)."""
    shown = f"{value:.{digits}{spec}}"
    if bar is None:
        return shown
    side = (value > bar) - (value < bar)
    while digits < 17 and (float(shown) > bar) - (float(shown) < bar) != side:
        digits += 1
        shown = f"{value:.{digits}{spec}}"
    return shown


def fmt(value: float | None, bar: float | None = None) -> str:
    """A measured value to 3 significant digits, more where needed to show on which side of ``bar`` it is."""
    return "n/a" if value is None or math.isnan(value) else _shown(value, bar, "g", 3)


def wilson_interval(share: float | None, n: int, z: float = 1.96) -> tuple[float, float]:
    """Wilson's score interval (95% for z = 1.96) of a share measured on n items; it stays inside [0, 1]
    and is not empty at 0 or 1, where the normal approximation's is."""
    if n < 1 or share is None or math.isnan(share):
        return math.nan, math.nan
    centre = (share + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(share * (1 - share) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def auc_interval(auc: float, n_positive: int, n_negative: int, z: float = 1.96) -> tuple[float, float]:
    """The 95% interval (z = 1.96) of a ROC AUC measured on ``n_positive`` positives (photos that show the
    object, true edits) and ``n_negative`` negatives: Newcombe's (2006) score interval (his method 5), the
    AUCs theta that put the measured one within z standard errors, ``(auc - theta)^2 <= z^2 var(theta)``,
    with Hanley and McNeil's variance in which both group sizes are replaced by their mean. Unlike the plain
    auc +- z se, it does not shrink to nothing at an AUC of 1 or 0. With a handful of positives (a bathtub
    on 8 photos) it is wide: one AUC says little there."""
    if math.isnan(auc) or n_positive < 1 or n_negative < 1:
        return math.nan, math.nan
    half_n = (n_positive + n_negative) / 2

    def excess(theta: float) -> float:  # <= 0 inside the interval
        var = theta * (1 - theta) / (n_positive * n_negative) * (
            2 * half_n - 1 - (3 * half_n - 3) / ((2 - theta) * (1 + theta))
        )
        return (auc - theta) ** 2 - z * z * max(var, 0.0)

    def crossing(inside: float, outside: float) -> float:
        for _ in range(60):
            middle = (inside + outside) / 2
            inside, outside = (middle, outside) if excess(middle) <= 0 else (inside, middle)
        return (inside + outside) / 2

    low = 0.0 if excess(0.0) <= 0 else crossing(auc, 0.0)
    high = 1.0 if excess(1.0) <= 0 else crossing(auc, 1.0)
    return low, high


@dataclass(frozen=True)
class Verdict:
    """One measured value against one threshold, with the sentence that states it and its evidence."""

    subject: str
    threshold: Threshold
    value: float
    n: int
    unit: str  # what n counts: "photos", "tags", "edits"...
    passed_text: str
    failed_text: str

    @property
    def status(self) -> Status:
        if self.n < self.threshold.min_n or self.value is None or math.isnan(self.value):
            return "not measured"
        return "worked" if self.threshold.passes(self.value) else "did not work"

    @property
    def interval(self) -> tuple[float, float] | None:
        """The 95% interval of a share; None for other metrics."""
        return wilson_interval(self.value, self.n) if self.threshold.share else None

    @property
    def close_call(self) -> bool:
        """The share's interval reaches across the bar: another sample of the same size may well turn it."""
        lo_hi = self.interval
        return lo_hi is not None and lo_hi[0] < self.threshold.bar < lo_hi[1]

    @property
    def evidence(self) -> str:
        t = self.threshold
        lo_hi = self.interval
        # The interval's ends, like the value, show on which side of the bar they are (a close call depends on it).
        band = (f" (95% interval {_shown(lo_hi[0], t.bar, 'f', 2)}-{_shown(lo_hi[1], t.bar, 'f', 2)})"
                if lo_hi and not math.isnan(lo_hi[0]) else "")
        return f"{t.metric} = {fmt(self.value, t.bar)}{band}, threshold {t.symbol} {t.bar:g}, n = {self.n} {self.unit}"

    def sentence(self) -> str:
        if self.status == "not measured" and self.n >= self.threshold.min_n:
            return f"{self.subject}: not measured: no value ({self.evidence})."
        if self.status == "not measured":
            return (
                f"{self.subject}: too few to judge ({self.evidence}; at least {self.threshold.min_n} "
                f"{self.unit} needed)."
            )
        text = self.passed_text if self.status == "worked" else self.failed_text
        close = "; a close call: the interval reaches across the threshold" if self.close_call else ""
        return f"{self.subject}: {text} ({self.evidence}{close})."
