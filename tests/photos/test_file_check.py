"""The blocking check behind hotel_images: sizes of every stored photo, a whole decode of a sample."""

from __future__ import annotations

import polars as pl
from photo_factories import jpeg

from hotelcap_pipeline.validation import image_file_problems


def stored(tmp_path, n: int) -> pl.DataFrame:
    data = jpeg((64, 48))
    for i in range(n):
        (tmp_path / f"{i}.jpg").write_bytes(data)
    return pl.DataFrame({"image_id": list(range(n)), "path": [f"{i}.jpg" for i in range(n)], "width": [64] * n,
                         "height": [48] * n, "bytes": [len(data)] * n, "status": ["ok"] * n})


def test_every_file_is_sized_and_a_sample_decoded(tmp_path):
    manifest = stored(tmp_path, 100)
    assert image_file_problems(manifest, tmp_path) == []
    (tmp_path / "3.jpg").unlink()
    data = (tmp_path / "7.jpg").read_bytes()
    (tmp_path / "7.jpg").write_bytes(data[: len(data) // 2])
    problems = image_file_problems(manifest, tmp_path)
    assert problems[0].startswith("image 3:") and "is missing" in problems[0]
    assert problems[1] == f"image 7: {tmp_path / '7.jpg'} has {len(data) // 2} bytes, manifest says {len(data)}"
    assert len(problems) == 2


def test_a_sampled_photo_of_the_wrong_size_or_that_does_not_decode_is_named(tmp_path):
    manifest = stored(tmp_path, 40).with_columns(
        pl.when(pl.col("image_id") == 0).then(32).otherwise(pl.col("width")).alias("width"))
    data = bytearray((tmp_path / "2.jpg").read_bytes())
    data[200:] = b"\0" * (len(data) - 200)  # same length, pixels gone
    (tmp_path / "2.jpg").write_bytes(bytes(data))
    problems = image_file_problems(manifest, tmp_path, decode_sample=20)  # rows 0, 2, 4, ... are decoded
    assert problems[0] == f"image 0: {tmp_path / '0.jpg'} is 64x48, manifest says 32x48"
    assert problems[1].startswith("image 2:") and "does not decode" in problems[1]


def test_failed_rows_are_not_looked_for(tmp_path):
    manifest = stored(tmp_path, 2).with_columns(pl.Series("status", ["ok", "failed"]))
    (tmp_path / "1.jpg").unlink()
    assert image_file_problems(manifest, tmp_path) == []
