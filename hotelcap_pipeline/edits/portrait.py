"""The visitor's portrait: text-to-image from the persona's prompt, with the edits' model and seed rules."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.edits.cache import cache_key, png_bytes, read_png_meta
from hotelcap_pipeline.edits.pipeline import EditorSource, fit_dims
from hotelcap_pipeline.settings import ASSETS_DIR

PERSONA_FILE = ASSETS_DIR / "persona.md"
PORTRAIT_HEADING = "## Portrait"
PORTRAIT_NEGATIVE = "text, watermark, logo, blurry, deformed face, extra limbs, cluttered room, television"


def portrait_prompt(persona_text: str) -> str:
    """The last paragraph of the persona's "## Portrait" section, joined into one line."""
    _, found, rest = persona_text.partition(PORTRAIT_HEADING)
    if not found:
        raise ValueError(f"the persona has no {PORTRAIT_HEADING!r} section to build the portrait prompt from")
    section = rest.split("\n## ", 1)[0]
    paragraphs = [" ".join(p.split()) for p in section.split("\n\n") if p.strip()]
    if not paragraphs:
        raise ValueError(f"the persona's {PORTRAIT_HEADING!r} section is empty")
    return paragraphs[-1]


def render_portrait(
    diffusion: EditorSource,
    persona_text: str,
    seed: int,
    out_path: Path,
    size: tuple[int, int] = (512, 512),
    *,
    steps: int = 30,
    guidance: float = 7.5,
    negative_prompt: str = PORTRAIT_NEGATIVE,
) -> dict[str, Any]:
    """Render (or reuse) the portrait PNG at ``out_path``; returns its settings, flags and ``reused``.

    The settings are stored in the PNG itself, so a rerun with the same prompt, model, size, steps and
    seed loads nothing and renders nothing.
    """
    prompt = portrait_prompt(persona_text)
    width, height = fit_dims(*size, max_side=max(size))
    record: dict[str, Any] = {
        "prompt": prompt,
        "negative_prompt": negative_prompt,
        "seed": seed,
        "steps": steps,
        "guidance": guidance,
        "width": width,
        "height": height,
        "model": diffusion.model_for("img2img"),
    }
    key = cache_key(record)
    meta = read_png_meta(Path(out_path))
    if meta is not None and meta.get("cache_key") == key:
        return {**meta, "path": str(out_path), "reused": True}
    rendered = diffusion.editor_for("img2img").text2img(
        prompt=prompt,
        negative_prompt=negative_prompt,
        seed=seed,
        size=(width, height),
        steps=steps,
        guidance=guidance,
    )
    record |= {"nsfw_flag": rendered.nsfw_flag, "nan_or_black": rendered.nan_or_black, "cache_key": key}
    atomic_write_bytes(Path(out_path), png_bytes(rendered.image, record))
    return {**record, "path": str(out_path), "reused": False}
