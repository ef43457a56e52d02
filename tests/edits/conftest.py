"""Shared fixtures: the tiny diffusion models (built once per session), a fake CLIP and a small photo store."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from helpers_edits import CountingEditors
from PIL import Image, ImageDraw

from hotelcap_pipeline.demo.tiny_diffusion import ensure_tiny_controlnet, ensure_tiny_ip2p, ensure_tiny_sd
from hotelcap_pipeline.edits.pipeline import DiffusionEditors


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # Tiny models are overhead-bound; two threads on a shared 2-core box spin and run 40x slower.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    models = tmp_path_factory.mktemp("models")
    return {
        "sd": ensure_tiny_sd(models),
        "ip2p": ensure_tiny_ip2p(models),
        "controlnet": ensure_tiny_controlnet(models),
    }


@pytest.fixture(scope="session")
def editors(tiny_models: dict[str, Path]) -> DiffusionEditors:
    return DiffusionEditors(
        str(tiny_models["sd"]),
        ip2p_model=str(tiny_models["ip2p"]),
        controlnet_model=str(tiny_models["controlnet"]),
        device="cpu",
    )


class FakeClip:
    """Unit embeddings without a model: images by their 8x8 grey thumbnail, texts by a seeded hash."""

    model_id = "fake-clip"

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        rows = [np.asarray(im.convert("L").resize((8, 8)), dtype=np.float32).ravel() - 127.5 for im in images]
        return _unit(np.stack(rows))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        rows = [
            np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)).normal(size=64) for t in texts
        ]
        return _unit(np.stack(rows).astype(np.float32))


def _unit(x: np.ndarray) -> np.ndarray:
    return (x / np.clip(np.linalg.norm(x, axis=1, keepdims=True), 1e-12, None)).astype(np.float32)


@pytest.fixture
def counting(editors: DiffusionEditors) -> CountingEditors:
    return CountingEditors(editors)


@pytest.fixture
def fake_clip() -> FakeClip:
    return FakeClip()


def room_photo(seed: int, size: tuple[int, int]) -> Image.Image:
    """A synthetic 'room': a wall gradient, a bed block and a window, placed from ``seed``."""
    rng = np.random.default_rng(seed)
    w, h = size
    ramp = np.linspace(60, 200, w, dtype=np.float32)[None, :, None] * np.ones((h, 1, 3), np.float32)
    image = Image.fromarray((ramp * rng.uniform(0.6, 1.0, size=3)).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    x, y = int(rng.integers(0, w // 2)), int(rng.integers(h // 2, h - h // 5))
    draw.rectangle((x, y, x + w // 2, y + h // 5), fill=tuple(int(c) for c in rng.integers(0, 255, 3)))
    draw.rectangle((w - w // 4, h // 8, w - w // 10, h // 3), fill=(220, 230, 255))
    return image


@pytest.fixture
def make_room():
    return room_photo


@pytest.fixture
def photo_store(tmp_path: Path) -> tuple[Path, pl.DataFrame]:
    """Three photos of different shapes under ``images/`` and the selection table pointing at them."""
    rows = []
    for i, size in enumerate([(96, 64), (64, 96), (80, 80)]):
        rel = f"images/train/1/{10 + i}/travel/{100 + i}.jpg"
        path = tmp_path / rel
        path.parent.mkdir(parents=True)
        room_photo(i, size).save(path, quality=90)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append({"image_id": 100 + i, "hotel_id": 10 + i, "path": rel, "sha256": sha})
    return tmp_path, pl.DataFrame(rows)
