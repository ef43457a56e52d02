"""The visitors' tag vocabulary and the prompt templates, read from ``assets/``.

Both files are checked by pydantic models as they are read, so a mistake (a word two tags claim, a template
placeholder that is never filled in) fails at load time, one line per problem naming the file, the YAML
line, the entry and the field, instead of minutes into a tagging run. The YAML reading and the error
lines come from ``hotelcap_pipeline.yaml_input``, shared with the edit series.
"""

from __future__ import annotations

import string
from collections.abc import Collection
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.dataclasses import dataclass

from hotelcap_pipeline.settings import ASSETS_DIR
from hotelcap_pipeline.yaml_input import InputFileError, Loc, error_lines, field_path, keys_of, located, read_yaml

VOCABULARY_PATH = ASSETS_DIR / "vocabulary.yaml"
TEMPLATES_PATH = ASSETS_DIR / "prompt_templates.yaml"

def score_column(label: str) -> str:
    return "score_" + label.strip().replace(" ", "_")


def _word(name: str) -> str:
    # How two words are compared: case and spacing do not make a different word.
    return " ".join(name.split()).lower()


def _one_line(value: str) -> str:
    value = value.strip()
    if not value:
        raise ValueError("is empty")
    if "\n" in value:
        raise ValueError("must be one line")
    return value


def _placeholders(template: str) -> list[str]:
    """Every ``{...}`` field of a ``str.format`` template, as written."""
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"is not a valid template ({exc}); write a literal brace as {{{{ or }}}}") from None
    return [
        "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
        for _, name, spec, conversion in parsed
        if name is not None
    ]


def _label_template(template: str) -> str:
    found = _placeholders(template)
    other = [p for p in found if p != "{label}"]
    if other:
        raise ValueError(f"has the placeholder {other[0]}; only {{label}} is filled in")
    if not found:
        raise ValueError("has no {label} placeholder")
    return template


def _plain_prompt(prompt: str) -> str:
    found = _placeholders(prompt)
    if found:
        raise ValueError(f"has the placeholder {found[0]}; this prompt is used as written, nothing is filled in")
    return prompt


def _none_is_empty(value: Any) -> Any:
    # An empty YAML key (``synonyms:``) reads as None.
    return () if value is None else value


Line = Annotated[str, AfterValidator(_one_line)]
Label = Annotated[str, AfterValidator(_one_line), AfterValidator(_word)]
Prompt = Annotated[str, AfterValidator(_one_line), AfterValidator(_plain_prompt)]
LabelTemplate = Annotated[str, AfterValidator(_one_line), AfterValidator(_label_template)]


# A pydantic dataclass rather than a model: code and tests build tags positionally, as Tag("bed", "sleep").
@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class Tag:
    label: Label  # lower case, single spaces: the visitors' word, and the column score_<label>
    reason: Line
    synonyms: Annotated[tuple[Line, ...], BeforeValidator(_none_is_empty)] = ()
    prompts: Annotated[tuple[Prompt, ...], BeforeValidator(_none_is_empty)] = ()

    @property
    def column(self) -> str:
        return score_column(self.label)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


def _name(index: int, tag: Tag) -> str:
    return f"tags[{index}] ({tag.label})"


class _VocabularyFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tags: list[Tag] = Field(min_length=1)

    @model_validator(mode="after")
    def _one_tag_per_word(self) -> _VocabularyFile:
        """A word two tags share would silently give one tag's photos (or search hits) to the other."""
        columns: dict[str, int] = {}
        owners: dict[str, tuple[int, Loc]] = {}
        for i, tag in enumerate(self.tags):
            j = columns.setdefault(tag.column, i)
            if j != i:
                other = self.tags[j]
                raise located(
                    ("tags", i, "label"),
                    f"repeats the label of {_name(j, other)}" if other.label == tag.label
                    else f"gives the column {tag.column}, as {_name(j, other)} does",
                )
            owners.setdefault(_word(tag.label), (i, ("label",)))
        for i, tag in enumerate(self.tags):
            for k, synonym in enumerate(tag.synonyms):
                j, field = owners.setdefault(_word(synonym), (i, ("synonyms", k)))
                if (j, field) == (i, ("synonyms", k)):
                    continue
                if j == i:
                    kind = "the tag's own label" if field == ("label",) else field_path(field)
                    raise located(("tags", i, "synonyms", k), f"{synonym!r} repeats {kind}")
                kind = "the label" if field == ("label",) else "also a synonym"
                raise located(("tags", i, "synonyms", k), f"{synonym!r} is {kind} of {_name(j, self.tags[j])}")
        return self


class PromptTemplates(BaseModel):
    """The zero-shot prompts; also the schema of ``prompt_templates.yaml``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: LabelTemplate
    ensemble: tuple[LabelTemplate, ...] = Field(min_length=1)
    baseline: tuple[Prompt, ...] = Field(min_length=1)


def load_vocabulary(path: Path = VOCABULARY_PATH) -> list[Tag]:
    """Tags in file order (see ``_VocabularyFile`` and ``Tag`` for what a valid file is)."""
    data, node = read_yaml(path)

    def where(loc: Loc, _: bool) -> tuple[str, Loc, Loc]:
        if len(loc) < 2 or loc[0] != "tags" or not isinstance(loc[1], int):
            return "", loc, loc
        entries = data.get("tags") if isinstance(data, dict) else None
        entry = entries[loc[1]] if isinstance(entries, list) and loc[1] < len(entries) else None
        label = entry.get("label") if isinstance(entry, dict) else None
        name = f"tags[{loc[1]}]" + (f" ({' '.join(label.split())})" if isinstance(label, str) and label.strip() else "")
        return name, loc[2:], loc

    try:
        return list(_VocabularyFile.model_validate(data).tags)
    except ValidationError as exc:
        def known(loc: Loc) -> Collection[str]:
            return keys_of(Tag if loc[:1] == ("tags",) else _VocabularyFile)(loc)

        lines = error_lines(str(path), node, exc, where, known)
        raise InputFileError("\n".join(lines)) from None


def load_templates(path: Path = TEMPLATES_PATH) -> PromptTemplates:
    data, node = read_yaml(path)
    try:
        return PromptTemplates.model_validate(data)
    except ValidationError as exc:
        lines = error_lines(str(path), node, exc, lambda loc, _: ("", loc, loc), keys_of(PromptTemplates))
        raise InputFileError("\n".join(lines)) from None
