"""How each vocabulary object looks: one drawing function per label, in room-frame coordinates.

Every function draws inside its object's box only, with the chain's palette and shapes, and takes
its small random details (leaf angles, petal spots) from the object's own seed, so a redraw with
other conditions draws the same object.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from hotelcap_pipeline.world.canvas import Canvas, Point, mix, shade
from hotelcap_pipeline.world.layout import CURTAIN_W, Box, Placed
from hotelcap_pipeline.world.styles import RGB, HotelStyle

WHITE: RGB = (246, 246, 242)
SHEET: RGB = (244, 243, 238)
LINE_GREY: RGB = (196, 196, 192)
SWAN_LINE: RGB = (150, 150, 146)  # folds of the towel
SCREEN: RGB = (16, 18, 24)
TERRACOTTA: RGB = (172, 92, 58)
LEAF_GREENS: tuple[RGB, ...] = ((46, 118, 52), (66, 146, 62), (36, 98, 46), (84, 160, 72))
PETAL_REDS: tuple[RGB, ...] = ((186, 18, 40), (214, 36, 58), (160, 10, 32), (226, 60, 80))
SHADE_CLOTH: RGB = (244, 232, 204)

Drawer = Callable[[Canvas, Placed, HotelStyle], None]


def _split(b: Box) -> tuple[float, float, float, float, float, float]:
    x0, y0, x1, y1 = b
    return x0, y0, x1, y1, x1 - x0, y1 - y0


def _radius(style: HotelStyle, size: float) -> float:
    return style.roundness * size


# --- bedroom ---------------------------------------------------------------------------------------


def bed_surface(b: Box, t: float) -> tuple[float, float, float]:
    """The mattress top seen from the front: (left x, right x, y) at depth t (0 = head, 1 = foot)."""
    x0, y0, x1, _, w, h = _split(b)
    y = y0 + (0.41 + 0.33 * t) * h
    inset = 0.07 * w * (1 - t)
    return x0 + inset, x1 - inset, y


def draw_bed(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    _draw_headboard(c, (x0 + 0.05 * w, y0, x1 - 0.05 * w, y0 + 0.58 * h), st)
    (bl, br, by), (fl, fr, fy) = bed_surface(p.box, 0.0), bed_surface(p.box, 1.0)
    c.polygon([(bl, by), (br, by), (fr, fy), (fl, fy)], SHEET)
    ml, mr, my = bed_surface(p.box, 0.55)
    c.polygon([(ml, my), (mr, my), (fr, fy), (fl, fy)], st.fabric)  # the blanket over the foot half
    c.line([(ml, my), (mr, my)], (252, 252, 250), 0.006)  # the sheet folded over the blanket
    c.rect((x0, fy, x1, y0 + 0.86 * h), shade(st.fabric, 0.82))
    c.rect((x0 + 0.01 * w, y0 + 0.86 * h, x1 - 0.01 * w, y1 - 0.03 * h), shade(st.wood, 0.85))
    for lx in (x0 + 0.03 * w, x1 - 0.07 * w):
        c.rect((lx, y1 - 0.04 * h, lx + 0.04 * w, y1), shade(st.wood, 0.6))


def _draw_headboard(c: Canvas, b: Box, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(b)
    if st.headboard == "arched":
        c.ellipse((x0, y0, x1, y0 + 0.9 * h), st.wood)
        c.rect((x0, y0 + 0.45 * h, x1, y1), st.wood)
        c.ellipse((x0 + 0.05 * w, y0 + 0.08 * h, x1 - 0.05 * w, y0 + 0.9 * h), shade(st.wood, 1.15))
        c.rect((x0 + 0.05 * w, y0 + 0.5 * h, x1 - 0.05 * w, y1), shade(st.wood, 1.15))
    elif st.headboard == "slatted":
        c.rect(b, shade(st.wood, 0.75))
        n = 9
        for i in range(n):
            sx = x0 + (0.04 + 0.92 * i / n) * w
            c.rect((sx, y0 + 0.06 * h, sx + 0.07 * w, y1), st.wood)
    elif st.headboard == "tufted":
        c.rect(b, st.fabric, radius=0.02 + _radius(st, 0.1))
        for row in range(2):
            for col in range(6):
                c.dot(x0 + (0.12 + 0.152 * col) * w, y0 + (0.3 + 0.3 * row) * h, 0.004, shade(st.fabric, 0.6))
    else:
        c.rect(b, st.wood, radius=_radius(st, 0.1))
        c.rect((x0 + 0.04 * w, y0 + 0.12 * h, x1 - 0.04 * w, y1), shade(st.wood, 1.12), radius=_radius(st, 0.08))


def draw_pillows(c: Canvas, p: Placed, st: HotelStyle) -> None:
    """Two white pillows side by side at the head of a bed."""
    x0, y0, _, y1, w, h = _split(p.box)
    for left in (x0, x0 + 0.54 * w):
        c.rect((left, y0, left + 0.46 * w, y1), WHITE, radius=0.4 * h, outline=LINE_GREY, width=0.002)


def draw_sofa_pillows(c: Canvas, p: Placed, st: HotelStyle) -> None:
    """Two cushions in the accent colour, leaning on the sofa's back at each end."""
    x0, _, x1, y1, w, h = _split(p.box)
    side = min(0.22 * w, 1.1 * h)
    for left in (x0, x1 - side):
        c.rect(
            (left, y1 - side * 0.9, left + side, y1),
            st.accent,
            radius=0.25 * side,
            outline=shade(st.accent, 0.75),
            width=0.002,
        )


