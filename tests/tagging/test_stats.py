from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.tagging.stats import (
    cooccurrence,
    cooccurrence_figure,
    tag_frequency_figure,
    tag_matrix,
    tag_statistics,
    top1_and_gap,
)


def _tags() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "image_id": [1, 2, 3, 4],
            "hotel_id": [10, 10, 20, 30],
            "chain_id": [0, 0, 1, 1],
            "method": ["seed"] * 4,
            "tags": [["bed", "lamp"], ["bed"], ["desk", "lamp", "bed"], []],
            "score_bed": [0.30, 0.26, 0.27, 0.10],
            "score_lamp": [0.28, 0.20, 0.26, 0.12],
            "score_desk": [0.10, 0.22, 0.29, 0.11],
        }
    )


def test_statistics_by_hand() -> None:
    stats = tag_statistics(_tags(), {"seed": "cosine"}).row(0, named=True)
    assert stats["method"] == "seed" and stats["score_kind"] == "cosine"
    assert stats["photos"] == 4 and stats["hotels"] == 3
    assert stats["mean_tags_per_photo"] == pytest.approx((2 + 1 + 3 + 0) / 4)
    assert stats["mean_top1_score"] == pytest.approx((0.30 + 0.26 + 0.29 + 0.12) / 4)
    # Fewer than 10 tags: the gap runs to the last one.
    assert stats["mean_gap_1st_10th"] == pytest.approx((0.20 + 0.06 + 0.03 + 0.02) / 4)
    # distinct tags per hotel: 10 -> {bed, lamp} = 2, 20 -> 3, 30 -> 0
    assert stats["mean_distinct_tags_per_hotel"] == pytest.approx(5 / 3)
    assert (stats["max_distinct_tags_per_hotel"], stats["min_distinct_tags_per_hotel"]) == (3, 0)


def test_original_row_and_several_methods() -> None:
    both = pl.concat([_tags(), _tags().with_columns(pl.lit("ensemble").alias("method"))])
    table = tag_statistics(both)
    assert table["method"].to_list() == ["seed", "ensemble", "original study"]
    assert table.row(2, named=True)["mean_tags_per_photo"] == 2.16
    assert table.row(0, named=True)["mean_tags_per_photo"] == table.row(1, named=True)["mean_tags_per_photo"]


def test_gap_uses_the_tenth_tag() -> None:
    scores = np.array([np.arange(12, dtype=float)[::-1] / 10])  # 1.1, 1.0, ..., 0.0
    top1, gap = top1_and_gap(scores)
    assert top1[0] == pytest.approx(1.1) and gap[0] == pytest.approx(1.1 - 0.2)


def test_cooccurrence_is_conditional_share() -> None:
    matrix = tag_matrix(_tags(), ["bed", "lamp", "desk"])
    conditional = cooccurrence(matrix)
    assert conditional[0].tolist() == pytest.approx([1.0, 2 / 3, 1 / 3])  # of 3 bed photos
    assert conditional[2].tolist() == pytest.approx([1.0, 1.0, 1.0])


def test_figures_are_png_and_carry_their_caption() -> None:
    from hotelcap_pipeline.figures import png_caption

    assert tag_frequency_figure(_tags()).startswith(b"\x89PNG")
    heatmap = cooccurrence_figure(_tags(), "seed")
    assert heatmap.startswith(b"\x89PNG")
    assert (png_caption(heatmap) or "").startswith("Co-occurrence of the `seed` tags: row i, column j")
