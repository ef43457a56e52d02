from __future__ import annotations

from pathlib import Path

import dagster as dg
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


class HubNamed:
    """Renders with the tiny local editor but records a hub id, as a run with a hub model would."""

    def __init__(self, editors, model: str) -> None:
        self.editors, self.model = editors, model

    def model_for(self, mode):
        return self.model

    def editor_for(self, mode):
        return self.editors.editor_for(mode)

    def unavailable(self, mode):
        return None


def test_the_asset_reuses_its_portrait_without_loading_the_model(editors, tmp_path: Path, monkeypatch):
    from hotelcap_pipeline.defs.assets.edits import visitor_portrait
    from hotelcap_pipeline.defs.io import parquet_io_manager
    from hotelcap_pipeline.defs.resources import DiffusionResource, HotelcapSettings

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub_id = "hotelcap-test/sd-not-downloaded"
    store = tmp_path / "store"
    # A portrait made earlier with the hub model (online then); now the weights are not here.
    render_portrait(HubNamed(editors, hub_id), PERSONA_FILE.read_text(encoding="utf-8"), seed=3,
                    out_path=store / "report" / "figures" / "visitor_portrait.png", size=(64, 64), steps=2)
    result = dg.materialize(
        [visitor_portrait],
        resources={"settings": HotelcapSettings(data_store=str(store), device="cpu"),
                   "diffusion": DiffusionResource(model=hub_id), "io_manager": parquet_io_manager},
        run_config={"ops": {"visitor_portrait": {"config": {"size": 64, "steps": 2, "seed": 3}}}},
    )
    assert result.success
    assert result.asset_materializations_for_node("visitor_portrait")[0].metadata["reused"].value is True
