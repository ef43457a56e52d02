from __future__ import annotations

from pathlib import Path

import pytest

from hotelcap_pipeline.tagging.vocabulary import (
    InputFileError,
    PromptTemplates,
    Tag,
    load_templates,
    load_vocabulary,
    score_column,
)

TEMPLATES_OK = 'seed: "a photo of a {label}"\nensemble: ["a {label}."]\nbaseline: ["a room."]\n'


def _write(tmp_path: Path, text: str, name: str = "input.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _problems(load, path: Path) -> list[str]:
    with pytest.raises(InputFileError) as info:
        load(path)
    lines = str(info.value).splitlines()
    assert lines and all(line.startswith(f"{path}:") for line in lines)  # every problem names the file
    return lines


def test_the_shipped_vocabulary_and_templates_load() -> None:
    tags = load_vocabulary()
    labels = [t.label for t in tags]
    assert len(set(labels)) == len(labels) and all(label == label.strip().lower() for label in labels)
    assert all(t.reason and "\n" not in t.reason for t in tags)
    words = [name.lower() for t in tags for name in t.names]
    assert len(set(words)) == len(words)  # no word names two tags
    templates = load_templates()
    assert "{label}" in templates.seed and templates.ensemble and templates.baseline


def test_tags_keep_their_positional_form_and_properties() -> None:
    tag = Tag("  Coffee Machine ", "coffee", synonyms=["kettle"])
    assert tag.label == "coffee machine" and tag.synonyms == ("kettle",)
    assert tag.column == score_column("coffee machine") == "score_coffee_machine"
    assert tag.names == ("coffee machine", "kettle")
    templates = PromptTemplates(seed="a {label}", ensemble=("a {label}",), baseline=("a room",))
    assert templates.ensemble == ("a {label}",)
    with pytest.raises(ValueError, match="is empty"):
        Tag("bed", " ")


def test_a_synonym_that_is_another_tags_label_names_both_tags(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tags:\n"
        "  - label: bed\n"
        "    reason: sleep\n"
        "  - label: desk\n"
        "    reason: work\n"
        "    synonyms: [writing desk, Bed]\n",
    )
    assert _problems(load_vocabulary, path) == [
        f"{path}:6: tags[1] (desk): synonyms[1] 'Bed' is the label of tags[0] (bed)"
    ]


def test_a_synonym_two_tags_claim_names_both_tags(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tags:\n"
        "  - label: sofa\n"
        "    reason: rest\n"
        "    synonyms: [couch]\n"
        "  - label: chair\n"
        "    reason: sit\n"
        "    synonyms: [' couch']\n",
    )
    assert _problems(load_vocabulary, path) == [
        f"{path}:7: tags[1] (chair): synonyms[0] 'couch' is also a synonym of tags[0] (sofa)"
    ]


@pytest.mark.parametrize(
    ("second", "message"),
    [
        ("' BED '", "tags[1] (BED): label repeats the label of tags[0] (bed)"),
        ("bed_", None),  # a different word and column: fine
    ],
)
def test_labels_are_unique_whatever_their_case_and_spacing(tmp_path: Path, second: str, message: str | None) -> None:
    path = _write(tmp_path, f"tags:\n  - label: bed\n    reason: sleep\n  - label: {second}\n    reason: again\n")
    if message is None:
        assert [t.label for t in load_vocabulary(path)] == ["bed", "bed_"]
    else:
        assert _problems(load_vocabulary, path) == [f"{path}:4: {message}"]


def test_labels_are_unique_as_score_columns(tmp_path: Path) -> None:
    path = _write(tmp_path, "tags:\n  - label: double bed\n    reason: a\n  - label: double_bed\n    reason: b\n")
    (line,) = _problems(load_vocabulary, path)
    assert line.startswith(f"{path}:4: tags[1] (double_bed): label ") and "score_double_bed" in line
    assert "tags[0] (double bed)" in line


def test_missing_fields_multi_line_reasons_and_unknown_keys_are_named(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "tags:\n"
        "  - label: bed\n"
        "  - reason: no label\n"
        "  - label: lamp\n"
        "    reason: |\n"
        "      two\n"
        "      lines\n"
        "    synonym: [desk lamp]\n"
        "  - window\n",
    )
    assert _problems(load_vocabulary, path) == [
        f"{path}:2: tags[0] (bed): reason is required",
        f"{path}:3: tags[1]: label is required",
        f"{path}:5: tags[2] (lamp): reason must be one line",
        f"{path}:8: tags[2] (lamp): synonym is not a known key (unknown keys are refused; did you mean 'synonyms'?)",
        f"{path}:9: tags[3] must be a mapping, got 'window'",
    ]
    empty = _write(tmp_path, "tags: []\nversion: 2\n", "empty.yaml")
    assert _problems(load_vocabulary, empty) == [
        f"{empty}:1: tags must not be empty",
        f"{empty}:2: version is not a known key (unknown keys are refused)",
    ]


def test_a_placeholder_other_than_label_fails_at_load_naming_file_and_line(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        'seed: "a photo of a {label}"\n'
        "ensemble:\n"
        '  - "a photo of a {label}."\n'
        '  - "a {label} in the {room}."\n'
        "baseline:\n"
        '  - "a photo of a room."\n',
    )
    assert _problems(load_templates, path) == [
        f"{path}:4: ensemble[1] has the placeholder {{room}}; only {{label}} is filled in"
    ]


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("seed", '"a photo"', "seed has no {label} placeholder"),
        ("seed", '"a photo of a {label"', "seed is not a valid template"),
        ("seed", '"a photo of a {0}"', "seed has the placeholder {0}"),
        ("ensemble", '["a {label!r}"]', "ensemble[0] has the placeholder {label!r}"),
        ("ensemble", "[]", "ensemble must not be empty"),
        ("baseline", '["a {label}"]', "baseline[0] has the placeholder {label}; this prompt is used as written"),
        ("baseline", '["a room {}"]', "baseline[0] has the placeholder {}"),
        ("baseline", "a room", "baseline must be a list, got 'a room'"),
    ],
)
def test_templates_rules(tmp_path: Path, key: str, value: str, message: str) -> None:
    lines = [line for line in TEMPLATES_OK.splitlines() if not line.startswith(key)]
    path = _write(tmp_path, "\n".join([*lines, f"{key}: {value}"]) + "\n")
    (problem,) = _problems(load_templates, path)
    assert problem.startswith(f"{path}:3: {message}"), problem


