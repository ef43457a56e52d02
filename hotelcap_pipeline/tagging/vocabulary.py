"""The visitors' tag vocabulary and the prompt templates, read from ``assets/``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

from hotelcap_pipeline.settings import ASSETS_DIR

VOCABULARY_PATH = ASSETS_DIR / "vocabulary.yaml"
TEMPLATES_PATH = ASSETS_DIR / "prompt_templates.yaml"


@dataclass(frozen=True)
class Tag:
    label: str
    reason: str
    synonyms: tuple[str, ...] = ()
    prompts: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        return score_column(self.label)

    @property
    def names(self) -> tuple[str, ...]:
        return (self.label, *self.synonyms)


@dataclass(frozen=True)
class PromptTemplates:
    seed: str
    ensemble: tuple[str, ...]
    baseline: tuple[str, ...]


def score_column(label: str) -> str:
    return "score_" + label.strip().replace(" ", "_")


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: cannot read: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def _strings(value: object, where: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{where}: expected a list of non-empty strings")
    return tuple(v.strip() for v in value)


def load_vocabulary(path: Path = VOCABULARY_PATH) -> list[Tag]:
    """Tags in file order; every tag needs a label and a one-line reason, labels are unique."""
    entries = _read_yaml(path).get("tags")
    if not isinstance(entries, list) or not entries:
        raise ValueError(f"{path}: expected a non-empty list under 'tags'")
    tags: list[Tag] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{path}: tags[{i}]"
        if not isinstance(entry, dict) or not str(entry.get("label", "")).strip():
            raise ValueError(f"{where}: needs a 'label'")
        label = str(entry["label"]).strip().lower()
        if not str(entry.get("reason", "")).strip():
            raise ValueError(f"{where} ({label}): needs a one-line 'reason'")
        if score_column(label) in seen:
            raise ValueError(f"{where}: duplicate label {label!r}")
        seen.add(score_column(label))
        tags.append(
            Tag(
                label=label,
                reason=str(entry["reason"]).strip(),
                synonyms=_strings(entry.get("synonyms"), f"{where}.synonyms"),
                prompts=_strings(entry.get("prompts"), f"{where}.prompts"),
            )
        )
    return tags


def load_templates(path: Path = TEMPLATES_PATH) -> PromptTemplates:
    data = _read_yaml(path)
    seed = data.get("seed")
    if not isinstance(seed, str) or "{label}" not in seed:
        raise ValueError(f"{path}: 'seed' must be one prompt containing {{label}}")
    ensemble = _strings(data.get("ensemble"), f"{path}: ensemble")
    if not ensemble or not all("{label}" in t for t in ensemble):
        raise ValueError(f"{path}: 'ensemble' must be a non-empty list of prompts containing {{label}}")
    baseline = _strings(data.get("baseline"), f"{path}: baseline")
    if not baseline:
        raise ValueError(f"{path}: 'baseline' must list at least one prompt")
    return PromptTemplates(seed=seed, ensemble=ensemble, baseline=baseline)
