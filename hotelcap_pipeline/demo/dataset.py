"""The embedded demo dataset: a few hotels in exactly the upstream Hotels-50K format.

`python -m hotelcap_pipeline.demo.dataset` regenerates ``assets/demo/`` deterministically. The
files mirror the real quirks (HOTELS50K.md): no header row in train_set.csv, chain -1 "unknown",
two timestamp formats, hotel names with ``&``, ``/`` and ``-``. Photos are synthetic room scenes of
varied sizes and orientations, some with an EXIF rotation, so the demo runs the same download and
resize code as the real profile; their URLs use a placeholder host that the demo maps to a
loopback server (``hotelcap_pipeline.demo.server``).
"""

from __future__ import annotations

import csv
import io
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from hotelcap_pipeline.settings import DEMO_DIR

DEMO_URL_PREFIX = "https://demo-photos.hotelcap.invalid/"

CHAINS: list[tuple[int, str]] = [
    (-1, "unknown"),
    (3, "Nebula Inns & Suites"),
    (17, "Orbit Hotels"),
    (42, "Quasar Resorts/Spa - Collection"),
]

# hotel_id, name, chain_id, latitude, longitude, train photos, test photos
HOTELS: list[tuple[int, str, int, float, float, int, int]] = [
    (391, "Harbor View Motel", -1, 38.8977, -77.0365, 6, 1),
    (1207, "The Copper Kettle B&B", -1, 51.5072, -0.1276, 3, 0),
    (20514, "Nebula Inn Downtown", 3, 40.7128, -74.006, 7, 1),
    (20877, "Nebula Inn & Suites Airport", 3, 33.9416, -118.4085, 5, 1),
    (98123, "Orbit Hotel City-Center", 17, 48.8566, 2.3522, 6, 1),
    (101442, "Orbit Hotel Lakeside/Marina", 17, 41.8781, -87.6298, 4, 0),
    (250033, "Orbit Express North", 17, 47.6062, -122.3321, 2, 1),
    (311870, "Quasar Resort & Spa - Beach", 42, 25.7617, -80.1918, 6, 1),
    (402215, "Quasar Mountain Lodge", 42, 39.1911, -106.8175, 5, 1),
    (481431, "Quasar Resorts/Spa - Desert", 42, 33.8303, -116.5453, 4, 0),
]

# (width, height) of the source photos: landscape, portrait, square, and some smaller than 640.
SIZES = [
    (1024, 768), (800, 600), (1280, 720), (768, 1024), (600, 800), (500, 375), (960, 960), (1600, 1200), (480, 640),
]

SCENES = ("bedroom", "bathroom", "workspace", "lobby", "view")


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
    size: tuple[int, int]
    scene: str
    exif_rotated: bool


def plan_photos(seed: int = 0) -> list[DemoPhoto]:
    rng = np.random.default_rng(seed)
    photos: list[DemoPhoto] = []
    next_id = 1_000_001
    for hotel_id, _name, chain_id, *_coords, n_train, n_test in HOTELS:
        for split, count in (("train", n_train), ("test", n_test)):
            for _ in range(count):
                source = "traffickcam" if rng.random() < 0.45 else "travel_website"
                if source == "traffickcam":
                    month, day, year = rng.integers(1, 13), rng.integers(1, 29), rng.integers(14, 18)
                    hour, minute = rng.integers(0, 24), rng.integers(0, 60)
                    stamp = f"{month}/{day}/{year} {hour}:{minute:02d}"
                    file = f"tcam/{next_id}.jpg"
                else:
                    stamp = (
                        f"20{rng.integers(16, 20)}-{rng.integers(1, 13):02d}-{rng.integers(1, 29):02d} "
                        f"{rng.integers(0, 24):02d}:{rng.integers(0, 60):02d}:{rng.integers(0, 60):02d}"
                    )
                    file = f"cdn/{rng.bytes(8).hex()}_b.jpg"
                photos.append(
                    DemoPhoto(
                        image_id=next_id,
                        hotel_id=hotel_id,
                        chain_id=chain_id,
                        image_source=source,
                        split=split,
                        timestamp=stamp,
                        url=DEMO_URL_PREFIX + file,
                        file=file,
                        size=SIZES[int(rng.integers(len(SIZES)))],
                        scene=SCENES[int(rng.integers(len(SCENES)))],
                        exif_rotated=bool(rng.random() < 0.12),
                    )
                )
                next_id += int(rng.integers(1, 40))
    return photos


def _palette(rng: np.random.Generator) -> tuple[tuple[int, int, int], ...]:
    return tuple(tuple(int(c) for c in rng.integers(40, 230, size=3)) for _ in range(6))  # type: ignore[return-value]


