from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.table_format import text_table
from hotelcap_pipeline.tagging.embed import embedding_series
from hotelcap_pipeline.tagging.search import (
    UnknownTagError,
    search_by_tags,
    search_by_text,
    searched_tags,
    split_query,
)
from hotelcap_pipeline.tagging.vocabulary import Tag


def _tags() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "image_id": [1, 2, 3, 4, 5],
            "hotel_id": [10, 10, 20, 20, 30],
            "chain_id": [0, 0, 1, 1, -1],
            "method": ["seed"] * 5,
            "tags": [["bed", "window"], ["bed"], ["window"], ["bed", "window", "coffee machine"], ["desk"]],
            "score_bed": [0.30, 0.35, 0.10, 0.28, 0.1],
            "score_window": [0.27, 0.1, 0.40, 0.26, 0.1],
            "score_coffee_machine": [0.1, 0.1, 0.1, 0.3, 0.1],
            "score_desk": [0.1, 0.1, 0.1, 0.1, 0.3],
        }
    )


def test_search_by_tags_ranks_photos_and_hotels() -> None:
    hotels, photos = search_by_tags(_tags(), ["bed", "window"], limit=10)
    # photos with both words first (higher summed score first), then one word by score
    assert photos["image_id"].to_list() == [1, 4, 3, 2]
    assert photos["n_matched"].to_list() == [2, 2, 1, 1]
    assert photos["score"][0] == pytest.approx(0.57)
    assert hotels["hotel_id"].to_list() == [10, 20]  # both cover both words, one photo each with all; 0.57 > 0.54
    assert hotels["covered"][0].to_list() == ["bed", "window"]
    assert search_by_tags(_tags(), ["bed"], limit=1)[1]["image_id"].to_list() == [2]


def test_synonyms_plurals_and_multi_word_labels() -> None:
    vocab = [Tag("coffee machine", "coffee", synonyms=("kettle",)), Tag("bed", "sleep")]
    words = split_query("beds coffee machine", ["bed", "window", "coffee machine", "desk"])
    assert words == ["beds", "coffee machine"]
    _, photos = search_by_tags(_tags(), words, vocabulary=vocab)
    assert photos["image_id"][0] == 4
    _, photos = search_by_tags(_tags(), ["kettle"], vocabulary=vocab)
    assert photos["image_id"].to_list() == [4]


def test_a_comma_keeps_words_apart_and_singulars_are_known() -> None:
    vocab = [Tag("desk", "desk"), Tag("lamp", "lamp", synonyms=("desk lamp",)), Tag("curtains", "curtains")]
    phrases = ["desk", "lamp", "desk lamp", "curtains"]
    assert split_query("desk lamp", phrases) == ["desk lamp"]  # the known phrase: a lamp
    assert split_query(["desk,", "lamp"], phrases) == ["desk", "lamp"]
    assert split_query("desk,lamp", phrases) == ["desk", "lamp"]
    tags = _tags().with_columns(pl.lit(0.1).alias("score_lamp"), pl.lit(0.1).alias("score_curtains"))
    assert searched_tags(tags, ["desk,", "lamp"], vocab) == ["desk", "lamp"]
    assert searched_tags(tags, ["curtain"], vocab) == ["curtains"]


def test_unknown_words_list_the_vocabulary() -> None:
    with pytest.raises(UnknownTagError, match=r"unknown tag word\(s\): jacuzzi.*bed, coffee machine, desk, window"):
        search_by_tags(_tags(), ["bed", "jacuzzi"])
    several = pl.concat([_tags(), _tags().with_columns(pl.lit("ensemble").alias("method"))])
    with pytest.raises(ValueError, match="several tagging methods"):
        search_by_tags(several, ["bed"])
    assert search_by_tags(several, ["desk"], method="ensemble")[1]["image_id"].to_list() == [5]


def test_search_by_text_ranks_by_cosine(hand_made_clip: type) -> None:
    clip = hand_made_clip({"a bright room with a sea view": [1.0, 0.0, 0.0]}, model_id="m")
    vectors = np.array([[0.1, 1, 0], [1, 0.1, 0], [0.6, 0.6, 0.1]], dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings = pl.DataFrame(
        {
            "image_id": [7, 8, 9],
            "hotel_id": [1, 1, 2],
            "chain_id": [0, 0, 0],
            "sha256": ["a", "b", "c"],
            "model": ["m"] * 3,
            "embedding": embedding_series(vectors),
        }
    )
    found = search_by_text(embeddings, clip, "a bright room with a sea view", limit=2)
    assert found["image_id"].to_list() == [8, 9]
    assert found["score"][0] == pytest.approx(vectors[1, 0])
    with pytest.raises(ValueError, match="no embeddings by 'other'"):
        search_by_text(embeddings, hand_made_clip({"x": [1, 0, 0]}, model_id="other"), "x", 2)


def test_text_table_aligns_columns() -> None:
    hotels, _ = search_by_tags(_tags(), ["bed"])
    text = text_table(hotels)
    lines = text.splitlines()
    assert lines[0].split() == hotels.columns
    assert len(lines) == 2 + hotels.height
    assert "0.35" in text and "bed" in lines[2]
    assert text_table(hotels.head(0)) == "(no results)"
