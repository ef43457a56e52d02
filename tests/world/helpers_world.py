"""Shared helpers for the world tests: finding a room with given objects, diffing renders."""

import numpy as np

from hotelcap_pipeline import world
from hotelcap_pipeline.world import RoomSpec

SIZE = (160, 120)


def find_room(
    required: set[str], kind: str = "bedroom", chain_id: int = 17, seed: int = 0, without: frozenset[str] = frozenset()
) -> RoomSpec:
    """A random room (all conditions off) that has every object in ``required`` and none in ``without``."""
    rng = np.random.default_rng(seed)
    for _ in range(500):
        spec = world.sample_room(rng, chain_id, 98123, kind, conditions=())
        if required <= set(spec.objects) and not without & set(spec.objects):
            return spec
    raise AssertionError(f"no {kind} with {sorted(required)} in 500 samples")


def pixels(spec: RoomSpec, size: tuple[int, int] = SIZE) -> np.ndarray:
    return np.asarray(world.render(spec, size), dtype=np.int16)


def changed(a: RoomSpec, b: RoomSpec, size: tuple[int, int] = SIZE) -> np.ndarray:
    """Boolean (height, width) mask of the pixels that differ between the two renders."""
    return np.abs(pixels(a, size) - pixels(b, size)).max(axis=2) > 0