def draw_scene(scene: str, size: tuple[int, int], rng: np.random.Generator) -> Image.Image:
    """A crude but varied room: walls, floor, and the furniture the vocabulary names."""
    w, h = size
    wall, floor, wood, fabric, accent, metal = _palette(rng)
    img = Image.new("RGB", size, wall)
    d = ImageDraw.Draw(img)
    horizon = int(h * rng.uniform(0.55, 0.7))
    d.rectangle([0, horizon, w, h], fill=floor)
    if scene in ("bedroom", "view", "workspace", "lobby"):
        wx0, wx1 = int(w * rng.uniform(0.05, 0.4)), int(w * rng.uniform(0.55, 0.9))
        sky = (110, 170, 235) if rng.random() < 0.7 else (20, 25, 60)
        d.rectangle([wx0, int(h * 0.12), wx1, int(horizon * 0.8)], fill=sky, outline=(250, 250, 250), width=6)
        if scene == "view":
            d.polygon([(wx0, int(horizon * 0.8)), ((wx0 + wx1) // 2, int(h * 0.3)), (wx1, int(horizon * 0.8))],
                      fill=(240, 240, 245) if rng.random() < 0.5 else (90, 120, 90))
        d.rectangle([wx0 - 20, int(h * 0.08), wx0 + 10, horizon], fill=fabric)
        d.rectangle([wx1 - 10, int(h * 0.08), wx1 + 20, horizon], fill=fabric)
    if scene == "bedroom":
        bx0, bx1 = int(w * 0.15), int(w * 0.85)
        d.rectangle([bx0, int(horizon - h * 0.12), bx1, int(horizon + h * 0.2)], fill=(245, 245, 240))
        d.rectangle([bx0, int(horizon - h * 0.2), bx1, int(horizon - h * 0.12)], fill=wood)
        for px in (bx0 + 20, (bx0 + bx1) // 2 + 10):
            d.ellipse([px, int(horizon - h * 0.15), px + int(w * 0.25), int(horizon - h * 0.07)], fill=(255, 255, 255))
        d.ellipse([int(w * 0.02), int(h * 0.3), int(w * 0.1), int(h * 0.4)], fill=(255, 230, 150))
    elif scene == "bathroom":
        d.rectangle([0, 0, w, horizon], fill=(230, 235, 240))
        for x in range(0, w, max(24, w // 20)):
            d.line([x, 0, x, horizon], fill=(200, 205, 210), width=2)
        tub = [int(w * 0.05), int(horizon - h * 0.05), int(w * 0.55), int(horizon + h * 0.15)]
        d.rounded_rectangle(tub, radius=30, fill=(250, 250, 252), outline=metal, width=4)
        d.rectangle([int(w * 0.65), int(h * 0.15), int(w * 0.9), int(h * 0.45)], fill=(180, 200, 210), outline=metal)
        sink = [int(w * 0.68), int(horizon - h * 0.08), int(w * 0.88), int(horizon + h * 0.02)]
        d.ellipse(sink, fill=(252, 252, 252))
    elif scene == "workspace":
        d.rectangle([int(w * 0.1), int(horizon - h * 0.05), int(w * 0.7), int(horizon)], fill=wood)
        d.rectangle([int(w * 0.15), horizon, int(w * 0.18), int(horizon + h * 0.2)], fill=wood)
        d.rectangle([int(w * 0.62), horizon, int(w * 0.65), int(horizon + h * 0.2)], fill=wood)
        d.rectangle([int(w * 0.3), int(horizon - h * 0.2), int(w * 0.5), int(horizon - h * 0.06)], fill=(30, 30, 35))
        d.rectangle([int(w * 0.72), int(horizon - h * 0.15), int(w * 0.9), int(horizon + h * 0.15)], fill=accent)
    elif scene == "lobby":
        for i in range(4):
            x = int(w * (0.1 + 0.22 * i))
            d.rectangle([x, int(horizon - h * 0.1), x + int(w * 0.15), int(horizon + h * 0.05)], fill=accent)
        d.ellipse([int(w * 0.4), int(h * 0.02), int(w * 0.6), int(h * 0.12)], fill=(255, 240, 180))
    noise = rng.normal(0, 6, size=(h, w, 1)).astype(np.int16)
    arr = np.clip(np.asarray(img, dtype=np.int16) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(arr).filter(ImageFilter.SMOOTH)


def encode_photo(photo: DemoPhoto, rng: np.random.Generator) -> bytes:
    img = draw_scene(photo.scene, photo.size, rng)
    buf = io.BytesIO()
    if photo.exif_rotated:
        # Stored sideways with EXIF orientation 6 (rotate 90 CW to display), as phone cameras do.
        img = img.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        img.save(buf, "JPEG", quality=78, exif=exif.tobytes())
    else:
        img.save(buf, "JPEG", quality=78)
    return buf.getvalue()


def _write_csv(path: Path, header: list[str] | None, rows: list[list[object]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        if header:
            writer.writerow(header)
        writer.writerows(rows)


def build_demo(root: Path = DEMO_DIR, seed: int = 0) -> list[DemoPhoto]:
    """Write ``root/dataset/*.csv`` and ``root/photos/...`` from scratch."""
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
        rows = [
            [p.image_id, p.hotel_id, p.url, p.image_source, p.timestamp] for p in photos if p.split == split
        ]
        header = None if split == "train" else ["image_id", "hotel_id", "image_url", "image_source", "upload_timestamp"]
        _write_csv(dataset / f"{split}_set.csv", header, rows)
    rng = np.random.default_rng(seed + 1)
    for photo in photos:
        target = photo_dir / photo.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(encode_photo(photo, rng))
    return photos


if __name__ == "__main__":
    made = build_demo()
    print(f"wrote {len(made)} photos and 4 CSVs under {DEMO_DIR}")
