from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.tagging.clusters import (
    agreement,
    cluster_tags,
    distinct_rows,
    elbow_k,
    fit_kmodes,
    purity,
)


def test_purity_and_agreement_by_hand() -> None:
    classes = np.array(["a", "a", "a", "b", "b", "c"])
    clusters = np.array([0, 0, 1, 1, 1, 1])
    # cluster 0: a, a -> 2; cluster 1: a, b, b, c -> 2
    assert purity(classes, clusters) == pytest.approx(4 / 6)
    perfect = agreement(classes, np.array([5, 5, 5, 7, 7, 9]))
    assert perfect == pytest.approx({"ari": 1.0, "nmi": 1.0, "purity": 1.0})
    one_cluster = agreement(classes, np.zeros(6, dtype=int))
    assert one_cluster["ari"] == pytest.approx(0.0) and one_cluster["purity"] == pytest.approx(0.5)


def test_elbow_is_where_the_cost_stops_falling() -> None:
    assert elbow_k([1, 2, 3, 4, 5, 6], [100, 60, 12, 10, 9, 8]) == 3
    assert elbow_k([1, 2], [10, 5]) == 2


def test_distinct_rows_matches_numpy_unique() -> None:
    matrix = np.random.default_rng(1).random((500, 20)) < 0.15
    mine = distinct_rows(matrix)
    reference = np.unique(matrix, axis=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(mine[0], reference[0])
    np.testing.assert_array_equal(mine[1], reference[1].ravel())
    np.testing.assert_array_equal(mine[2], reference[2])


def test_weighted_fit_recovers_two_groups() -> None:
    group_a = np.array([[1, 1, 0, 0, 0, 0]] * 40 + [[1, 1, 1, 0, 0, 0]] * 10)
    group_b = np.array([[0, 0, 0, 1, 1, 1]] * 30 + [[0, 0, 0, 1, 1, 0]] * 5)
    fit = fit_kmodes(np.vstack([group_a, group_b]), 2, seed=0)
    assert len(set(fit.labels[:50])) == 1 and len(set(fit.labels[50:])) == 1
    assert fit.labels[0] != fit.labels[-1]
    assert fit.cost == pytest.approx(10 + 5)  # one mismatching tag per minority row
    assert fit_kmodes(np.vstack([group_a, group_b]), 9, seed=0).k == 4  # capped at distinct rows


def test_cluster_tags_summary_is_deterministic() -> None:
    rng = np.random.default_rng(0)
    labels = ["bed", "lamp", "desk", "towel", "sink"]
    kinds = [["bed", "lamp"], ["towel", "sink"], ["desk", "lamp"]]
    rows = []
    for i in range(60):
        tags = list(kinds[i % 3]) + ([labels[rng.integers(5)]] if i % 4 == 0 else [])
        rows.append(
            {
                "image_id": i,
                "hotel_id": i % 4,
                "chain_id": i % 2,
                "tags": sorted(set(tags)),
                **{f"score_{lbl}": float(lbl in tags) for lbl in labels},
            }
        )
    tags_df = pl.DataFrame(rows)
    first = cluster_tags(tags_df, labels, k_range=range(1, 7), seed=3)
    again = cluster_tags(tags_df, labels, k_range=range(1, 7), seed=3)
    assert first.summary == again.summary
    assert first.assignments.equals(again.assignments)
    summary = first.summary
    assert summary["n_hotels"] == 4 and summary["n_chains"] == 2
    assert summary["elbow_k"] == 3  # three kinds of view
    assert summary["elbow"]["vs_hotel"]["ari"] < 0.2  # views, not hotels
    assert "k = 3" in summary["answer"] and "4 hotels and 2 chains" in summary["answer"]
    assert first.assignments.columns == [
        "image_id",
        "hotel_id",
        "chain_id",
        "cluster",
        "cluster_k_hotels",
        "cluster_k_chains",
    ]
    assert first.elbow_png.startswith(b"\x89PNG")
