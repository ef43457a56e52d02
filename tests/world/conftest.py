import pytest
from helpers_world import find_room

from hotelcap_pipeline.world import RoomSpec


@pytest.fixture(scope="module")
def bedroom() -> RoomSpec:
    """A bedroom where every condition shows: a bed, a window and a lamp."""
    return find_room({"bed", "window", "lamp"})
