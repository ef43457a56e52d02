"""What a render shows, and captions written from it."""

from __future__ import annotations

import numpy as np

from hotelcap_pipeline.wording import listing, with_article
from hotelcap_pipeline.world.layout import layout
from hotelcap_pipeline.world.spec import RoomSpec, Truth, condition_is_applicable


def truth(spec: RoomSpec) -> Truth:
    """The visible objects (a towel swan counts as a towel) and the active conditions that show."""
    labels = set(layout(spec).labels())
    shown = {c for c in spec.conditions if condition_is_applicable(c, frozenset(labels))}
    if "towel_swan" in shown:
        labels.add("towel")
    return Truth(tags=tuple(sorted(labels)), room_kind=spec.room_kind, conditions=tuple(sorted(shown)))


ROOM_WORDS: dict[str, tuple[str, ...]] = {
    "bedroom": ("bedroom", "guest room", "double room"),
    "bathroom": ("bathroom", "washroom", "private bathroom"),
    "desk_corner": ("desk corner", "work corner", "workspace"),
    "lobby": ("lobby", "lounge", "reception area"),
}
OBJECT_WORDS: dict[str, str] = {"pillow": "pillows", "curtains": "curtains"}  # the rest take "a"/"an"
CONDITION_WORDS: dict[str, tuple[str, ...]] = {
    "night": ("at night", "at night time"),
    "day": ("in daylight", "during the day"),
    "lights_off": ("lights off", "with the lights off"),
    "lights_on": ("lights on", "with the lights on"),
    "snow": ("snow outside the window", "snowing outside"),
    "rose_petals": ("rose petals on the bed", "with rose petals on the bed"),
    "towel_swan": ("a towel swan on the bed", "with a towel swan on the bed"),
}
TEMPLATES: tuple[str, ...] = (
    "a photo of a hotel {room} with {objects}",
    "a hotel {room} with {objects}",
    "{objects} in a hotel {room}",
    "a picture of a {room} in a hotel, showing {objects}",
)


def _pick(options: tuple[str, ...], rng: np.random.Generator | None) -> str:
    return options[0] if rng is None else options[int(rng.integers(len(options)))]


def _condition_phrases(t: Truth, rng: np.random.Generator | None) -> list[str]:
    """Time of day where a window shows it, then the lights, then the rest."""
    on = set(t.conditions)
    keys: list[str] = []
    if "window" in t.tags:
        keys.append("night" if "night" in on else "day")
    keys.append("lights_off" if "lights_off" in on else "lights_on")
    keys += [c for c in ("snow", "rose_petals", "towel_swan") if c in on]
    return [_pick(CONDITION_WORDS[k], rng) for k in keys]


def describe(t: Truth, rng: np.random.Generator | None = None) -> str:
    """A caption, e.g. "a photo of a hotel bedroom with a bed, a lamp and a window, at night, lights on".

    Without rng the wording is fixed and objects are listed alphabetically; with rng the template,
    the words and the order of objects and conditions vary (for training text).
    """
    objects = [with_article(OBJECT_WORDS.get(label, label)) for label in t.tags]
    conditions = _condition_phrases(t, rng)
    if rng is not None:
        rng.shuffle(objects)
        head, rest = conditions[:1], conditions[1:]
        rng.shuffle(rest)
        conditions = head + rest
    room = _pick(ROOM_WORDS[t.room_kind], rng)
    if not objects:
        return ", ".join([f"a photo of a hotel {room}", *conditions])
    text = _pick(TEMPLATES, rng).format(room=room, objects=listing(objects))
    return ", ".join([text, *conditions])
