"""Pixels from a RoomSpec, and where in those pixels each object and condition lies.

The order of the steps is what keeps a one-condition re-render local: the room and its objects are
drawn first (rose petals and towel swans on the bed only), then the room's light is applied (lamp
glow, or the dim light of lights_off) to everything but the glass, then the view is composited into
the window panes (night and snow change the view only), and last a slight blur and the photo's
sensor noise, seeded by the layout seed, so identical wherever the pixels before it are.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from hotelcap_pipeline.world.canvas import Canvas, Frame
from hotelcap_pipeline.world.layout import Box, Layout, Placed, layout
from hotelcap_pipeline.world.objects import (
    DRAWERS,
    draw_rose_petals,
    draw_towel_swans,
    glass_box,
    lamp_light,
    window_panes,
)
from hotelcap_pipeline.world.room import draw_room
from hotelcap_pipeline.world.spec import CONDITIONS, RoomSpec
from hotelcap_pipeline.world.styles import HotelStyle, hotel_style
from hotelcap_pipeline.world.view import draw_view

LIGHTS_OFF = np.array([0.34, 0.36, 0.45], np.float32)  # the room in dim, bluish light
GLOW = np.array([92, 70, 30], np.float32)  # warm light added around a lit lamp's shade
GLOW_RADIUS = 0.3  # frame units
NOISE_STEP = 2  # noise is the sum of two uniform integers in [-2, 2]: sd 2 grey levels, small as JPEG
# A binomial 3x3 kernel (a Gaussian of sd ~0.7 px), much faster than PIL's GaussianBlur.
SOFTEN = ImageFilter.Kernel((3, 3), [1, 2, 1, 2, 4, 2, 1, 2, 1], 16)
MIN_SIDE = 16


def blur_passes(size: tuple[int, int]) -> int:
    """Large photos get a second pass, so the blur looks alike at every size."""
    return 1 if min(size) < 700 else 2


def blur_margin(size: tuple[int, int]) -> int:
    """How far (pixels) the blur can carry a change beyond the region where it was drawn."""
    return blur_passes(size) + 1


def _check_size(size: tuple[int, int]) -> tuple[int, int]:
    w, h = (int(v) for v in size)
    if w < MIN_SIDE or h < MIN_SIDE:
        raise ValueError(f"size {size} is too small: width and height must be at least {MIN_SIDE} pixels")
    return w, h


@lru_cache(maxsize=16)
def _lighting(width: int, height: int) -> np.ndarray:
    """A soft vignette: brighter in the middle, as under a ceiling light."""
    ys = np.linspace(-1.0, 1.0, height, dtype=np.float32)[:, None]
    xs = np.linspace(-1.0, 1.0, width, dtype=np.float32)[None, :]
    field = 1.05 - 0.13 * xs**2 - 0.1 * (ys + 0.25) ** 2
    return field[:, :, None].astype(np.float32)


def _add_glow(arr: np.ndarray, frame: Frame, lamp: Placed) -> None:
    lx, ly = lamp_light(lamp)
    cx, cy, r = frame.x(lx), frame.y(ly), GLOW_RADIUS * frame.unit
    x0, x1 = max(0, int(cx - r)), min(frame.width, int(cx + r) + 1)
    y0, y1 = max(0, int(cy - r)), min(frame.height, int(cy + r) + 1)
    if x0 >= x1 or y0 >= y1:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    falloff = np.clip(1.0 - np.hypot(xx - cx, yy - cy) / r, 0.0, 1.0) ** 2
    arr[y0:y1, x0:x1] += falloff[:, :, None] * GLOW


def _pane_mask(frame: Frame, window: Placed, style: HotelStyle, box: tuple[int, int, int, int]) -> np.ndarray:
    """The window's panes as a boolean mask over the pixel box ``box``."""
    bx0, by0, bx1, by1 = box
    mask = Image.new("L", (bx1 - bx0, by1 - by0), 0)
    d = ImageDraw.Draw(mask)
    for kind, pane in window_panes(window, style):
        x0, y0, x1, y1 = frame.box(pane)
        shape = (x0 - bx0, y0 - by0, x1 - bx0, y1 - by0)
        (d.ellipse if kind == "ellipse" else d.rectangle)(shape, fill=255)
    return np.asarray(mask) > 127


def view_mask(spec: RoomSpec, size: tuple[int, int]) -> np.ndarray:
    """Boolean (height, width) mask of the pixels that show the view through the window (none without one)."""
    w, h = _check_size(size)
    frame = Frame.for_size((w, h))
    full = np.zeros((h, w), dtype=bool)
    window = layout(spec).first("window")
    if window is not None:
        style = hotel_style(spec.chain_id, spec.hotel_id)
        box = frame.pixel_box(glass_box(window, style))
        full[box[1] : box[3], box[0] : box[2]] = _pane_mask(frame, window, style, box)
    return full


