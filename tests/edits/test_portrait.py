from __future__ import annotations

from pathlib import Path

import pytest

from hotelcap_pipeline.edits.cache import read_png_meta
from hotelcap_pipeline.edits.portrait import PERSONA_FILE, portrait_prompt, render_portrait


def test_prompt_comes_from_the_persona_file():
    prompt = portrait_prompt(PERSONA_FILE.read_text(encoding="utf-8"))
    assert prompt.startswith("portrait of") and "\n" not in prompt and "desk" in prompt
    with pytest.raises(ValueError, match="Portrait"):
        portrait_prompt("# persona without the section")


def test_portrait_renders_once_then_is_reused(editors, counting, tmp_path: Path):
    persona = "# P\n\n## Portrait\n\nintro line\n\na calm founder at a clean desk\n\n## Other\n\nignored\n"
    out = tmp_path / "report" / "figures" / "visitor_portrait.png"
    first = render_portrait(counting, persona, seed=3, out_path=out, size=(60, 40), steps=3)
    assert out.is_file() and not first["reused"] and counting.calls == 1
    assert first["prompt"] == "a calm founder at a clean desk" and (first["width"], first["height"]) == (64, 40)
    again = render_portrait(counting, persona, seed=3, out_path=out, size=(60, 40), steps=3)
    assert again["reused"] and counting.calls == 1 and again["cache_key"] == first["cache_key"]
    other = render_portrait(counting, persona, seed=4, out_path=out, size=(60, 40), steps=3)
    assert not other["reused"] and counting.calls == 2
    assert read_png_meta(out)["seed"] == 4
