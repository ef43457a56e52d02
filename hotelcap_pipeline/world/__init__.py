"""A synthetic hotel world with known truth: procedural photos of hotel rooms, each recording what it shows.

A ``RoomSpec`` fixes one photo: the chain and hotel (its style), the room kind, the vocabulary
objects placed in it, the conditions that are on, and a layout seed (positions, sizes, sensor
noise). ``render(spec, size)`` draws it at any size, deterministically; ``truth(spec)`` says which
objects are visible and which conditions show; ``describe`` turns a truth into a caption.

Design, and the answer it builds in to "do clusters of photos follow hotels or chains?":

- Style follows the chain. Each chain has its own palette (walls, floor, wood, fabric, accents) and
  furniture shapes (square or rounded corners, lamp shade, headboard, window and table shapes), so
  photos of one chain look alike. A hotel is its chain's style with a small hue shift and a few
  percent change of proportions, so hotels of a chain differ only slightly. Independent hotels
  (chain -1, "unknown") each get their own palette and shapes: they look like no other hotel.
- Content follows the room kind. Which objects a photo shows is drawn from priors per room kind
  (a bedroom has a bed, pillows, a lamp, a window...; a bathroom a sink, mirror, toilet, towel...),
  with some cross-over and never depending on the hotel. Clustering on style therefore recovers
  chains (and hotels only weakly), while clustering on content recovers room kinds.
- Conditions are local. night and snow change only the view through the window; lights_off darkens
  the room and its lamps' glow but not the view; rose_petals and towel_swan add to the bed only. A
  one-condition re-render (``spec.with_condition(c)``) differs from the original only inside
  ``condition_region(spec, size, c)``.
- Nothing hides: each object has a part no other object may cover, so every placed object is
  visible, and an object that finds no room is left out of the layout and of the truth.

Pure numpy and Pillow: a 128 x 128 render takes a few milliseconds.
"""

from hotelcap_pipeline.world.layout import Layout, Placed, layout
from hotelcap_pipeline.world.render import blur_margin, condition_region, object_boxes, render, view_mask
from hotelcap_pipeline.world.sample import CONDITION_RATES, KIND_WEIGHTS, OBJECT_PRIORS, fit_to_layout, sample_room
from hotelcap_pipeline.world.spec import (
    APPLICABILITY,
    CONDITIONS,
    DRAWN_OBJECTS,
    MAX_OBJECTS,
    MIN_OBJECTS,
    ROOM_KINDS,
    RoomSpec,
    Truth,
)
from hotelcap_pipeline.world.styles import ChainStyle, HotelStyle, chain_style, hotel_style
from hotelcap_pipeline.world.truth import describe, truth

__all__ = [
    "APPLICABILITY",
    "CONDITIONS",
    "CONDITION_RATES",
    "DRAWN_OBJECTS",
    "KIND_WEIGHTS",
    "MAX_OBJECTS",
    "MIN_OBJECTS",
    "OBJECT_PRIORS",
    "ROOM_KINDS",
    "ChainStyle",
    "HotelStyle",
    "Layout",
    "Placed",
    "RoomSpec",
    "Truth",
    "blur_margin",
    "chain_style",
    "condition_region",
    "describe",
    "fit_to_layout",
    "hotel_style",
    "layout",
    "object_boxes",
    "render",
    "sample_room",
    "truth",
    "view_mask",
]
