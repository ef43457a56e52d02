"""HOTELCAP_TEST_PHOTOS: the upstream test photos fetched, extracted safely into the store's images/test/,
indexed per occlusion level, joined onto test_images, and read from their files by the photo stage."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from helpers_archives import lz4_tar
from PIL import Image

from hotelcap_pipeline.defs.assets.metadata import metadata_tables
from hotelcap_pipeline.defs.io import parquet_io_manager
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.demo.server import serve_directory
from hotelcap_pipeline.metadata.extract import UnsafeArchiveError
from hotelcap_pipeline.metadata.occlusion import (
    OCCLUSION_COLUMNS,
    TestTreeError,
    empty_index,
    install_test_tree,
    occlusion_counts,
    with_occlusion,
)
from hotelcap_pipeline.metadata.parse import DatasetError
from hotelcap_pipeline.metadata.source import resolve_test_photos
from hotelcap_pipeline.photos import DownloadOptions, download_images
from hotelcap_pipeline.photos.requests import photo_requests, photo_tree_roots, redirect_urls
from hotelcap_pipeline.settings import DEMO_DIR


def jpeg(shade: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (shade, 80, 160)).save(buf, format="JPEG")
    return buf.getvalue()


# Demo test photos 1000257 (hotel 391) and 1000917 (hotel 20877): the first at every level, as upstream's
# occluded versions are; masks in both places upstream has used; one photo that is not in test_set.csv.
T = "images/test"
TREE = {
    f"{T}/unoccluded/-1/391/traffickcam/1000257.jpg": jpeg(10),
    f"{T}/low_occlusions/-1/391/traffickcam/1000257.jpg": jpeg(20),
    f"{T}/low_occlusions/masks/1000257.png": b"m-low",
    f"{T}/high_occlusions/-1/391/traffickcam/1000257.jpg": jpeg(30),
    f"{T}/high_occlusions/-1/391/traffickcam/masks/1000257.png": b"m-high",
    f"{T}/medium_occlusions/4/20877/traffickcam/1000917.jpg": jpeg(40),
    f"{T}/medium_occlusions/4/20877/traffickcam/masks/1000917.png": b"m-med",
    f"{T}/unoccluded/4/20877/traffickcam/9.jpg": jpeg(50),
    # Not the layout: a file beside the photos, a folder outside the levels, a file outside the tree.
    f"{T}/unoccluded/-1/391/notes.txt": b"?",
    f"{T}/extra/-1/391/traffickcam/5.jpg": jpeg(60),
    "README": b"read me",
    "__MACOSX/images/._x": b"junk",
}


def test_an_lz4_archive_lands_in_the_store_tree_indexed_per_level(tmp_path: Path) -> None:
    store = tmp_path / "store"
    # The photo stage's own test photos share images/test/: left alone, not indexed.
    own = store / T / "-1" / "391" / "traffickcam" / "1000257.jpg"
    own.parent.mkdir(parents=True)
    own.write_bytes(b"resized earlier")
    archive = lz4_tar(tmp_path / "test.tar.lz4", TREE)
    tree = resolve_test_photos(str(archive), store, store / "raw" / "hotels50k")
    assert not tree.reused and own.read_bytes() == b"resized earlier"
    rows = {(r["image_id"], r["occlusion"]): r for r in tree.index.iter_rows(named=True)}
    assert sorted(rows) == [(9, "unoccluded"), (1000257, "high_occlusions"), (1000257, "low_occlusions"),
                            (1000257, "unoccluded"), (1000917, "medium_occlusions")]
    for row in rows.values():  # store-relative paths of files that are there
        assert (store / row["path"]).read_bytes() == TREE[row["path"]]
    assert rows[(1000257, "unoccluded")]["mask_path"] is None
    assert rows[(1000257, "low_occlusions")]["mask_path"] == f"{T}/low_occlusions/masks/1000257.png"
    high_mask = f"{T}/high_occlusions/-1/391/traffickcam/masks/1000257.png"
    assert rows[(1000257, "high_occlusions")]["mask_path"] == high_mask
    assert rows[(1000917, "medium_occlusions")]["chain_id"] == 4
    assert sorted(tree.outside_layout) == ["README", f"{T}/extra/-1/391/traffickcam/5.jpg",
                                           f"{T}/unoccluded/-1/391/notes.txt"]
    assert not (store / T / "extra").exists() and not (store / "README").exists()
    assert occlusion_counts(tree.index) == {
        "photos": {"unoccluded": 2, "low_occlusions": 1, "medium_occlusions": 1, "high_occlusions": 1},
        "masks": {"unoccluded": 0, "low_occlusions": 1, "medium_occlusions": 1, "high_occlusions": 1},
    }
    assert not [p for p in (store / "images").iterdir() if p.name.startswith(".")]  # no staging left


def test_the_same_archive_is_not_extracted_twice_and_a_new_one_replaces_the_tree(tmp_path, monkeypatch) -> None:
    store, raw = tmp_path / "store", tmp_path / "store" / "raw" / "hotels50k"
    archive = lz4_tar(tmp_path / "test.tar.lz4", TREE)
    first = install_test_tree(archive, store, raw)
    own = store / T / "5" / "400" / "traffickcam" / "11.jpg"  # a photo the photo stage stored
    own.parent.mkdir(parents=True)
    own.write_bytes(b"resized earlier")

    def no_extraction(*args, **kwargs):
        raise AssertionError("extracted again")

    with monkeypatch.context() as m:
        m.setattr("hotelcap_pipeline.metadata.occlusion.extract_archive", no_extraction)
        again = install_test_tree(archive, store, raw)
    assert again.reused and again.index.equals(first.index) and again.outside_layout == first.outside_layout
    # A photo of the tree deleted: the marker no longer holds, the archive is extracted again.
    (store / first.index.filter(pl.col("occlusion") == "high_occlusions")["path"][0]).unlink()
    assert not install_test_tree(archive, store, raw).reused
    # A new archive version: levels it lacks are gone, the others replaced.
    lz4_tar(archive, {f"{T}/unoccluded/-1/391/traffickcam/1000257.jpg": jpeg(90)})
    os.utime(archive, ns=(1, 1))
    tree = install_test_tree(archive, store, raw)
    assert tree.index.height == 1 and tree.outside_layout == []
    assert sorted(p.name for p in (store / T).iterdir()) == ["5", "unoccluded"]
    assert own.read_bytes() == b"resized earlier"


def test_an_archive_of_the_images_folder_works_too(tmp_path: Path) -> None:
    # Upstream says to decompress the test archive inside images/: its members may start at test/.
    archive = lz4_tar(tmp_path / "test.tar.lz4", {"test/unoccluded/5/400/traffickcam/11.jpg": jpeg(1)})
    tree = install_test_tree(archive, tmp_path / "store", tmp_path / "raw")
    assert tree.index["path"].to_list() == [f"{T}/unoccluded/5/400/traffickcam/11.jpg"]


@pytest.mark.parametrize(
    ("members", "links", "match"),
    [
        ({f"{T}/unoccluded/5/400/traffickcam/11.jpg": b"x", "../../escape.jpg": b"x"}, None, "climbs out"),
        ({f"{T}/unoccluded/5/400/traffickcam/11.jpg": b"x"},
         {f"{T}/unoccluded/5/400/traffickcam/12.jpg": "/etc/passwd"}, "is a link"),
        ({f"{T}/unoccluded/5/400/traffickcam/11.jpg": b"x"}, {f"{T}/low_occlusions": "../../.."}, "is a link"),
    ],
)
def test_a_hostile_archive_is_refused_and_the_stored_tree_kept(tmp_path: Path, members, links, match) -> None:
    store, raw = tmp_path / "a" / "store", tmp_path / "a" / "store" / "raw"
    good = lz4_tar(tmp_path / "good.tar.lz4", TREE)
    install_test_tree(good, store, raw)
    before = sorted(p.relative_to(store) for p in (store / "images").rglob("*"))
    hostile = lz4_tar(tmp_path / "test.tar.lz4", members, links)
    with pytest.raises(UnsafeArchiveError, match=match):
        resolve_test_photos(str(hostile), store, raw)
    assert sorted(p.relative_to(store) for p in (store / "images").rglob("*")) == before
    assert not (tmp_path / "escape.jpg").exists() and not (tmp_path / "a" / "escape.jpg").exists()
    assert install_test_tree(good, store, raw).reused  # the stored tree is still the good archive's


def test_an_archive_without_the_tree_or_not_an_archive_is_one_clear_error(tmp_path: Path) -> None:
    store = tmp_path / "store"
    with pytest.raises(TestTreeError, match="no images/test/<occlusion>/ folders"):
        resolve_test_photos(str(lz4_tar(tmp_path / "test.tar.lz4", {"photos/1.jpg": b"x"})), store, store / "raw")
    assert not (store / T).exists()
    (tmp_path / "test.rar").write_bytes(b"x")
    with pytest.raises(DatasetError, match=r"HOTELCAP_TEST_PHOTOS=.*not a \.tar\.gz, \.tar, \.zip or \.tar\.lz4"):
        resolve_test_photos(str(tmp_path / "test.rar"), store, store / "raw")
    with pytest.raises(DatasetError, match=r"HOTELCAP_TEST_PHOTOS=.*no such file or folder"):
        resolve_test_photos(str(tmp_path / "missing.tar.lz4"), store, store / "raw")


def test_a_url_is_downloaded_once_into_the_raw_folder(tmp_path: Path) -> None:
    served = tmp_path / "served"
    served.mkdir()
    lz4_tar(served / "test.tar.lz4", TREE)
    store = tmp_path / "store"
    with serve_directory(served) as base:
        tree = resolve_test_photos(f"{base}test.tar.lz4", store, store / "raw" / "hotels50k")
    assert (store / "raw" / "hotels50k" / "test.tar.lz4").read_bytes() == (served / "test.tar.lz4").read_bytes()
    assert tree.index.height == 5
    # Offline now: the downloaded archive and the extracted tree are reused.
    again = resolve_test_photos(f"{base}test.tar.lz4", store, store / "raw" / "hotels50k")
    assert again.reused and again.index.equals(tree.index)


def test_a_folder_is_indexed_where_it_is(tmp_path: Path) -> None:
    outside = tmp_path / "photos"
    for name, data in TREE.items():
        (outside / name).parent.mkdir(parents=True, exist_ok=True)
        (outside / name).write_bytes(data)
    store = tmp_path / "store"
    tree = resolve_test_photos(str(outside), store, store / "raw")
    assert tree.index.height == 5 and not (store / T).exists()  # nothing copied
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in tree.index["path"])
    # A folder inside the store: paths relative to the store root, as for an extracted archive.
    shutil.copytree(outside / "images", store / "images")
    inside = resolve_test_photos(str(store), store, store / "raw")
    assert inside.index["path"].str.starts_with(f"{T}/").all()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(TestTreeError, match="no images/test/<occlusion>/ folders"):
        resolve_test_photos(str(empty), store, store / "raw")


def test_test_images_get_one_row_per_photo_with_its_least_occluded_level() -> None:
    from hotelcap_pipeline.metadata.occlusion import INDEX_SCHEMA

    index = pl.DataFrame(
        [
            (1, 10, 5, "traffickcam", "high_occlusions", "h/1.jpg", "h/m/1.png"),
            (1, 10, 5, "traffickcam", "unoccluded", "u/1.jpg", None),
            (2, 10, 5, "traffickcam", "medium_occlusions", "m/2.jpg", "m/m/2.png"),
        ],
        schema=INDEX_SCHEMA, orient="row",
    )
    test_images = pl.DataFrame({"image_id": [3, 1, 2], "hotel_id": [10, 10, 10]})
    joined = with_occlusion(test_images, index)
    assert joined["image_id"].to_list() == [3, 1, 2]
    assert joined["occlusion"].to_list() == [None, "unoccluded", "medium_occlusions"]
    assert joined["occlusions"].to_list() == [None, ["unoccluded", "high_occlusions"], ["medium_occlusions"]]
    assert joined["photo_path"].to_list() == [None, "u/1.jpg", "m/2.jpg"]
    assert joined["mask_path"].to_list() == [None, None, "m/m/2.png"]
    # Without a tree: the same columns, all null.
    bare = with_occlusion(test_images, empty_index())
    assert bare.schema == joined.schema and bare.select(list(OCCLUSION_COLUMNS)).null_count().row(0) == (3,) * 4


def _materialize_test_images(store: Path, test_photos: str | None, **config):
    settings = HotelcapSettings(dataset=str(DEMO_DIR / "dataset"), data_store=str(store), test_photos=test_photos)
    return dg.materialize(
        [metadata_tables], selection=["test_images"], raise_on_error=False,
        resources={"settings": settings, "io_manager": parquet_io_manager},
        run_config={"ops": {"metadata_tables": {"config": config}}} if config else None,
    )


def _output(result: dg.ExecuteInProcessResult) -> tuple[pl.DataFrame, dict]:
    [event] = result.get_asset_materialization_events()
    metadata = {k: getattr(v, "value", v) for k, v in event.materialization.metadata.items()}
    return result.output_for_node("metadata_tables", "test_images"), metadata


def test_the_asset_joins_the_tree_and_reports_counts_per_level(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result = _materialize_test_images(store, str(lz4_tar(tmp_path / "test.tar.lz4", TREE)))
    assert result.success
    df, meta = _output(result)
    assert df.height == 9  # one row per test_set.csv row, as without test photos
    rows = {r["image_id"]: r for r in df.iter_rows(named=True)}
    assert rows[1000257]["occlusion"] == "unoccluded"
    assert rows[1000257]["occlusions"] == ["unoccluded", "low_occlusions", "high_occlusions"]
    assert (store / rows[1000257]["photo_path"]).read_bytes() == TREE[f"{T}/unoccluded/-1/391/traffickcam/1000257.jpg"]
    assert rows[1000917]["occlusion"] == "medium_occlusions"
    assert (store / rows[1000917]["mask_path"]).read_bytes() == b"m-med"
    assert rows[1000690]["occlusion"] is None
    assert meta["photos_per_occlusion"] == {"unoccluded": 2, "low_occlusions": 1, "medium_occlusions": 1,
                                            "high_occlusions": 1}
    assert meta["masks_per_occlusion"]["high_occlusions"] == 1 and meta["photos_unoccluded"] == 2
    assert (meta["rows_with_photo"], meta["rows_without_photo"], meta["tree_photos_not_in_test_set"]) == (2, 7, 1)
    assert meta["outside_layout"] == 3 and "README" in meta["outside_layout_examples"]
    per_level = pl.read_parquet(meta["index_per_level"])  # every level's photo and mask, kept in the store
    assert per_level.height == 5 and per_level["mask_path"].drop_nulls().len() == 3


def test_the_asset_without_test_photos_keeps_the_same_schema(tmp_path: Path) -> None:
    result = _materialize_test_images(tmp_path / "store", None)
    assert result.success
    df, meta = _output(result)
    assert df.select(list(OCCLUSION_COLUMNS)).null_count().row(0) == (df.height,) * 4
    assert {c: df.schema[c] for c in OCCLUSION_COLUMNS} == OCCLUSION_COLUMNS
    assert meta["test_photos"].startswith("none")


def test_the_asset_refuses_a_hostile_archive_naming_it(tmp_path: Path) -> None:
    hostile = lz4_tar(tmp_path / "test.tar.lz4", {f"{T}/unoccluded/5/400/traffickcam/11.jpg": b"x"},
                      {f"{T}/unoccluded/5/400/traffickcam/12.jpg": "../../../../etc/passwd"})
    result = _materialize_test_images(tmp_path / "store", str(hostile))
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "test.tar.lz4: member" in failure.step_failure_data.error.to_string()
    assert not (tmp_path / "store" / T).exists()


def test_the_test_archive_limits_come_from_run_config(tmp_path: Path) -> None:
    result = _materialize_test_images(tmp_path / "store", str(lz4_tar(tmp_path / "test.tar.lz4", TREE)),
                                      test_photos_max_members=3)
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "more than 3 members; refused" in failure.step_failure_data.error.to_string()


def test_the_photo_stage_reads_extracted_test_photos_from_their_files(tmp_path: Path) -> None:
    store = tmp_path / "store"
    archive = lz4_tar(tmp_path / "test.tar.lz4", TREE)
    tree = install_test_tree(archive, store, store / "raw")
    test_images = with_occlusion(
        pl.DataFrame({"image_id": [1000257, 1000690], "hotel_id": [391, 391],
                      "image_url": ["http://127.0.0.1:9/a.jpg", "http://127.0.0.1:9/b.jpg"],
                      "image_source": ["traffickcam", "traffickcam"]}),
        tree.index,
    )
    train = test_images.head(0).select("image_id", "hotel_id", "image_url", "image_source")
    sample = pl.DataFrame({"hotel_id": [391], "chain_id": [-1]})
    requests = photo_requests(sample, train, test_images, store_root=store)
    local = store / T / "unoccluded" / "-1" / "391" / "traffickcam" / "1000257.jpg"
    assert requests["fetch_url"].to_list() == [str(local), None]
    # The demo's redirect leaves a row read from a file as it is.
    assert redirect_urls(requests, "http://127.0.0.1:9/", "http://x/")["fetch_url"].to_list() == [
        str(local), "http://x/b.jpg"]
    roots = photo_tree_roots(str(archive), store)
    manifest = download_images(requests.head(1), store, DownloadOptions(local_roots=roots))
    [row] = manifest.iter_rows(named=True)
    assert row["status"] == "ok" and row["url"] == "http://127.0.0.1:9/a.jpg"
    assert row["path"] == f"{T}/-1/391/traffickcam/1000257.jpg" and (store / row["path"]).is_file()
    # Without the variable the tree is not an allowed folder: the row fails, naming why.
    refused = download_images(requests.head(1), tmp_path / "other", DownloadOptions(local_roots=()))
    assert refused["status"].to_list() == ["failed"] and "local file refused" in refused["error"][0]
