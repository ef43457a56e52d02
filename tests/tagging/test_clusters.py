from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.tagging.clusters import (
    agreement,
    agreement_table,
    cluster_tags,
    cluster_verdicts,
    distinct_rows,
    elbow_k,
    fit_kmodes,
    match_answer,
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


def _three_views() -> tuple[pl.DataFrame, list[str]]:
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
    return pl.DataFrame(rows), labels


def test_cluster_tags_is_deterministic_and_follows_room_kinds_not_hotels() -> None:
    tags_df, labels = _three_views()
    kinds = pl.DataFrame({"image_id": list(range(60)), "room_kind": [("bedroom", "bathroom", "desk")[i % 3]
                                                                     for i in range(60)]})
    first = cluster_tags(tags_df, labels, k_range=range(1, 7), seed=3, room_kinds=kinds)
    again = cluster_tags(tags_df, labels, k_range=range(1, 7), seed=3, room_kinds=kinds)
    assert first.summary == again.summary
    assert first.assignments.equals(again.assignments)
    assert first.summary["elbow_k"] == 3  # three kinds of view
    assert first.assignments.columns == [
        "image_id", "hotel_id", "chain_id", "room_kind", "cluster", "cluster_k_hotels", "cluster_k_chains",
        "cluster_k_room_kinds",
    ]
    table = agreement_table(first.assignments.with_columns(pl.lit("seed").alias("method")))
    by = {(r["k_choice"], r["grouping"]): r["ari"] for r in table.iter_rows(named=True)}
    assert by[("room_kinds", "room kind")] > 0.6 and by[("hotels", "hotel")] < 0.2
    verdicts = {v.subject.split(" vs ")[1].split(" (")[0]: v.status for v in cluster_verdicts(table, "seed")}
    assert verdicts == {"hotels": "did not work", "chains": "did not work", "room kinds": "worked"}
    answer = match_answer(table, first.summary, "seed")
    assert "k = 3" in answer and "4 hotels, 2 chains, 3 room kinds" in answer and "room kinds (ARI" in answer
    assert first.elbow_png.startswith(b"\x89PNG")


def test_match_answer_names_each_grouping_k_equals() -> None:
    table = pl.DataFrame({"method": ["seed"] * 3, "k_choice": ["elbow"] * 3,
                          "grouping": ["hotel", "chain", "room kind"], "groups": [2, 1, 2]})
    answer = match_answer(table, {"elbow_k": 2, "photos": 9, "distinct_tag_sets": 5}, "seed")
    assert answer.startswith("The cost elbow of the `seed` tags is at k = 2; the sample has 2 hotels, 1 chain, "
                             "2 room kinds: k equals the number of hotels and room kinds. ")
