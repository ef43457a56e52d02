"""Small models the tests build locally (no hub): a randomly initialised demo-architecture CLIP."""

from __future__ import annotations

from pathlib import Path


def random_demo_clip(path: Path, seed: int) -> Path:
    """Save the state dict of a freshly initialised ``hotelcap-world-clip`` (seeded) at ``path``."""
    import open_clip
    import torch

    from hotelcap_pipeline.settings import DEMO_CLIP_MODEL
    from hotelcap_pipeline.tagging.clip_model import register_model_configs

    register_model_configs()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(DEMO_CLIP_MODEL, pretrained=None)
    torch.save(model.state_dict(), path)
    return path
