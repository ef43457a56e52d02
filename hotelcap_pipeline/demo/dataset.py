"""The embedded demo dataset: a few hotels in the upstream Hotels-50K format, photographed in the synthetic world.

`python -m hotelcap_pipeline.demo.dataset` regenerates ``assets/demo/`` deterministically. The
files mirror the real quirks (docs/hotels50k.md): no header row in train_set.csv, chain -1 "unknown",
two timestamp formats, hotel names with ``&``, ``/`` and ``-``. Each photo is a room of its hotel
rendered by ``hotelcap_pipeline.world`` (the chain's style, a room kind, its objects and
conditions), at varied sizes and orientations, some stored sideways with an EXIF rotation, so the
demo runs the same download and resize code as the real profile. ``labels.csv`` records the truth
of every photo as displayed (image_id, tags, room_kind, conditions; lists ``;``-separated). Photo
URLs use a placeholder host that the demo maps to a loopback server (``hotelcap_pipeline.demo.server``).
"""

from __future__ import annotations

import argparse
import csv
import io
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from PIL import Image

from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.world import CONDITION_RATES, CONDITIONS, MAX_OBJECTS, RoomSpec, render, sample_room, truth

DEMO_URL_PREFIX = "https://demo-photos.hotelcap.invalid/"
DEMO_LABELS = DEMO_DIR / "labels.csv"
LABELS_HEADER = ["image_id", "tags", "room_kind", "conditions"]
JPEG_QUALITY = 80
EXIF_ROTATED_SHARE = 0.12  # stored sideways with an EXIF orientation, as phone photos often are

CHAINS: list[tuple[int, str]] = [
    (-1, "unknown"),
    (3, "Nebula Inns & Suites"),
    (17, "Orbit Hotels"),
    (42, "Quasar Resorts/Spa - Collection"),
]

# hotel_id, name, chain_id, latitude, longitude, train photos, test photos
HOTELS: list[tuple[int, str, int, float, float, int, int]] = [
    (391, "Harbor View Motel", -1, 38.8977, -77.0365, 12, 1),
    (1207, "The Copper Kettle B&B", -1, 51.5072, -0.1276, 10, 0),
    (20514, "Nebula Inn Downtown", 3, 40.7128, -74.006, 14, 2),
    (20877, "Nebula Inn & Suites Airport", 3, 33.9416, -118.4085, 11, 1),
    (98123, "Orbit Hotel City-Center", 17, 48.8566, 2.3522, 13, 1),
    (101442, "Orbit Hotel Lakeside/Marina", 17, 41.8781, -87.6298, 10, 0),
    (250033, "Orbit Express North", 17, 47.6062, -122.3321, 12, 2),
    (311870, "Quasar Resort & Spa - Beach", 42, 25.7617, -80.1918, 14, 1),
    (402215, "Quasar Mountain Lodge", 42, 39.1911, -106.8175, 11, 1),
    (481431, "Quasar Resorts/Spa - Desert", 42, 33.8303, -116.5453, 13, 0),
]

# (width, height) of the source photos: landscape, portrait, square, and some smaller than 640.
SIZES = [
    (1024, 768),
    (800, 600),
    (1280, 720),
    (768, 1024),
    (600, 800),
    (500, 375),
    (960, 960),
    (1600, 1200),
    (480, 640),
]


@dataclass(frozen=True)
class DemoPhoto:
    image_id: int
    hotel_id: int
    chain_id: int
    image_source: str
    split: str
    timestamp: str
    url: str
    file: str
    size: tuple[int, int]  # as displayed (after the EXIF rotation)
    scene: str  # the room kind
    exif_rotated: bool
    room: RoomSpec


def _timestamp_and_file(rng: np.random.Generator, source: str, image_id: int) -> tuple[str, str]:
    """TraffickCam photos carry US-style stamps and numeric names, travel websites ISO stamps and hashes."""
    if source == "traffickcam":
        month, day, year = rng.integers(1, 13), rng.integers(1, 29), rng.integers(14, 18)
        hour, minute = rng.integers(0, 24), rng.integers(0, 60)
        return f"{month}/{day}/{year} {hour}:{minute:02d}", f"tcam/{image_id}.jpg"
    stamp = (
        f"20{rng.integers(16, 20)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} "
        f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}"
    )
    return stamp, f"cdn/{rng.bytes(8).hex()}_b.jpg"


