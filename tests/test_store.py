import polars as pl
import pytest

from hotelcap_pipeline.atomic_files import atomic_path
from hotelcap_pipeline.store import DataStore, write_parquet_atomic


def test_sharded_table_ignores_a_writer_in_progress(tmp_path):
    store = DataStore.at(tmp_path)
    folder = store.table("hotel_images")
    write_parquet_atomic(pl.DataFrame({"image_id": [1], "shard": ["shard-00"]}), folder / "shard-00.parquet")
    with pytest.raises(KeyboardInterrupt), atomic_path(folder / "shard-01.parquet") as tmp:
        tmp.write_bytes(b"PAR1 half a file")  # another run, half-way through its write
        assert store.read_table("hotel_images").get_column("image_id").to_list() == [1]
        raise KeyboardInterrupt  # ... and then killed
    assert store.read_table("hotel_images").height == 1  # the killed write left nothing behind


def test_atomic_path_keeps_the_old_file_when_the_write_fails(tmp_path):
    target = tmp_path / "t.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("new, half")
        raise RuntimeError("killed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["t.txt"]
