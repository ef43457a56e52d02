"""The demo profile's CLIP: a tiny open_clip architecture with deterministic random weights.

Its config ships in ``hotelcap_pipeline/tagging/model_configs/``; the text tower uses open_clip's bundled
BPE vocabulary (49408 tokens, context 77), so text encoding works offline. The weights are random: the
demo's tags and search results exercise the pipeline but mean nothing.
"""

from __future__ import annotations

from pathlib import Path

import torch

from hotelcap_pipeline.store import atomic_path
from hotelcap_pipeline.tagging.clip_model import register_model_configs

DEMO_CLIP_MODEL = "hotelcap-tiny-clip"


def tiny_clip_checkpoint(models_dir: Path) -> Path:
    return Path(models_dir) / f"{DEMO_CLIP_MODEL}.pt"


def ensure_tiny_clip(models_dir: Path, seed: int = 0) -> Path:
    """Build the tiny CLIP with weights drawn from ``seed`` and save its checkpoint, unless it exists.

    Load it with ``load_clip(DEMO_CLIP_MODEL, str(path))``, the path a user's own checkpoint takes.
    """
    path = tiny_clip_checkpoint(models_dir)
    if path.is_file():
        return path
    import open_clip

    register_model_configs()
    # fork_rng keeps the caller's global RNG state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = open_clip.create_model(DEMO_CLIP_MODEL, pretrained=None, device="cpu")
    # Saving through a file object keeps the temp file's name out of the archive: same seed, same bytes.
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(model.state_dict(), fh)
    return path