def _assign_conditions(rng: np.random.Generator, rooms: list[RoomSpec]) -> list[RoomSpec]:
    """Each condition on in exactly its world rate of the rooms where it shows (night: 30% of rooms with a window)."""
    on: list[set[str]] = [set() for _ in rooms]
    for condition in CONDITIONS:
        eligible = [
            i
            for i, room in enumerate(rooms)
            if condition in room.applicable_conditions()
            and not (condition == "towel_swan" and "towel" not in room.objects and len(room.objects) >= MAX_OBJECTS)
        ]
        chosen = rng.choice(len(eligible), size=round(CONDITION_RATES[condition] * len(eligible)), replace=False)
        for k in chosen:
            on[eligible[int(k)]].add(condition)
    return [replace(room, conditions=frozenset(c)) for room, c in zip(rooms, on, strict=True)]


def plan_photos(seed: int = 0) -> list[DemoPhoto]:
    """Every photo of the demo, with the room it shows; the same seed gives the same plan."""
    rng = np.random.default_rng(seed)
    drafts: list[dict] = []
    next_id = 1_000_001
    for hotel_id, _name, chain_id, *_coords, n_train, n_test in HOTELS:
        for split, count in (("train", n_train), ("test", n_test)):
            for _ in range(count):
                source = "traffickcam" if rng.random() < 0.45 else "travel_website"
                stamp, file = _timestamp_and_file(rng, source, next_id)
                drafts.append(
                    {
                        "image_id": next_id,
                        "hotel_id": hotel_id,
                        "chain_id": chain_id,
                        "image_source": source,
                        "split": split,
                        "timestamp": stamp,
                        "url": DEMO_URL_PREFIX + file,
                        "file": file,
                        "size": SIZES[int(rng.integers(len(SIZES)))],
                        "room": sample_room(rng, chain_id, hotel_id, conditions=()),
                    }
                )
                next_id += int(rng.integers(1, 40))
    rooms = _assign_conditions(rng, [d["room"] for d in drafts])
    rotated = set(rng.choice(len(drafts), size=round(EXIF_ROTATED_SHARE * len(drafts)), replace=False).tolist())
    return [
        DemoPhoto(**{**d, "room": room}, scene=room.room_kind, exif_rotated=i in rotated)
        for i, (d, room) in enumerate(zip(drafts, rooms, strict=True))
    ]


def encode_photo(photo: DemoPhoto) -> bytes:
    """The photo as JPEG bytes; a rotated one is stored sideways and displays upright."""
    img = render(photo.room, photo.size)
    buf = io.BytesIO()
    if photo.exif_rotated:
        # Stored sideways with EXIF orientation 6 (rotate 90 CW to display), as phone cameras do.
        img = img.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        img.save(buf, "JPEG", quality=JPEG_QUALITY, exif=exif.tobytes())
    else:
        img.save(buf, "JPEG", quality=JPEG_QUALITY)
    return buf.getvalue()


def label_rows(photos: list[DemoPhoto]) -> list[list[object]]:
    """One labels.csv row per photo: image_id, tags, room_kind, conditions (lists ``;``-separated)."""
    rows: list[list[object]] = []
    for photo in sorted(photos, key=lambda p: p.image_id):
        t = truth(photo.room)
        rows.append([photo.image_id, ";".join(t.tags), t.room_kind, ";".join(t.conditions)])
    return rows


def _write_csv(path: Path, header: list[str] | None, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def build_demo(root: Path = DEMO_DIR, seed: int = 0) -> list[DemoPhoto]:
    """Write ``root/dataset/*.csv``, ``root/photos/...`` and ``root/labels.csv`` from scratch."""
    photos = plan_photos(seed)
    dataset, photo_dir = root / "dataset", root / "photos"
    for folder in (dataset, photo_dir):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
    _write_csv(dataset / "chain_info.csv", ["chain_id", "chain_name"], [list(c) for c in CHAINS])
    _write_csv(
        dataset / "hotel_info.csv",
        ["hotel_id", "hotel_name", "chain_id", "latitude", "longitude"],
        [[h[0], h[1], h[2], h[3], h[4]] for h in HOTELS],
    )
    for split in ("train", "test"):
        rows = [[p.image_id, p.hotel_id, p.url, p.image_source, p.timestamp] for p in photos if p.split == split]
        header = None if split == "train" else ["image_id", "hotel_id", "image_url", "image_source", "upload_timestamp"]
        _write_csv(dataset / f"{split}_set.csv", header, rows)
    _write_csv(root / DEMO_LABELS.name, LABELS_HEADER, label_rows(photos))
    for photo in photos:
        target = photo_dir / photo.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_photo(photo))
    return photos


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args(argv)  # no options; --help explains, rather than regenerating the files
    made = build_demo()
    print(f"wrote {len(made)} photos, 4 CSVs and {DEMO_LABELS.name} under {DEMO_DIR}")


if __name__ == "__main__":
    main()
