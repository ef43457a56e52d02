"""Models from Settings: where the weights come from (hub tag, local path, the demo's shipped or tiny models).

The asset resources and the `hotelcap search` command both go through here, so the demo profile's
models are found (or built) the same way everywhere. The demo's CLIP is a shipped checkpoint, loaded
through the local-checkpoint path a user's own checkpoint takes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from hotelcap_pipeline.settings import DEMO_CLIP_MODEL, Settings
from hotelcap_pipeline.store import DataStore

if TYPE_CHECKING:
    from hotelcap_pipeline.tagging.clip_model import ClipModel


def clip_weights(settings: Settings) -> str:
    """The open_clip pretrained tag or checkpoint path; the demo's checkpoint must have been trained and shipped."""
    if not settings.clip_pretrained:
        raise ValueError(
            f"HOTELCAP_CLIP_PRETRAINED is empty for model {settings.clip_model!r}: give an open_clip pretrained "
            "tag or the path of a checkpoint"
        )
    checkpoint = Path(settings.clip_pretrained).expanduser()
    if settings.clip_model == DEMO_CLIP_MODEL and not checkpoint.is_file():
        raise FileNotFoundError(
            f"the demo CLIP checkpoint {checkpoint} is missing: train it with "
            f"`python -m hotelcap_pipeline.demo.train_clip --out {checkpoint.parent}` (about 10 minutes on a CPU)"
        )
    return settings.clip_pretrained


def load_clip_from_settings(settings: Settings, precision: str = "fp32") -> ClipModel:
    from hotelcap_pipeline.tagging.clip_model import load_clip

    return load_clip(settings.clip_model, clip_weights(settings), settings.device, precision=precision)


def diffusion_sources(settings: Settings, ip2p_model: str, controlnet_model: str) -> tuple[str, str, str]:
    """(img2img, InstructPix2Pix, ControlNet) model ids or folders; the demo's tiny ones are built on first use."""
    from hotelcap_pipeline.demo.tiny_diffusion import (
        TINY_SD,
        ensure_tiny_controlnet,
        ensure_tiny_ip2p,
        ensure_tiny_sd,
    )

    if settings.diffusion_model != TINY_SD:
        return settings.diffusion_model, ip2p_model, controlnet_model
    models = DataStore.at(settings.data_store).models
    return str(ensure_tiny_sd(models)), str(ensure_tiny_ip2p(models)), str(ensure_tiny_controlnet(models))
