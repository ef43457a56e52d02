from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.edits.selection import select_diverse


def table(vectors, hotels, ids=None) -> pl.DataFrame:
    ids = ids or list(range(len(vectors)))
    return pl.DataFrame(
        {
            "image_id": ids,
            "hotel_id": hotels,
            "chain_id": [h // 10 for h in hotels],
            "embedding": [list(map(float, v)) for v in vectors],
        },
        schema_overrides={"embedding": pl.List(pl.Float32)},
    )


def angles(degrees) -> list[list[float]]:
    return [[np.cos(np.radians(d)), np.sin(np.radians(d)), 0.0] for d in degrees]


def test_farthest_point_order_on_hand_made_points():
    # Three clumps on a half circle, one hotel each photo.
    frame = table(angles([0, 2, 4, 90, 92, 180]), [1, 2, 3, 4, 5, 6])
    got = select_diverse(frame, None, 3, seed=0)
    first = got["image_id"][0]
    clumps = {0: "a", 1: "a", 2: "a", 3: "b", 4: "b", 5: "c"}
    assert {clumps[i] for i in got["image_id"]} == {"a", "b", "c"}  # one photo of each clump
    assert got["rank"].to_list() == [1, 2, 3] and got["min_distance"][0] is None
    assert got["min_distance"][1] >= got["min_distance"][2] > 0.5
    assert first in got["image_id"].to_list()


def test_prefers_a_new_hotel_while_one_is_left():
    # Hotel 1 has the two most different photos; hotel 2's photo is close to one of them.
    frame = table(angles([0, 180, 10]), [1, 1, 2])
    for seed in range(6):  # whichever photo the seed starts from
        assert select_diverse(frame, None, 2, seed=seed)["hotel_id"].n_unique() == 2
    # Once every hotel is used, distance alone decides.
    all_three = select_diverse(frame, None, 3, seed=0)
    assert sorted(all_three["image_id"]) == [0, 1, 2] and all_three["new_hotel"].to_list()[-1] is False


def test_duplicate_photos_are_at_distance_about_zero_never_below():
    rng = np.random.default_rng(3)
    for _ in range(50):  # unit vectors whose cosine with themselves rounds to just above 1 now and then
        v = rng.normal(size=16)
        v /= np.linalg.norm(v)
        got = select_diverse(table([v, v], [1, 2]), None, 2, seed=0)
        assert 0.0 <= got["min_distance"][1] < 1e-6


def test_deterministic_for_a_seed_whatever_the_row_order():
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(40, 8))
    frame = table(vectors, list(rng.integers(0, 12, 40)))
    a = select_diverse(frame, None, 8, seed=3)
    b = select_diverse(frame.sample(fraction=1.0, shuffle=True, seed=9), None, 8, seed=3)
    assert a.equals(b)
    assert a["hotel_id"].n_unique() == 8  # 12 hotels available: all picks from different hotels
    others = [select_diverse(frame, None, 8, seed=s)["image_id"].to_list() for s in range(5)]
    assert len({tuple(o) for o in others}) > 1  # the seed picks the start


def test_reasons_carry_tags_and_extra_columns_pass_through():
    frame = table(angles([0, 90, 180]), [1, 2, 3]).with_columns(pl.lit("x").alias("sha256"))
    tags = pl.DataFrame({"image_id": [0, 1], "tags": [["bed", "lamp"], ["window"]], "score_bed": [0.3, 0.1]})
    got = select_diverse(frame, tags, 5, seed=1)
    assert got.height == 3 and "embedding" not in got.columns and "sha256" in got.columns
    by_id = {r["image_id"]: r for r in got.iter_rows(named=True)}
    assert by_id[0]["reason"].startswith("tags: bed, lamp") and by_id[0]["tags"] == ["bed", "lamp"]
    assert by_id[2]["reason"].startswith("no tags")
    with_method = select_diverse(frame, tags, 5, seed=1, tags_method="seed")
    named = {r["image_id"]: r["reason"] for r in with_method.iter_rows(named=True)}
    assert named[0].startswith("tags (seed): bed, lamp") and named[2].startswith("no tags (seed)")


