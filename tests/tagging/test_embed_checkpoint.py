"""Embeddings are saved in parts as they are computed: a run killed part-way resumes instead of starting over."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_embed import _manifest

from hotelcap_pipeline.tagging.clip_model import ClipModel
from hotelcap_pipeline.tagging.embed import EmbeddingCheckpoint, embed_images, embedding_matrix


class Killed(BaseException):
    """Stands in for SIGKILL: nothing after it runs."""


def test_a_killed_run_resumes_from_its_checkpoint(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 10)
    checkpoint = EmbeddingCheckpoint(tmp_path / "tables" / "image_embeddings", "s0")

    def kill_after_four(done: int, total: int) -> None:
        if done >= 4:
            raise Killed

    with pytest.raises(Killed):
        embed_images(manifest, tmp_path, demo_clip, None, batch_size=2, workers=1, progress=kill_after_four,
                     checkpoint=checkpoint, checkpoint_every=2)
    saved = checkpoint.load()
    assert saved is not None and saved.height == 4  # embedded before the kill, saved in parts of two

    table, stats = embed_images(manifest, tmp_path, demo_clip, None, batch_size=2, workers=1,
                                checkpoint=checkpoint, checkpoint_every=2)
    assert stats["computed"] == manifest["sha256"].n_unique() - 4 == 1
    fresh, _ = embed_images(manifest, tmp_path, demo_clip, None, batch_size=2, workers=1)
    assert np.allclose(embedding_matrix(table), embedding_matrix(fresh), atol=1e-5)
    checkpoint.clear()
    assert checkpoint.load() is None


def test_a_damaged_checkpoint_part_is_skipped(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 4)
    checkpoint = EmbeddingCheckpoint(tmp_path / "tables", "s0")
    embed_images(manifest, tmp_path, demo_clip, None, batch_size=2, workers=1, checkpoint=checkpoint,
                 checkpoint_every=2)
    parts = sorted((tmp_path / "tables").glob(".checkpoint.s0.*.parquet"))
    assert parts
    parts[0].write_bytes(b"not parquet")
    _, stats = embed_images(manifest, tmp_path, demo_clip, None, batch_size=2, workers=1, checkpoint=checkpoint)
    assert stats["failed"] == 0 and stats["computed"] >= 1
