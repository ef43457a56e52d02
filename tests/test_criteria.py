"""Verdicts follow their numbers: they flip when the measured value crosses the threshold."""

from __future__ import annotations

import math

import pytest

from hotelcap_pipeline.criteria import (
    EDIT_RULE_NEGATIVE,
    EDIT_RULE_TRUE,
    PHOTOS_OK,
    TAG_AUC,
    Verdict,
    auc_interval,
    wilson_interval,
)


def _verdict(value: float, n: int = 40, threshold=TAG_AUC) -> Verdict:
    return Verdict("Tagging `seed`", threshold, value, n, "photos", "tags separate", "tags do not separate")


def test_a_verdict_flips_at_its_threshold_and_names_its_evidence() -> None:
    below, at = _verdict(TAG_AUC.bar - 0.01), _verdict(TAG_AUC.bar)
    assert below.status == "did not work" and at.status == "worked"
    sentence = at.sentence()
    assert "tags separate" in sentence and "median per-tag ROC AUC = 0.75" in sentence
    assert "threshold ≥ 0.75" in sentence and "n = 40 photos" in sentence


def test_lower_is_better_thresholds_flip_the_other_way() -> None:
    assert _verdict(0.05, threshold=EDIT_RULE_NEGATIVE).status == "worked"
    assert _verdict(0.2, threshold=EDIT_RULE_NEGATIVE).status == "did not work"


def test_too_few_items_or_no_value_is_not_a_result() -> None:
    few = _verdict(0.99, n=3)
    assert few.status == "not measured" and "too few to judge" in few.sentence()
    for missing in (float("nan"), None):
        none = _verdict(missing)  # a table's null reaches a verdict as None
        assert none.status == "not measured"
        assert none.sentence() == ("Tagging `seed`: not measured: no value (median per-tag ROC AUC = n/a, "
                                   "threshold ≥ 0.75, n = 40 photos).")


def test_a_value_near_its_threshold_is_shown_on_its_side_of_it() -> None:
    # 0.8996 to 3 digits is 0.9, which would read as passing a bar of 0.9.
    below = _verdict(0.8996, threshold=PHOTOS_OK)
    assert below.status == "did not work" and "share of photos stored = 0.8996, threshold ≥ 0.9" in below.sentence()
    assert "= 0.9004," in _verdict(0.9004, threshold=PHOTOS_OK).sentence()
    assert "= 0.9," in _verdict(0.9, threshold=PHOTOS_OK).sentence()  # on the bar: as it is
    assert "= 0.833," in _verdict(5 / 6, threshold=PHOTOS_OK).sentence()  # far from it: 3 digits
    # 34 of 34 accepted: the interval's low end, 0.898, is below the bar it is a close call on.
    close = _verdict(1.0, n=34, threshold=EDIT_RULE_TRUE)
    assert close.close_call and "(95% interval 0.898-1.00)" in close.sentence()


def test_wilson_interval_on_hand_computed_cases() -> None:
    lo, hi = wilson_interval(0.8, 10)  # 8 of 10: the textbook case
    assert round(lo, 3) == 0.490 and round(hi, 3) == 0.943
    lo, hi = wilson_interval(0.0, 48)  # none of 48: not the empty interval the normal approximation gives
    assert lo == pytest.approx(0.0, abs=1e-12) and round(hi, 3) == 0.074
    assert all(math.isnan(x) for x in wilson_interval(0.5, 0))


def test_a_share_names_its_interval_and_a_close_call_says_so() -> None:
    clear = _verdict(1.0, n=48, threshold=EDIT_RULE_TRUE)  # 48 of 48: interval 0.93-1.00, all above 0.9
    assert "(95% interval 0.93-1.00)" in clear.sentence() and not clear.close_call
    close = _verdict(46 / 48, n=48, threshold=EDIT_RULE_TRUE)  # 0.96, interval 0.86-0.99 straddles 0.9
    assert close.status == "worked" and close.close_call and "a close call" in close.sentence()
    assert "interval" not in _verdict(0.8).sentence()  # an AUC is no share: no interval claimed


def test_auc_interval_by_hand() -> None:
    # Newcombe's score interval: the theta with (A - theta)^2 <= 1.96^2 var(theta), var Hanley-McNeil's.
    # Reference values from a brute-force scan of theta on a 1e-6 grid.
    low, high = auc_interval(0.8, 10, 20)
    assert low == pytest.approx(0.580745, abs=1e-5) and high == pytest.approx(0.914739, abs=1e-5)
    low, high = auc_interval(1.0, 8, 52)  # a perfect AUC on 8 positives: not the empty interval [1, 1]
    assert low == pytest.approx(0.857431, abs=1e-5) and high == 1.0
    low, high = auc_interval(0.5, 5, 5)  # chance on 10 photos: symmetric and wide
    assert low == pytest.approx(0.205610, abs=1e-5) and high == pytest.approx(1 - 0.205610, abs=1e-5)
    narrow, wide = auc_interval(0.8, 100, 200), auc_interval(0.8, 4, 56)
    assert narrow[1] - narrow[0] < 0.2 < wide[1] - wide[0]  # fewer positives, wider interval
    assert all(math.isnan(v) for v in auc_interval(float("nan"), 0, 40))
