"""Validate the edit scores on edits whose rightness is known, and choose the acceptance rule from them.

The synthetic world can re-render a room with exactly one condition changed: that is the true edit a
series asks for. Beside it, four kinds of wrong edit (negative controls):

- ``noise``: smoothed random noise, what an untrained or broken diffusion model returns;
- ``unchanged``: the original photo again (the change did not happen);
- ``other_room``: another room, from another hotel, with the condition (the room was not kept);
- ``two_changes``: the same room with the condition and one more condition changed.

Every candidate and the original pass through the same mild degradation (JPEG, sensor noise), which
stands in for a diffusion model's round trip, so no rule can lean on pixel-exact copies. The project's
scores are computed on them: directional CLIP similarity toward the series' text change and CLIP image
similarity with the run's CLIP, SSIM, and the two pixel scores (``local_change``, ``change_elsewhere``).
The rule accepts an edit when every score reaches its threshold; the
thresholds are chosen on one half of the rooms (best worst-case gap between true edits accepted and any
negative class accepted) and the acceptance rates are reported on the other half.
"""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
from PIL import Image, ImageFilter
from sklearn.metrics import roc_auc_score

from hotelcap_pipeline.criteria import EDIT_RULE_NEGATIVE, EDIT_RULE_TRUE, Verdict, auc_interval
from hotelcap_pipeline.edits.schema import VALIDATION_COLUMNS
from hotelcap_pipeline.edits.scores import ClipEncoder, EditRule, off_direction, score_edits
from hotelcap_pipeline.edits.series import EditSeries
from hotelcap_pipeline.frames import number

if TYPE_CHECKING:
    from hotelcap_pipeline.world import RoomSpec

TRUE_EDIT = "true_edit"
NEGATIVE_CLASSES = ("noise", "unchanged", "other_room", "two_changes")
CLASSES = (TRUE_EDIT, *NEGATIVE_CLASSES)
SCORES = ("directional", "clip_image_sim", "ssim", "off_direction", "local_change", "change_elsewhere")
FIT, HELD_OUT = "fit", "held-out"
VALIDATION_SIZE = (256, 192)
# Threshold midpoints per bound in the grid search; with "none" and the one past the true edits' extreme, up
# to 14 thresholds a bound, 14^7 rules.
MAX_CANDIDATES = 12
INNER_BOUNDS = 3  # bounds whose every combination is scored at once, in one array, for each of the others


def degrade(image: Image.Image, rng: np.random.Generator) -> Image.Image:
    """JPEG at quality 80 and mild sensor noise: what survives any re-rendering of a photo."""
    arr = np.asarray(image.convert("RGB"), dtype=np.float32)
    arr = np.clip(arr + rng.normal(0, 3.0, size=arr.shape), 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "JPEG", quality=80)
    buf.seek(0)
    return Image.open(buf).convert("RGB")


