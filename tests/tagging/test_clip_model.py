from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from helpers_models import random_demo_clip
from PIL import Image

from hotelcap_pipeline.models import ModelUnavailableError
from hotelcap_pipeline.settings import DEMO_CLIP_MODEL
from hotelcap_pipeline.tagging.clip_model import ClipModel, file_sha256, load_clip


def test_local_checkpoint_loads_through_load_clip(demo_checkpoint: Path, demo_clip: ClipModel) -> None:
    assert demo_clip.model_id == f"{DEMO_CLIP_MODEL}/sha256:{file_sha256(demo_checkpoint)[:12]}"
    saved = torch.load(demo_checkpoint, weights_only=True)
    loaded = demo_clip.model.state_dict()
    assert saved.keys() == loaded.keys()
    # Shipped in fp16 to stay small; open_clip's fp32 model holds exactly those values.
    assert all(torch.equal(saved[k].to(loaded[k].dtype), loaded[k].cpu()) for k in saved)
    assert demo_clip.embed_dim == 64
    assert demo_clip.image_size == 96


def test_shipped_config_squashes_the_whole_photo(demo_clip: ClipModel) -> None:
    """A wide photo is resized whole (no centre crop): a stripe at its left edge reaches the model."""
    wide = Image.new("RGB", (300, 100), (255, 255, 255))
    wide.paste((255, 0, 0), (0, 0, 15, 100))
    pixels = demo_clip.preprocess(wide)
    assert tuple(pixels.shape) == (3, 96, 96)
    red_minus_green = pixels[0, :, :3] - pixels[1, :, :3]
    assert bool((red_minus_green > 2.0).all())


def test_other_weights_give_other_embeddings(tmp_path: Path, demo_clip: ClipModel) -> None:
    path = random_demo_clip(tmp_path / "untrained.pt", seed=1)
    other = load_clip(DEMO_CLIP_MODEL, str(path), device="cpu")
    assert other.model_id != demo_clip.model_id
    text = ["a photo of a bed"]
    assert not np.allclose(other.encode_texts(text), demo_clip.encode_texts(text))


def test_embeddings_are_unit_float32_rows(demo_clip: ClipModel) -> None:
    images = [Image.new("RGB", (90, 70), (200, 30, 30)), Image.new("RGB", (40, 80), (10, 120, 240))]
    rows = demo_clip.encode_images(images)
    assert rows.shape == (2, 64) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    pixels = torch.stack([demo_clip.preprocess(im) for im in images])
    np.testing.assert_allclose(demo_clip.encode_pixels(pixels), rows, atol=1e-6)
    texts = demo_clip.encode_texts(["a photo of a bed", "a photo of a lamp", "a photo of a bed"])
    assert texts.shape == (3, 64) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert not np.allclose(texts[0], texts[1])
    assert demo_clip.encode_images([]).shape == (0, 64)


def test_bf16_autocast_stays_close(demo_checkpoint: Path, demo_clip: ClipModel) -> None:
    bf16 = load_clip(DEMO_CLIP_MODEL, str(demo_checkpoint), device="cpu", precision="bf16")
    texts = ["a photo of a towel", "a hotel room with a desk"]
    low, full = bf16.encode_texts(texts), demo_clip.encode_texts(texts)
    assert low.dtype == np.float32
    assert np.all(np.sum(low * full, axis=1) > 0.99)


def test_bad_weights_and_precision_are_clear_errors(tmp_path: Path, demo_checkpoint: Path) -> None:
    with pytest.raises(ModelUnavailableError, match="no such checkpoint file"):
        load_clip(DEMO_CLIP_MODEL, str(tmp_path / "missing.pt"), device="cpu")
    with pytest.raises(ModelUnavailableError, match="neither a checkpoint file nor a pretrained tag"):
        load_clip(DEMO_CLIP_MODEL, "no-such-tag", device="cpu")
    with pytest.raises(ModelUnavailableError, match="unknown open_clip architecture"):
        load_clip("no-such-arch", str(demo_checkpoint), device="cpu")
    with pytest.raises(ValueError, match="precision"):
        load_clip(DEMO_CLIP_MODEL, str(demo_checkpoint), device="cpu", precision="int3")
    with pytest.raises(ValueError, match="only bf16"):
        load_clip(DEMO_CLIP_MODEL, str(demo_checkpoint), device="cpu", precision="fp16")


def test_one_clip_per_process_whether_named_by_variable_or_run_config(demo_checkpoint: Path, monkeypatch) -> None:
    from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings

    monkeypatch.setenv("HOTELCAP_PROFILE", "demo")
    monkeypatch.setenv("HOTELCAP_DEVICE", "cpu")
    monkeypatch.setenv("HOTELCAP_CLIP_PRETRAINED", str(demo_checkpoint))
    by_variable = ClipResource().get(HotelcapSettings())
    assert ClipResource(pretrained=str(demo_checkpoint)).get(HotelcapSettings()) is by_variable
