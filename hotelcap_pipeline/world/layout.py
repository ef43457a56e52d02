"""Where each object of a room goes, in size-independent "room frame" coordinates.

The room frame is 4/3 wide and 1 high (y grows downwards); the back wall meets the floor at the
style's horizon. Every photo size shows the whole frame (portrait and wide photos show more ceiling,
floor or wall around it), so the layout, and with it the truth, does not depend on the size.

Each object gets a ``box`` (everything it draws) and a ``keep`` box (the part no later-drawn object
may cover), so every placed object stays visible. Objects are placed one by one in a fixed priority
order, each with its own random generator seeded by (layout_seed, object), so adding or removing an
object leaves the objects placed before it where they were. An object that finds no free spot is
left out of the layout, and so out of the truth.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from hotelcap_pipeline.world.spec import DRAWN_OBJECTS, RoomSpec
from hotelcap_pipeline.world.styles import HotelStyle, hotel_style

Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in room-frame units

FRAME_W = 4 / 3
EDGE = 0.02  # objects keep this far from the frame's sides
GAP = 0.012  # the least free space between two objects that may not overlap
WALL_TOP = 0.06  # nothing hangs higher than this (the ceiling band is above)
CURTAIN_W = 0.068

PLACEMENT_ORDER = (
    "bed",
    "bathtub",
    "sofa",
    "desk",
    "shower",
    "window",
    "toilet",
    "sink",
    "table",
    "chair",
    "television",
    "mirror",
    "painting",
    "towel",
    "plant",
    "lamp",
    "coffee machine",
    "carpet",
)
WALL_OBJECTS = frozenset({"window", "curtains", "painting", "mirror", "television", "towel"})

# (width, top, bottom) in frame units at scale 1; top and bottom are offsets from the horizon.
TEMPLATES: dict[str, tuple[float, float, float]] = {
    "bed": (0.62, -0.30, 0.24),
    "bathtub": (0.56, -0.10, 0.17),
    "sofa": (0.56, -0.17, 0.17),
    "desk": (0.44, -0.09, 0.15),
    "shower": (0.26, -0.50, 0.10),
    "window": (0.33, -0.52, -0.19),
    "toilet": (0.16, -0.22, 0.13),
    "sink": (0.22, -0.16, 0.12),
    "table": (0.26, -0.02, 0.18),
    "chair": (0.16, -0.15, 0.20),
    "television": (0.30, -0.46, -0.29),
    "mirror": (0.20, -0.47, -0.21),
    "painting": (0.24, -0.50, -0.33),
    "towel": (0.11, -0.42, -0.18),
    "plant": (0.15, -0.32, 0.14),
    "lamp": (0.12, -0.40, 0.12),
    "coffee machine": (0.14, -0.17, 0.12),
    "carpet": (0.60, 0.20, 0.37),
}

# Pairs that may overlap: a chair pulled up to a desk or table, things lying on a bed or sofa.
OVERLAP_OK = frozenset(
    frozenset(p)
    for p in (
        ("chair", "desk"),
        ("chair", "table"),
        ("bed", "pillow"),
        ("sofa", "pillow"),
        ("bed", "towel"),
        ("window", "curtains"),
    )
)
MAX_COVER = 0.5  # the most of an object's keep box that an allowed overlap may cover
SCALE_STEPS = (1.0, 0.85, 0.72)  # an object that does not fit is tried smaller before it is left out
RANDOM_TRIES = 40


@dataclass(frozen=True)
class Placed:
    label: str
    box: Box
    keep: Box
    seed: int  # seeds the object's drawing details
    z: tuple[float, ...]  # drawing order: wall, rug, then floor objects from the back to the front
    variant: str = ""  # a towel "folded" on a bed or hanging; pillows on a "bed" or a "sofa"

    @property
    def width(self) -> float:
        return self.box[2] - self.box[0]

    @property
    def center_x(self) -> float:
        return (self.box[0] + self.box[2]) / 2


@dataclass(frozen=True)
class Layout:
    horizon: float
    items: tuple[Placed, ...]  # in drawing order

    def first(self, label: str) -> Placed | None:
        return next((p for p in self.items if p.label == label), None)

    def labels(self) -> frozenset[str]:
        return frozenset(p.label for p in self.items)


def overlaps(a: Box, b: Box, gap: float = 0.0) -> bool:
    return a[0] < b[2] + gap and b[0] < a[2] + gap and a[1] < b[3] + gap and b[1] < a[3] + gap


def _z(label: str, box: Box, order: int) -> tuple[float, ...]:
    if label in WALL_OBJECTS:
        return (0.0, float(order))
    if label == "carpet":
        return (1.0, float(order))
    return (2.0, box[3], float(order))


def _area(b: Box) -> float:
    return max(0.0, b[2] - b[0]) * max(0.0, b[3] - b[1])


def _intersection(a: Box, b: Box) -> Box:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _fits(group: list[Placed], placed: list[Placed]) -> bool:
    """No object may cover the keep box of one drawn before it."""
    for new in group:
        if new.box[0] < EDGE or new.box[2] > FRAME_W - EDGE:
            return False
        for old in placed:
            later, earlier = (new, old) if new.z > old.z else (old, new)
            if frozenset((new.label, old.label)) in OVERLAP_OK:
                if _area(_intersection(later.box, earlier.keep)) > MAX_COVER * _area(earlier.keep):
                    return False  # a chair may stand in front of a desk, not hide it
            elif overlaps(later.box, earlier.keep, GAP):
                return False
    return True


def _shape(label: str, horizon: float, style: HotelStyle, rng: np.random.Generator) -> tuple[float, float, float]:
    width, top, bottom = TEMPLATES[label]
    s = style.scale
    width *= s * float(rng.uniform(0.92, 1.08)) * (style.window_scale if label == "window" else 1.0)
    y0 = horizon + top * s * float(rng.uniform(0.96, 1.04))
    y1 = horizon + bottom * s * float(rng.uniform(0.97, 1.03))
    if label in WALL_OBJECTS or label == "shower":
        y0 = max(y0, WALL_TOP)
    return width, y0, min(y1, 0.985)


def _keep(label: str, box: Box) -> Box:
    x0, y0, x1, y1 = box
    if label == "carpet":  # the back of a rug may disappear under furniture, its front may not
        return (x0, (y0 + y1) / 2, x1, y1)
    if label == "curtains":  # floor-length curtains may hide their hems behind furniture
        return (x0, y0, x1, y0 + 0.6 * (y1 - y0))
    return box


def _anchors(label: str, width: float, placed: list[Placed], rng: np.random.Generator) -> list[float]:
    """Preferred left edges: next to or under the objects this one usually goes with."""
    by = {p.label: p for p in placed}
    xs: list[float] = []

    def centred_on(*hosts: str, jitter: float = 0.0) -> None:
        for host in hosts:
            if host in by:
                xs.append(by[host].center_x - width / 2 + float(rng.uniform(-jitter, jitter)) * by[host].width)

    def beside(*hosts: str) -> None:
        for host in hosts:
            if host in by:
                sides = [by[host].box[0] - width - 0.02, by[host].box[2] + 0.02]
                xs.extend(sides if rng.random() < 0.5 else sides[::-1])

    if label in ("bed", "sofa", "bathtub", "desk", "shower") and rng.random() < 0.65:
        # Often against a side wall, which leaves the rest of the wall for a window or pictures.
        offset = float(rng.uniform(0.0, 0.08))
        sides = [EDGE + offset, FRAME_W - EDGE - width - offset]
        xs.extend(sides if rng.random() < 0.5 else sides[::-1])
    elif label == "chair":
        centred_on("desk", "table", jitter=0.2)
    elif label == "mirror":
        centred_on("sink")
    elif label == "painting":
        centred_on("bed", "sofa", "desk", jitter=0.1)
    elif label == "television":
        centred_on("desk", "table", "sofa")
    elif label == "lamp":
        beside("bed", "sofa", "desk")
    elif label == "towel":
        beside("sink", "bathtub", "shower")
    elif label == "plant":
        xs.extend([EDGE, FRAME_W - EDGE - width] if rng.random() < 0.5 else [FRAME_W - EDGE - width, EDGE])
    return xs


def _group(
    label: str, x0: float, shape: tuple[float, float, float], horizon: float, seed: int, order: int, with_curtains: bool
) -> list[Placed]:
    """The object at left edge x0, with the curtains that hang around a window."""
    width, y0, y1 = shape
    if label != "window" or not with_curtains:
        box = (x0, y0, x0 + width, y1)
        return [Placed(label, box, _keep(label, box), seed, _z(label, box, order))]
    inner = x0 + CURTAIN_W - 0.01  # curtains overlap the window frame, never its panes
    window = (inner, y0, inner + width, y1)
    curtains = (x0, y0 - 0.025, inner + width + CURTAIN_W - 0.01, horizon + 0.02)
    return [
        Placed("window", window, window, seed, _z("window", window, order)),
        Placed("curtains", curtains, _keep("curtains", curtains), seed + 1, (*_z("window", window, order), 1.0)),
    ]


def _group_width(label: str, width: float, with_curtains: bool) -> float:
    return width + 2 * (CURTAIN_W - 0.01) if label == "window" and with_curtains else width


def _place(label: str, spec: RoomSpec, style: HotelStyle, horizon: float, placed: list[Placed]) -> list[Placed]:
    order = PLACEMENT_ORDER.index(label)
    rng = np.random.default_rng([spec.layout_seed, DRAWN_OBJECTS.index(label)])
    seed = int(rng.integers(2**31))
    base = _shape(label, horizon, style, rng)
    with_curtains = "curtains" in spec.objects
    for step in SCALE_STEPS:
        width, y0, y1 = base[0] * step, base[1], base[2]
        if label in WALL_OBJECTS:  # a smaller picture hangs from the same height
            y1 = y0 + (y1 - y0) * step
        elif label != "carpet":  # a smaller piece of furniture still stands on the floor
            y0 = y1 - (y1 - y0) * step
        total = _group_width(label, width, with_curtains)
        lo, hi = EDGE, FRAME_W - EDGE - total
        if hi < lo:
            continue
        candidates = _anchors(label, total, placed, rng) + list(rng.uniform(lo, hi, RANDOM_TRIES))
        for x0 in candidates:
            group = _group(label, float(x0), (width, y0, y1), horizon, seed, order, with_curtains)
            if _fits(group, placed):
                return group
    return []


def _on_bed(label: str, bed: Placed, spec: RoomSpec) -> Placed:
    """Pillows at the head of the bed; a folded towel at its foot."""
    x0, y0, x1, y1 = bed.box
    w, h = x1 - x0, y1 - y0
    if label == "pillow":
        box = (x0 + 0.1 * w, y0 + 0.33 * h, x1 - 0.1 * w, y0 + 0.5 * h)
    else:
        box = (x1 - 0.27 * w, y0 + 0.58 * h, x1 - 0.07 * w, y0 + 0.73 * h)
    variant = "folded" if label == "towel" else "bed"
    return Placed(label, box, box, spec.layout_seed + len(label), (*bed.z, 1.0), variant)


def _on_sofa(sofa: Placed, spec: RoomSpec) -> Placed:
    x0, y0, x1, y1 = sofa.box
    w, h = x1 - x0, y1 - y0
    box = (x0 + 0.1 * w, y0 + 0.12 * h, x1 - 0.1 * w, y0 + 0.48 * h)
    return Placed("pillow", box, box, spec.layout_seed + 5, (*sofa.z, 1.0), "sofa")


def _towel_is_folded(spec: RoomSpec, placed: list[Placed]) -> bool:
    rng = np.random.default_rng([spec.layout_seed, DRAWN_OBJECTS.index("towel"), 1])
    return spec.room_kind == "bedroom" and any(p.label == "bed" for p in placed) and rng.random() < 0.6


@lru_cache(maxsize=4096)
def _layout(chain_id: int, hotel_id: int, room_kind: str, objects: tuple[str, ...], layout_seed: int) -> Layout:
    spec = RoomSpec(chain_id, hotel_id, room_kind, objects, frozenset(), layout_seed)
    style = hotel_style(chain_id, hotel_id)
    horizon = style.horizon
    placed: list[Placed] = []
    for label in PLACEMENT_ORDER:
        if label not in objects:
            continue
        if label == "towel" and _towel_is_folded(spec, placed):
            bed = next(p for p in placed if p.label == "bed")
            placed.append(_on_bed("towel", bed, spec))
            continue
        placed.extend(_place(label, spec, style, horizon, placed))
    if "pillow" in objects:
        hosts = [p for p in placed if p.label in ("bed", "sofa")]
        placed.extend(_on_bed("pillow", h, spec) if h.label == "bed" else _on_sofa(h, spec) for h in hosts)
    return Layout(horizon, tuple(sorted(placed, key=lambda p: p.z)))


def layout(spec: RoomSpec) -> Layout:
    """The placed objects of the room; conditions do not move anything."""
    return _layout(spec.chain_id, spec.hotel_id, spec.room_kind, spec.objects, spec.layout_seed)