def noise_image(size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """Smoothed colour noise around mid-grey, like the output of an untrained diffusion model."""
    arr = rng.normal(128, 60, size=(size[1], size[0], 3)).clip(0, 255).astype(np.uint8)
    return Image.fromarray(arr).filter(ImageFilter.GaussianBlur(1.5))


@dataclass(frozen=True)
class ValidationRoom:
    original: RoomSpec
    true_edit: RoomSpec
    other_room: RoomSpec
    two_changes: RoomSpec
    second_condition: str


def validation_specs(condition: str, on: bool, n_rooms: int, seed: int) -> list[ValidationRoom]:
    """``n_rooms`` rooms where ``condition`` can change, each with its original, true edit, another room in
    the target state, and the same room with a second condition changed as well."""
    from hotelcap_pipeline.world import CONDITIONS, sample_room

    if condition not in CONDITIONS:
        raise ValueError(f"world condition {condition!r} is not one of {', '.join(CONDITIONS)}")
    rng = np.random.default_rng(seed)
    chains = (-1, 3, 17, 42)
    rooms: list[ValidationRoom] = []
    attempts = 0
    while len(rooms) < n_rooms:
        attempts += 1
        if attempts > 200 * n_rooms:
            raise ValueError(f"the world could not place {n_rooms} rooms where {condition!r} changes")
        chain = int(rng.choice(chains))
        # Hotel ids far from any demo hotel's, so validation never reuses a photo of the collection.
        spec = sample_room(rng, chain, 9_000_000 + int(rng.integers(1_000_000)))
        if condition not in spec.applicable_conditions():
            continue
        original = spec.with_condition(condition, not on)
        others = [c for c in original.applicable_conditions() if c != condition]
        if not others:
            continue
        second = str(rng.choice(others))
        other = sample_room(rng, int(rng.choice([c for c in chains if c != chain])), 8_000_000 + len(rooms))
        if condition not in other.applicable_conditions():
            continue
        edited = original.with_condition(condition, on)
        rooms.append(
            ValidationRoom(
                original=original,
                true_edit=edited,
                other_room=other.with_condition(condition, on),
                two_changes=edited.with_condition(second, second not in original.conditions),
                second_condition=second,
            )
        )
    return rooms


def score_validation_set(
    clip: ClipEncoder, series: EditSeries, n_rooms: int = 96, seed: int = 0,
    size: tuple[int, int] = VALIDATION_SIZE,
) -> pl.DataFrame:
    """One row per (room, candidate class) with the scores (the five stored with every edit and the derived
    ``off_direction``); rooms alternate fit / held-out."""
    from hotelcap_pipeline.world import render

    if not series.world_condition:
        raise ValueError(f"series {series.name!r} names no world condition to validate against")
    text_pair = clip.encode_texts([series.source_text, series.target_text])
    rng = np.random.default_rng(seed + 1)
    rows = []
    for i, room in enumerate(validation_specs(series.world_condition, series.world_on, n_rooms, seed)):
        original = degrade(render(room.original, size), rng)
        candidates = {
            TRUE_EDIT: degrade(render(room.true_edit, size), rng),
            "noise": noise_image(size, rng),
            "unchanged": degrade(render(room.original, size), rng),
            "other_room": degrade(render(room.other_room, size), rng),
            "two_changes": degrade(render(room.two_changes, size), rng),
        }
        scores = score_edits(clip, original, list(candidates.values()), text_pair)
        for kind, score in zip(candidates, scores, strict=True):
            rows.append(
                {"series": series.name, "room": i, "split": FIT if i % 2 == 0 else HELD_OUT, "class": kind,
                 "second_condition": room.second_condition if kind == "two_changes" else None, **score}
            )
    return with_off_direction(pl.DataFrame(rows))


# The rule's bounds: (score, side). A lower bound rejects edits scoring under it, an upper bound over it.
BOUNDS = (
    ("directional", "min"),
    ("clip_image_sim", "min"),
    ("ssim", "min"),
    ("ssim", "max"),
    ("off_direction", "max"),
    ("local_change", "max"),
    ("change_elsewhere", "max"),
)


def with_off_direction(frame: pl.DataFrame) -> pl.DataFrame:
    """The derived ``off_direction`` score beside the stored ones (kept where it is already there)."""
    if "off_direction" in frame.columns:
        return frame
    values = [off_direction(s, d) for s, d in zip(frame["clip_image_sim"], frame["directional"], strict=True)]
    return frame.with_columns(pl.Series("off_direction", values, dtype=pl.Float64))


def _candidates(values: np.ndarray, true_values: np.ndarray, side: str) -> np.ndarray:
    """Thresholds worth trying for one bound: none (±inf), and midpoints between observed values on the side
    where a bound could reject wrong edits without rejecting most true ones (under the true edits' median for
    a minimum, over it for a maximum), thinned to MAX_CANDIDATES; the midpoint next to the true edits'
    extreme (the widest rule that still separates) is always kept."""
    distinct = np.unique(values)
    mids = (distinct[:-1] + distinct[1:]) / 2
    median = float(np.median(true_values))
    mids = mids[mids <= median] if side == "min" else mids[mids >= median]
    edge = mids[mids < true_values.min()][-1:] if side == "min" else mids[mids > true_values.max()][:1]
    if len(mids) > MAX_CANDIDATES:
        mids = mids[np.unique(np.linspace(0, len(mids) - 1, MAX_CANDIDATES).round().astype(int))]
    ordered = np.unique(np.concatenate([edge, mids]))  # ascending: most lenient first for a minimum
    return np.concatenate([[-np.inf], ordered]) if side == "min" else np.concatenate([[np.inf], ordered[::-1]])


def _passes(values: np.ndarray, thresholds: np.ndarray, side: str) -> np.ndarray:
    """(thresholds, rows): which rows each threshold lets through."""
    return values[None, :] >= thresholds[:, None] if side == "min" else values[None, :] <= thresholds[:, None]


def _class_bits(passes: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """(thresholds, words): ``passes`` packed 64 rows to a word, each class in words of its own, in CLASSES
    order (one word at least), so a rule's accepted rows of a class are a popcount of an AND."""
    words = []
    for kind in CLASSES:
        rows = passes[:, kinds == kind]
        rows = np.pad(rows, ((0, 0), (0, 64 * _words(rows.shape[1]) - rows.shape[1])))
        words.append(np.ascontiguousarray(np.packbits(rows, axis=1, bitorder="little")).view(np.uint64))
    return np.concatenate(words, axis=1)


def _words(rows: int) -> int:
    return max(1, -(-rows // 64))


def _margin(rates: np.ndarray) -> np.ndarray:
    """How far a rule clears both targets (negative: how far it misses the nearer one); ``rates`` is
    (rules, classes) with the true edits first."""
    return np.minimum(rates[:, 0] - EDIT_RULE_TRUE.bar, EDIT_RULE_NEGATIVE.bar - rates[:, 1:].max(axis=1))


def _rounded(values: np.ndarray) -> np.ndarray:
    return np.round(values, 6)


def _lexicographic_argmax(keys: Sequence[np.ndarray]) -> int:
    """The row with the greatest first key, ties broken by the next keys in turn, then by the first row."""
    rows = np.arange(len(keys[0]))
    for key in keys:
        values = key[rows]
        rows = rows[values == values.max()]
    return int(rows[0])


class _RuleSearch:
    """Tries every rule on a grid of thresholds per bound (lenient to strict), scored on bit-packed rows.

    The outer bounds are walked depth first; at each step a branch is dropped when even its best case cannot
    beat the best margin found: the bounds still to set only take edits away, so no rule under it accepts
    more true edits than the thresholds set so far let through, nor fewer wrong ones than the strictest
    setting of the rest does. The inner bounds' every combination is scored at once, in one array.
    """

    def __init__(self, bits: list[np.ndarray], kinds: np.ndarray) -> None:
        per_class = [int(np.sum(kinds == k)) for k in CLASSES]
        self.inverse_counts = 1.0 / np.maximum(per_class, 1)
        self.starts = np.cumsum([0] + [_words(n) for n in per_class])[:-1]
        self.outer, inner_bits = bits[:-INNER_BOUNDS], bits[-INNER_BOUNDS:]
        shape = tuple(len(b) for b in inner_bits)
        self.inner = functools.reduce(
            np.bitwise_and, [b.reshape(*(n if k == i else 1 for k, n in enumerate(shape)), -1)
                             for i, b in enumerate(inner_bits)],
        ).reshape(int(np.prod(shape)), -1)  # (inner combinations, words); the last is the strictest
        self.inner_index = np.stack(np.unravel_index(np.arange(len(self.inner)), shape), axis=1)
        # A lower index sum is more lenient.
        self.inner_strictness = self.inner_index.sum(axis=1)
        self.strictest_after = [
            functools.reduce(np.bitwise_and, [b[-1] for b in self.outer[level + 1 :]], self.inner[-1])
            for level in range(len(self.outer))
        ]
        self.best_key: tuple[float, ...] | None = None
        self.best: tuple[int, ...] = ()

    def _rates(self, words: np.ndarray) -> np.ndarray:
        accepted = np.bitwise_count(words)
        if len(self.starts) < words.shape[-1]:  # a class spans several words
            accepted = np.add.reduceat(accepted, self.starts, axis=-1)
        return accepted * self.inverse_counts

    def _hopeless(self, accepted: np.ndarray, level: int) -> bool:
        if self.best_key is None:
            return False
        most, least = self._rates(accepted), self._rates(accepted & self.strictest_after[level])
        best_case = np.concatenate([most[:1], least[1:]])[None, :]  # the most true edits, the fewest wrong
        return float(_rounded(_margin(best_case))[0]) < self.best_key[0]

    def run(self, accepted: np.ndarray | None = None, index: tuple[int, ...] = ()) -> None:
        """Search every rule under the thresholds ``index`` set so far; the best ends in ``best``."""
        level = len(index)
        if level == len(self.outer):
            self._score_inner(accepted, index)
            return
        for i, words in enumerate(self.outer[level]):
            here = words if accepted is None else accepted & words
            if not self._hopeless(here, level):
                self.run(here, (*index, i))

    def _score_inner(self, accepted: np.ndarray | None, index: tuple[int, ...]) -> None:
        rates = self._rates(self.inner if accepted is None else self.inner & accepted[None, :])
        margin = _rounded(_margin(rates))
        widest = margin.max()
        if self.best_key is not None and widest < self.best_key[0]:
            return
        rows = np.flatnonzero(margin == widest)  # the other keys only break ties
        negatives = rates[rows, 1:]
        # Rounded so that float noise in a sum of shares never decides a tie the next key should.
        keys = (margin[rows], _rounded(rates[rows, 0]), _rounded(-negatives.max(axis=1)),
                _rounded(-negatives.sum(axis=1)), -(sum(index) + self.inner_strictness[rows]))
        j = _lexicographic_argmax(keys)
        key = tuple(float(k[j]) for k in keys)
        if self.best_key is None or key > self.best_key:
            self.best_key, self.best = key, (*index, *(int(i) for i in self.inner_index[rows[j]]))


def fit_rule(frame: pl.DataFrame) -> EditRule:
    """The thresholds that clear the acceptance targets by the widest margin on ``frame``: true edits
    accepted above EDIT_RULE_TRUE and every negative class below EDIT_RULE_NEGATIVE. Ties go to the rule
    accepting the most true edits, then the fewest of the worst wrong kind, then the fewest wrong edits of
    any kind, then the most lenient thresholds, then the first in grid order."""
    frame = with_off_direction(frame)
    kinds = frame["class"].to_numpy()
    grids, bits = [], []
    for score, side in BOUNDS:
        values = frame[score].to_numpy().astype(np.float64)
        grid = _candidates(values, values[kinds == TRUE_EDIT], side)
        grids.append(grid)
        bits.append(_class_bits(_passes(values, grid, side), kinds))
    search = _RuleSearch(bits, kinds)
    search.run()
    return EditRule(**_rule_fields(grids, search.best))


def _rule_fields(grids: list[np.ndarray], index: tuple[int, ...]) -> dict[str, float]:
    fields = {}
    for (score, side), grid, i in zip(BOUNDS, grids, index, strict=True):
        fields[f"{side}_{score}"] = float(grid[i])
    return fields


def with_verdicts(frame: pl.DataFrame, rule: EditRule) -> pl.DataFrame:
    """``frame`` with an ``accepted`` column: the rule's verdict on each row's scores."""
    frame = with_off_direction(frame)
    scores = [c for c in SCORES if c in frame.columns]  # tables from before the pixel scores lack them
    accepted = [rule.accepts(r) for r in frame.select(scores).iter_rows(named=True)]
    return frame.with_columns(pl.Series("accepted", accepted, dtype=pl.Boolean))


def rule_rates(frame: pl.DataFrame, rule: EditRule) -> pl.DataFrame:
    """Share of each class the rule accepts, per split."""
    return (
        with_verdicts(frame, rule)
        .group_by("series", "split", "class", maintain_order=True)
        .agg(pl.len().alias("n"), pl.col("accepted").mean().alias("accepted_share"))
    )


def score_aucs(frame: pl.DataFrame) -> pl.DataFrame:
    """ROC AUC of each score for true edits against each negative class (1 = every true edit scores higher),
    with its 95% interval (``criteria.auc_interval``) and the counts it rests on."""
    rows = []
    frame = with_off_direction(frame)
    true = frame.filter(pl.col("class") == TRUE_EDIT)
    for kind in NEGATIVE_CLASSES:
        negative = frame.filter(pl.col("class") == kind)
        if true.is_empty() or negative.is_empty():
            continue
        labels = np.r_[np.ones(true.height), np.zeros(negative.height)]
        for score in (s for s in SCORES if s in frame.columns):
            values = np.r_[true[score].to_numpy(), negative[score].to_numpy()]
            auc = float(roc_auc_score(labels, values))
            low, high = auc_interval(auc, true.height, negative.height)
            rows.append({"negative_class": kind, "score": score, "auc": auc, "auc_low": low, "auc_high": high,
                         "n_true": true.height, "n_negative": negative.height})
    return pl.DataFrame(rows)


def validate_series(clip: ClipEncoder, series: EditSeries, n_rooms: int = 96, seed: int = 0) -> pl.DataFrame:
    """The ``edit_validation`` rows of one series: scores, split, the fitted rule and whether it accepts."""
    frame = score_validation_set(clip, series, n_rooms, seed)
    rule = fit_rule(frame.filter(pl.col("split") == FIT))
    rule_columns = (pl.lit(v, dtype=pl.Float64).alias(k) for k, v in rule.as_columns().items())
    validated = with_verdicts(frame, rule).with_columns(*rule_columns)
    return validated.select(pl.col(name).cast(dtype) for name, dtype in VALIDATION_COLUMNS.items())


def rule_of(validation: pl.DataFrame, series_name: str) -> EditRule | None:
    """The rule fitted for a series, from its ``edit_validation`` rows (None if it has none)."""
    rows = validation.filter(pl.col("series") == series_name)
    if rows.is_empty():
        return None
    first = rows.row(0, named=True)
    # Tables written before the upper bounds existed have no such columns: no bound.
    # Bounds that tables written before them lack (or hold as null) are unset.
    upper = {k: math.inf if first.get(k) is None else first[k]
             for k in ("max_ssim", "max_off_direction", "max_local_change", "max_change_elsewhere")}
    return EditRule(min_directional=first["min_directional"], min_clip_image_sim=first["min_clip_image_sim"],
                    min_ssim=first["min_ssim"], **upper)


def rule_verdicts(validation: pl.DataFrame, series_name: str) -> list[Verdict]:
    """Held-out acceptance of true edits and of each negative class, against the rule's targets."""
    held = validation.filter((pl.col("series") == series_name) & (pl.col("split") == HELD_OUT))
    verdicts = []
    for kind in CLASSES:
        part = held.filter(pl.col("class") == kind)
        share = float(number(part["accepted"].mean())) if part.height else float("nan")
        true = kind == TRUE_EDIT
        verdicts.append(
            Verdict(
                subject=f"Edit rule of `{series_name}` on {'true edits' if true else f'{kind} (negative)'}",
                threshold=EDIT_RULE_TRUE if true else EDIT_RULE_NEGATIVE,
                value=share,
                n=part.height,
                unit="held-out rooms",
                passed_text="accepts them" if true else "rejects them",
                failed_text="rejects too many" if true else "accepts too many",
            )
        )
    return verdicts


def rule_validated(validation: pl.DataFrame, series_name: str, verdicts: Sequence[Verdict] | None = None) -> bool:
    """Every held-out class within its bar (``verdicts``: the series' ``rule_verdicts``, if already made)."""
    verdicts = rule_verdicts(validation, series_name) if verdicts is None else verdicts
    return all(v.status == "worked" for v in verdicts)


def validation_summary(validation: pl.DataFrame, series: Sequence[str]) -> pl.DataFrame:
    """Per series: the rule, held-out acceptance per class, whether the rule is validated, and the classes
    whose share's 95% interval reaches across its bar (another draw of rooms may well turn the verdict)."""
    rows = []
    for name in series:
        rule = rule_of(validation, name)
        if rule is None:
            continue
        held = validation.filter((pl.col("series") == name) & (pl.col("split") == HELD_OUT))
        verdicts = rule_verdicts(validation, name)  # one per class, its value the held-out share accepted
        shares = {f"accepted_{k}": v.value for k, v in zip(CLASSES, verdicts, strict=True)}
        close = [k for k, v in zip(CLASSES, verdicts, strict=True) if v.close_call]
        validated = rule_validated(validation, name, verdicts)
        rows.append({"series": name, "rule": rule.describe(), **shares, "held_out_rooms": held["room"].n_unique(),
                     "validated": validated, "close_calls": ", ".join(close) or "none"})
    return pl.DataFrame(rows)
