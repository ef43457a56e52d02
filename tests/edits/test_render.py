from __future__ import annotations

from dataclasses import replace

import numpy as np
import polars as pl
import pytest
from helpers_edits import FakeEditors
from PIL import Image

from hotelcap_pipeline.edits.render import EDIT_SCHEMA, SWEEP_DIR, before_after_grid, render_edits
from hotelcap_pipeline.edits.scores import EditRule
from hotelcap_pipeline.edits.series import EditSeries
from hotelcap_pipeline.edits.summary import edit_summary
from hotelcap_pipeline.outcomes import edit_series_problems


def series(name: str, mode: str = "img2img", **extra) -> EditSeries:
    return EditSeries(
        name=name,
        condition="time of day",
        prompt="hotel room at night",
        source_text="a room by day",
        target_text="a room at night",
        steps=4,
        strengths=(0.5, 1.0),
        mode=mode,
        **extra,
    )


def test_every_photo_and_series_gets_a_scored_row_and_a_file(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    all_series = [series("night"), series("lights_off", "controlnet"), series("petals", "instruct-pix2pix")]
    seen = []
    rows = render_edits(
        selection,
        root,
        all_series,
        counting,
        fake_clip,
        None,
        max_side=64,
        progress=lambda done, total, what: seen.append((done, total)),
    )
    assert rows.schema == EDIT_SCHEMA and rows.height == 9 and seen[-1] == (9, 9)
    assert rows["status"].to_list() == ["ok"] * 9 and not rows["reused"].any()
    assert counting.calls == 3 * 3 * 2  # one render per sweep candidate
    for row in rows.iter_rows(named=True):
        out = root / row["path"]
        assert row["path"] == f"edits/{row['edit']}/{row['image_id']}.png" and out.is_file()
        with Image.open(out) as im:
            assert im.size == (row["width"], row["height"]) and max(im.size) == 64
            assert row["width"] % 8 == 0 and row["height"] % 8 == 0
        assert [e["strength"] for e in row["sweep"]] == [0.5, 1.0]
        assert all(row[k] is not None for k in ("clip_image_sim", "directional", "ssim", "choice_reason"))
        assert row["strength"] in [e["strength"] for e in row["sweep"]]
        assert row["model"] == editors.model_for(row["mode"]) and row["clip_model"] == "fake-clip"
    petals = rows.filter(pl.col("mode") == "instruct-pix2pix")
    assert petals["image_guidance"].is_not_null().all()
    # The portrait photo keeps its aspect ratio.
    tall = rows.filter(pl.col("image_id") == 101).row(0, named=True)
    assert (tall["width"], tall["height"]) == (40, 64)


def test_second_run_renders_nothing_and_returns_the_same_rows(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    before = {p: p.stat().st_mtime_ns for p in (root / "edits").rglob("*.png")}
    second = render_edits(selection, root, [series("night")], counting, fake_clip, first, max_side=64)
    assert counting.calls == 0 and second["reused"].all()
    assert second.drop("reused").equals(first.drop("reused"))
    assert {p: p.stat().st_mtime_ns for p in (root / "edits").rglob("*.png")} == before


def test_a_damaged_final_edit_is_not_reused(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    damaged = root / first["path"][0]
    damaged.write_bytes(b"not a png")
    again = render_edits(selection, root, [series("night")], counting, fake_clip, first, max_side=64)
    assert again["status"].to_list() == ["ok"] * 3
    with Image.open(damaged) as im:  # written again from the sweep's stored candidates, whole
        im.load()
    assert counting.calls == 0


def test_lost_table_is_rebuilt_from_the_sweep_cache_without_rendering(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    again = render_edits(selection, root, [series("night")], counting, fake_clip, None, max_side=64)
    assert counting.calls == 0 and again["reused"].all()
    assert again["clip_image_sim"].to_list() == pytest.approx(first["clip_image_sim"].to_list())


def test_changed_settings_render_again_a_new_threshold_only_rescores(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    reseeded = render_edits(selection, root, [series("night", seed=7)], counting, fake_clip, first, max_side=64)
    assert counting.calls == 3 * 2 and not reseeded["reused"].any()
    assert set(reseeded["cache_key"]).isdisjoint(first["cache_key"])
    # Stricter threshold: a new choice, but every candidate comes from the cache.
    counting.calls = 0
    stricter = render_edits(
        selection, root, [series("night", preserve_threshold=0.999)], counting, fake_clip, first, max_side=64
    )
    assert counting.calls == 0 and (stricter["strength"] == 0.5).all()


def test_new_texts_rescore_from_the_cache_and_a_new_wording_is_shown(photo_store, editors, counting, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    # The directional score is measured against the text pair: new texts, new scores, no new renders.
    retexted = render_edits(selection, root, [replace(series("night"), target_text="a room lit by lamps at night")],
                            counting, fake_clip, first, max_side=64)
    assert counting.calls == 0 and set(retexted["cache_key"]).isdisjoint(first["cache_key"])
    assert retexted["directional"].to_list() != pytest.approx(first["directional"].to_list())
    # Only the wording changed: the rows are reused and say today's condition.
    reworded = replace(series("night"), condition="dark outside")
    again = render_edits(selection, root, [reworded], counting, fake_clip, first, max_side=64)
    assert again["reused"].all() and set(again["condition"]) == {"dark outside"}


def test_same_inputs_same_pixels_across_stores(photo_store, editors, fake_clip, tmp_path_factory):
    root, selection = photo_store
    other = tmp_path_factory.mktemp("other")
    for rel in selection["path"]:
        (other / rel).parent.mkdir(parents=True, exist_ok=True)
        (other / rel).write_bytes((root / rel).read_bytes())
    a = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    b = render_edits(selection, other, [series("night")], editors, fake_clip, None, max_side=64)
    for rel in a["path"]:
        assert np.array_equal(np.asarray(Image.open(root / rel)), np.asarray(Image.open(other / rel)))
    assert a["cache_key"].to_list() == b["cache_key"].to_list()


def test_a_bad_photo_fails_alone(photo_store, editors, fake_clip):
    root, selection = photo_store
    (root / selection["path"][1]).write_bytes(b"not a jpeg")
    rows = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    assert rows["status"].to_list() == ["ok", "failed", "ok"]
    failed = rows.row(1, named=True)
    assert selection["path"][1] in failed["error"] and failed["path"] is None


@pytest.mark.parametrize("rule", [None, EditRule(-1, -1, -1)])
def test_an_edit_black_at_every_strength_is_a_failed_row_that_the_checks_count(photo_store, fake_clip, rule):
    root, selection = photo_store
    rows = render_edits(selection, root, [series("night")], FakeEditors(black=True), fake_clip, None,
                        rules={"night": rule}, max_side=64)
    assert rows["status"].to_list() == ["failed"] * 3
    error = rows["error"][0]
    assert selection["path"][0] in error and "black or NaN at every strength (0.5, 1)" in error
    assert "HOTELCAP_PRECISION=fp32" in error
    assert edit_series_problems(rows) == [f"edit series night: no successful edit of 3 ({error})"]
    assert edit_summary(rows)["ok"].to_list() == [0]


@pytest.mark.parametrize("with_table", [True, False])
def test_black_candidates_are_rendered_again_on_the_next_run(photo_store, fake_clip, with_table):
    root, selection = photo_store
    black = FakeEditors(black=True)
    first = render_edits(selection, root, [series("night")], black, fake_clip, None, max_side=64)
    assert black.calls == 6 and first["status"].to_list() == ["failed"] * 3
    fixed = FakeEditors()  # e.g. the same model after HOTELCAP_PRECISION=fp32
    again = render_edits(selection, root, [series("night")], fixed, fake_clip, first if with_table else None,
                         max_side=64)
    assert fixed.calls == 6 and again["status"].to_list() == ["ok"] * 3
    assert again["nan_or_black"].to_list() == [False] * 3 and not any(again["reused"])


def test_an_ok_row_with_a_black_candidate_renders_that_candidate_again(photo_store, fake_clip):
    root, selection = photo_store
    first = render_edits(selection, root, [series("night")], FakeEditors(black_at=(1.0,)), fake_clip, None,
                         max_side=64)
    assert first["status"].to_list() == ["ok"] * 3 and first["strength"].to_list() == [0.5] * 3
    fixed = FakeEditors()
    again = render_edits(selection, root, [series("night")], fixed, fake_clip, first, max_side=64)
    assert fixed.calls == 3  # only the black 1.0 candidates; the 0.5 ones come from the sweep cache
    assert not any(e["nan_or_black"] for sweep in again["sweep"].to_list() for e in sweep)


def test_a_photo_whose_tags_lack_what_the_series_changes_is_skipped_with_the_reason(photo_store, editors, fake_clip):
    root, selection = photo_store
    tagged = selection.with_columns(pl.Series("tags", [["bed", "lamp"], ["sink"], None]))
    petals = series("petals", world_condition="rose_petals")
    rows = render_edits(tagged, root, [petals, series("lights", world_condition="lights_off")], editors, fake_clip,
                        None, max_side=64)
    # The bathroom photo gets no petals; a photo without tags, and a condition every room shows, are edited.
    assert rows.filter(pl.col("edit") == "petals")["status"].to_list() == ["ok", "skipped", "ok"]
    assert rows.filter(pl.col("edit") == "petals")["error"][1] == (
        "the photo's tags show no bed, which this series changes")
    assert rows.filter(pl.col("edit") == "lights")["status"].to_list() == ["ok"] * 3


def test_sweep_candidates_live_in_the_cache_folder(photo_store, editors, fake_clip):
    root, selection = photo_store
    render_edits(selection[:1], root, [series("night")], editors, fake_clip, None, max_side=64)
    assert len(list((root / "edits" / SWEEP_DIR / "night" / "100").glob("*.png"))) == 2
    assert sorted(p.name for p in (root / "edits" / "night").iterdir()) == ["100.png"]


def test_before_after_grid(photo_store, editors, fake_clip):
    root, selection = photo_store
    rows = render_edits(selection, root, [series("night")], editors, fake_clip, None, max_side=64)
    grid = before_after_grid(rows, root, "night", box=100)
    assert grid.size == (200, 3 * (100 + 28))
    with pytest.raises(ValueError, match="no rendered edit"):
        before_after_grid(rows, root, "snow")
    # A verdict of a rule that failed validation is not shown as a judgement.
    accepted = rows.with_columns(pl.lit(True).alias("accepted"))
    assert np.asarray(before_after_grid(accepted, root, "night", box=128, rule_validated=False)).tobytes() != \
        np.asarray(before_after_grid(accepted, root, "night", box=128)).tobytes()
    from hotelcap_pipeline.edits.render import _mark

    assert [_mark(True, False), _mark(False, False), _mark(None, False), _mark(True, True)] == [
        "passes an unvalidated rule", "fails an unvalidated rule", "not validated", "accepted"]


def test_scores_with_the_real_demo_clip(photo_store, editors):
    from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL
    from hotelcap_pipeline.tagging.clip_model import load_clip

    clip = load_clip(DEMO_CLIP_MODEL, str(DEMO_CLIP_CHECKPOINT), "cpu")
    root, selection = photo_store
    rows = render_edits(selection[:1], root, [series("night")], editors, clip, None, max_side=64)
    row = rows.row(0, named=True)
    assert row["clip_model"] == clip.model_id and -1.0 <= row["directional"] <= 1.0
    assert all(-1.0 <= e["clip_image_sim"] <= 1.0 + 1e-6 for e in row["sweep"])
