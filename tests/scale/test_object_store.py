"""The data store on an S3-compatible server (moto in server mode on 127.0.0.1, started here)."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from hotelcap_pipeline.defs.assets import metadata, photos, tagging
from hotelcap_pipeline.defs.inputs import input_assets
from hotelcap_pipeline.defs.io import parquet_io_manager
from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings
from hotelcap_pipeline.demo.dataset import plan_photos
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS
from hotelcap_pipeline.store import DataStore, stored_problem, write_parquet_atomic

MOTO = shutil.which("moto_server", path=str(Path(sys.executable).parent)) or shutil.which("moto_server")
N_TRAIN = sum(p.split == "train" for p in plan_photos())  # every demo hotel is in the default sample of 10
pytestmark = pytest.mark.skipif(MOTO is None, reason="moto_server is not installed (pip install 'moto[server]')")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def s3_endpoint(monkeypatch):
    port = free_port()
    proc = subprocess.Popen([MOTO, "-H", "127.0.0.1", "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.2)
    for key, value in {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
                       "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT_URL": endpoint}.items():
        monkeypatch.setenv(key, value)
    import s3fs

    s3fs.S3FileSystem.clear_instance_cache()
    s3fs.S3FileSystem(endpoint_url=endpoint).mkdir("hotelcap-test")
    yield endpoint
    proc.terminate()
    proc.wait(10)


def run_stages(url: str) -> dg.ExecuteInProcessResult:
    settings = HotelcapSettings(profile="demo", data_store=url, dataset=str(DEMO_DIR / "dataset"))
    return dg.materialize(
        [*input_assets, *dg.load_assets_from_modules([metadata, photos, tagging])],
        selection=["chains", "hotels", "train_images", "test_images", "sampled_hotels", "hotel_images",
                   "image_embeddings"],
        resources={"settings": settings, "clip": ClipResource(),
                   "io_manager": parquet_io_manager},
        tags={"dagster/asset_partition_range_start": SHARD_KEYS[0],
              "dagster/asset_partition_range_end": SHARD_KEYS[-1]},
    )


def embeddings_computed(result: dg.ExecuteInProcessResult) -> int:
    """Photos embedded in the run, over all shards (each shard's materialization carries its own count)."""
    return sum(m.metadata["computed"].value for m in result.asset_materializations_for_node("image_embeddings"))


def test_round_trip_through_the_object_store(s3_endpoint, tmp_path, monkeypatch):
    import s3fs

    url = "s3://hotelcap-test/store"
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
    first = run_stages(url)
    assert first.success and embeddings_computed(first) == N_TRAIN
    fs = s3fs.S3FileSystem(endpoint_url=s3_endpoint)
    objects = fs.find("hotelcap-test/store")
    assert any(o.endswith("tables/train_images.parquet") for o in objects)
    assert sum(o.endswith(".jpg") for o in objects) == N_TRAIN
    assert sum("tables/image_embeddings.parquet/shard-" in o for o in objects) == len(SHARD_KEYS)

    # A second machine (a fresh local cache) finds everything in the bucket: nothing is fetched or embedded.
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-b"))
    second = run_stages(url)
    assert second.success and embeddings_computed(second) == 0
    shards = [m.metadata for m in second.asset_materializations_for_node("hotel_images")]
    assert sum(m["reused"].value for m in shards) == N_TRAIN and sum(m["fetched"].value for m in shards) == 0
    a = DataStore.at(url).read_table("image_embeddings").sort("image_id")
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
    b = DataStore.at(url).read_table("image_embeddings").sort("image_id")
    assert a.equals(b)
    assert (DataStore.at(url).root / "images" / "train").is_dir()
    assert DataStore.at(url).root.parent == tmp_path / "cache-a"


def test_a_fresh_copy_judges_and_shows_what_the_bucket_holds(s3_endpoint, tmp_path, monkeypatch):
    """Another machine (an empty local copy) finds the outputs in the bucket: nothing is called missing,
    and the report gets the figures and photos it shows from there."""
    from hotelcap_pipeline.report.tables import ReportTables

    url = "s3://hotelcap-test/store"
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
    assert run_stages(url).success
    made = DataStore.at(url)
    (made.figures / "stage.png").parent.mkdir(parents=True, exist_ok=True)
    (made.figures / "stage.png").write_bytes(b"\x89PNG figure")
    made.push([made.figures / "stage.png"])

    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-b"))
    fresh = DataStore.at(url)
    assert not fresh.root.exists()
    for key in ("hotels", "sampled_hotels", "hotel_images", "image_embeddings"):
        assert stored_problem(fresh, key) is None, key
    photo = fresh.read_table("hotel_images").filter(pl.col("status") == "ok")["path"][0]
    assert fresh.missing([photo, "images/train/none.jpg"]) == ["images/train/none.jpg"]
    tables = ReportTables(fresh, {"stage": ["report/figures/stage.png"]})
    assert [f.png for f in tables.figures_of("stage")] == [b"\x89PNG figure"]
    assert tables.resolve(photo).is_file()


def write_shards(store: DataStore, key: str, shards: dict[str, list[int]]) -> None:
    files = [store.table(key) / f"{shard}.parquet" for shard in shards]
    for (shard, ids), file in zip(shards.items(), files, strict=True):
        write_parquet_atomic(pl.DataFrame({"image_id": ids, "shard": [shard] * len(ids)}), file)
    store.push(files)


URL, KEY, KEYS = "s3://hotelcap-test/store", "image_embeddings", ["shard-00", "shard-01", "shard-02"]


@pytest.fixture
def stale_copy(s3_endpoint, tmp_path, monkeypatch):
    """A writer's and a reader's store (two machines' local copies) of one bucket, whose table KEY has
    three shards that the reader has read, and a client of the bucket to change it behind their backs."""
    import s3fs

    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
    writer = DataStore.at(URL)
    write_shards(writer, KEY, {"shard-00": [1, 2], "shard-01": [3], "shard-02": [4, 5]})
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-b"))
    reader = DataStore.at(URL)
    assert read_ids(reader) == [1, 2, 3, 4, 5]
    return writer, reader, s3fs.S3FileSystem(endpoint_url=s3_endpoint)


def read_ids(store: DataStore) -> list[int]:
    return sorted(store.read_table(KEY).get_column("image_id").to_list())


def test_a_shard_gone_from_the_bucket_is_not_read_from_a_stale_local_copy(stale_copy):
    """A machine's local copy keeps a shard that the bucket no longer holds (deleted there, or the table
    rewritten with fewer shards by another machine): reads go by the bucket."""
    writer, reader, bucket = stale_copy
    stale = reader.table(KEY) / "shard-02.parquet"
    bucket.rm(f"hotelcap-test/store/tables/{KEY}.parquet/shard-02.parquet")
    assert read_ids(reader) == [1, 2, 3]
    assert sorted(reader.read_shards(KEY, KEYS, missing_ok=True).get_column("image_id").to_list()) == [1, 2, 3]
    with pytest.raises(FileNotFoundError, match=r"not materialized yet: shard-02\.parquet$"):
        reader.read_shards(KEY, KEYS)
    # Left in the local copy: a shard written there and not pushed yet would be left too.
    assert stale.is_file()

    bucket.rm(f"hotelcap-test/store/tables/{KEY}.parquet", recursive=True)
    write_shards(writer, KEY, {"shard-00": [6], "shard-01": [7, 8]})
    assert read_ids(reader) == [6, 7, 8]
    bucket.rm(f"hotelcap-test/store/tables/{KEY}.parquet", recursive=True)
    with pytest.raises(FileNotFoundError, match="holds no shard yet"):
        reader.read_table(KEY)


def test_stored_output_check_sees_a_shard_gone_from_the_bucket(stale_copy):
    """The check that decides what to rebuild calls a shard missing that only a stale local copy holds."""
    _, reader, bucket = stale_copy
    bucket.rm(f"hotelcap-test/store/tables/{KEY}.parquet/shard-02.parquet")
    assert stored_problem(reader, KEY, KEYS) == f"{URL}/tables/{KEY}.parquet/shard-02.parquet is missing"
    assert stored_problem(reader, KEY, KEYS[:2]) is None
    bucket.rm(f"hotelcap-test/store/tables/{KEY}.parquet", recursive=True)
    assert stored_problem(reader, KEY) == f"{URL}/tables/{KEY}.parquet holds no shard"


def test_an_asset_input_gone_from_the_bucket_is_not_read_from_a_stale_local_copy(stale_copy, monkeypatch):
    """A whole table loaded as an asset's input goes by the bucket too: deleted there, it is missing."""
    from hotelcap_pipeline.defs.io import ParquetTableIOManager

    writer, _, bucket = stale_copy
    write_parquet_atomic(pl.DataFrame({"hotel_id": [1, 2]}), writer.table("sampled_hotels"))
    writer.push([writer.table("sampled_hotels")])
    manager = ParquetTableIOManager(HotelcapSettings(data_store=URL))  # the reader's cache dir is set

    def load() -> pl.DataFrame:
        return manager.load_input(dg.build_input_context(asset_key=dg.AssetKey("sampled_hotels")))

    assert load().height == 2
    bucket.rm("hotelcap-test/store/tables/sampled_hotels.parquet")
    with pytest.raises(FileNotFoundError, match="does not exist: materialize 'sampled_hotels' first"):
        load()


def test_reading_shards_lists_the_folder_once(s3_endpoint, tmp_path, monkeypatch):
    """Shards are looked up in one listing of the table's folder, not with a request per shard."""
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-a"))
    write_shards(DataStore.at(URL), KEY, {f"shard-0{n}": [n] for n in range(4)})
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache-b"))
    reader = DataStore.at(URL)
    fs = reader._fs()[0]
    calls: list[str] = []

    def counted(name: str, real):
        def call(*args, **kwargs):
            calls.append(name)
            return real(*args, **kwargs)
        return call

    for name in ("isdir", "exists", "find", "info", "ls"):
        monkeypatch.setattr(fs, name, counted(name, getattr(fs, name)))
    shards = reader.read_shards(KEY, ["shard-01", "shard-02", "shard-09"], missing_ok=True)
    assert sorted(shards.get_column("image_id").to_list()) == [1, 2]
    assert calls.count("find") == 1 and len(calls) <= 2, calls  # an isdir and the folder's listing
    assert sorted(p.name for p in reader.table(KEY).iterdir()) == ["shard-01.parquet", "shard-02.parquet"]


def test_two_stores_never_share_a_local_copy(tmp_path, monkeypatch):
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path))
    store = DataStore.at("s3://b/team/prod")
    assert (store.location(store.root), store.location(store.tables)) == ("s3://b/team/prod", "s3://b/team/prod/tables")
    assert DataStore.at("s3://b/team/prod").root != DataStore.at("s3://b/team_prod").root
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    elsewhere = DataStore.at("s3://b/team/prod").root
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9001")
    assert DataStore.at("s3://b/team/prod").root != elsewhere
