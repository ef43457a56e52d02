"""A damaged store is treated as missing, named in a warning, and rebuilt instead of failing every rerun."""

from __future__ import annotations

import logging

import polars as pl
import pytest
from PIL import Image

from hotelcap_pipeline import cli
from hotelcap_pipeline.edits.cache import image_problem, png_bytes, read_png_meta
from hotelcap_pipeline.store import DamagedFileError, DataStore, parquet_problem, stored_problem, write_parquet_atomic


def _truncate(path, keep: float = 0.5) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])


@pytest.fixture
def store(tmp_path) -> DataStore:
    return DataStore.at(tmp_path / "store")


def _shards(store: DataStore, key: str = "image_embeddings") -> None:
    for shard in ("s0", "s1"):
        write_parquet_atomic(pl.DataFrame({"image_id": [1, 2], "shard": [shard] * 2}),
                             store.table(key) / f"{shard}.parquet")


def test_own_previous_output_with_a_damaged_shard_keeps_the_rest(store, caplog):
    _shards(store)
    _truncate(store.table("image_embeddings") / "s1.parquet")
    with caplog.at_level(logging.WARNING, logger="hotelcap_pipeline.store"):
        previous = store.read_shards("image_embeddings", ["s0", "s1"], missing_ok=True)
    assert previous is not None and previous["shard"].unique().to_list() == ["s0"]
    assert any("s1.parquet is damaged" in r.getMessage() and "computed again" in r.getMessage()
               for r in caplog.records)


def test_reading_a_damaged_table_names_the_file(store):
    _shards(store)
    _truncate(store.table("image_embeddings") / "s0.parquet")
    with pytest.raises(DamagedFileError, match=r"s0\.parquet is damaged .*materialize 'image_embeddings' again"):
        store.read_shards("image_embeddings", ["s0", "s1"])
    write_parquet_atomic(pl.DataFrame({"hotel_id": [1]}), store.table("hotels"))
    store.table("hotels").write_bytes(b"garbage" * 10)
    with pytest.raises(FileNotFoundError, match=r"hotels\.parquet is damaged"):
        store.read_table("hotels")


def test_search_on_a_truncated_table_says_which_file(store, monkeypatch, capsys):
    write_parquet_atomic(pl.DataFrame({"image_id": [1], "method": ["seed"], "tags": [["bed"]]}),
                         store.table("image_tags"))
    _truncate(store.table("image_tags"))
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(store.root))
    assert cli.main(["search", "bed"]) == 1
    err = capsys.readouterr().err
    assert f"{store.table('image_tags')} is damaged" in err and "Traceback" not in err


def test_stored_problem_sees_missing_and_damaged_outputs(store):
    assert stored_problem(store, "hotels") == f"{store.table('hotels')} is missing"
    write_parquet_atomic(pl.DataFrame({"hotel_id": [1]}), store.table("hotels"))
    assert stored_problem(store, "hotels") is None
    _truncate(store.table("hotels"))
    assert stored_problem(store, "hotels").startswith(f"{store.table('hotels')} is damaged")

    _shards(store)
    assert stored_problem(store, "image_embeddings") is None
    assert stored_problem(store, "image_embeddings", ["s0", "s2"]) == (
        f"{store.table('image_embeddings') / 's2.parquet'} is missing")

    manifest = pl.DataFrame({"path": ["images/a.jpg", None], "status": ["ok", "failed"], "shard": ["s0"] * 2})
    write_parquet_atomic(manifest, store.table("hotel_images") / "s0.parquet")
    assert stored_problem(store, "hotel_images") == f"{store.root / 'images/a.jpg'} is missing (s0.parquet lists it)"
    (store.root / "images").mkdir()
    (store.root / "images" / "a.jpg").write_bytes(b"x")
    assert stored_problem(store, "hotel_images") is None

    assert stored_problem(store, "report") == f"{store.report / 'index.html'} is missing or empty"
    write_parquet_atomic(pl.DataFrame({"path": ["report/figures/visitor_portrait.png"]}),
                         store.table("visitor_portrait"))
    assert stored_problem(store, "visitor_portrait") == (
        f"{store.root / 'report/figures/visitor_portrait.png'} is missing (visitor_portrait.parquet lists it)")


def test_parquet_problem_without_reading_data(tmp_path):
    good = tmp_path / "t.parquet"
    pl.DataFrame({"a": list(range(1000))}).write_parquet(good)
    assert parquet_problem(good) is None
    assert parquet_problem(tmp_path / "none.parquet") == "missing"
    (tmp_path / "short.parquet").write_bytes(b"PAR1")
    assert parquet_problem(tmp_path / "short.parquet").startswith("damaged (4 bytes")


def test_a_reused_edit_must_decode_whole(tmp_path):
    path = tmp_path / "edit.png"
    image = Image.effect_noise((64, 48), 40).convert("RGB")
    path.write_bytes(png_bytes(image, {"cache_key": "k"}))
    assert read_png_meta(path) == {"cache_key": "k"} and image_problem(path, (64, 48)) is None
    assert image_problem(path, (32, 32)) == f"{path}: 64x48, expected 32x32"
    _truncate(path, 0.7)  # the header and the settings survive, the pixels do not
    assert read_png_meta(path) is None
    assert image_problem(path).startswith(f"{path}: does not decode")


def test_search_names_a_damaged_optional_table_and_goes_on(store, monkeypatch, capsys):
    tags = pl.DataFrame({"image_id": [1], "hotel_id": [10], "chain_id": [0], "method": ["seed"], "tags": [["bed"]],
                         "caption": ["a bed"], "score_bed": [0.3]})
    write_parquet_atomic(tags, store.table("image_tags"))
    write_parquet_atomic(pl.DataFrame({"hotel_id": [10], "hotel_name": ["Inn"]}), store.table("hotels"))
    _truncate(store.table("hotels"))
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(store.root))
    assert cli.main(["search", "bed", "--method", "seed"]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith(f"warning: {store.table('hotels')} is damaged")
    assert "hotel_id" in captured.out
