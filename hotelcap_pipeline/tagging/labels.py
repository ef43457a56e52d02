"""Known truth for the tags: a CSV of ``image_id,tags`` with ``;``-separated vocabulary words.

Optional columns ``room_kind`` and ``conditions`` (``;``-separated) are kept when present; the synthetic
demo world writes them. A room kind must be one the captions name (bedroom, bathroom, desk corner, lobby)
and is kept in the world's spelling (``desk_corner``). A user labels 100-300 of their own photos in the
same format.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from hotelcap_pipeline.settings import ENVIRONMENT, Origin
from hotelcap_pipeline.tagging.captions import ROOM_KIND_WORDS, room_kind_key
from hotelcap_pipeline.yaml_input import InputFileError

if TYPE_CHECKING:
    from polars._typing import SchemaDict

LABEL_SCHEMA: SchemaDict = {
    "image_id": pl.Int64, "tags": pl.List(pl.Utf8), "room_kind": pl.Utf8, "conditions": pl.List(pl.Utf8)
}


def _split(cell: str | None) -> list[str]:
    # Inner runs of spaces collapse too: "coffee  machine" is the vocabulary's "coffee machine".
    return [" ".join(w.split()).lower() for w in (cell or "").split(";") if w.strip()]


def _column_name(name: str) -> str:
    """A header cell as the columns are named: spreadsheets give "Image_ID", " tags" or "image id"."""
    return re.sub(r"[\s_]+", "_", name.strip().lower())


def _room_kind(cell: str | None, where: str) -> str | None:
    """A labelled room kind in the world's spelling (``desk_corner``), None when empty. Like a tag, a kind the
    captions cannot name is refused: measured, it would count as a wrong caption without a word said."""
    text = (cell or "").strip()
    if not text:
        return None
    kind = room_kind_key(text)
    if kind not in ROOM_KIND_WORDS:
        raise InputFileError(
            f"{where}: room_kind {text!r} is not one of {', '.join(ROOM_KIND_WORDS.values())} "
            "(any case, _ or space); leave it empty for a photo of another kind"
        )
    return kind


def read_labels(path: str | Path, labels: Sequence[str], origin: Origin | None = None) -> pl.DataFrame:
    """The labels file as a table (image_id, tags, room_kind, conditions); an unusable file raises
    ``InputFileError`` naming the file and line, and ``origin``, the setting that named the file (default:
    HOTELCAP_LABELS)."""
    path = Path(path)
    known = set(labels)
    try:
        # utf-8-sig: Excel's "CSV UTF-8" starts with a byte order mark, which would be part of the first name.
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            reader.fieldnames = [_column_name(name) for name in reader.fieldnames or ()]
            missing = {"image_id", "tags"} - set(reader.fieldnames)
            if missing:
                raise InputFileError(f"{path}: the header needs columns image_id and tags (missing {sorted(missing)})")
            rows, seen = [], set()
            for line, row in enumerate(reader, start=2):
                try:
                    image_id = int(row["image_id"])
                except (TypeError, ValueError):
                    raise InputFileError(
                        f"{path}, line {line}: image_id {row['image_id']!r} is not an integer"
                    ) from None
                if image_id in seen:
                    raise InputFileError(f"{path}, line {line}: image_id {image_id} is labelled twice")
                seen.add(image_id)
                tags = _split(row["tags"])
                unknown = [t for t in tags if t not in known]
                if unknown:
                    raise InputFileError(
                        f"{path}, line {line}: {', '.join(unknown)} not in the vocabulary ({', '.join(labels)}); "
                        "label with those words, or add the word to assets/vocabulary.yaml"
                    )
                room_kind = _room_kind(row.get("room_kind"), f"{path}, line {line}")
                rows.append(
                    {
                        "image_id": image_id,
                        "tags": tags,
                        "room_kind": room_kind,
                        "conditions": _split(row.get("conditions")),
                    }
                )
    except (OSError, UnicodeDecodeError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise InputFileError(
            f"{path}: cannot read the labels file ({why}); {(origin or ENVIRONMENT['labels']).source} names it: "
            "fix the path, or unset it to skip the evaluation"
        ) from None
    if not rows:
        raise InputFileError(f"{path}: no labelled photos")
    return pl.DataFrame(rows, schema=LABEL_SCHEMA)
