"""Tag and caption metrics against known truth, on cases small enough to check by hand."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.criteria import auc_interval
from hotelcap_pipeline.defs.failures import EXPECTED_ERRORS
from hotelcap_pipeline.tagging.captions import caption_room, caption_tags, make_caption
from hotelcap_pipeline.tagging.evaluation import (
    ALL,
    CAPTION_ROW,
    HELD_OUT,
    LABELLED,
    evaluate_tags,
    evaluation_summary,
    fit_f1_threshold,
    held_out_mask,
    precision_recall_f1,
    ranking_scores,
)
from hotelcap_pipeline.tagging.labels import read_labels
from hotelcap_pipeline.yaml_input import InputFileError


def test_precision_recall_f1_by_hand() -> None:
    # truth 1 1 0 0, given 1 0 1 0: tp 1, fp 1, fn 1
    assert precision_recall_f1([1, 1, 0, 0], [1, 0, 1, 0]) == (0.5, 0.5, 0.5)
    assert precision_recall_f1([1, 1, 0], [0, 0, 0]) == (0.0, 0.0, 0.0)  # nothing given: found nothing
    p, r, f = precision_recall_f1([0, 0], [0, 0])  # no positives, none given: undefined
    assert math.isnan(p) and math.isnan(r) and math.isnan(f)


def test_auc_and_average_precision_by_hand() -> None:
    # Positives score .9 and .4, negatives .5 and .1: 3 of the 4 (pos, neg) pairs are ordered right.
    ap, auc = ranking_scores(np.array([1, 1, 0, 0]), np.array([0.9, 0.4, 0.5, 0.1]))
    assert auc == pytest.approx(0.75)
    assert ap == pytest.approx((1 / 1 + 2 / 3) / 2)  # precision at each positive, averaged
    assert all(math.isnan(v) for v in ranking_scores(np.array([1, 1]), np.array([0.1, 0.2])))


def test_fitted_threshold_separates_when_it_can() -> None:
    assert fit_f1_threshold(np.array([1, 1, 0, 0]), np.array([0.9, 0.6, 0.5, 0.1])) == pytest.approx(0.55)
    assert fit_f1_threshold(np.array([0, 0]), np.array([0.9, 0.6])) == float("inf")


def test_held_out_half_is_seeded_and_independent_of_row_order() -> None:
    ids = list(range(100, 120))
    mask = held_out_mask(ids, seed=3)
    assert mask.sum() == 10
    again = held_out_mask(ids[::-1], seed=3)
    assert set(np.array(ids)[mask]) == set(np.array(ids[::-1])[again])
    assert set(np.array(ids)[held_out_mask(ids, seed=4)]) != set(np.array(ids)[mask])


def _tags_table(n: int = 40) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Two tags; 'bed' scores separate present from absent perfectly, 'lamp' scores are the reverse."""
    rng = np.random.default_rng(0)
    has_bed = np.arange(n) % 2 == 0
    has_lamp = np.arange(n) % 4 == 0
    bed = np.where(has_bed, 0.3, 0.1) + rng.uniform(0, 0.05, n)
    lamp = np.where(has_lamp, 0.1, 0.3) + rng.uniform(0, 0.05, n)
    rows = []
    for method in ("seed", "ensemble"):
        for i in range(n):
            given = [t for t, s in (("bed", bed[i]), ("lamp", lamp[i])) if s > 0.25]
            rows.append({"image_id": i, "hotel_id": 1, "chain_id": 1, "method": method, "tags": given,
                         "caption": make_caption(given), "score_bed": bed[i], "score_lamp": lamp[i]})
    labels = pl.DataFrame(
        {"image_id": list(range(n)),
         "tags": [[t for t, h in (("bed", has_bed[i]), ("lamp", has_lamp[i])) if h] for i in range(n)],
         "room_kind": ["bedroom"] * n, "conditions": [[] for _ in range(n)]},
        schema={"image_id": pl.Int64, "tags": pl.List(pl.Utf8), "room_kind": pl.Utf8, "conditions": pl.List(pl.Utf8)},
    )
    return pl.DataFrame(rows), labels