def test_bad_input_is_refused():
    frame = table(angles([0, 90]), [1, 2], ids=[5, 5])
    with pytest.raises(ValueError, match="repeat image_id"):
        select_diverse(frame, None, 2, seed=0)
    with pytest.raises(ValueError, match="k must"):
        select_diverse(table(angles([0]), [1]), None, 0, seed=0)
    with pytest.raises(ValueError, match="lack columns"):
        select_diverse(pl.DataFrame({"image_id": [1]}), None, 1, seed=0)
    assert select_diverse(table(angles([0]), [1]).clear(), None, 3, seed=0).height == 0
    with pytest.raises(ValueError, match="subject_share"):
        select_diverse(table(angles([0]), [1]), None, 1, seed=0, subject_share=1.5)


def test_each_subject_gets_its_share_of_the_picks():
    # Ten photos around a circle; only two show a bed, both close to photos without one, so diversity alone
    # would take at most one of them.
    degrees = [0, 36, 72, 108, 144, 180, 216, 252, 288, 324]
    frame = table(angles(degrees), list(range(10)))
    tag_lists = [["lamp"]] * 10
    tag_lists[1], tag_lists[2] = ["bed", "lamp"], ["bed"]
    tags = pl.DataFrame({"image_id": list(range(10)), "tags": tag_lists})
    plain = select_diverse(frame, tags, 4, seed=0)
    covered = select_diverse(frame, tags, 4, seed=0, subjects=[("bed",)])
    assert sum("bed" in t for t in plain["tags"]) < 2
    assert sum("bed" in t for t in covered["tags"]) == 2  # ceil(0.5 * 4) = 2 wanted, two exist
    reasons = dict(zip(covered["image_id"], covered["reason"], strict=True))
    assert "among the photos showing a bed" in reasons[1] and "among the photos showing a bed" in reasons[2]
    assert not any("among" in r for i, r in reasons.items() if i not in (1, 2))
    # A share of 0 is diversity alone; a subject no photo shows changes nothing.
    assert select_diverse(frame, tags, 4, seed=0, subjects=[("bed",)], subject_share=0).equals(plain)
    assert select_diverse(frame, tags, 4, seed=0, subjects=[("swan",)]).equals(plain)


def test_one_photo_can_fill_two_subjects_and_alternatives_count():
    frame = table(angles([0, 60, 120, 180, 240, 300]), [1, 2, 3, 4, 5, 6])
    tags = pl.DataFrame({
        "image_id": list(range(6)),
        "tags": [["bed", "window"], ["sofa"], ["lamp"], ["window"], ["bed"], ["desk"]],
    })
    got = select_diverse(frame, tags, 2, seed=5, subjects=[("bed",), ("window",)], subject_share=0.5)
    shown = [set(t) for t in got["tags"]]
    assert any("bed" in t for t in shown) and any("window" in t for t in shown)
    # ("bed", "sofa"): a photo with a sofa fills it as well as one with a bed.
    either = select_diverse(frame, tags, 3, seed=0, subjects=[("bed", "sofa")], subject_share=1.0)
    assert all({"bed", "sofa"} & set(t) for t in either["tags"])


def test_a_quota_comes_before_a_new_hotel_and_the_reason_says_so():
    # Both bed photos are hotel 1's (near-identical); hotels 2 and 3 have none. The bed quota (2 of 3)
    # takes the second bed photo from hotel 1 although two hotels are left, and says why.
    frame = table(angles([0, 1, 120, 240]), [1, 1, 2, 3])
    tags = pl.DataFrame({"image_id": [0, 1, 2, 3], "tags": [["bed"], ["bed"], ["lamp"], ["sofa"]]})
    got = select_diverse(frame, tags, 3, seed=0, subjects=[("bed",)], subject_share=0.5)
    assert got["image_id"].to_list()[:2] in ([0, 1], [1, 0])
    second = got.row(1, named=True)
    assert second["new_hotel"] is False
    assert "from a hotel already picked, as no photo of another hotel shows the object wanted" in second["reason"]
    third = got.row(2, named=True)  # the quota is full: diversity and new hotels again
    assert third["new_hotel"] is True and "from a hotel not yet picked" in third["reason"]
