"""Edit series: one changed condition each, with its prompts, sampler settings and strength sweep.

Read from ``assets/edit_series.yaml``: a ``defaults`` mapping, then ``series``, a list whose entries
override any default. A misconfigured series fails at load time, naming the file and the series, rather
than halfway through a render (the zero-step guard is checked here for every swept strength).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from hotelcap_pipeline.edits.pipeline import MODES, denoising_steps
from hotelcap_pipeline.settings import ASSETS_DIR

SERIES_FILE = ASSETS_DIR / "edit_series.yaml"
# Also a folder name under data_store/edits/; a leading underscore is kept for the sweep cache.
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


@dataclass(frozen=True)
class EditSeries:
    name: str
    condition: str  # the one thing this series changes
    prompt: str  # the same room under the new condition (an instruction for instruct-pix2pix)
    source_text: str  # the directional score's text pair: the photo's condition ...
    target_text: str  # ... and the condition asked for
    negative_prompt: str = ""
    strength: float = 0.5
    steps: int = 30
    guidance: float = 7.5
    seed: int = 0
    mode: str = "img2img"
    strengths: tuple[float, ...] = ()  # the sweep; empty: ``strength`` alone
    preserve_threshold: float = 0.8  # least CLIP image similarity to the original a chosen edit keeps

    def __post_init__(self) -> None:
        if not _NAME.match(self.name):
            raise ValueError(f"series name {self.name!r}: use lower-case letters, digits, '-' and '_'")
        if self.mode not in MODES:
            raise ValueError(f"series {self.name!r}: mode {self.mode!r} is not one of {', '.join(MODES)}")
        for text in ("condition", "prompt", "source_text", "target_text"):
            if not str(getattr(self, text)).strip():
                raise ValueError(f"series {self.name!r}: {text} is empty")
        if self.steps < 1:
            raise ValueError(f"series {self.name!r}: steps must be at least 1")
        for strength in self.sweep:
            if self.mode == "instruct-pix2pix":
                if not 0.0 < strength <= 1.0:
                    raise ValueError(f"series {self.name!r}: strength must be in (0, 1], got {strength}")
            else:
                try:
                    denoising_steps(strength, self.steps)
                except ValueError as exc:
                    raise ValueError(f"series {self.name!r}: {exc}") from None

    @property
    def sweep(self) -> tuple[float, ...]:
        """Strengths to try, lowest first (the fallback is the lowest)."""
        return tuple(sorted(set(self.strengths))) if self.strengths else (self.strength,)

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


_FIELDS = {f.name for f in dataclasses.fields(EditSeries)}


def _coerce(entry: dict[str, Any]) -> dict[str, Any]:
    out = dict(entry)
    if "strengths" in out:
        out["strengths"] = tuple(float(s) for s in out["strengths"] or ())
    for key in ("strength", "guidance", "preserve_threshold"):
        if key in out:
            out[key] = float(out[key])
    for key in ("steps", "seed"):
        if key in out:
            out[key] = int(out[key])
    return out


def parse_series(data: dict[str, Any], source: str = "<series>") -> list[EditSeries]:
    """Build the series from the YAML structure; every error names ``source`` and the series."""
    if not isinstance(data, dict) or not isinstance(data.get("series"), list):
        raise ValueError(f"{source}: expected a mapping with a 'series' list")
    defaults = data.get("defaults") or {}
    series: list[EditSeries] = []
    for i, entry in enumerate(data["series"]):
        label = entry.get("name", f"#{i}") if isinstance(entry, dict) else f"#{i}"
        if not isinstance(entry, dict):
            raise ValueError(f"{source}: series {label} is not a mapping")
        unknown = (set(defaults) | set(entry)) - _FIELDS
        if unknown:
            raise ValueError(f"{source}: series {label}: unknown keys {sorted(unknown)}")
        try:
            series.append(EditSeries(**_coerce({**defaults, **entry})))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{source}: series {label}: {exc}") from None
    names = [s.name for s in series]
    if len(set(names)) != len(names):
        raise ValueError(f"{source}: series names repeat: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return series


def load_series(path: Path = SERIES_FILE) -> list[EditSeries]:
    path = Path(path)
    with open(path, encoding="utf-8") as fh:
        return parse_series(yaml.safe_load(fh), str(path))
