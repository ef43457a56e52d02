from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.tagging.clip_model import ClipModel
from hotelcap_pipeline.tagging.embed import embedding_series
from hotelcap_pipeline.tagging.tags import (
    METHODS,
    calibrated_scores,
    class_embeddings,
    decide_tags,
    robust_standardise,
    tag_all_methods,
    tag_images,
)
from hotelcap_pipeline.tagging.vocabulary import PromptTemplates, Tag, load_templates, load_vocabulary

VOCAB = [Tag("bed", "sleep"), Tag("lamp", "light"), Tag("desk", "work")]
TEMPLATES = PromptTemplates(seed="a photo of a {label}", ensemble=("a {label}", "the {label}"), baseline=("room",))


def test_threshold_keeps_every_tag_above_and_falls_back_to_the_best() -> None:
    scores = np.array([[0.30, 0.10, 0.26], [0.10, 0.20, 0.05], [0.25, 0.25, 0.24]])
    assert decide_tags(scores, 0.25).tolist() == [
        [True, False, True],
        [False, True, False],  # none above: the single best
        [True, False, False],  # 0.25 is not above 0.25; ties go to the first tag
    ]
    per_tag = np.array([0.5, 0.15, 0.2])
    assert decide_tags(scores, per_tag).tolist() == [
        [False, False, True],
        [False, True, False],
        [False, True, True],
    ]


def _images(rows: list[list[float]], model: str = "hand-made") -> pl.DataFrame:
    matrix = np.asarray(rows, dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return pl.DataFrame(
        {
            "image_id": list(range(len(rows))),
            "hotel_id": [1] * len(rows),
            "chain_id": [-1] * len(rows),
            "sha256": ["x"] * len(rows),
            "model": [model] * len(rows),
            "embedding": embedding_series(matrix),
        }
    )


def test_seed_method_on_hand_made_embeddings(hand_made_clip: type) -> None:
    clip = hand_made_clip(
        {"a photo of a bed": [1, 0, 0], "a photo of a lamp": [0, 1, 0], "a photo of a desk": [0, 0, 1]}
    )
    # cos with bed, lamp, desk = the unit image vector's coordinates.
    images = _images([[0.9, 0.3, 0.1], [0.2, 0.1, 0.1], [0.6, 0.6, 0.0]])
    table = tag_images(images, clip, VOCAB, "seed", templates=TEMPLATES)
    assert table.columns == [
        "image_id",
        "hotel_id",
        "chain_id",
        "method",
        "tags",
        "caption",
        "score_bed",
        "score_lamp",
        "score_desk",
    ]
    assert table["tags"].to_list() == [["bed", "lamp"], ["bed", "lamp", "desk"], ["bed", "lamp"]]
    # Captions name the tags best-scored first; the bed makes it a bedroom.
    assert table["caption"].to_list()[2] == "A bedroom with a bed and a lamp."
    assert table["caption"].to_list()[1] == "A bedroom with a bed, a lamp and a desk."
    unit = np.array([0.9, 0.3, 0.1]) / np.linalg.norm([0.9, 0.3, 0.1])
    np.testing.assert_allclose(table.row(0)[6:], unit, atol=1e-6)
    strict = tag_images(images, clip, VOCAB, "seed", threshold=0.8, templates=TEMPLATES)
    assert strict["tags"].to_list() == [["bed"], ["bed"], ["bed"]]  # photo 1, 2: fallback to the best


def test_ensemble_averages_prompts_and_renormalises(hand_made_clip: type) -> None:
    clip = hand_made_clip({"a bed": [1, 0], "the bed": [0, 1], "x": [1, 0]})
    rows = class_embeddings(clip, [["a bed", "the bed"], ["x"]])
    np.testing.assert_allclose(rows, [[2**-0.5, 2**-0.5], [1, 0]], atol=1e-6)


def test_robust_standardise_by_hand() -> None:
    column = np.array([[1.0], [2.0], [3.0], [4.0], [100.0]])
    # median 3, MAD = median(2, 1, 0, 1, 97) = 1
    np.testing.assert_allclose(robust_standardise(column)[:, 0], (column[:, 0] - 3) / 1.4826)
    flat = np.array([[1.0], [1.0], [1.0], [4.0]])  # MAD 0: the standard deviation stands in
    np.testing.assert_allclose(robust_standardise(flat)[:, 0], (flat[:, 0] - 1) / flat.std())
    cos = np.array([[0.30, 0.20], [0.25, 0.22], [0.20, 0.24]])
    base = np.array([0.20, 0.20, 0.20])
    expected = robust_standardise(cos - 0.20)
    np.testing.assert_allclose(calibrated_scores(cos, base), expected)


def test_calibrated_one_photo_falls_back_to_what_it_shows_beyond_a_room(hand_made_clip: type) -> None:
    """One photo (or identical ones) gives every tag a spread of 0: the relative cosine ranks, not column order."""
    axes = {"bed": [1, 0, 0], "lamp": [0, 1, 0], "desk": [0, 0, 1]}
    clip = hand_made_clip({f"{a} {label}": v for label, v in axes.items() for a in ("a", "the")} | {"room": [1, 1, 1]})
    for rows in ([[0.1, 0.2, 0.9]], [[0.1, 0.2, 0.9]] * 2):
        table = tag_images(_images(rows), clip, VOCAB, "calibrated", templates=TEMPLATES)
        assert table["tags"].to_list() == [["desk"]] * len(rows)
        assert table["caption"].to_list() == ["A desk corner with a desk."] * len(rows)
        scores = table.select("score_bed", "score_lamp", "score_desk").to_numpy()
        assert (np.argsort(scores[0]) == [0, 1, 2]).all() and (scores < 1.0).all()


def test_tag_images_rejects_foreign_embeddings_and_unknown_method(hand_made_clip: type) -> None:
    clip = hand_made_clip({"a photo of a bed": [1, 0]})
    with pytest.raises(ValueError, match="re-embed"):
        tag_images(_images([[1, 0]], model="old"), clip, VOCAB[:1], "seed", templates=TEMPLATES)
    with pytest.raises(ValueError, match="unknown tagging method"):
        tag_images(_images([[1, 0]]), clip, VOCAB[:1], "magic", templates=TEMPLATES)


def test_all_methods_with_the_demo_model_and_shipped_vocabulary(demo_clip: ClipModel) -> None:
    vocabulary = load_vocabulary()
    assert 18 <= len(vocabulary) <= 25
    labels = {t.label for t in vocabulary}
    assert {"desk", "shower", "towel", "television"} <= labels
    rng = np.random.default_rng(0)
    matrix = rng.normal(size=(12, demo_clip.embed_dim)).astype(np.float32)
    images = _images(matrix.tolist(), model=demo_clip.model_id)
    table = tag_all_methods(images, demo_clip, vocabulary, templates=load_templates())
    assert table.height == 12 * len(METHODS)
    assert table["method"].unique(maintain_order=True).to_list() == list(METHODS)
    assert table.select(pl.col("tags").list.len().min()).item() >= 1
    assert table.schema["score_coffee_machine"] == pl.Float32
    calibrated = table.filter(pl.col("method") == "calibrated").select(pl.col("^score_.*$")).to_numpy()
    np.testing.assert_allclose(np.median(calibrated, axis=0), 0.0, atol=1e-5)
