"""The upstream test set's lz4-compressed tar: extracted with the same safety rules, occlusion kept."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from helpers_archives import lz4_tar

from hotelcap_pipeline.metadata.extract import UnsafeArchiveError, extract_archive
from hotelcap_pipeline.metadata.occlusion import index_test_tree, with_occlusion

LAYOUT = {
    "images/test/unoccluded/5/400/traffickcam/11.jpg": b"a",
    "images/test/high_occlusions/-1/401/travel_website/12.jpg": b"b",
    "images/test/high_occlusions/masks/12.png": b"m",
    "images/test/low_occlusions/5/400/traffickcam/13.jpg": b"c",
    "__MACOSX/images/._11.jpg": b"junk",
}


def test_lz4_test_archive_is_streamed_out_and_indexed_with_occlusion(tmp_path: Path, monkeypatch) -> None:
    import lz4.frame

    opened: list = []
    real_open = lz4.frame.open

    def recording_open(*args, **kwargs):
        opened.append(real_open(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(lz4.frame, "open", recording_open)
    archive = lz4_tar(tmp_path / "test.tar.lz4", LAYOUT)
    report = extract_archive(archive, tmp_path / "out")
    assert len(report.extracted) == 4 and report.skipped_junk == ["__MACOSX/images/._11.jpg"]
    assert len(opened) == 2 and all(frame.closed for frame in opened)  # one pass to plan, one to extract
    index, odd = index_test_tree(tmp_path / "out")
    assert odd == []
    rows = {r["image_id"]: r for r in index.iter_rows(named=True)}
    assert rows[11]["occlusion"] == "unoccluded" and rows[11]["mask_path"] is None
    assert rows[12]["occlusion"] == "high_occlusions" and rows[12]["chain_id"] == -1
    assert rows[12]["mask_path"] == "images/test/high_occlusions/masks/12.png"
    test_images = pl.DataFrame({"image_id": [11, 12, 99], "hotel_id": [400, 401, 402]})
    joined = with_occlusion(test_images, index)
    assert joined["occlusion"].to_list() == ["unoccluded", "high_occlusions", None]


@pytest.mark.parametrize(
    ("members", "links", "match"),
    [
        ({"../../escape.jpg": b"x"}, None, "climbs out"),
        ({"/etc/evil.jpg": b"x"}, None, "absolute path"),
        ({"images/test/a.jpg": b"x"}, {"images/test/link": "/etc/passwd"}, "is a link"),
    ],
)
def test_hostile_lz4_members_are_refused_and_nothing_is_written(tmp_path: Path, members, links, match) -> None:
    archive = lz4_tar(tmp_path / "test.tar.lz4", members, links)
    with pytest.raises(UnsafeArchiveError, match=match):
        extract_archive(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() and not (tmp_path / "escape.jpg").exists()


def test_a_corrupt_lz4_archive_is_one_clear_error(tmp_path: Path) -> None:
    archive = tmp_path / "test.tar.lz4"
    archive.write_bytes(b"\x04\x22\x4d\x18not really lz4")
    with pytest.raises(UnsafeArchiveError, match="not a readable lz4-compressed tar"):
        extract_archive(archive, tmp_path / "out")
