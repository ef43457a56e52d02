"""The empty room: ceiling, back wall with its trim, floor in perspective."""

from __future__ import annotations

import itertools
import math

from hotelcap_pipeline.world.canvas import Canvas, shade
from hotelcap_pipeline.world.layout import FRAME_W
from hotelcap_pipeline.world.styles import RGB, HotelStyle

CEILING = 0.025  # the ceiling band ends here (frame units)
VANISHING_RISE = 0.55  # the floor's vanishing point lies this far above the horizon


def draw_room(c: Canvas, st: HotelStyle, horizon: float, room_kind: str) -> None:
    f = c.frame
    left, right, top, bottom = f.left, f.right, f.top, f.bottom
    bathroom = room_kind == "bathroom"
    wall = st.tile if bathroom else st.wall
    c.rect((left, top, right, CEILING), st.ceiling)
    c.rect((left, CEILING, right, horizon), wall)
    if bathroom:
        _grid(c, (left, CEILING, right, horizon), 0.07, shade(wall, 0.88))
    elif st.wall_trim == "wainscot":
        c.rect((left, horizon - 0.2, right, horizon), shade(wall, 0.86))
        c.line([(left, horizon - 0.2), (right, horizon - 0.2)], shade(wall, 0.7), 0.006)
    elif st.wall_trim == "stripes":
        x = math.floor(left / 0.1) * 0.1
        while x < right:
            c.rect((x, CEILING, x + 0.045, horizon), shade(wall, 0.95))
            x += 0.1
    c.line([(left, CEILING), (right, CEILING)], shade(st.ceiling, 0.82), 0.006)
    floor = shade(st.tile, 0.9) if bathroom else st.floor
    c.rect((left, horizon, right, bottom), floor)
    pattern = "tiles" if bathroom else st.floor_pattern
    if pattern == "planks":
        _planks(c, floor, horizon, bottom)
    elif pattern == "tiles":
        _floor_tiles(c, floor, horizon, bottom)
    skirting = st.wood if pattern == "planks" else shade(wall, 0.8)
    c.rect((left, horizon - 0.018, right, horizon), skirting)


def _grid(c: Canvas, box: tuple[float, float, float, float], step: float, colour: RGB) -> None:
    x0, y0, x1, y1 = box
    y = y0 + step
    while y < y1:
        c.line([(x0, y), (x1, y)], colour, 0.002)
        y += step
    x = math.floor(x0 / step) * step
    while x < x1:
        c.line([(x, y0), (x, y1)], colour, 0.002)
        x += step


def _floor_lines(c: Canvas, horizon: float, bottom: float, step: float) -> list[tuple[float, float]]:
    """Lines running towards the viewer, as (x at the horizon, x at the photo's bottom)."""
    vx, vy = FRAME_W / 2, horizon - VANISHING_RISE
    spread = (bottom - vy) / (horizon - vy)
    lo = vx + (c.frame.left - vx) / spread
    hi = vx + (c.frame.right - vx) / spread
    xs = [math.floor(lo / step) * step + k * step for k in range(int((hi - lo) / step) + 3)]
    return [(x, vx + (x - vx) * spread) for x in xs]


def _planks(c: Canvas, floor: RGB, horizon: float, bottom: float) -> None:
    lines = _floor_lines(c, horizon, bottom, 0.08)
    for k, ((a_top, a_bot), (b_top, b_bot)) in enumerate(itertools.pairwise(lines)):
        if k % 2:
            c.polygon([(a_top, horizon), (b_top, horizon), (b_bot, bottom), (a_bot, bottom)], shade(floor, 0.94))
    for x_top, x_bot in lines:
        c.line([(x_top, horizon), (x_bot, bottom)], shade(floor, 0.8), 0.002)


def _floor_tiles(c: Canvas, floor: RGB, horizon: float, bottom: float) -> None:
    colour = shade(floor, 0.82)
    for x_top, x_bot in _floor_lines(c, horizon, bottom, 0.12):
        c.line([(x_top, horizon), (x_bot, bottom)], colour, 0.002)
    depth = 0.02
    while horizon + depth < bottom:
        c.line([(c.frame.left, horizon + depth), (c.frame.right, horizon + depth)], colour, 0.002)
        depth *= 1.6
