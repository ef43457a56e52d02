from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

from hotelcap_pipeline.tagging.clip_model import ClipModel
from hotelcap_pipeline.tagging.embed import EMBEDDING_COLUMNS, embed_images, embedding_matrix

COLOURS = [(220, 30, 30), (30, 200, 40), (20, 40, 230), (240, 240, 20), (120, 60, 200)]


def _photo(root: Path, rel: str, colour: tuple[int, int, int]) -> dict:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", (96, 72), colour)
    image.paste((255 - colour[0], 255 - colour[1], 255 - colour[2]), (10, 10, 40, 50))
    image.save(path, quality=95)
    return {"path": rel, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "status": "ok"}


def _manifest(root: Path, n: int) -> pl.DataFrame:
    rows = []
    for i in range(n):
        photo = _photo(root, f"images/train/-1/{i % 2}/traffickcam/{i}.jpg", COLOURS[i % len(COLOURS)])
        rows.append({"image_id": i, "hotel_id": i % 2, "chain_id": -1, **photo})
    return pl.DataFrame(rows)


def test_embeds_ok_photos_and_matches_direct_encoding(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 4)
    failed = {"image_id": 9, "hotel_id": 0, "chain_id": -1, "path": None, "sha256": None, "status": "failed"}
    manifest = pl.concat([manifest, pl.DataFrame([failed], schema=manifest.schema)])
    seen: list[tuple[int, int]] = []
    table, stats = embed_images(
        manifest,
        tmp_path,
        demo_clip,
        None,
        batch_size=3,
        workers=2,
        progress=lambda done, total: seen.append((done, total)),
    )
    assert table.columns == list(EMBEDDING_COLUMNS)
    assert table["image_id"].to_list() == [0, 1, 2, 3]
    assert table["model"].unique().to_list() == [demo_clip.model_id]
    assert table.schema["embedding"] == pl.List(pl.Float32)
    assert stats["computed"] == 4 and stats["reused"] == 0 and stats["failed"] == 0
    assert seen[-1] == (4, 4)
    direct = demo_clip.encode_images([Image.open(tmp_path / p) for p in manifest["path"][:4]])
    got = embedding_matrix(table)
    np.testing.assert_allclose(got, direct, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_second_call_computes_nothing_and_new_photos_only_themselves(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 5)
    first, stats = embed_images(manifest, tmp_path, demo_clip, None)
    assert stats["computed"] == 5
    again, stats = embed_images(manifest, tmp_path, demo_clip, first)
    assert (stats["computed"], stats["reused"]) == (0, 5)
    assert again.equals(first)

    extra = _photo(tmp_path, "images/train/3/7/travel_website/77.jpg", (10, 10, 10))
    grown = pl.concat(
        [manifest, pl.DataFrame([{"image_id": 77, "hotel_id": 7, "chain_id": 3, **extra}])], how="diagonal_relaxed"
    )
    third, stats = embed_images(grown, tmp_path, demo_clip, again)
    assert (stats["computed"], stats["reused"]) == (1, 5)
    assert third.height == 6 and third.filter(pl.col("image_id") < 77).equals(first)

    # Another model id invalidates the cache: everything is computed again.
    stale = first.with_columns(pl.lit("other/model").alias("model"))
    _, stats = embed_images(manifest, tmp_path, demo_clip, stale)
    assert (stats["computed"], stats["reused"]) == (5, 0)


def test_same_bytes_are_embedded_once(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 2)
    copy = manifest.row(0, named=True) | {"image_id": 5}
    manifest = pl.concat([manifest, pl.DataFrame([copy], schema=manifest.schema)])
    table, stats = embed_images(manifest, tmp_path, demo_clip, None)
    assert stats["computed"] == 2 and table.height == 3
    assert table["embedding"][0].to_list() == table["embedding"][2].to_list()


def test_unreadable_photo_is_reported_and_others_go_on(tmp_path: Path, demo_clip: ClipModel) -> None:
    manifest = _manifest(tmp_path, 3)
    broken = tmp_path / manifest["path"][1]
    broken.write_bytes(b"not a jpeg")
    manifest = manifest.with_columns(
        pl.when(pl.col("image_id") == 1).then(pl.lit(None)).otherwise(pl.col("sha256")).alias("sha256")
    )
    table, stats = embed_images(manifest, tmp_path, demo_clip, None, batch_size=2)
    assert table["image_id"].to_list() == [0, 2]
    assert stats["failed"] == 1 and stats["computed"] == 2
    assert str(broken) in stats["errors"][0] and stats["errors"][0].startswith("1 ")