def draw_folded_towels(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    c.rect((x0, y0 + 0.45 * h, x1, y1), WHITE, radius=0.1 * h, outline=LINE_GREY, width=0.002)
    c.rect((x0 + 0.06 * w, y0, x1 - 0.06 * w, y0 + 0.55 * h), WHITE, radius=0.1 * h, outline=LINE_GREY, width=0.002)
    c.rect((x0 + 0.06 * w, y0 + 0.3 * h, x1 - 0.06 * w, y0 + 0.4 * h), st.accent)


def draw_rose_petals(c: Canvas, bed: Placed, seed: int) -> None:
    """Red petals laid as a heart in the middle of the bed, and a few scattered around it."""
    rng = np.random.default_rng([seed, 909])
    x0, _, x1, _, w, h = _split(bed.box)
    cx, cy = (x0 + x1) / 2, bed_surface(bed.box, 0.5)[2]
    size = min(0.011, 0.016 * w)
    for i in range(28):
        t = 2 * math.pi * i / 28
        hx = 16 * math.sin(t) ** 3 / 16
        hy = -(13 * math.cos(t) - 5 * math.cos(2 * t) - 2 * math.cos(3 * t) - math.cos(4 * t)) / 17
        c.dot(cx + hx * 0.2 * w, cy + hy * 0.14 * h, size, PETAL_REDS[i % len(PETAL_REDS)])
    for _ in range(18):
        t = float(rng.uniform(0.15, 0.95))
        left, right, y = bed_surface(bed.box, t)
        colour = PETAL_REDS[int(rng.integers(len(PETAL_REDS)))]
        c.dot(float(rng.uniform(left + 0.03 * w, right - 0.03 * w)), y, size * float(rng.uniform(0.7, 1.2)), colour)


def _bezier(p0: Point, p1: Point, p2: Point, p3: Point, n: int = 10) -> list[Point]:
    pts = []
    for k in range(n + 1):
        t = k / n
        a, b, c_, d = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t**2 * (1 - t), t**3
        pts.append((a * p0[0] + b * p1[0] + c_ * p2[0] + d * p3[0], a * p0[1] + b * p1[1] + c_ * p2[1] + d * p3[1]))
    return pts


def draw_towel_swans(c: Canvas, bed: Placed, st: HotelStyle) -> None:
    """Two swans folded from white towels on the blanket at the foot of the bed, facing each other (their
    necks make a heart): where hotels lay them, and where a viewer sees them, unlike white on the sheet."""
    x0, _, x1, _, w, h = _split(bed.box)
    cx, cy = (x0 + x1) / 2, bed_surface(bed.box, 0.8)[2]
    c.ellipse((cx - 0.28 * w, cy - 0.01 * h, cx + 0.28 * w, cy + 0.07 * h), shade(st.fabric, 0.62))  # shadow
    neck_w = max(0.01, 0.03 * w)
    for side in (-1, 1):
        inner, outer = cx + side * 0.035 * w, cx + side * 0.26 * w
        c.polygon(
            [(outer - side * 0.03 * w, cy - 0.02 * h), (outer + side * 0.02 * w, cy - 0.1 * h), (outer, cy + 0.02 * h)],
            WHITE,
            outline=SWAN_LINE,
        )  # tail
        c.ellipse(
            (min(inner, outer), cy - 0.055 * h, max(inner, outer), cy + 0.05 * h), WHITE, outline=SWAN_LINE, width=0.003
        )
        neck = _bezier(
            (cx + side * 0.08 * w, cy - 0.02 * h),
            (cx + side * 0.15 * w, cy - 0.15 * h),
            (cx + side * 0.09 * w, cy - 0.27 * h),
            (cx + side * 0.04 * w, cy - 0.24 * h),
        )
        c.line(neck, SWAN_LINE, neck_w * 1.35)
        c.line(neck, WHITE, neck_w)
        hx, hy = cx + side * 0.045 * w, cy - 0.245 * h
        c.dot(hx, hy, neck_w * 0.8, WHITE)
        c.polygon(
            [
                (hx - side * 0.01 * w, hy - 0.012 * h),
                (hx - side * 0.045 * w, hy + 0.012 * h),
                (hx - side * 0.008 * w, hy + 0.016 * h),
            ],
            (232, 136, 40),
        )  # beak
        c.dot(hx + side * 0.002 * w, hy - 0.01 * h, 0.0025, (20, 20, 20))  # eye


def draw_lamp(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    cx = (x0 + x1) / 2
    c.ellipse((cx - 0.32 * w, y1 - 0.05 * h, cx + 0.32 * w, y1), shade(st.metal, 0.8))
    c.rect((cx - 0.035 * w, y0 + 0.25 * h, cx + 0.035 * w, y1 - 0.025 * h), st.metal)
    top = y0 + 0.3 * h
    if st.lamp_shade == "cone":
        c.polygon([(x0 + 0.28 * w, y0), (x1 - 0.28 * w, y0), (x1, top), (x0, top)], SHADE_CLOTH)
    elif st.lamp_shade == "globe":
        c.ellipse((x0 + 0.04 * w, y0, x1 - 0.04 * w, top + 0.02 * h), (250, 246, 234))
    else:
        c.rect((x0 + 0.06 * w, y0, x1 - 0.06 * w, top), SHADE_CLOTH, radius=_radius(st, 0.04))
        c.line([(x0 + 0.06 * w, top), (x1 - 0.06 * w, top)], shade(SHADE_CLOTH, 0.85), 0.004)


def lamp_light(p: Placed) -> tuple[float, float]:
    """Where a lamp's light comes from: the middle of its shade."""
    x0, y0, x1, _, _, h = _split(p.box)
    return (x0 + x1) / 2, y0 + 0.15 * h


# --- work and living ---------------------------------------------------------------------------------


def draw_desk(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    c.rect((x0, y0, x1, y0 + 0.12 * h), shade(st.wood, 1.12))
    c.rect((x0, y0 + 0.1 * h, x1, y0 + 0.2 * h), st.wood)
    if st.roundness > 0.25:
        for lx in (x0 + 0.04 * w, x1 - 0.08 * w):
            c.polygon(
                [(lx, y0 + 0.2 * h), (lx + 0.04 * w, y0 + 0.2 * h), (lx + 0.03 * w, y1), (lx + 0.01 * w, y1)],
                shade(st.wood, 0.8),
            )
    else:
        c.rect((x0 + 0.02 * w, y0 + 0.2 * h, x0 + 0.07 * w, y1), shade(st.wood, 0.8))
    drawers = (x1 - 0.34 * w, y0 + 0.2 * h, x1 - 0.03 * w, y1 if st.roundness <= 0.25 else y0 + 0.55 * h)
    c.rect(drawers, shade(st.wood, 0.92), outline=shade(st.wood, 0.7), width=0.003)
    dx0, dy0, dx1, dy1 = drawers
    for k in (1, 2):
        yk = dy0 + (dy1 - dy0) * k / 3
        c.line([(dx0, yk), (dx1, yk)], shade(st.wood, 0.7), 0.003)
    for k in range(3):
        yk = dy0 + (dy1 - dy0) * (k + 0.5) / 3
        c.line([((dx0 + dx1) / 2 - 0.03, yk), ((dx0 + dx1) / 2 + 0.03, yk)], st.metal, 0.005)


def draw_chair(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    legs = st.metal if st.roundness < 0.25 else shade(st.wood, 0.9)
    for lx in (x0 + 0.22 * w, x1 - 0.22 * w):  # back legs, partly hidden by the seat
        c.line([(lx, y0 + 0.5 * h), (lx, y1 - 0.1 * h)], shade(legs, 0.8), 0.008)
    for lx in (x0 + 0.22 * w, x1 - 0.22 * w):
        c.line([(lx, y0 + 0.3 * h), (lx, y0 + 0.45 * h)], legs, 0.008)
    c.rect((x0 + 0.1 * w, y0, x1 - 0.1 * w, y0 + 0.34 * h), st.accent, radius=_radius(st, 0.1))
    c.polygon(
        [(x0 + 0.1 * w, y0 + 0.44 * h), (x1 - 0.1 * w, y0 + 0.44 * h), (x1, y0 + 0.56 * h), (x0, y0 + 0.56 * h)],
        shade(st.accent, 1.1),
    )
    c.rect((x0, y0 + 0.56 * h, x1, y0 + 0.62 * h), shade(st.accent, 0.8), radius=_radius(st, 0.02))
    for lx in (x0 + 0.06 * w, x1 - 0.06 * w):
        c.line([(lx, y0 + 0.62 * h), (lx, y1)], legs, 0.009)


def draw_table(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    cx = (x0 + x1) / 2
    if st.table_shape == "round":
        c.rect((cx - 0.05 * w, y0 + 0.15 * h, cx + 0.05 * w, y1 - 0.06 * h), shade(st.wood, 0.8))
        c.ellipse((x0 + 0.22 * w, y1 - 0.12 * h, x1 - 0.22 * w, y1), shade(st.wood, 0.7))
        c.ellipse((x0, y0 + 0.06 * h, x1, y0 + 0.3 * h), shade(st.wood, 0.8))
        c.ellipse((x0, y0, x1, y0 + 0.24 * h), shade(st.wood, 1.12))
    else:
        for lx in (x0 + 0.04 * w, x1 - 0.1 * w):
            c.rect((lx, y0 + 0.2 * h, lx + 0.06 * w, y1), shade(st.wood, 0.75))
        for lx in (x0 + 0.16 * w, x1 - 0.2 * w):
            c.rect((lx, y0 + 0.2 * h, lx + 0.04 * w, y1 - 0.1 * h), shade(st.wood, 0.6))
        c.polygon(
            [(x0 + 0.06 * w, y0), (x1 - 0.06 * w, y0), (x1, y0 + 0.14 * h), (x0, y0 + 0.14 * h)], shade(st.wood, 1.12)
        )
        c.rect((x0, y0 + 0.14 * h, x1, y0 + 0.22 * h), st.wood)


def draw_sofa(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    r = _radius(st, 0.12)
    for lx in (x0 + 0.06 * w, x1 - 0.09 * w):
        c.rect((lx, y1 - 0.1 * h, lx + 0.03 * w, y1), shade(st.wood, 0.6))
    c.rect((x0 + 0.06 * w, y0, x1 - 0.06 * w, y0 + 0.52 * h), st.fabric, radius=r)
    c.rect((x0 + 0.08 * w, y0 + 0.6 * h, x1 - 0.08 * w, y1 - 0.08 * h), shade(st.fabric, 0.8), radius=r / 3)
    c.rect((x0 + 0.1 * w, y0 + 0.42 * h, x1 - 0.1 * w, y0 + 0.66 * h), shade(st.fabric, 1.12), radius=r / 2)
    for k in (1, 2):
        sx = x0 + 0.1 * w + 0.8 * w * k / 3
        c.line([(sx, y0 + 0.43 * h), (sx, y0 + 0.66 * h)], shade(st.fabric, 0.75), 0.004)
    for ax in (x0, x1 - 0.13 * w):
        c.rect((ax, y0 + 0.25 * h, ax + 0.13 * w, y1 - 0.08 * h), shade(st.fabric, 0.95), radius=r)


def draw_television(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    c.rect((x0 + 0.42 * w, y0 + 0.4 * h, x1 - 0.42 * w, y1), (60, 60, 62))  # wall bracket
    c.rect((x0, y0, x1, y1 - 0.06 * h), (30, 30, 33), radius=0.01)
    c.rect((x0 + 0.02 * w, y0 + 0.05 * h, x1 - 0.02 * w, y1 - 0.12 * h), SCREEN)
    c.polygon(
        [
            (x0 + 0.02 * w, y0 + 0.05 * h),
            (x0 + 0.45 * w, y0 + 0.05 * h),
            (x0 + 0.2 * w, y1 - 0.12 * h),
            (x0 + 0.02 * w, y1 - 0.12 * h),
        ],
        (30, 34, 44),
    )  # a reflection on the dark screen
    c.dot(x1 - 0.05 * w, y1 - 0.09 * h, 0.003, (200, 40, 40))


def draw_painting(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    frame = mix(st.wood, (200, 160, 70), 0.4) if st.roundness < 0.3 else st.wood
    c.rect(p.box, frame)
    inner = (x0 + 0.07 * w, y0 + 0.1 * h, x1 - 0.07 * w, y1 - 0.1 * h)
    ix0, iy0, ix1, iy1, iw, ih = _split(inner)
    a, b, d = st.art
    if st.painting_motif == "stripes":
        for k, colour in enumerate((a, (236, 232, 222), b, d, (236, 232, 222))):
            c.rect((ix0 + iw * k / 5, iy0, ix0 + iw * (k + 1) / 5, iy1), colour)
    elif st.painting_motif == "abstract":
        c.rect(inner, (238, 232, 218))
        c.ellipse((ix0 + 0.1 * iw, iy0 + 0.15 * ih, ix0 + 0.5 * iw, iy0 + 0.75 * ih), a)
        c.rect((ix0 + 0.45 * iw, iy0 + 0.35 * ih, ix0 + 0.85 * iw, iy0 + 0.9 * ih), b)
        c.ellipse((ix0 + 0.6 * iw, iy0 + 0.08 * ih, ix0 + 0.8 * iw, iy0 + 0.38 * ih), d)
    else:  # a sunset in warm colours, so that a painting does not read as a window
        c.rect(inner, mix(a, (250, 170, 90), 0.5))
        c.rect((ix0, iy0, ix1, iy0 + 0.35 * ih), mix(a, (120, 60, 90), 0.4))
        c.ellipse((ix0 + 0.55 * iw, iy0 + 0.35 * ih, ix0 + 0.8 * iw, iy0 + 0.7 * ih), (250, 214, 120))
        c.polygon(
            [(ix0, iy1), (ix0, iy0 + 0.6 * ih), (ix0 + 0.4 * iw, iy0 + 0.5 * ih), (ix1, iy0 + 0.7 * ih), (ix1, iy1)],
            shade(b, 0.7),
        )


def draw_plant(c: Canvas, p: Placed, st: HotelStyle) -> None:
    rng = np.random.default_rng(p.seed)
    x0, y0, x1, y1, w, h = _split(p.box)
    cx, pot_top = (x0 + x1) / 2, y1 - 0.28 * h
    for k in range(9):
        angle = math.radians(float(rng.uniform(-70, 70)) if k else 0.0)
        length = float(rng.uniform(0.55, 0.72)) * h
        tx = cx + math.sin(angle) * length * 0.75
        ty = max(y0, pot_top - math.cos(angle) * length)
        tx = min(x1, max(x0, tx))
        nx, ny = (ty - pot_top), -(tx - cx)  # perpendicular, for the leaf's width
        norm = math.hypot(nx, ny) or 1.0
        half = 0.1 * length / norm
        mx, my = (cx + tx) / 2, (pot_top + ty) / 2
        c.polygon(
            [(cx, pot_top), (mx + nx * half, my + ny * half), (tx, ty), (mx - nx * half, my - ny * half)],
            LEAF_GREENS[k % len(LEAF_GREENS)],
        )
    pot = TERRACOTTA if st.roundness >= 0.15 else shade(st.accent, 0.9)
    c.polygon([(x0 + 0.22 * w, pot_top), (x1 - 0.22 * w, pot_top), (x1 - 0.3 * w, y1), (x0 + 0.3 * w, y1)], pot)
    c.rect((x0 + 0.19 * w, pot_top - 0.03 * h, x1 - 0.19 * w, pot_top + 0.03 * h), shade(pot, 0.85))


def draw_carpet(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    inset = 0.1 * w

    def trapezoid(margin: float) -> list[Point]:
        dy = margin * h / w * 2.0
        return [
            (x0 + inset + margin, y0 + dy),
            (x1 - inset - margin, y0 + dy),
            (x1 - margin, y1 - dy),
            (x0 + margin, y1 - dy),
        ]

    c.polygon(trapezoid(0.0), st.fabric)
    c.polygon(trapezoid(0.03 * w), st.accent)
    c.polygon(trapezoid(0.07 * w), shade(st.accent, 1.15))
    cy = (y0 + y1) / 2
    for k in range(5):  # diamonds along the middle
        dx = x0 + (0.2 + 0.15 * k) * w
        c.polygon([(dx, cy - 0.18 * h), (dx + 0.045 * w, cy), (dx, cy + 0.18 * h), (dx - 0.045 * w, cy)], st.fabric)
    for k in range(16):  # fringe
        fx = x0 + (0.02 + 0.96 * k / 15) * w
        c.line([(fx, y1 - 0.01 * h), (fx, y1 + 0.0)], (236, 230, 214), 0.003)


def draw_coffee_machine(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    c.rect((x0, y0 + 0.4 * h, x1, y1), st.wood)
    c.line([((x0 + x1) / 2, y0 + 0.45 * h), ((x0 + x1) / 2, y1 - 0.03 * h)], shade(st.wood, 0.7), 0.003)
    c.rect((x0 + 0.42 * w, y0 + 0.6 * h, x0 + 0.46 * w, y0 + 0.75 * h), st.metal)
    c.rect((x0 - 0.01 * w, y0 + 0.37 * h, x1 + 0.01 * w, y0 + 0.42 * h), shade(st.wood, 1.15))
    c.rect((x0 + 0.2 * w, y0, x0 + 0.76 * w, y0 + 0.37 * h), (40, 40, 43), radius=0.006)
    c.rect((x0 + 0.62 * w, y0 + 0.03 * h, x0 + 0.74 * w, y0 + 0.3 * h), (112, 140, 160))  # water tank
    c.rect((x0 + 0.26 * w, y0 + 0.1 * h, x0 + 0.56 * w, y0 + 0.35 * h), (18, 18, 20))
    c.rect((x0 + 0.37 * w, y0 + 0.1 * h, x0 + 0.45 * w, y0 + 0.15 * h), st.metal)  # spout
    c.rect((x0 + 0.34 * w, y0 + 0.22 * h, x0 + 0.48 * w, y0 + 0.34 * h), WHITE)  # cup
    c.dot(x0 + 0.3 * w, y0 + 0.05 * h, 0.003, (60, 220, 90))


# --- bathroom ---------------------------------------------------------------------------------------


def draw_bathtub(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    r = max(0.04, _radius(st, 0.2))
    if st.roundness > 0.3:
        for fx in (x0 + 0.08 * w, x1 - 0.14 * w):
            c.ellipse((fx, y1 - 0.12 * h, fx + 0.06 * w, y1), st.metal)
    c.rect(
        (x0, y0 + 0.12 * h, x1, y1 - (0.08 if st.roundness > 0.3 else 0.0) * h),
        WHITE,
        radius=r,
        outline=LINE_GREY,
        width=0.003,
    )
    c.rect((x0 + 0.04 * w, y0 + 0.16 * h, x1 - 0.04 * w, y0 + 0.34 * h), (192, 210, 222), radius=r * 0.6)
    c.rect((x0 + 0.08 * w, y0, x0 + 0.11 * w, y0 + 0.18 * h), st.metal)
    c.rect((x0 + 0.08 * w, y0, x0 + 0.17 * w, y0 + 0.05 * h), st.metal)


def draw_shower(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    back = shade(st.tile, 0.86)
    c.rect(p.box, back)
    step = 0.045
    y = y0 + step
    while y < y1:
        c.line([(x0, y), (x1, y)], shade(back, 0.88), 0.002)
        y += step
    x = x0 + step
    while x < x1:
        c.line([(x, y0), (x, y1)], shade(back, 0.88), 0.002)
        x += step
    c.rect((x0, y1 - 0.06 * h, x1, y1), WHITE)
    pipe_x = x0 + 0.22 * w
    c.line([(pipe_x, y0 + 0.55 * h), (pipe_x, y0 + 0.08 * h), (x0 + 0.42 * w, y0 + 0.08 * h)], st.metal, 0.008)
    c.ellipse((x0 + 0.34 * w, y0 + 0.07 * h, x0 + 0.52 * w, y0 + 0.13 * h), st.metal)
    for k in range(5):  # water
        wx = x0 + (0.36 + 0.035 * k) * w
        c.line([(wx, y0 + 0.15 * h), (wx + 0.01 * w, y0 + 0.4 * h)], (214, 230, 240), 0.002)
    c.rect(p.box, None, outline=st.metal, width=0.006)
    c.line([((x0 + x1) / 2, y0), ((x0 + x1) / 2, y1)], st.metal, 0.004)
    for k in range(2):  # reflections on the glass
        sx = x0 + (0.58 + 0.16 * k) * w
        c.line([(sx, y0 + 0.5 * h), (sx + 0.12 * w, y0 + 0.3 * h)], (240, 244, 248), 0.004)


def draw_toilet(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    c.rect(
        (x0 + 0.12 * w, y0, x1 - 0.12 * w, y0 + 0.4 * h),
        WHITE,
        radius=0.1 * w + _radius(st, 0.03),
        outline=LINE_GREY,
        width=0.003,
    )
    c.dot((x0 + x1) / 2, y0 + 0.06 * h, 0.007, st.metal)
    c.polygon(
        [(x0 + 0.06 * w, y0 + 0.48 * h), (x1 - 0.06 * w, y0 + 0.48 * h), (x1 - 0.26 * w, y1), (x0 + 0.26 * w, y1)],
        (236, 236, 234),
        outline=LINE_GREY,
    )
    c.ellipse((x0, y0 + 0.38 * h, x1, y0 + 0.58 * h), WHITE, outline=LINE_GREY, width=0.003)


def draw_sink(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    cx = (x0 + x1) / 2
    if st.roundness > 0.3:
        c.polygon(
            [(cx - 0.14 * w, y0 + 0.4 * h), (cx + 0.14 * w, y0 + 0.4 * h), (cx + 0.2 * w, y1), (cx - 0.2 * w, y1)],
            (236, 236, 234),
            outline=LINE_GREY,
        )
        c.ellipse((x0, y0 + 0.18 * h, x1, y0 + 0.48 * h), WHITE, outline=LINE_GREY, width=0.003)
        c.ellipse((x0 + 0.14 * w, y0 + 0.22 * h, x1 - 0.14 * w, y0 + 0.32 * h), (200, 212, 220))
    else:
        c.rect((x0, y0 + 0.32 * h, x1, y1), st.wood)
        c.line([(cx, y0 + 0.38 * h), (cx, y1 - 0.03 * h)], shade(st.wood, 0.7), 0.003)
        for hx in (cx - 0.08 * w, cx + 0.06 * w):
            c.rect((hx, y0 + 0.45 * h, hx + 0.02 * w, y0 + 0.6 * h), st.metal)
        c.rect((x0, y0 + 0.28 * h, x1, y0 + 0.35 * h), (232, 230, 226))
        c.ellipse((x0 + 0.18 * w, y0 + 0.14 * h, x1 - 0.18 * w, y0 + 0.3 * h), WHITE, outline=LINE_GREY, width=0.003)
    c.rect((cx - 0.02 * w, y0, cx + 0.02 * w, y0 + 0.2 * h), st.metal)
    c.rect((cx - 0.1 * w, y0, cx + 0.02 * w, y0 + 0.04 * h), st.metal)


def draw_mirror(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    inner = (x0 + 0.05 * w, y0 + 0.04 * h, x1 - 0.05 * w, y1 - 0.04 * h)
    ix0, iy0, _, _, iw, ih = _split(inner)
    if st.roundness > 0.3:
        c.ellipse(p.box, st.metal)
        c.ellipse(inner, (196, 210, 220))
    else:
        c.rect(p.box, st.metal, radius=_radius(st, 0.1))
        c.rect(inner, (196, 210, 220), radius=_radius(st, 0.08))
    for k in range(2):  # reflections
        sx = ix0 + (0.3 + 0.22 * k) * iw
        c.line([(sx, iy0 + 0.7 * ih), (sx + 0.22 * iw, iy0 + 0.3 * ih)], (226, 236, 242), 0.006)


def draw_hanging_towel(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, h = _split(p.box)
    rail = y0 + 0.05 * h
    c.rect((x0, y0, x0 + 0.06 * w, rail + 0.03 * h), st.metal)
    c.rect((x1 - 0.06 * w, y0, x1, rail + 0.03 * h), st.metal)
    c.line([(x0, rail), (x1, rail)], st.metal, 0.007)
    c.rect((x0 + 0.1 * w, rail, x1 - 0.1 * w, y1), WHITE, radius=0.003, outline=LINE_GREY, width=0.002)
    c.rect((x0 + 0.1 * w, rail, x1 - 0.1 * w, rail + 0.16 * h), (230, 230, 226))
    c.rect((x0 + 0.1 * w, y1 - 0.2 * h, x1 - 0.1 * w, y1 - 0.13 * h), st.accent)


# --- windows ----------------------------------------------------------------------------------------


def window_panes(p: Placed, st: HotelStyle) -> list[tuple[str, Box]]:
    """The glass of a window, as ("rect" | "ellipse", box) shapes: where its view shows."""
    x0, y0, x1, y1 = p.box
    t, bar = 0.016, 0.01
    gx0, gy0, gx1, gy1 = x0 + t, y0 + t, x1 - t, y1 - t
    mid = (gx0 + gx1) / 2
    if st.window_shape == "arched":
        arch = 0.5 * (gx1 - gx0)
        return [("ellipse", (gx0, gy0, gx1, gy0 + 2 * arch)), ("rect", (gx0, gy0 + arch, gx1, gy1))]
    if st.window_shape == "wide":
        return [("rect", (gx0, gy0, mid - bar / 2, gy1)), ("rect", (mid + bar / 2, gy0, gx1, gy1))]
    ymid = gy0 + 0.42 * (gy1 - gy0)
    return [
        ("rect", (gx0, gy0, mid - bar / 2, ymid - bar / 2)),
        ("rect", (mid + bar / 2, gy0, gx1, ymid - bar / 2)),
        ("rect", (gx0, ymid + bar / 2, mid - bar / 2, gy1)),
        ("rect", (mid + bar / 2, ymid + bar / 2, gx1, gy1)),
    ]


def glass_box(p: Placed, st: HotelStyle) -> Box:
    panes = [b for _, b in window_panes(p, st)]
    return (min(b[0] for b in panes), min(b[1] for b in panes), max(b[2] for b in panes), max(b[3] for b in panes))


def draw_window(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1, w, _ = _split(p.box)
    if st.window_shape == "arched":
        c.ellipse((x0, y0, x1, y0 + w), st.frame)
        c.rect((x0, y0 + w / 2, x1, y1), st.frame)
    else:
        c.rect(p.box, st.frame)
    for kind, b in window_panes(p, st):  # placeholder glass: the view is composited over it
        (c.ellipse if kind == "ellipse" else c.rect)(b, (120, 150, 180))
    if st.window_shape == "arched":
        c.line([((x0 + x1) / 2, y0), ((x0 + x1) / 2, y1)], st.frame, 0.01)
    c.rect((x0 - 0.015, y1 - 0.004, x1 + 0.015, y1 + 0.014), shade(st.frame, 0.92))


def draw_curtains(c: Canvas, p: Placed, st: HotelStyle) -> None:
    x0, y0, x1, y1 = p.box
    for left in (x0, x1 - CURTAIN_W):
        right = left + CURTAIN_W
        c.polygon([(left + 0.01, y0 + 0.012), (right - 0.01, y0 + 0.012), (right, y1), (left, y1)], st.fabric)
        for k in (1, 2, 3):
            fx = left + CURTAIN_W * k / 4
            c.line([(fx, y0 + 0.02), (fx + (k - 2) * 0.006, y1)], shade(st.fabric, 0.78), 0.004)
    c.line([(x0 - 0.005, y0 + 0.012), (x1 + 0.005, y0 + 0.012)], st.metal, 0.007)
    c.dot(x0 - 0.006, y0 + 0.012, 0.008, st.metal)
    c.dot(x1 + 0.006, y0 + 0.012, 0.008, st.metal)


def draw_towel(c: Canvas, p: Placed, st: HotelStyle) -> None:
    (draw_folded_towels if p.variant == "folded" else draw_hanging_towel)(c, p, st)


def draw_pillow(c: Canvas, p: Placed, st: HotelStyle) -> None:
    (draw_pillows if p.variant == "bed" else draw_sofa_pillows)(c, p, st)


DRAWERS: dict[str, Drawer] = {
    "bed": draw_bed,
    "pillow": draw_pillow,
    "window": draw_window,
    "curtains": draw_curtains,
    "lamp": draw_lamp,
    "desk": draw_desk,
    "chair": draw_chair,
    "table": draw_table,
    "sofa": draw_sofa,
    "television": draw_television,
    "bathtub": draw_bathtub,
    "shower": draw_shower,
    "toilet": draw_toilet,
    "sink": draw_sink,
    "mirror": draw_mirror,
    "towel": draw_towel,
    "painting": draw_painting,
    "plant": draw_plant,
    "carpet": draw_carpet,
    "coffee machine": draw_coffee_machine,
}
