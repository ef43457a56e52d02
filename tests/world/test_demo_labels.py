"""The demo dataset is generated from the world, and labels.csv holds the truth of every photo."""

import csv
from collections import Counter

from PIL import Image, ImageOps

from hotelcap_pipeline import world
from hotelcap_pipeline.demo.dataset import DEMO_DIR, DEMO_LABELS, HOTELS, plan_photos
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary


def read_rows(path, header: bool) -> list[list[str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.reader(fh))
    return rows[1:] if header else rows


def test_labels_cover_every_photo_of_the_csvs_once_with_the_truth_of_the_plan():
    labels = read_rows(DEMO_LABELS, header=True)
    with DEMO_LABELS.open(encoding="utf-8") as fh:
        assert fh.readline().strip() == "image_id,tags,room_kind,conditions"
    ids = [int(r[0]) for r in labels]
    train = [int(r[0]) for r in read_rows(DEMO_DIR / "dataset" / "train_set.csv", header=False)]
    test = [int(r[0]) for r in read_rows(DEMO_DIR / "dataset" / "test_set.csv", header=True)]
    assert len(ids) == len(set(ids)) and sorted(ids) == sorted(train + test)
    plan = {p.image_id: p for p in plan_photos()}
    assert set(plan) == set(ids)
    vocabulary = {t.label for t in load_vocabulary()}
    for image_id, tags, room_kind, conditions in labels:
        t = world.truth(plan[int(image_id)].room)
        assert (tags, room_kind, conditions) == (";".join(t.tags), t.room_kind, ";".join(t.conditions))
        assert set(t.tags) <= vocabulary and set(t.conditions) <= set(world.CONDITIONS)


def test_the_plan_mixes_room_kinds_and_conditions_in_every_chain():
    photos = plan_photos()
    train = Counter(p.hotel_id for p in photos if p.split == "train")
    assert len(train) == len(HOTELS) == 10 and all(10 <= n <= 14 for n in train.values())
    assert all(0 <= sum(p.hotel_id == h[0] and p.split == "test" for p in photos) <= 2 for h in HOTELS)
    for chain_id in (-1, 3, 17, 42):
        kinds = {p.scene for p in photos if p.chain_id == chain_id}
        assert len(kinds) >= 3, chain_id
    shown = Counter(c for p in photos for c in world.truth(p.room).conditions)
    assert set(shown) == set(world.CONDITIONS)


def test_a_rotated_photo_displays_at_its_planned_size():
    photo = next(p for p in plan_photos() if p.exif_rotated and p.size[0] != p.size[1])
    with Image.open(DEMO_DIR / "photos" / photo.file) as img:
        assert img.size == photo.size[::-1]
        assert ImageOps.exif_transpose(img).size == photo.size
