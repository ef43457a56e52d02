"""Edit series: one changed condition each, with its prompts, sampler settings and strength sweep.

Read from ``assets/edit_series.yaml``: a ``defaults`` mapping, then ``series``, a list whose entries
override any default. An entry that sets ``strength`` without ``strengths`` renders that one strength (the
defaults' sweep does not apply to it). A misconfigured series fails at load time, one line per problem
naming the file, the YAML line, the series and the field, rather than halfway through a render (the
zero-step guard is checked here for every swept strength).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.dataclasses import dataclass

from hotelcap_pipeline.edits.pipeline import MODES, EditMode, denoising_steps
from hotelcap_pipeline.settings import ASSETS_DIR
from hotelcap_pipeline.yaml_input import InputFileError, Loc, at, error_lines, keys_of, located, read_yaml

SERIES_FILE = ASSETS_DIR / "edit_series.yaml"
SEED_LIMIT = 2**31
# Also a folder name under data_store/edits/; a leading underscore is kept for the sweep cache.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def _not_blank(text: str) -> str:
    # Kept as written (not stripped): the prompts are part of the render cache keys.
    if not text.strip():
        raise ValueError("is empty")
    return text


Text = Annotated[str, AfterValidator(_not_blank)]


# A pydantic dataclass: a frozen value that ``dataclasses.replace`` copies (and validates again).
@dataclass(frozen=True, config=ConfigDict(extra="forbid"))
class EditSeries:
    name: str
    condition: Text  # the one thing this series changes
    prompt: Text  # the same room under the new condition (an instruction for instruct-pix2pix)
    source_text: Text  # the directional score's text pair: the photo's condition ...
    target_text: Text  # ... and the condition asked for
    negative_prompt: str = ""
    # Strict numbers: a quoted "0.5" or a yes/no in the YAML is a mistake, not a number.
    strength: StrictFloat = 0.5
    steps: Annotated[StrictInt, Field(ge=1)] = 30
    guidance: Annotated[StrictFloat, Field(ge=0, allow_inf_nan=False)] = 7.5
    # Added to the run's seed, then a torch seed and an Int64 column: a bound that run seed + it stays within.
    seed: Annotated[StrictInt, Field(ge=0, lt=SEED_LIMIT)] = 0
    mode: EditMode = "img2img"
    strengths: tuple[StrictFloat, ...] = ()  # the sweep; empty: ``strength`` alone
    # Without a validated rule (no world condition): the least CLIP image similarity a chosen edit keeps.
    preserve_threshold: Annotated[StrictFloat, Field(ge=-1, le=1)] = 0.8
    # The synthetic world's condition this series changes, and to which state: its true edits and
    # negative controls validate the acceptance rule. Empty: the series cannot be validated.
    world_condition: str = ""
    world_on: StrictBool = True

    @field_validator("name")
    @classmethod
    def _folder_name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError(f"must be a series name of lower-case letters, digits, '-' and '_', got {name!r}")
        return name

    # Checked even when ``strengths`` is the sweep: an out-of-range value is a mistake wherever it stands.
    @field_validator("strength")
    @classmethod
    def _strength_in_range(cls, strength: float) -> float:
        if not 0.0 < strength <= 1.0:
            raise ValueError(f"must be in (0, 1], got {strength}")
        return strength

    # A misspelt condition would load, then fail the validation stage; refused here instead.
    @field_validator("world_condition")
    @classmethod
    def _known_world_condition(cls, condition: str) -> str:
        from hotelcap_pipeline.world import CONDITIONS

        if condition and condition not in CONDITIONS:
            raise ValueError(f"is {condition!r}, not one of {', '.join(CONDITIONS)} (or empty: not validated)")
        return condition

    # Before the Literal's own check, for an error that lists the modes in the file's words.
    @field_validator("mode", mode="before")
    @classmethod
    def _known_mode(cls, mode: object) -> object:
        if isinstance(mode, str) and mode not in MODES:
            raise ValueError(f"is {mode!r}, not one of {', '.join(MODES)}")
        return mode

    @model_validator(mode="after")
    def _every_strength_renders(self) -> EditSeries:
        # Positions in the file's list (not the sorted sweep), so that the error points at the value.
        for i, strength in enumerate(self.strengths or (self.strength,)):
            where: Loc = ("strengths", i) if self.strengths else ("strength",)
            if self.mode == "instruct-pix2pix":
                if not 0.0 < strength <= 1.0:
                    raise located(where, f"must be in (0, 1], got {strength}")
            else:
                try:
                    denoising_steps(strength, self.steps)
                except ValueError as exc:
                    raise located(where, f"is refused: {exc}") from None
        return self

    @property
    def sweep(self) -> tuple[float, ...]:
        """Strengths to try, lowest first (the fallback is the lowest)."""
        return tuple(sorted(set(self.strengths))) if self.strengths else (self.strength,)

    @property
    def subject(self) -> tuple[str, ...]:
        """Tags of which a photo must show one for this series to apply (petals need a bed, night a window);
        empty: any photo. The synthetic world's rule for the series' condition, on which it was validated."""
        from hotelcap_pipeline.world import APPLICABILITY

        return (APPLICABILITY.get(self.world_condition) or ()) if self.world_condition else ()

    def settings(self) -> dict[str, Any]:
        """Everything that changes the rendered pixels, for cache keys."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "steps": self.steps,
            "guidance": self.guidance,
            "seed": self.seed,
            "mode": self.mode,
        }


