"""Drawing in room-frame coordinates on a photo of any size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image, ImageDraw

from hotelcap_pipeline.world.layout import FRAME_W, Box
from hotelcap_pipeline.world.styles import RGB

Point = tuple[float, float]


@dataclass(frozen=True)
class Frame:
    """Maps the 4/3 x 1 room frame onto a photo: the whole frame is always in view."""

    width: int
    height: int
    unit: float  # pixels per frame unit
    ox: float
    oy: float

    @classmethod
    def for_size(cls, size: tuple[int, int]) -> Frame:
        w, h = size
        unit = min(float(h), w / FRAME_W)
        # Portrait photos show more ceiling and floor; a little more floor than ceiling, as cameras tilt down.
        return cls(w, h, unit, (w - FRAME_W * unit) / 2, (h - unit) * 0.45)

    def x(self, v: float) -> float:
        return self.ox + v * self.unit

    def y(self, v: float) -> float:
        return self.oy + v * self.unit

    def box(self, b: Box) -> tuple[float, float, float, float]:
        return (self.x(b[0]), self.y(b[1]), self.x(b[2]), self.y(b[3]))

    def pixel_box(self, b: Box, margin: int = 0) -> tuple[int, int, int, int]:
        """The pixels a frame box touches, grown by ``margin``, clipped to the photo."""
        x0, y0, x1, y1 = self.box(b)
        return (
            max(0, int(x0) - margin),
            max(0, int(y0) - margin),
            min(self.width, int(x1) + 1 + margin),
            min(self.height, int(y1) + 1 + margin),
        )

    @property
    def left(self) -> float:
        """The photo's left edge in frame units (negative on wide photos)."""
        return -self.ox / self.unit

    @property
    def right(self) -> float:
        return (self.width - self.ox) / self.unit

    @property
    def top(self) -> float:
        return -self.oy / self.unit

    @property
    def bottom(self) -> float:
        return (self.height - self.oy) / self.unit


def shade(color: RGB, factor: float) -> RGB:
    r, g, b = (min(255, max(0, round(c * factor))) for c in color)
    return (r, g, b)


def mix(a: RGB, b: RGB, t: float) -> RGB:
    r, g, bb = (round(x + (y - x) * t) for x, y in zip(a, b, strict=True))
    return (r, g, bb)


class Canvas:
    """PIL drawing with frame-unit coordinates, radii and line widths."""

    def __init__(self, image: Image.Image, frame: Frame) -> None:
        self.image = image
        self.frame = frame
        self.draw = ImageDraw.Draw(image)

    def px(self, length: float) -> int:
        """A line width in pixels, at least one."""
        return max(1, round(length * self.frame.unit))

    def rect(
        self, b: Box, fill: RGB | None, radius: float = 0.0, outline: RGB | None = None, width: float = 0.0
    ) -> None:
        x0, y0, x1, y1 = self.frame.box(b)
        if x1 < x0 or y1 < y0:
            return
        r = min(radius * self.frame.unit, (x1 - x0) / 2, (y1 - y0) / 2)
        line = self.px(width) if outline is not None else 0
        if r >= 1.0:
            self.draw.rounded_rectangle((x0, y0, x1, y1), radius=r, fill=fill, outline=outline, width=line)
        else:
            self.draw.rectangle((x0, y0, x1, y1), fill=fill, outline=outline, width=line)

    def ellipse(self, b: Box, fill: RGB | None, outline: RGB | None = None, width: float = 0.0) -> None:
        x0, y0, x1, y1 = self.frame.box(b)
        if x1 < x0 or y1 < y0:
            return
        self.draw.ellipse(
            (x0, y0, x1, y1), fill=fill, outline=outline, width=self.px(width) if outline is not None else 0
        )

    def polygon(self, points: Sequence[Point], fill: RGB | None, outline: RGB | None = None) -> None:
        self.draw.polygon([(self.frame.x(x), self.frame.y(y)) for x, y in points], fill=fill, outline=outline)

    def line(self, points: Sequence[Point], fill: RGB, width: float) -> None:
        self.draw.line(
            [(self.frame.x(x), self.frame.y(y)) for x, y in points], fill=fill, width=self.px(width), joint="curve"
        )

    def dot(self, x: float, y: float, radius: float, fill: RGB) -> None:
        """A disc at least one pixel across, so small details survive small photos."""
        cx, cy = self.frame.x(x), self.frame.y(y)
        r = max(0.5, radius * self.frame.unit)
        self.draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill)
