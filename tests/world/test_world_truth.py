"""The truth of a render: exactly the objects drawn and visible, in the visitors' vocabulary."""

from dataclasses import replace

import numpy as np
import pytest
from helpers_world import changed, find_room

from hotelcap_pipeline import world
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary

VOCABULARY = {t.label for t in load_vocabulary()}


def test_the_world_draws_at_least_fourteen_vocabulary_words():
    assert len(world.DRAWN_OBJECTS) >= 14 and len(set(world.DRAWN_OBJECTS)) == len(world.DRAWN_OBJECTS)
    assert set(world.DRAWN_OBJECTS) <= VOCABULARY


def test_a_drawn_object_is_in_the_truth_and_an_undrawn_one_is_not():
    # Lights off (no glow) and nothing placed after the lamp, so only the lamp itself can change.
    with_lamp = find_room({"bed", "lamp"}, without=frozenset({"coffee machine", "carpet"})).with_condition("lights_off")
    without_lamp = replace(with_lamp, objects=tuple(o for o in with_lamp.objects if o != "lamp"))
    assert set(world.truth(with_lamp).tags) - set(world.truth(without_lamp).tags) == {"lamp"}
    assert set(world.truth(without_lamp).tags) <= set(world.truth(with_lamp).tags)
    size = (200, 150)
    diff = changed(with_lamp, without_lamp, size)
    x0, y0, x1, y1 = world.object_boxes(with_lamp, size)["lamp"]
    m = world.blur_margin(size)
    inside = np.zeros_like(diff)
    inside[max(0, y0 - m) : y1 + m, max(0, x0 - m) : x1 + m] = True
    assert diff[y0:y1, x0:x1].sum() > 0.15 * (x1 - x0) * (y1 - y0)
    assert not (diff & ~inside).any()


@pytest.mark.parametrize("chain_id", [-1, 3, 17, 42])
def test_sampled_rooms_show_two_to_seven_vocabulary_objects(chain_id):
    rng = np.random.default_rng(chain_id + 10)
    kinds = set()
    for _ in range(60):
        spec = world.sample_room(rng, chain_id, 555)
        t = world.truth(spec)
        kinds.add(t.room_kind)
        assert set(t.tags) <= VOCABULARY and list(t.tags) == sorted(t.tags)
        assert world.MIN_OBJECTS <= len(t.tags) <= world.MAX_OBJECTS
        assert set(t.tags) - set(spec.objects) <= ({"towel"} if "towel_swan" in t.conditions else set())
        assert set(t.conditions) == set(spec.conditions) and set(t.conditions) <= set(spec.applicable_conditions())
    assert kinds == set(world.ROOM_KINDS)


def test_a_condition_that_cannot_show_is_not_in_the_truth():
    spec = world.RoomSpec(3, 20514, "bathroom", ("sink", "toilet"), frozenset({"night", "lights_off"}), 5)
    assert world.truth(spec).conditions == ("lights_off",)
    swan = world.RoomSpec(3, 20514, "bedroom", ("bed",), frozenset({"towel_swan"}), 5)
    assert world.truth(swan).tags == ("bed", "towel")


def test_wanted_conditions_bring_the_objects_they_need():
    rng = np.random.default_rng(0)
    spec = world.sample_room(rng, 42, 311870, "bathroom", conditions=["snow"])
    assert "window" in spec.objects and spec.conditions == {"snow"}
    assert world.truth(spec).conditions == ("snow",)
    with pytest.raises(ValueError, match="not among"):
        world.sample_room(rng, 42, 311870, conditions=["fog"])
    with pytest.raises(ValueError, match="room_kind"):
        world.sample_room(rng, 42, 311870, room_kind="kitchen")
    with pytest.raises(ValueError, match="not drawn"):
        world.RoomSpec(42, 311870, "lobby", ("unicorn",), frozenset(), 1)


def test_describe_says_what_the_truth_holds():
    t = world.Truth(tags=("bed", "lamp", "window"), room_kind="bedroom", conditions=("night",))
    assert world.describe(t) == "a photo of a hotel bedroom with a bed, a lamp and a window, at night, lights on"
    rng = np.random.default_rng(0)
    texts = {world.describe(t, rng) for _ in range(20)}
    assert len(texts) > 5
    assert all("bed" in s and "lamp" in s and "window" in s and "night" in s for s in texts)
    dark = world.Truth(tags=("coffee machine", "pillow", "sofa"), room_kind="lobby", conditions=("lights_off",))
    assert world.describe(dark) == "a photo of a hotel lobby with a coffee machine, pillows and a sofa, lights off"