_SERIES = TypeAdapter(EditSeries)


class _SeriesFile(BaseModel):
    """The file's layout; each entry, merged over the defaults, is then an ``EditSeries``."""

    model_config = ConfigDict(extra="forbid")

    defaults: Annotated[dict[str, Any], BeforeValidator(lambda v: {} if v is None else v)] = {}
    series: list[Any]  # each entry is checked on its own below, so that one bad entry hides no other


def _title(index: int, entry: Any) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    if isinstance(name, str) and _NAME.match(name):
        return f"series {name}"
    return f"series[{index}]" + (f" ({name!r})" if name is not None else "")


def parse_series(data: Any, source: str = "<series>", node: yaml.Node | None = None) -> list[EditSeries]:
    """Build the series from the YAML structure; every problem is one line naming ``source``, the series and
    the field (and the line, given the YAML ``node`` tree)."""
    try:
        layout = _SeriesFile.model_validate(data)
    except ValidationError as exc:
        lines = error_lines(source, node, exc, lambda loc, _: ("", loc, loc), keys_of(_SeriesFile))
        raise InputFileError("\n".join(lines)) from None
    series: list[EditSeries] = []
    problems: list[str] = []
    first: dict[str, int] = {}
    for i, entry in enumerate(layout.series):

        def where(loc: Loc, across: bool, i: int = i, entry: Any = entry) -> tuple[str, Loc, Loc]:
            if not loc or not isinstance(entry, dict) or loc[0] in entry or loc[0] not in layout.defaults:
                return _title(i, entry), loc, ("series", i, *loc)
            if across:  # a default that does not fit this series' other values: the series is at fault
                return f"{_title(i, entry)} (from defaults)", loc, ("defaults", *loc)
            # A default that is wrong in itself: reported once, at the defaults.
            return "defaults", loc, ("defaults", *loc)

        merged = {**layout.defaults, **entry} if isinstance(entry, dict) else entry
        if isinstance(entry, dict) and "strength" in entry and "strengths" not in entry:
            # An entry's own strength is its sweep: the defaults' strengths would silently override it.
            merged.pop("strengths", None)
        try:
            one = _SERIES.validate_python(merged)
        except ValidationError as exc:
            problems += error_lines(source, node, exc, where, keys_of(EditSeries))
            continue
        j = first.setdefault(one.name, i)
        if j != i:
            problems.append(
                f"{at(source, node, ('series', i, 'name'))}: series {one.name}: name repeats the name of "
                f"series[{j}] (each names its own output folder)"
            )
        series.append(one)
    if problems:
        raise InputFileError("\n".join(dict.fromkeys(problems)))
    return series


def load_series(path: Path = SERIES_FILE) -> list[EditSeries]:
    data, node = read_yaml(path)
    return parse_series(data, str(path), node)