def test_literal_braces_are_allowed(tmp_path: Path) -> None:
    path = _write(tmp_path, TEMPLATES_OK.replace("a room.", "a room {{not a placeholder}}."))
    assert load_templates(path).baseline == ("a room {{not a placeholder}}.",)


@pytest.mark.parametrize("load", [load_vocabulary, load_templates])
def test_unreadable_files_fail_with_one_line(tmp_path: Path, load) -> None:
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes("tags:\n  - label: caf\u00e9\n".encode("latin-1"))
    assert _problems(load, latin1) == [f"{latin1}: not UTF-8 (byte 0xe9 at offset 20)"]
    broken = _write(tmp_path, "tags:\n  - label: bed\n   reason: x\n", "broken.yaml")
    (problem,) = _problems(load, broken)
    assert problem.startswith(f"{broken}:3: not valid YAML: ")
    repeated = _write(tmp_path, "tags:\n  - label: bed\n    label: lamp\n    reason: x\n", "repeated.yaml")
    assert _problems(load, repeated) == [f"{repeated}:3: key 'label' repeats the one on line 2"]
    missing = tmp_path / "missing.yaml"
    with pytest.raises(InputFileError, match=f"^{missing}: cannot read: "):
        load(missing)
    not_a_mapping = _write(tmp_path, "- bed\n", "list.yaml")
    assert _problems(load, not_a_mapping) == [f"{not_a_mapping}:1: the top level must be a mapping, got ['bed']"]
