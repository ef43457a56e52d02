"""Verdicts follow their numbers: they flip when the measured value crosses the threshold."""

from __future__ import annotations

from hotelcap_pipeline.criteria import EDIT_RULE_NEGATIVE, TAG_AUC, Verdict


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
    assert _verdict(float("nan")).status == "not measured"
