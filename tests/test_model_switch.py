"""Switching the CLIP makes image_embeddings stale: `hotelcap materialize --select image_tags` re-embeds by itself."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from helpers_models import random_demo_clip


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_a_new_clip_checkpoint_re_embeds_without_being_told(tmp_path: Path) -> None:
    from hotelcap_pipeline.settings import DEMO_CLIP_MODEL
    from hotelcap_pipeline.tagging.clip_model import file_sha256

    checkpoint = random_demo_clip(tmp_path / "other-clip.pt", seed=7)

    env = {**os.environ, "HOTELCAP_PROFILE": "demo", "HOTELCAP_N_HOTELS": "2", "HOTELCAP_DEVICE": "cpu",
           "HOTELCAP_DATA_STORE": str(tmp_path / "store"), "DAGSTER_HOME": str(tmp_path / "home")}

    def materialize(select: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "hotelcap_pipeline.cli", "materialize", "--select", select],
                              env={**env, **extra}, capture_output=True, text=True, timeout=900)

    first = materialize("image_tags")
    assert first.returncode == 0, first.stderr[-2000:]
    switched = materialize("image_tags", HOTELCAP_CLIP_PRETRAINED=str(checkpoint))
    assert switched.returncode == 0, switched.stderr[-2000:]
    assert "adding upstream image_embeddings (stale)" in switched.stdout
    embeddings = pl.read_parquet(tmp_path / "store" / "tables" / "image_embeddings.parquet")
    new_id = f"{DEMO_CLIP_MODEL}/sha256:{file_sha256(checkpoint)[:12]}"
    assert embeddings.get_column("model").unique().to_list() == [new_id]
