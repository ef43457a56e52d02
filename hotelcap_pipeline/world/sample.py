"""Random rooms: which objects a photo shows depends on its room kind (with some cross-over), never on the hotel."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

import numpy as np

from hotelcap_pipeline.world.layout import layout
from hotelcap_pipeline.world.spec import (
    APPLICABILITY,
    CONDITIONS,
    DRAWN_OBJECTS,
    HOSTS,
    MAX_OBJECTS,
    MIN_OBJECTS,
    ROOM_KINDS,
    RoomSpec,
    condition_is_applicable,
)

KIND_WEIGHTS: dict[str, float] = {"bedroom": 0.4, "bathroom": 0.22, "desk_corner": 0.18, "lobby": 0.2}

# How likely each object is in a room of each kind (pillows given a bed or sofa, curtains given a window).
OBJECT_PRIORS: dict[str, dict[str, float]] = {
    "bedroom": {
        "bed": 0.97,
        "pillow": 0.9,
        "window": 0.75,
        "curtains": 0.7,
        "lamp": 0.6,
        "painting": 0.4,
        "television": 0.35,
        "carpet": 0.3,
        "table": 0.2,
        "chair": 0.2,
        "towel": 0.15,
        "desk": 0.12,
        "plant": 0.12,
        "coffee machine": 0.1,
        "sofa": 0.08,
        "mirror": 0.06,
    },
    "bathroom": {
        "sink": 0.9,
        "mirror": 0.8,
        "toilet": 0.75,
        "towel": 0.75,
        "bathtub": 0.55,
        "shower": 0.45,
        "window": 0.25,
        "curtains": 0.3,
        "plant": 0.15,
        "carpet": 0.15,
        "painting": 0.05,
    },
    "desk_corner": {
        "desk": 0.97,
        "chair": 0.85,
        "lamp": 0.75,
        "window": 0.5,
        "curtains": 0.5,
        "painting": 0.3,
        "plant": 0.3,
        "coffee machine": 0.3,
        "television": 0.25,
        "carpet": 0.2,
        "table": 0.08,
        "sofa": 0.05,
    },
    "lobby": {
        "sofa": 0.85,
        "table": 0.75,
        "plant": 0.75,
        "painting": 0.6,
        "carpet": 0.55,
        "lamp": 0.5,
        "window": 0.5,
        "curtains": 0.4,
        "chair": 0.4,
        "pillow": 0.4,
        "television": 0.12,
        "coffee machine": 0.1,
        "mirror": 0.1,
    },
}

# Share of the rooms where each condition is on, among the rooms where it can be seen.
CONDITION_RATES: dict[str, float] = {
    "night": 0.3,
    "lights_off": 0.2,
    "snow": 0.25,
    "rose_petals": 0.15,
    "towel_swan": 0.15,
}

MAX_TRIES = 60


def _drop_orphans(chosen: set[str]) -> None:
    for label, hosts in HOSTS.items():
        if label in chosen and not any(h in chosen for h in hosts):
            chosen.discard(label)


def _sample_objects(rng: np.random.Generator, kind: str, required: frozenset[str], most: int) -> set[str]:
    priors = OBJECT_PRIORS[kind]
    draws = rng.random(len(DRAWN_OBJECTS))  # one draw per label, whatever is chosen
    chosen = {label for label, u in zip(DRAWN_OBJECTS, draws, strict=True) if u < priors.get(label, 0.0)}
    chosen |= required
    _drop_orphans(chosen)
    while len(chosen) > most:  # drop the least likely first, never what a wanted condition needs
        chosen.discard(min(chosen - required, key=lambda label: (priors.get(label, 0.0), label)))
        _drop_orphans(chosen)
    by_likelihood = sorted(priors, key=lambda label: -priors[label])
    for label in by_likelihood:
        if len(chosen) >= MIN_OBJECTS:
            break
        if label not in HOSTS or any(h in chosen for h in HOSTS[label]):
            chosen.add(label)
    return chosen


def fit_to_layout(spec: RoomSpec) -> RoomSpec:
    """The spec with only the objects that its layout could place, so objects and truth agree."""
    for _ in range(len(DRAWN_OBJECTS)):
        placed = layout(spec).labels() & set(spec.objects)
        if placed == set(spec.objects):
            return spec
        spec = replace(spec, objects=tuple(sorted(placed)))
    return spec


def _required_objects(conditions: frozenset[str]) -> frozenset[str]:
    needs = (APPLICABILITY[c] for c in conditions)
    return frozenset(n[0] for n in needs if n is not None)


def _sample_conditions(rng: np.random.Generator, spec: RoomSpec) -> frozenset[str]:
    draws = rng.random(len(CONDITIONS))  # one draw per condition, whatever applies
    on = set()
    for condition, u in zip(CONDITIONS, draws, strict=True):
        if condition_is_applicable(condition, spec.objects) and u < CONDITION_RATES[condition]:
            on.add(condition)
    if "towel_swan" in on and "towel" not in spec.objects and len(spec.objects) >= MAX_OBJECTS:
        on.discard("towel_swan")  # the swan would be an eighth visible object (a towel)
    return frozenset(on)


def sample_room(
    rng: np.random.Generator,
    chain_id: int,
    hotel_id: int,
    room_kind: str | None = None,
    conditions: Iterable[str] | None = None,
) -> RoomSpec:
    """A random room of the hotel: kind, 2-7 visible objects and conditions, each random unless given.

    Given conditions are all switched on, and the objects they need are added (a window for night
    or snow, a bed for rose petals or a towel swan), whatever the room kind.
    """
    if room_kind is None:
        weights = np.array([KIND_WEIGHTS[k] for k in ROOM_KINDS])
        room_kind = ROOM_KINDS[int(rng.choice(len(ROOM_KINDS), p=weights / weights.sum()))]
    elif room_kind not in ROOM_KINDS:
        raise ValueError(f"room_kind {room_kind!r} is not one of {ROOM_KINDS}")
    wanted = None if conditions is None else frozenset(conditions)
    unknown = sorted((wanted or frozenset()) - set(CONDITIONS))
    if unknown:
        raise ValueError(f"conditions {unknown} are not among {CONDITIONS}")
    required = _required_objects(wanted or frozenset())
    most = MAX_OBJECTS - (1 if wanted and "towel_swan" in wanted else 0)
    for _ in range(MAX_TRIES):
        objects = _sample_objects(rng, room_kind, required, most)
        seed = int(rng.integers(2**31 - 1))
        spec = fit_to_layout(RoomSpec(chain_id, hotel_id, room_kind, tuple(objects), frozenset(), seed))
        if required <= set(spec.objects) and MIN_OBJECTS <= len(spec.objects) <= most:
            break
    else:
        raise RuntimeError(f"no layout of a {room_kind} fits {sorted(required)} in {MAX_TRIES} tries")
    chosen = wanted if wanted is not None else _sample_conditions(rng, spec)
    return replace(spec, conditions=chosen)
