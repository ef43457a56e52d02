"""The view through a window: the only pixels that night and snow change.

The scenery (where the trees, hills and far buildings stand) comes from the photo's layout seed
alone, so the same window shows the same place by day, by night and under snow.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from hotelcap_pipeline.world.styles import RGB

# (sky top, sky bottom, ground) for (night, snow)
_SKY: dict[tuple[bool, bool], tuple[RGB, RGB, RGB]] = {
    (False, False): ((62, 126, 214), (168, 206, 242), (88, 152, 66)),
    (True, False): ((4, 8, 26), (20, 30, 64), (16, 30, 22)),
    (False, True): ((168, 180, 198), (214, 220, 228), (242, 244, 248)),
    (True, True): ((14, 18, 36), (40, 46, 72), (128, 138, 168)),
}
LIT_WINDOW: RGB = (252, 214, 120)


def _gradient(size: tuple[int, int], top: RGB, bottom: RGB) -> np.ndarray:
    w, h = size
    t = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None, None]
    sky = np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t
    return np.broadcast_to(sky, (h, w, 3)).astype(np.uint8)


def draw_view(size: tuple[int, int], seed: int, night: bool, snow: bool) -> Image.Image:
    """The landscape seen through a window glass of ``size`` pixels."""
    w, h = size
    top, bottom, ground = _SKY[(night, snow)]
    img = Image.fromarray(_gradient(size, top, bottom))
    d = ImageDraw.Draw(img)
    scene = np.random.default_rng([seed, 202])
    horizon = h * float(scene.uniform(0.58, 0.7))
    unit = min(w, h)

    if night and not snow:
        stars = np.random.default_rng([seed, 203])
        for _ in range(max(6, w * h // 220)):
            sx, sy = float(stars.uniform(0, w)), float(stars.uniform(0, horizon * 0.8))
            d.point((sx, sy), fill=(255, 255, 236) if stars.random() < 0.7 else (200, 210, 255))
    elif not night and not snow:
        for _ in range(int(scene.integers(1, 4))):
            cx, cy = float(scene.uniform(0, w)), float(scene.uniform(0.08, 0.35)) * h
            cw = float(scene.uniform(0.15, 0.3)) * w
            d.ellipse((cx - cw / 2, cy - cw / 6, cx + cw / 2, cy + cw / 6), fill=(246, 248, 252))

    _draw_skyline(d, scene, size, horizon, night, snow, seed)
    hill = float(scene.uniform(0.02, 0.08)) * h
    d.polygon(
        [(0, horizon), (w * 0.35, horizon - hill), (w * 0.7, horizon - hill * 0.4), (w, horizon), (w, h), (0, h)],
        fill=ground,
    )
    _draw_trees(d, scene, size, horizon, night, snow)
    if snow:
        flakes = np.random.default_rng([seed, 204])
        r = max(0.6, unit * 0.012)
        for _ in range(max(12, w * h // 120)):
            fx, fy = float(flakes.uniform(0, w)), float(flakes.uniform(0, h))
            d.ellipse((fx - r, fy - r, fx + r, fy + r), fill=(250, 250, 252))
    return img


def _draw_skyline(
    d: ImageDraw.ImageDraw,
    scene: np.random.Generator,
    size: tuple[int, int],
    horizon: float,
    night: bool,
    snow: bool,
    seed: int,
) -> None:
    """Far buildings: grey by day, dark with lit windows at night, white roofs under snow."""
    w, h = size
    lights = np.random.default_rng([seed, 205])
    wall = (22, 26, 40) if night else (150, 160, 178)
    for _ in range(int(scene.integers(2, 5))):
        bx, bw = float(scene.uniform(0, w)), float(scene.uniform(0.08, 0.2)) * w
        bh = float(scene.uniform(0.12, 0.3)) * h
        box = (bx, horizon - bh, bx + bw, horizon)
        d.rectangle(box, fill=wall)
        if snow:
            d.rectangle((bx, horizon - bh, bx + bw, horizon - bh + max(1.0, bh * 0.08)), fill=(240, 242, 246))
        step = max(2.0, min(w, h) * 0.04)
        y = horizon - bh + step
        while y < horizon - step / 2:
            x = bx + step / 2
            while x < bx + bw - step / 2:
                lit = lights.random() < 0.45
                if night and lit:
                    d.rectangle((x, y, x + step * 0.4, y + step * 0.4), fill=LIT_WINDOW)
                x += step
            y += step


def _draw_trees(
    d: ImageDraw.ImageDraw, scene: np.random.Generator, size: tuple[int, int], horizon: float, night: bool, snow: bool
) -> None:
    w, h = size
    trunk = (20, 16, 14) if night else (96, 70, 50)
    crowns = ((12, 32, 20), (18, 42, 26)) if night else ((46, 118, 52), (64, 140, 60))
    cap = (150, 160, 190) if night else (244, 246, 250)
    for k in range(int(scene.integers(2, 6))):
        tx = float(scene.uniform(0.05, 0.95)) * w
        size_ = float(scene.uniform(0.16, 0.32)) * h
        base = horizon + float(scene.uniform(0.02, 0.2)) * h
        d.rectangle((tx - size_ * 0.06, base - size_ * 0.45, tx + size_ * 0.06, base), fill=trunk)
        crown = (tx - size_ * 0.35, base - size_ * 1.05, tx + size_ * 0.35, base - size_ * 0.3)
        d.ellipse(crown, fill=crowns[k % 2])
        if snow:
            d.chord(crown, 180, 360, fill=cap)
