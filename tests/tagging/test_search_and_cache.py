"""Quoted multi-word queries, the prompt-embedding cache and the CLIP in image_embeddings' version."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import dagster as dg
import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.models import clip_code_version
from hotelcap_pipeline.settings import Settings
from hotelcap_pipeline.tagging.search import recorded_model, search_by_tags
from hotelcap_pipeline.tagging.tags import tag_all_methods
from hotelcap_pipeline.tagging.text_cache import CachedTextEncoder
from hotelcap_pipeline.tagging.vocabulary import load_templates, load_vocabulary


def _tags() -> pl.DataFrame:
    return pl.DataFrame({
        "image_id": [1, 2, 3], "hotel_id": [10, 20, 30], "chain_id": [0, 1, 1], "method": ["seed"] * 3,
        "tags": [["bed", "window"], ["coffee machine", "bed"], ["window"]],
        "score_bed": [0.3, 0.3, 0.1], "score_window": [0.3, 0.1, 0.3], "score_coffee_machine": [0.1, 0.4, 0.1],
    })


def test_one_quoted_argument_is_split_by_longest_match() -> None:
    _, photos = search_by_tags(_tags(), ["bed window"])
    assert photos["image_id"].to_list()[0] == 1 and photos["n_matched"][0] == 2
    _, photos = search_by_tags(_tags(), ["coffee machines bed"])
    assert photos["image_id"].to_list()[0] == 2 and photos["matched"][0].sort().to_list() == ["bed", "coffee machine"]


def test_recorded_model_is_the_one_most_embeddings_carry() -> None:
    table = pl.DataFrame({"model": ["a", "b", "b"]})
    assert recorded_model(table) == "b"


class CountingClip:
    model_id = "counting"
    embed_dim = 8

    def __init__(self) -> None:
        self.encoded = 0

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded += len(texts)
        rows = np.stack([np.random.default_rng(abs(hash(t)) % 2**32).normal(size=8) for t in texts]) if texts else \
            np.zeros((0, 8))
        return (rows / np.linalg.norm(rows, axis=1, keepdims=True)).astype(np.float32) if texts else rows


def test_an_unchanged_rerun_of_the_tagging_encodes_no_prompt(tmp_path: Path) -> None:
    vocabulary, templates = load_vocabulary(), load_templates()
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(4, 8)).astype(np.float32)
    embeddings = pl.DataFrame({
        "image_id": [1, 2, 3, 4], "hotel_id": [1, 1, 2, 2], "chain_id": [0, 0, 0, 0], "model": ["counting"] * 4,
        "embedding": pl.Series((vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).tolist()),
    })
    first_clip = CountingClip()
    first = CachedTextEncoder(first_clip, tmp_path)
    table = tag_all_methods(embeddings, first, vocabulary, templates=templates)
    first.save()
    assert first.encoded == first_clip.encoded > 100

    second_clip = CountingClip()
    second = CachedTextEncoder(second_clip, tmp_path)
    again = tag_all_methods(embeddings, second, vocabulary, templates=templates)
    assert second.encoded == 0 and second_clip.encoded == 0
    assert again.equals(table)


def test_a_truncated_prompt_cache_is_encoded_again_and_rewritten(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    texts = ["a photo of a bed", "a photo of a lamp"]
    first = CachedTextEncoder(CountingClip(), tmp_path)
    expected = first.encode_texts(texts)
    first.save()
    first.path.write_bytes(first.path.read_bytes()[:-20])  # a run killed while another tool copied it

    clip = CountingClip()
    with caplog.at_level(logging.WARNING):
        damaged = CachedTextEncoder(clip, tmp_path)
    assert f"{damaged.path} is damaged" in caplog.text
    np.testing.assert_array_equal(damaged.encode_texts(texts), expected)
    assert damaged.encoded == clip.encoded == 2
    damaged.save()
    again = CachedTextEncoder(CountingClip(), tmp_path)
    np.testing.assert_array_equal(again.encode_texts(texts), expected)
    assert again.encoded == 0


def test_another_clip_changes_image_embeddings_code_version(tmp_path: Path) -> None:
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.settings import load_settings

    base = Settings(clip_model="ViT-B-32", clip_pretrained="laion2b_s34b_b79k")
    assert clip_code_version(base) != clip_code_version(Settings(clip_model="ViT-B-32", clip_pretrained="openai"))
    checkpoint = tmp_path / "clip.pt"
    checkpoint.write_bytes(b"one")
    local = Settings(clip_model="ViT-B-32", clip_pretrained=str(checkpoint))
    before = clip_code_version(local)
    checkpoint.write_bytes(b"other weights")
    assert clip_code_version(local) != before
    node = defs.resolve_asset_graph().get(dg.AssetKey("image_embeddings"))
    assert node.code_version == f"1-clip-{clip_code_version(load_settings())}"
