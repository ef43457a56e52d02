from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from hotelcap_pipeline.edits.pipeline import MODES, denoising_steps
from hotelcap_pipeline.edits.series import EditSeries, load_series, parse_series
from hotelcap_pipeline.yaml_input import InputFileError

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


def _problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "series.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        load_series(path)
    lines = str(info.value).splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines)  # every problem names the file
    return [line.removeprefix(f"{path}:") for line in lines]


ENTRY = "    condition: c\n    prompt: p\n    source_text: s\n    target_text: t\n"


def test_the_world_fields_are_read_and_replace_validates_again():
    data = {"series": [{"name": "a", **BASE, "world_condition": "snow", "world_on": False, "steps": 10}]}
    (s,) = parse_series(data)
    assert (s.world_condition, s.world_on) == ("snow", False)
    assert s.subject == ("window",)  # snow shows in a window: a photo without one is not edited
    assert EditSeries(name="c", **BASE).subject == ()
    assert dataclasses.replace(s, seed=s.seed + 7).seed == 7  # as the diffusion_edits asset offsets seeds
    with pytest.raises(ValueError, match="steps"):
        dataclasses.replace(s, steps=0)
    with pytest.raises(ValueError, match="no denoising step"):
        EditSeries(name="b", **BASE, steps=3, strengths=(0.2,))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("world_on: 'yes'", "world_on must be true or false, got 'yes'"),
        ("world_on: 1", "world_on must be true or false, got 1"),
        ("strength: '0.5'", "strength must be a number, got '0.5'"),
        ("strength: true", "strength must be a number, got True"),
        ("steps: 2.5", "steps must be a whole number, got 2.5"),
        ("strengths: [0.3, high]", "strengths[1] must be a number, got 'high'"),
        ("guidance: -1", "guidance must be at least 0.0, got -1"),
        ("guidance: .inf", "guidance must be a finite number, got inf"),
        ("guidance: .nan", "guidance must be a finite number, got nan"),
        ("seed: 9223372036854775808", "seed must be less than 2147483648, got 9223372036854775808"),
        ("seed: -1", "seed must be at least 0, got -1"),
        ("negative_prompt: 3", "negative_prompt must be a string, got 3"),
        ("mode: inpaint", "mode is 'inpaint', not one of img2img, instruct-pix2pix, controlnet"),
        ("world_condition: Night", "world_condition is 'Night', not one of night, lights_off, snow, rose_petals, "
         "towel_swan (or empty: not validated)"),
        ("steps: 0", "steps must be at least 1, got 0"),
        ("promt: typo", "promt is not a known key (unknown keys are refused; did you mean 'prompt'?)"),
    ],
)
def test_each_problem_is_one_line_naming_the_line_the_series_and_the_field(tmp_path: Path, line: str, message: str):
    text = f"series:\n  - name: first\n{ENTRY}  - name: night\n{ENTRY}    {line}\n"
    assert _problems(tmp_path, text) == [f"12: series night: {message}"]


def test_an_entry_strength_is_its_sweep_and_is_range_checked_under_a_default_sweep(tmp_path: Path):
    defaults = "defaults:\n  strength: 0.45\n  strengths: [0.3, 0.45, 0.6]\nseries:\n"
    path = tmp_path / "series.yaml"
    path.write_text(f"{defaults}  - name: night\n{ENTRY}    strength: 0.9\n  - name: day\n{ENTRY}", encoding="utf-8")
    night, day = load_series(path)
    assert night.sweep == (0.9,) and day.sweep == (0.3, 0.45, 0.6)
    for bad in ("-0.5", "7.0"):
        text = f"{defaults}  - name: night\n{ENTRY}    strength: {bad}\n    strengths: [0.5]\n"
        assert _problems(tmp_path, text) == [f"10: series night: strength must be in (0, 1], got {float(bad)}"]
        text = f"{defaults}  - name: night\n{ENTRY}    strength: {bad}\n"
        assert _problems(tmp_path, text) == [f"10: series night: strength must be in (0, 1], got {float(bad)}"]


def test_a_swept_strength_is_named_at_its_place_in_the_list(tmp_path: Path):
    text = f"series:\n  - name: petals\n{ENTRY}    mode: instruct-pix2pix\n    strengths: [0.5, 1.5]\n"
    assert _problems(tmp_path, text) == ["8: series petals: strengths[1] must be in (0, 1], got 1.5"]
    text = f"series:\n  - name: night\n{ENTRY}    steps: 3\n    strengths:\n      - 0.5\n      - 0.2\n"
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith("10: series night: strengths[1] is refused: ") and "no denoising step" in problem


def test_defaults_are_named_once_and_a_default_that_does_not_fit_names_the_series(tmp_path: Path):
    text = (
        "defaults:\n"
        "  steps: '30'\n"
        "  stregth: 0.4\n"
        "series:\n"
        f"  - name: night\n{ENTRY}"
        f"  - name: day\n{ENTRY}"
    )
    assert _problems(tmp_path, text) == [
        "2: defaults: steps must be a whole number, got '30'",
        "3: defaults: stregth is not a known key (unknown keys are refused; did you mean 'strength'?)",
    ]
    text = f"defaults:\n  strengths: [0.2, 0.5]\nseries:\n  - name: night\n{ENTRY}    steps: 3\n  - name: day\n{ENTRY}"
    (problem,) = _problems(tmp_path, text)
    assert problem.startswith("2: series night (from defaults): strengths[0] is refused: ")


def test_every_bad_entry_is_reported_and_names_repeat_at_their_line(tmp_path: Path):
    text = (
        "series:\n"
        f"  - name: Bad Name\n{ENTRY}"
        "  - just a string\n"
        f"  - name: night\n{ENTRY}"
        f"  - name: night\n{ENTRY}"
    )
    assert _problems(tmp_path, text) == [
        "2: series[0] ('Bad Name'): name must be a series name of lower-case letters, digits, '-' and '_', "
        "got 'Bad Name'",
        "7: series[1] must be a mapping, got 'just a string'",
        "13: series night: name repeats the name of series[2] (each names its own output folder)",
    ]
    assert _problems(tmp_path, "serie: []\n") == [
        "1: series is required",
        "1: serie is not a known key (unknown keys are refused; did you mean 'series'?)",
    ]


def test_a_file_that_is_not_utf8_or_not_yaml_fails_with_one_line(tmp_path: Path):
    path = tmp_path / "series.yaml"
    path.write_bytes(b"series:\n  - name: caf\xe9\n")
    with pytest.raises(InputFileError, match=r"^\S+series\.yaml: not UTF-8 \(byte 0xe9 at offset 21\)$"):
        load_series(path)
    assert _problems(tmp_path, "series:\n  - name: a\n   prompt: p\n")[0].startswith("3: not valid YAML: ")
