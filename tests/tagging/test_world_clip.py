"""The demo's shipped CLIP, trained on the synthetic world: its record, and that it sees what it tags."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from hotelcap_pipeline.demo import train_clip
from hotelcap_pipeline.demo.train_clip import DAY, NIGHT, evaluate, held_out_photos
from hotelcap_pipeline.edits.series import load_series
from hotelcap_pipeline.models import clip_weights
from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL, load_settings
from hotelcap_pipeline.tagging.clip_model import ClipModel, file_sha256
from hotelcap_pipeline.world import CONDITIONS, fit_to_layout, render, truth


def test_checkpoint_matches_its_record(demo_checkpoint: Path) -> None:
    record = json.loads(demo_checkpoint.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["sha256"] == file_sha256(demo_checkpoint)
    assert record["bytes"] == demo_checkpoint.stat().st_size <= 10_500_000
    assert record["model"] == DEMO_CLIP_MODEL and record["command"].startswith("python -m hotelcap_pipeline.demo")
    assert not record["train"]["stopped_early"]
    assert record["held_out"]["methods"]["seed"]["median_auc"] >= 0.9


def test_demo_profile_loads_the_shipped_checkpoint() -> None:
    settings = load_settings({"HOTELCAP_PROFILE": "demo"})
    assert settings.clip_model == DEMO_CLIP_MODEL
    assert clip_weights(settings) == str(DEMO_CLIP_CHECKPOINT)


def test_missing_checkpoint_names_the_training_command(tmp_path: Path) -> None:
    settings = load_settings({"HOTELCAP_PROFILE": "demo", "HOTELCAP_CLIP_PRETRAINED": str(tmp_path / "gone.pt")})
    with pytest.raises(FileNotFoundError, match=r"python -m hotelcap_pipeline\.demo\.train_clip"):
        clip_weights(settings)


def test_held_out_seed_tags_rank_photos_that_show_them_first(demo_clip: ClipModel) -> None:
    # A smaller sample than the training record's 300 photos, so a little slack on the 0.9 target.
    photos = held_out_photos(60, seed=11)
    seed = evaluate(demo_clip, photos, methods=("seed",))["seed"]
    assert len(seed["auc"]) >= 12  # tags with photos that show them and photos that do not
    assert seed["median_auc"] >= 0.85


def test_a_bed_scores_above_the_same_room_without_it(demo_clip: ClipModel) -> None:
    text = demo_clip.encode_texts(["a photo of a bed"])[0]
    bedrooms = [p for p in held_out_photos(40, seed=12) if p.spec.room_kind == "bedroom"][:5]
    assert len(bedrooms) == 5
    for photo in bedrooms:
        with_bed = replace(photo.spec, conditions=frozenset())
        without = fit_to_layout(replace(with_bed, objects=tuple(o for o in with_bed.objects if o != "bed")))
        assert "bed" in truth(with_bed).tags and "bed" not in truth(without).tags
        images = demo_clip.encode_images([render(with_bed, photo.size), render(without, photo.size)])
        scores = images @ text
        assert scores[0] > scores[1], (photo.spec, scores)


def test_training_phrases_are_the_edit_series_texts() -> None:
    """The world's condition series are scored with exactly the phrases the model was trained on."""
    trained = {
        train_clip.DAY, train_clip.NIGHT, train_clip.LAMPS_ON, train_clip.LIGHTS_OFF, train_clip.SNOW,
        train_clip.TREES, train_clip.BED, train_clip.PETALS, train_clip.SWAN,
    }  # fmt: skip
    world_series = [s for s in load_series() if s.world_condition]
    assert {s.world_condition for s in world_series} == set(CONDITIONS)
    assert {t for s in world_series for t in (s.source_text, s.target_text)} == trained


def test_edit_texts_move_the_right_way(demo_clip: ClipModel) -> None:
    """Night renders sit closer to the night text than their daylight twins (the edit scores rely on it)."""
    day_text, night_text = demo_clip.encode_texts([DAY, NIGHT])
    rooms = [p for p in held_out_photos(40, seed=13) if "window" in truth(p.spec).tags][:4]
    assert rooms
    for photo in rooms:
        day = replace(photo.spec, conditions=photo.spec.conditions - {"night"})
        images = demo_clip.encode_images([render(day, photo.size), render(day.with_condition("night"), photo.size)])
        direction = images @ (night_text - day_text)
        assert np.all(np.isfinite(direction)) and direction[1] > direction[0]
