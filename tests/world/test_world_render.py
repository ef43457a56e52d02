"""The renderer: deterministic, any size, and photos that are not flat."""

import time

import numpy as np
import pytest
from helpers_world import pixels

from hotelcap_pipeline import world


def test_same_spec_same_pixels_and_another_layout_seed_differs(bedroom):
    assert np.array_equal(pixels(bedroom), pixels(bedroom))
    moved = world.RoomSpec(
        bedroom.chain_id,
        bedroom.hotel_id,
        bedroom.room_kind,
        bedroom.objects,
        bedroom.conditions,
        bedroom.layout_seed + 1,
    )
    assert not np.array_equal(pixels(bedroom), pixels(moved))


@pytest.mark.parametrize("size", [(128, 128), (96, 128), (320, 180), (300, 400), (1024, 768)])
def test_any_size_renders_rgb_with_noise(bedroom, size):
    img = world.render(bedroom, size)
    assert img.mode == "RGB" and img.size == size
    arr = np.asarray(img, dtype=np.float32)
    # Sensor noise: neighbouring pixels of a flat wall differ a little, never wildly.
    wall = arr[int(size[1] * 0.05) : int(size[1] * 0.1), : size[0] // 8].mean(axis=2)
    assert 0.3 < np.abs(np.diff(wall, axis=1)).mean() < 8


def test_truth_does_not_depend_on_the_size(bedroom):
    boxes_small = world.object_boxes(bedroom, (128, 96))
    boxes_large = world.object_boxes(bedroom, (1600, 1200))
    assert set(boxes_small) == set(boxes_large) == set(world.truth(bedroom).tags)


def test_chains_look_alike_and_hotels_of_a_chain_differ_slightly():
    """Same room in two hotels of one chain vs in another chain: the chain changes far more pixels."""
    rng = np.random.default_rng(3)
    room = world.sample_room(rng, 17, 98123, "bedroom", conditions=())

    def in_hotel(chain_id: int, hotel_id: int) -> np.ndarray:
        spec = world.RoomSpec(chain_id, hotel_id, room.room_kind, room.objects, room.conditions, room.layout_seed)
        return pixels(spec).astype(np.float32)

    same_chain = np.abs(in_hotel(17, 98123) - in_hotel(17, 101442)).mean()
    other_chain = np.abs(in_hotel(17, 98123) - in_hotel(3, 20514)).mean()
    assert same_chain < other_chain / 2
    assert world.chain_style(17) == world.chain_style(17) and world.chain_style(3) != world.chain_style(42)
    assert world.hotel_style(17, 98123).headboard == world.chain_style(17).headboard


def test_a_tiny_size_is_refused(bedroom):
    with pytest.raises(ValueError, match="too small"):
        world.render(bedroom, (8, 8))


def test_small_renders_are_fast(bedroom):
    world.render(bedroom, (128, 128))
    start = time.perf_counter()
    for _ in range(10):
        world.render(bedroom, (128, 128))
    assert (time.perf_counter() - start) / 10 < 0.05  # a few ms normally; generous for a loaded machine
