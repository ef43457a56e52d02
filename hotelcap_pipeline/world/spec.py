"""What a synthetic room is: its kind, the vocabulary objects placed in it, the conditions that are on.

The rules for which condition can be seen in which room live here (``APPLICABILITY``), so that the
sampler, ``RoomSpec.with_condition`` and the truth agree.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

ROOM_KINDS: tuple[str, ...] = ("bedroom", "bathroom", "desk_corner", "lobby")

# Each condition is either on or off; all off means: day, lights on, no snow, no petals, no swan.
CONDITIONS: tuple[str, ...] = ("night", "lights_off", "snow", "rose_petals", "towel_swan")

# Vocabulary labels (spelled as in assets/vocabulary.yaml) that the renderer knows how to draw.
DRAWN_OBJECTS: tuple[str, ...] = (
    "bed",
    "pillow",
    "window",
    "curtains",
    "lamp",
    "desk",
    "chair",
    "table",
    "sofa",
    "television",
    "bathtub",
    "shower",
    "toilet",
    "sink",
    "mirror",
    "towel",
    "painting",
    "plant",
    "carpet",
    "coffee machine",
)

# Objects drawn on or around another one: pillows lie on a bed or a sofa, curtains hang beside a window.
HOSTS: dict[str, tuple[str, ...]] = {"pillow": ("bed", "sofa"), "curtains": ("window",)}

# A condition is visible only when the room has one of these objects; None means every room
# (each room is lit, by its lamps and the ceiling, so switching the lights off always shows).
APPLICABILITY: dict[str, tuple[str, ...] | None] = {
    "night": ("window",),
    "snow": ("window",),
    "lights_off": None,
    "rose_petals": ("bed",),
    "towel_swan": ("bed",),
}

MIN_OBJECTS, MAX_OBJECTS = 2, 7


def condition_is_applicable(condition: str, objects: frozenset[str] | tuple[str, ...]) -> bool:
    needs = APPLICABILITY[condition]
    return needs is None or any(o in objects for o in needs)


def _check_known(kind: str, objects: tuple[str, ...], conditions: frozenset[str]) -> None:
    if kind not in ROOM_KINDS:
        raise ValueError(f"room_kind {kind!r} is not one of {ROOM_KINDS}")
    unknown = [o for o in objects if o not in DRAWN_OBJECTS]
    if unknown:
        raise ValueError(f"objects {unknown} are not drawn by the world (drawn: {DRAWN_OBJECTS})")
    bad = sorted(c for c in conditions if c not in CONDITIONS)
    if bad:
        raise ValueError(f"conditions {bad} are not among {CONDITIONS}")


@dataclass(frozen=True)
class RoomSpec:
    """One photo to render: everything that decides its pixels, and so its truth."""

    chain_id: int
    hotel_id: int
    room_kind: str
    objects: tuple[str, ...]  # sorted vocabulary labels placed in the room
    conditions: frozenset[str]  # the CONDITIONS that are on
    layout_seed: int  # positions, sizes and per-photo sensor noise

    def __post_init__(self) -> None:
        object.__setattr__(self, "objects", tuple(sorted(set(self.objects))))
        object.__setattr__(self, "conditions", frozenset(self.conditions))
        _check_known(self.room_kind, self.objects, self.conditions)

    def applicable_conditions(self) -> tuple[str, ...]:
        """The conditions that visibly change this room, in CONDITIONS order.

        night and snow change the view through a window, so they need a window; rose_petals and
        towel_swan are laid on a bed, so they need a bed; lights_off applies to every room.
        """
        return tuple(c for c in CONDITIONS if condition_is_applicable(c, self.objects))

    def with_condition(self, name: str, on: bool = True) -> RoomSpec:
        """The same room and photo with exactly that one condition switched on (or off)."""
        if name not in CONDITIONS:
            raise ValueError(f"unknown condition {name!r}; known: {CONDITIONS}")
        if name not in self.applicable_conditions():
            needs = " or a ".join(APPLICABILITY[name] or ())
            raise ValueError(f"{name} is not visible in this {self.room_kind}: it needs a {needs}")
        conditions = self.conditions | {name} if on else self.conditions - {name}
        return replace(self, conditions=frozenset(conditions))


@dataclass(frozen=True)
class Truth:
    """What a render shows."""

    tags: tuple[str, ...]  # visible vocabulary labels, sorted (a towel swan is also a towel)
    room_kind: str
    conditions: tuple[str, ...]  # active and visible conditions, sorted
