from __future__ import annotations

from pathlib import Path

import pytest

from hotelcap_pipeline.edits.pipeline import MODES, denoising_steps
from hotelcap_pipeline.edits.series import load_series, parse_series

BASE = {"condition": "c", "prompt": "p", "source_text": "s", "target_text": "t"}


def test_the_shipped_series_cover_the_issue():
    series = load_series()
    names = {s.name for s in series}
    assert {"night", "lights_off", "no_snow", "rose_petals", "towel_swan", "visitor_style"} <= names
    assert {s.mode for s in series} == set(MODES)  # every mode is exercised by the demo
    for s in series:
        assert s.sweep == tuple(sorted(s.sweep)) and s.source_text != s.target_text
        if s.mode != "instruct-pix2pix":
            assert all(denoising_steps(st, s.steps) >= 1 for st in s.sweep)


def test_defaults_apply_and_entries_override():
    data = {"defaults": {"steps": 12, "strengths": [0.6, 0.3]}, "series": [{"name": "a", **BASE, "steps": 20}]}
    (s,) = parse_series(data)
    assert s.steps == 20 and s.sweep == (0.3, 0.6)
    (single,) = parse_series({"series": [{"name": "b", **BASE, "strength": 0.4}]})
    assert single.sweep == (0.4,)


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"steps": 3, "strengths": [0.2, 0.5]}, "no denoising step"),
        ({"mode": "inpaint"}, "mode"),
        ({"promt": "typo"}, "unknown keys"),
        ({"name": "Bad Name"}, "series name"),
        ({"target_text": " "}, "target_text is empty"),
    ],
)
def test_bad_series_fail_at_load_naming_file_and_series(tmp_path: Path, entry, message):
    path = tmp_path / "series.yaml"
    import yaml

    path.write_text(yaml.safe_dump({"series": [{"name": "night", **BASE, **entry}]}))
    with pytest.raises(ValueError, match=message) as info:
        load_series(path)
    assert str(path) in str(info.value)


def test_repeated_names_are_refused():
    with pytest.raises(ValueError, match="repeat"):
        parse_series({"series": [{"name": "a", **BASE}, {"name": "a", **BASE}]})
