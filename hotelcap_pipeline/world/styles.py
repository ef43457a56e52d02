"""The look of a chain, and of each hotel as a small variation of it.

A chain decides the palette (walls, floor, wood, fabric, accents) and the furniture shapes (rounded
or square corners, lamp shade, headboard, window, table). A hotel shifts the chain's hues a little
and changes proportions by a few percent, so photos of one chain look alike and hotels of a chain
differ only slightly. Hotels of the "unknown" chain (-1, independent hotels) each get their own
palette and shapes drawn from the hotel id, around a neutral base.
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, fields, replace
from functools import lru_cache
from typing import Any

import numpy as np

RGB = tuple[int, int, int]

LAMP_SHADES = ("drum", "cone", "globe")
HEADBOARDS = ("panel", "arched", "slatted", "tufted")
WINDOW_SHAPES = ("mullioned", "arched", "wide")
TABLE_SHAPES = ("round", "square")
FLOOR_PATTERNS = ("planks", "tiles", "carpet")
WALL_TRIMS = ("plain", "wainscot", "stripes")
PAINTING_MOTIFS = ("abstract", "sunset", "stripes")

UNKNOWN_CHAIN = -1


@dataclass(frozen=True, kw_only=True)
class Look:
    """Everything the renderer reads from a style."""

    wall: RGB
    ceiling: RGB
    floor: RGB
    wood: RGB
    fabric: RGB  # blankets, sofas, curtains
    accent: RGB  # cushions, chair seats, rugs
    metal: RGB
    tile: RGB  # bathroom walls
    frame: RGB  # window frames
    art: tuple[RGB, RGB, RGB]  # painting colours
    floor_pattern: str
    wall_trim: str
    roundness: float  # 0 = square furniture corners, 0.5 = fully rounded
    lamp_shade: str
    headboard: str
    window_shape: str
    table_shape: str
    painting_motif: str
    horizon: float = 0.6  # wall/floor line, as a fraction of the room frame's height
    scale: float = 1.0  # furniture size factor
    window_scale: float = 1.0


@dataclass(frozen=True, kw_only=True)
class ChainStyle(Look):
    chain_id: int
    name: str


@dataclass(frozen=True, kw_only=True)
class HotelStyle(Look):
    chain_id: int
    hotel_id: int
    hue_shift: float  # in turns of the colour wheel, applied to every palette colour of the chain


_DESIGNED: dict[int, ChainStyle] = {
    UNKNOWN_CHAIN: ChainStyle(
        chain_id=UNKNOWN_CHAIN,
        name="independent, neutral",
        wall=(226, 220, 208),
        ceiling=(240, 238, 232),
        floor=(150, 112, 80),
        wood=(120, 86, 60),
        fabric=(170, 158, 138),
        accent=(118, 130, 108),
        metal=(182, 182, 176),
        tile=(226, 226, 220),
        frame=(242, 242, 236),
        art=((200, 170, 110), (110, 120, 90), (170, 90, 70)),
        floor_pattern="planks",
        wall_trim="plain",
        roundness=0.1,
        lamp_shade="drum",
        headboard="panel",
        window_shape="mullioned",
        table_shape="square",
        painting_motif="sunset",
    ),
    3: ChainStyle(
        chain_id=3,
        name="Nebula: cool blue-grey, square and modern",
        wall=(194, 206, 222),
        ceiling=(236, 240, 246),
        floor=(92, 104, 128),
        wood=(178, 166, 150),
        fabric=(44, 60, 112),
        accent=(36, 168, 190),
        metal=(204, 208, 214),
        tile=(208, 222, 234),
        frame=(246, 246, 250),
        art=((36, 168, 190), (44, 60, 112), (230, 232, 238)),
        floor_pattern="carpet",
        wall_trim="plain",
        roundness=0.0,
        lamp_shade="drum",
        headboard="panel",
        window_shape="wide",
        table_shape="square",
        painting_motif="stripes",
        horizon=0.61,
    ),
    17: ChainStyle(
        chain_id=17,
        name="Orbit: warm retro, rounded",
        wall=(242, 214, 166),
        ceiling=(250, 240, 222),
        floor=(170, 106, 60),
        wood=(140, 82, 42),
        fabric=(28, 128, 120),
        accent=(234, 108, 38),
        metal=(204, 166, 78),
        tile=(238, 226, 198),
        frame=(252, 244, 228),
        art=((234, 108, 38), (28, 128, 120), (246, 196, 60)),
        floor_pattern="planks",
        wall_trim="stripes",
        roundness=0.45,
        lamp_shade="globe",
        headboard="arched",
        window_shape="arched",
        table_shape="round",
        painting_motif="abstract",
        horizon=0.59,
        scale=0.97,
    ),
    42: ChainStyle(
        chain_id=42,
        name="Quasar: earthy resort, dark wood",
        wall=(212, 172, 136),
        ceiling=(236, 222, 204),
        floor=(196, 184, 162),
        wood=(78, 52, 36),
        fabric=(118, 136, 90),
        accent=(168, 66, 46),
        metal=(52, 50, 48),
        tile=(222, 206, 184),
        frame=(92, 62, 42),
        art=((168, 66, 46), (214, 160, 80), (80, 96, 64)),
        floor_pattern="tiles",
        wall_trim="wainscot",
        roundness=0.2,
        lamp_shade="cone",
        headboard="slatted",
        window_shape="mullioned",
        table_shape="round",
        painting_motif="sunset",
        horizon=0.62,
        scale=1.03,
    ),
}

def _rgb(values: np.ndarray | tuple[float, float, float]) -> RGB:
    r, g, b = (round(min(255.0, max(0.0, float(v)))) for v in values)
    return (r, g, b)


def _hsv_color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> RGB:
    r, g, b = colorsys.hsv_to_rgb(rng.random(), rng.uniform(*sat), rng.uniform(*val))
    return _rgb((r * 255, g * 255, b * 255))


def _earth_color(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> RGB:
    """A brown, beige or grey: floors and wood stay plausible whatever the rest of the palette."""
    hue = float(rng.uniform(0.03, 0.12))
    r, g, b = colorsys.hsv_to_rgb(hue, rng.uniform(*sat) * (0.3 if rng.random() < 0.25 else 1.0), rng.uniform(*val))
    return _rgb((r * 255, g * 255, b * 255))


def _shift(color: RGB, hue: float, value: float) -> RGB:
    h, s, v = colorsys.rgb_to_hsv(*(c / 255 for c in color))
    r, g, b = colorsys.hsv_to_rgb((h + hue) % 1.0, s, min(1.0, v * value))
    return _rgb((r * 255, g * 255, b * 255))


def _random_look(rng: np.random.Generator, base: Look) -> Look:
    """A full palette and set of shapes: for chains without a designed style and independent hotels."""
    # Keyword arguments are evaluated in order: this order is the order of the draws, keep it.
    return Look(
        wall=_hsv_color(rng, (0.05, 0.3), (0.78, 0.95)),
        ceiling=_hsv_color(rng, (0.0, 0.08), (0.92, 0.98)),
        floor=_earth_color(rng, (0.15, 0.5), (0.35, 0.8)),
        wood=_earth_color(rng, (0.3, 0.6), (0.3, 0.7)),
        fabric=_hsv_color(rng, (0.2, 0.7), (0.3, 0.8)),
        accent=_hsv_color(rng, (0.4, 0.85), (0.5, 0.9)),
        metal=base.metal,
        tile=_hsv_color(rng, (0.0, 0.15), (0.82, 0.95)),
        frame=base.frame if rng.random() < 0.6 else _hsv_color(rng, (0.3, 0.6), (0.3, 0.6)),
        art=(
            _hsv_color(rng, (0.3, 0.8), (0.4, 0.95)),
            _hsv_color(rng, (0.3, 0.8), (0.4, 0.95)),
            _hsv_color(rng, (0.3, 0.8), (0.4, 0.95)),
        ),
        floor_pattern=FLOOR_PATTERNS[int(rng.integers(len(FLOOR_PATTERNS)))],
        wall_trim=WALL_TRIMS[int(rng.integers(len(WALL_TRIMS)))],
        roundness=float(rng.uniform(0.0, 0.45)),
        lamp_shade=LAMP_SHADES[int(rng.integers(len(LAMP_SHADES)))],
        headboard=HEADBOARDS[int(rng.integers(len(HEADBOARDS)))],
        window_shape=WINDOW_SHAPES[int(rng.integers(len(WINDOW_SHAPES)))],
        table_shape=TABLE_SHAPES[int(rng.integers(len(TABLE_SHAPES)))],
        painting_motif=PAINTING_MOTIFS[int(rng.integers(len(PAINTING_MOTIFS)))],
        horizon=float(rng.uniform(0.59, 0.62)),
        scale=float(rng.uniform(0.96, 1.04)),
    )


def _look_fields(look: Look) -> dict[str, Any]:
    """The fields of ``look`` (typed there) as keyword arguments for the chain or hotel style built on it."""
    return {f.name: getattr(look, f.name) for f in fields(Look)}


@lru_cache(maxsize=256)
def chain_style(chain_id: int) -> ChainStyle:
    """The designed style of a demo chain; any other chain id gets a procedural style of its own."""
    if chain_id in _DESIGNED:
        return _DESIGNED[chain_id]
    rng = np.random.default_rng([abs(chain_id), 1 if chain_id < 0 else 0, 17])
    look = _random_look(rng, _DESIGNED[UNKNOWN_CHAIN])
    return ChainStyle(chain_id=chain_id, name=f"chain {chain_id}, procedural", **_look_fields(look))


@lru_cache(maxsize=4096)
def hotel_style(chain_id: int, hotel_id: int) -> HotelStyle:
    """The chain's style with a small per-hotel hue shift and proportion change."""
    chain = chain_style(chain_id)
    rng = np.random.default_rng([abs(chain_id), abs(hotel_id), 29])
    # Independent hotels share nothing but the neutral base.
    look: Look = _random_look(rng, chain) if chain_id == UNKNOWN_CHAIN else chain
    hue = float(rng.uniform(-0.025, 0.025))
    value = float(rng.uniform(0.95, 1.05))

    def shift(color: RGB) -> RGB:
        return _shift(color, hue, value)

    art1, art2, art3 = look.art
    # As in _random_look, the argument order is the order of the draws.
    look = replace(
        look,
        wall=shift(look.wall), ceiling=shift(look.ceiling), floor=shift(look.floor), wood=shift(look.wood),
        fabric=shift(look.fabric), accent=shift(look.accent), metal=shift(look.metal), tile=shift(look.tile),
        frame=shift(look.frame),
        art=(shift(art1), shift(art2), shift(art3)),
        horizon=float(np.clip(look.horizon + rng.uniform(-0.012, 0.012), 0.58, 0.63)),
        scale=float(look.scale) * float(rng.uniform(0.96, 1.04)),
        window_scale=float(rng.uniform(0.92, 1.08)),
        roundness=float(np.clip(float(look.roundness) + rng.uniform(-0.04, 0.04), 0.0, 0.5)),
    )
    return HotelStyle(chain_id=chain_id, hotel_id=hotel_id, hue_shift=hue, **_look_fields(look))
