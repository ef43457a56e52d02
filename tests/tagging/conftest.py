from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL
from hotelcap_pipeline.tagging.clip_model import ClipModel, load_clip


@pytest.fixture(scope="session")
def demo_checkpoint() -> Path:
    """The demo's shipped CLIP checkpoint (trained on the synthetic world); it is part of the repository."""
    assert DEMO_CLIP_CHECKPOINT.is_file(), (
        f"{DEMO_CLIP_CHECKPOINT} is missing: run `python -m hotelcap_pipeline.demo.train_clip`"
    )
    return DEMO_CLIP_CHECKPOINT


@pytest.fixture(scope="session")
def demo_clip(demo_checkpoint: Path) -> ClipModel:
    return load_clip(DEMO_CLIP_MODEL, str(demo_checkpoint), device="cpu")


class HandMadeClip:
    """A stand-in for ClipModel whose text embeddings are given by hand (texts not listed are an error)."""

    def __init__(self, texts: dict[str, Sequence[float]], model_id: str = "hand-made") -> None:
        self.model_id = model_id
        self.texts = {k: np.asarray(v, dtype=np.float32) for k, v in texts.items()}
        self.embed_dim = len(next(iter(self.texts.values())))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = np.stack([self.texts[t] for t in texts])
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


@pytest.fixture
def hand_made_clip() -> type[HandMadeClip]:
    return HandMadeClip
