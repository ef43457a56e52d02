from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hotelcap_pipeline.demo.tiny_clip import DEMO_CLIP_MODEL, ensure_tiny_clip
from hotelcap_pipeline.tagging.clip_model import ClipModel, file_sha256, load_clip


def test_tiny_checkpoint_is_deterministic_and_not_rebuilt(tmp_path: Path, tiny_checkpoint: Path) -> None:
    again = ensure_tiny_clip(tmp_path / "a", seed=0)
    assert file_sha256(again) == file_sha256(tiny_checkpoint)
    assert file_sha256(ensure_tiny_clip(tmp_path / "b", seed=1)) != file_sha256(tiny_checkpoint)
    mtime = again.stat().st_mtime_ns
    assert ensure_tiny_clip(tmp_path / "a", seed=0) == again
    assert again.stat().st_mtime_ns == mtime
    assert [p.name for p in (tmp_path / "a").iterdir()] == [again.name]  # no temp file left


def test_local_checkpoint_loads_through_load_clip(tiny_checkpoint: Path, tiny_clip: ClipModel) -> None:
    assert tiny_clip.model_id == f"{DEMO_CLIP_MODEL}/sha256:{file_sha256(tiny_checkpoint)[:12]}"
    saved = torch.load(tiny_checkpoint, weights_only=True)
    loaded = tiny_clip.model.state_dict()
    assert saved.keys() == loaded.keys()
    assert all(torch.equal(saved[k], loaded[k].cpu()) for k in saved)
    assert tiny_clip.embed_dim == 64
    assert tiny_clip.image_size == 64


def test_other_weights_give_other_embeddings(tmp_path: Path, tiny_clip: ClipModel) -> None:
    other = load_clip(DEMO_CLIP_MODEL, str(ensure_tiny_clip(tmp_path, seed=1)), device="cpu")
    assert other.model_id != tiny_clip.model_id
    text = ["a photo of a bed"]
    assert not np.allclose(other.encode_texts(text), tiny_clip.encode_texts(text))


def test_embeddings_are_unit_float32_rows(tiny_clip: ClipModel) -> None:
    images = [Image.new("RGB", (90, 70), (200, 30, 30)), Image.new("RGB", (40, 80), (10, 120, 240))]
    rows = tiny_clip.encode_images(images)
    assert rows.shape == (2, 64) and rows.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-5)
    pixels = torch.stack([tiny_clip.preprocess(im) for im in images])
    np.testing.assert_allclose(tiny_clip.encode_pixels(pixels), rows, atol=1e-6)
    texts = tiny_clip.encode_texts(["a photo of a bed", "a photo of a lamp", "a photo of a bed"])
    assert texts.shape == (3, 64) and texts.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(texts, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(texts[0], texts[2], atol=1e-6)
    assert not np.allclose(texts[0], texts[1])
    assert tiny_clip.encode_images([]).shape == (0, 64)


def test_bf16_autocast_stays_close(tiny_checkpoint: Path, tiny_clip: ClipModel) -> None:
    bf16 = load_clip(DEMO_CLIP_MODEL, str(tiny_checkpoint), device="cpu", precision="bf16")
    texts = ["a photo of a towel", "a hotel room with a desk"]
    low, full = bf16.encode_texts(texts), tiny_clip.encode_texts(texts)
    assert low.dtype == np.float32
    assert np.all(np.sum(low * full, axis=1) > 0.99)


def test_bad_weights_and_precision_are_clear_errors(tmp_path: Path, tiny_checkpoint: Path) -> None:
    with pytest.raises(ValueError, match="neither a checkpoint file nor a pretrained tag"):
        load_clip(DEMO_CLIP_MODEL, str(tmp_path / "missing.pt"), device="cpu")
    with pytest.raises(ValueError, match="unknown open_clip architecture"):
        load_clip("no-such-arch", str(tiny_checkpoint), device="cpu")
    with pytest.raises(ValueError, match="precision"):
        load_clip(DEMO_CLIP_MODEL, str(tiny_checkpoint), device="cpu", precision="int3")
    with pytest.raises(ValueError, match="only bf16"):
        load_clip(DEMO_CLIP_MODEL, str(tiny_checkpoint), device="cpu", precision="fp16")