def _show_view(out: np.ndarray, frame: Frame, window: Placed, style: HotelStyle, spec: RoomSpec) -> None:
    box = frame.pixel_box(glass_box(window, style))
    bx0, by0, bx1, by1 = box
    if bx1 - bx0 < 2 or by1 - by0 < 2:
        return
    mask = _pane_mask(frame, window, style, box)
    view = np.asarray(
        draw_view((bx1 - bx0, by1 - by0), spec.layout_seed, "night" in spec.conditions, "snow" in spec.conditions)
    )
    region = out[by0:by1, bx0:bx1]
    region[mask] = view[mask]


def _draw_scene(spec: RoomSpec, lay: Layout, style: HotelStyle, frame: Frame) -> Image.Image:
    img = Image.new("RGB", (frame.width, frame.height), style.wall)
    canvas = Canvas(img, frame)
    draw_room(canvas, style, lay.horizon, spec.room_kind)
    for item in lay.items:
        DRAWERS[item.label](canvas, item, style)
    bed = lay.first("bed")
    if bed is not None:
        if "rose_petals" in spec.conditions:
            draw_rose_petals(canvas, bed, spec.layout_seed)
        if "towel_swan" in spec.conditions:
            draw_towel_swans(canvas, bed, style)
    return img


def _add_sensor_noise(img: Image.Image, seed: int) -> Image.Image:
    w, h = img.size
    rng = np.random.default_rng([seed, 77])
    noise = rng.integers(-NOISE_STEP, NOISE_STEP + 1, (h, w), dtype=np.int16)
    noise += rng.integers(-NOISE_STEP, NOISE_STEP + 1, (h, w), dtype=np.int16)
    arr = np.asarray(img, dtype=np.int16) + noise[:, :, None]
    return Image.fromarray(np.clip(arr, 0, 255, out=arr).astype(np.uint8))


def render(spec: RoomSpec, size: tuple[int, int]) -> Image.Image:
    """The photo of ``spec`` at ``size`` = (width, height), RGB; the same spec and size give the same pixels."""
    w, h = _check_size(size)
    style = hotel_style(spec.chain_id, spec.hotel_id)
    lay = layout(spec)
    frame = Frame.for_size((w, h))
    img = _draw_scene(spec, lay, style, frame)
    arr = np.asarray(img, dtype=np.float32) * _lighting(w, h)
    if "lights_off" in spec.conditions:
        arr *= LIGHTS_OFF
    else:
        for lamp in (p for p in lay.items if p.label == "lamp"):
            _add_glow(arr, frame, lamp)
    out = np.clip(arr + 0.5, 0, 255).astype(np.uint8)
    window = lay.first("window")
    if window is not None:
        _show_view(out, frame, window, style, spec)
    blurred = Image.fromarray(out)
    for _ in range(blur_passes((w, h))):
        blurred = blurred.filter(SOFTEN)
    return _add_sensor_noise(blurred, spec.layout_seed)


def object_boxes(spec: RoomSpec, size: tuple[int, int]) -> dict[str, tuple[int, int, int, int]]:
    """Pixel box (x0, y0, x1, y1), end-exclusive, of each visible object; one box per label."""
    frame = Frame.for_size(_check_size(size))
    boxes: dict[str, Box] = {}
    for item in layout(spec).items:
        old = boxes.get(item.label)
        b = item.box
        boxes[item.label] = (
            b if old is None else (min(old[0], b[0]), min(old[1], b[1]), max(old[2], b[2]), max(old[3], b[3]))
        )
    return {label: frame.pixel_box(b) for label, b in boxes.items()}


def _grow(mask: np.ndarray, margin: int) -> np.ndarray:
    grown = Image.fromarray(mask.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(2 * margin + 1))
    return np.asarray(grown) > 127


def condition_region(spec: RoomSpec, size: tuple[int, int], condition: str) -> np.ndarray:
    """Boolean (height, width) mask of the pixels that switching ``condition`` may change.

    night, snow: the window panes; rose_petals, towel_swan: the bed; lights_off: everything but the
    panes. Each grown (or, for lights_off, the panes shrunk) by the blur margin.
    """
    if condition not in CONDITIONS:
        raise ValueError(f"unknown condition {condition!r}; known: {CONDITIONS}")
    w, h = _check_size(size)
    margin = blur_margin((w, h))
    if condition in ("night", "snow"):
        return _grow(view_mask(spec, (w, h)), margin)
    if condition == "lights_off":
        return _grow(~view_mask(spec, (w, h)), margin)
    region = np.zeros((h, w), dtype=bool)
    bed = layout(spec).first("bed")
    if condition in ("rose_petals", "towel_swan") and bed is not None:
        x0, y0, x1, y1 = Frame.for_size((w, h)).pixel_box(bed.box, margin)
        region[y0:y1, x0:x1] = True
    return region
