"""One short caption per photo, in the visitors' basic words, built from its tags.

"A bedroom with a bed, a pillow and a lamp." The room word comes from the tags themselves: the
best-scored tag that marks a kind of room (a bathtub, toilet, shower or sink a bathroom, a bed a bedroom,
a desk a desk corner, a sofa a lobby), so a method that tags generously still names the room its
strongest cue shows. The objects are the photo's tags in order of score, at most ``MAX_OBJECTS`` of them
so the sentence stays short. Captions are read back into tags with ``caption_tags`` to measure them
against known truth.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from hotelcap_pipeline.wording import listing, with_article

# The objects that say most clearly which part of a hotel a photo shows.
ROOM_WORDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("bathroom", ("bathtub", "toilet", "shower", "sink")),
    ("bedroom", ("bed",)),
    ("desk corner", ("desk",)),
    ("lobby", ("sofa",)),
)
# Room kinds as the synthetic world names them, in caption words.
ROOM_KIND_WORDS = {"bedroom": "bedroom", "bathroom": "bathroom", "desk_corner": "desk corner", "lobby": "lobby"}
MAX_OBJECTS = 5


_ROOM_OF_CUE = {cue: word for word, cues in ROOM_WORDS for cue in cues}


def room_kind_key(kind: str) -> str:
    """A labelled room kind in the world's spelling (a ROOM_KIND_WORDS key, if known): "Desk Corner",
    "desk corner" and "desk_corner" are one kind, as people label them either way."""
    return re.sub(r"[\s_]+", "_", kind.strip().lower())


def room_kind_word(kind: str) -> str:
    """The caption's room word for a labelled room kind; ValueError for a kind captions never name."""
    word = ROOM_KIND_WORDS.get(room_kind_key(kind))
    if word is None:
        raise ValueError(f"room kind {kind!r} is not one of {', '.join(ROOM_KIND_WORDS.values())}")
    return word


def room_word(tags: Sequence[str]) -> str:
    """The room the first of ``tags`` (best first) that marks one names; "room" when none does."""
    return next((_ROOM_OF_CUE[t] for t in tags if t in _ROOM_OF_CUE), "room")


def make_caption(tags: Sequence[str]) -> str:
    """The caption of a photo whose tags are ``tags``, best first."""
    objects = [with_article(t) for t in list(dict.fromkeys(tags))[:MAX_OBJECTS]]
    room = room_word(tags)
    start = f"An {room}" if room[0] in "aeiou" else f"A {room}"
    if not objects:
        return f"{start}."
    return f"{start} with {listing(objects)}."


def captions_for(given: np.ndarray, scores: np.ndarray, labels: Sequence[str]) -> list[str]:
    """One caption per photo (row) from its given tags (a boolean matrix over ``labels``), best-scored first."""
    order = np.argsort(-scores, axis=1, kind="stable")
    return [make_caption([labels[k] for k in o if row[k]]) for row, o in zip(given, order, strict=True)]


def caption_tags(caption: str, labels: Sequence[str]) -> list[str]:
    """The vocabulary labels a caption names, longest first so "coffee machine" stays one label."""
    # Only the objects after "with": the room word ("desk corner") is not a claim about an object.
    listed = caption.lower().partition(" with ")[2]
    text = " " + listed.rstrip(".").replace(",", " ") + " "
    found: list[tuple[int, str]] = []
    for label in sorted(labels, key=len, reverse=True):
        at = text.find(f" {label} ")
        if at >= 0:
            found.append((at, label))
            text = text.replace(f" {label} ", " " + "\0" * len(label) + " ")
    return [label for _, label in sorted(found)]


def caption_room(caption: str) -> str:
    """The room word a caption starts with ("room" when none of the known ones)."""
    head = caption.lower().removeprefix("an ").removeprefix("a ")
    return next((word for word, _ in ROOM_WORDS if head.startswith(word)), "room")