def test_evaluate_tags_measures_each_tag_and_the_labelled_method() -> None:
    tags, labels = _tags_table()
    table = evaluate_tags(tags, labels, ["bed", "lamp"], seed=0)
    row = {(r["method"], r["split"], r["tag"]): r for r in table.iter_rows(named=True)}
    bed = row[("seed", ALL, "bed")]
    assert bed["auc"] == 1.0 and bed["average_precision"] == 1.0 and bed["f1"] == 1.0
    assert (bed["auc_low"], bed["auc_high"]) == auc_interval(1.0, 20, 20)
    assert (bed["n_present"], bed["n_absent"], bed["photos"]) == (20, 20, 40)
    lamp = row[("seed", ALL, "lamp")]
    assert lamp["auc"] == 0.0  # the score ranks every lamp photo last
    assert (lamp["n_present"], lamp["n_absent"]) == (10, 30)
    # Labelled: fitted on the other half; bed stays perfect on the held-out half.
    labelled_bed = row[(LABELLED, HELD_OUT, "bed")]
    assert labelled_bed["photos"] == 20 and labelled_bed["f1"] == 1.0 and 0.1 < labelled_bed["threshold"] < 0.3
    caption = row[("seed", ALL, CAPTION_ROW)]
    # Photos without a bed tag are captioned "a room", so half the room words are wrong.
    assert caption["n_present"] == 40 and 0 < caption["f1"] < 1 and caption["accuracy"] == 0.5
    assert caption["room_photos"] == 40
    # Room kinds known for half the photos (the bed photos): the room word is judged on those 20 only.
    half = labels.with_columns(pl.when(pl.col("image_id") % 2 == 0).then(pl.col("room_kind")).alias("room_kind"))
    partial = evaluate_tags(tags, half, ["bed", "lamp"], seed=0).filter(
        (pl.col("method") == "seed") & (pl.col("split") == ALL) & (pl.col("tag") == CAPTION_ROW)
    ).row(0, named=True)
    assert partial["room_photos"] == 20 and partial["accuracy"] == 1.0
    held_even = sum(i % 2 == 0 for i in np.flatnonzero(held_out_mask(list(range(40)), 0)))
    assert evaluation_summary(evaluate_tags(tags, half, ["bed", "lamp"], seed=0)).filter(
        pl.col("method") == "seed"
    )["caption_room_photos"].to_list() == [20, held_even]  # all labelled photos, then the held-out half
    summary = {(r["method"], r["split"]): r for r in evaluation_summary(table).iter_rows(named=True)}
    assert summary[("seed", ALL)]["median_auc"] == pytest.approx(0.5)  # median of 1.0 and 0.0
    assert summary[("seed", ALL)]["tags_measured"] == 2
    assert (LABELLED, HELD_OUT) in summary and (LABELLED, ALL) not in summary


def test_macro_averages_count_a_tag_given_but_never_present() -> None:
    """A word no photo shows but a method gives everywhere is all wrong: it lowers macro precision and F1."""
    tags, labels = _tags_table()
    # balcony, minibar: given to every photo, shown on none; desk: shown on every fifth photo, never given.
    tags = tags.with_columns(pl.col("tags").list.concat(pl.lit(["balcony", "minibar"])), score_balcony=pl.lit(0.3),
                             score_minibar=pl.lit(0.3), score_desk=pl.lit(0.0))
    labels = labels.with_columns(
        pl.when(pl.col("image_id") % 5 == 0).then(pl.col("tags").list.concat(pl.lit(["desk"])))
        .otherwise(pl.col("tags")).alias("tags"))
    table = evaluate_tags(tags, labels, ["bed", "lamp", "balcony", "minibar", "desk"], seed=0)
    seed_rows = table.filter((pl.col("method") == "seed") & (pl.col("split") == ALL))
    row = {r["tag"]: r for r in seed_rows.iter_rows(named=True)}
    assert [(row[t]["n_given"], row[t]["n_present"]) for t in ("bed", "lamp", "balcony", "minibar", "desk")] == [
        (20, 20), (30, 10), (40, 0), (40, 0), (0, 8)]
    seed = evaluation_summary(table).filter((pl.col("method") == "seed") & (pl.col("split") == ALL)).row(0, named=True)
    # Precision over the tags given (bed 1, lamp, balcony, minibar 0), recall over those present (bed 1, lamp,
    # desk 0), F1 over both (bed 1, the other four 0).
    assert seed["macro_precision"] == pytest.approx(1 / 4)
    assert seed["macro_recall"] == pytest.approx(1 / 3)
    assert seed["macro_f1"] == pytest.approx(1 / 5)
    # The labelled method never gives balcony or minibar (no photo to fit them on): neither given nor present,
    # they are left out.
    held = table.filter((pl.col("method") == LABELLED) & (pl.col("tag") != CAPTION_ROW))
    unseen = pl.col("tag").is_in(["balcony", "minibar"])
    assert held.filter(unseen).select("n_given", "n_present").rows() == [(0, 0), (0, 0)]
    labelled = evaluation_summary(table).filter(pl.col("method") == LABELLED)
    assert labelled["macro_f1"][0] == pytest.approx(held.filter(~unseen)["f1"].mean())


def test_evaluate_tags_refuses_labels_of_another_collection() -> None:
    tags, labels = _tags_table()
    with pytest.raises(InputFileError, match=r"labels file \(HOTELCAP_LABELS\) belongs to another collection"):
        evaluate_tags(tags, labels.with_columns(pl.col("image_id") + 1000), ["bed", "lamp"])


def test_read_labels_names_file_and_line(tmp_path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("image_id,tags,room_kind\n1,bed;lamp,bedroom\n2,,lobby\n", encoding="utf-8")
    table = read_labels(path, ["bed", "lamp"])
    assert table["tags"].to_list() == [["bed", "lamp"], []] and table["room_kind"].to_list() == ["bedroom", "lobby"]
    path.write_text("image_id,tags\n1,bed\n2,spaceship\n", encoding="utf-8")
    unknown = r"labels.csv, line 3: spaceship not in the vocabulary .*; label with those words, or add the word to "
    with pytest.raises(ValueError, match=unknown + r"assets/vocabulary.yaml"):
        read_labels(path, ["bed", "lamp"])
    path.write_text("image_id,tags\n1,bed\n1,lamp\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 3: image_id 1 is labelled twice"):
        read_labels(path, ["bed", "lamp"])


def test_read_labels_takes_spreadsheet_headers_and_spacing(tmp_path) -> None:
    """Excel's "CSV UTF-8" (a byte order mark), headers with spaces or capitals, doubled spaces in a tag."""
    path = tmp_path / "labels.csv"
    expected = [["coffee machine", "bed"], ["lamp"]]
    for header in ("image_id,tags", "image_id, tags", "Image_ID,Tags", " Image ID ,TAGS"):
        path.write_bytes(f"{header}\r\n1,coffee  machine; Bed\r\n2,lamp\r\n".encode("utf-8-sig"))
        table = read_labels(path, ["bed", "lamp", "coffee machine"])
        assert table["image_id"].to_list() == [1, 2] and table["tags"].to_list() == expected, header


def test_room_kinds_are_one_kind_however_spelled(tmp_path) -> None:
    """Bedroom, desk corner (as the docs write it) and Desk_Corner are the world's kinds; the captions that
    name them count as right, and a kind no caption can name is refused where it is written."""
    path = tmp_path / "labels.csv"
    rows = ["1,bed,Bedroom", "2,desk,desk corner", "3,desk,Desk_Corner", "4,sink, BATHROOM ", "5,sofa,lobby", "6,,"]
    path.write_text("image_id,tags,room_kind\n" + "\n".join(rows) + "\n", encoding="utf-8")
    words = ["bed", "desk", "sink", "sofa"]
    labels = read_labels(path, words)
    assert labels["room_kind"].to_list() == ["bedroom", "desk_corner", "desk_corner", "bathroom", "lobby", None]
    given = [["bed"], ["desk"], ["desk"], ["sink"], ["sofa"], []]
    tags = pl.DataFrame(
        [{"image_id": i, "hotel_id": 1, "chain_id": 1, "method": "seed", "tags": t, "caption": make_caption(t),
          **{f"score_{w}": float(w in t) for w in words}} for i, t in enumerate(given, start=1)]
    )
    caption = evaluate_tags(tags, labels, words).filter(
        (pl.col("method") == "seed") & (pl.col("split") == ALL) & (pl.col("tag") == CAPTION_ROW)
    ).row(0, named=True)
    assert caption["accuracy"] == 1.0 and caption["room_photos"] == 5
    # A table built without read_labels is read the same way.
    spelled = labels.with_columns(pl.Series("room_kind", ["Bedroom", "desk corner", "Desk_Corner", "bathroom",
                                                          "Lobby", None]))
    assert evaluate_tags(tags, spelled, words).filter(pl.col("tag") == CAPTION_ROW)["accuracy"].to_list()[0] == 1.0
    path.write_text("image_id,tags,room_kind\n1,bed,bedroom\n2,,kitchen\n", encoding="utf-8")
    with pytest.raises(InputFileError, match=r"labels.csv, line 3: room_kind 'kitchen' is not one of bedroom, "
                       r"bathroom, desk corner, lobby .*leave it empty") as caught:
        read_labels(path, ["bed"])
    assert "\n" not in str(caught.value)


def test_read_labels_missing_file_says_what_to_set(tmp_path) -> None:
    # One line without a traceback (an expected input error), naming the setting to fix.
    with pytest.raises(InputFileError, match=r"nope.csv: cannot read the labels file \(No such file or directory\); "
                       "HOTELCAP_LABELS names it") as caught:
        read_labels(tmp_path / "nope.csv", ["bed"])
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
    assert "InputFileError" in EXPECTED_ERRORS


def test_captions_in_basic_words_and_read_back() -> None:
    assert make_caption(["bed", "pillow", "lamp"]) == "A bedroom with a bed, a pillow and a lamp."
    assert make_caption(["sink", "towel"]) == "A bathroom with a sink and a towel."
    assert make_caption(["desk", "coffee machine", "curtains"]) == (
        "A desk corner with a desk, a coffee machine and curtains."
    )
    assert make_caption([]) == "A room."
    # The best-scored object that marks a room names it, wherever that room comes in ROOM_WORDS.
    assert make_caption(["bed", "sink", "lamp"]).startswith("A bedroom with")
    assert make_caption(["sink", "bed", "lamp"]).startswith("A bathroom with")
    assert make_caption(["lamp", "towel"]) == "A room with a lamp and a towel."
    labels = ["bed", "desk", "coffee machine", "curtains", "lamp"]
    caption = make_caption(["desk", "coffee machine", "lamp"])
    assert caption_tags(caption, labels) == ["desk", "coffee machine", "lamp"]
    assert caption_room(caption) == "desk corner"
    long = make_caption(["bed", "lamp", "desk", "curtains", "coffee machine", "window"])
    assert len(caption_tags(long, [*labels, "window"])) == 5  # at most five objects: a short sentence
