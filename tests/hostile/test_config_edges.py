"""Bad configuration values end in one line naming the setting and the value, wherever they come from."""

from __future__ import annotations

import dagster as dg
import pydantic
import pytest

from hotelcap_pipeline.defs.assets.edits import PortraitConfig
from hotelcap_pipeline.defs.assets.metadata import SampleConfig
from hotelcap_pipeline.defs.assets.photos import PhotosConfig
from hotelcap_pipeline.defs.assets.tagging import ClusterConfig, TagConfig
from hotelcap_pipeline.defs.resources import ClipResource, HotelcapSettings
from hotelcap_pipeline.settings import load_settings


@pytest.mark.parametrize(
    "make",
    [
        lambda: SampleConfig(n_hotels=-5),
        lambda: SampleConfig(n_hotels=0),
        lambda: SampleConfig(seed=-1),
        lambda: SampleConfig(min_train_images=-1),
        lambda: HotelcapSettings(n_hotels=0),
        lambda: HotelcapSettings(seed=-5),
        lambda: PhotosConfig(max_in_flight=0),
        lambda: PhotosConfig(per_host=-1),
        lambda: PhotosConfig(retries=-1),
        lambda: PhotosConfig(processes=0),
        lambda: ClusterConfig(k_max=1),
        lambda: TagConfig(seed_threshold=2.0),
        lambda: PortraitConfig(size=100),
        lambda: ClipResource(batch_size=0),
    ],
)
def test_run_config_out_of_range_is_refused(make):
    with pytest.raises((pydantic.ValidationError, dg.DagsterInvalidConfigError)):
        make()


@pytest.mark.parametrize(
    "env, message",
    [
        ({"HOTELCAP_SEED": "-5"}, "HOTELCAP_SEED must be 0 or more, got -5"),
        ({"HOTELCAP_N_HOTELS": "0"}, "HOTELCAP_N_HOTELS must be at least 1, got 0"),
        ({"HOTELCAP_ALLOW_LOCAL_FILES": "/no/such/folder"}, "HOTELCAP_ALLOW_LOCAL_FILES='/no/such/folder'"),
    ],
)
def test_environment_out_of_range_is_refused(env, message):
    with pytest.raises(ValueError) as info:
        load_settings({"HOTELCAP_PROFILE": "demo", **env})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def test_cli_reports_a_bad_variable_in_one_line(monkeypatch, capsys):
    from hotelcap_pipeline import cli

    monkeypatch.setenv("HOTELCAP_SEED", "-5")
    assert cli.main(["search", "bed"]) == 2
    assert capsys.readouterr().err == "HOTELCAP_SEED must be 0 or more, got -5\n"


def test_archive_limits_in_run_config_reach_the_extraction(tmp_path, monkeypatch):
    import io
    import tarfile

    from hotelcap_pipeline.defs.assets.metadata import MetadataConfig, metadata_tables
    from hotelcap_pipeline.defs.io import parquet_io_manager

    archive = tmp_path / "dataset.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("chain_info", "hotel_info", "train_set", "test_set"):
            info = tarfile.TarInfo(f"dataset/{name}.csv")
            info.size = 2_000_000
            tar.addfile(info, io.BytesIO(b"\0" * info.size))
    settings = HotelcapSettings(dataset=str(archive), data_store=str(tmp_path / "store"))
    result = dg.materialize(
        [metadata_tables], selection=["chains"], raise_on_error=False,
        resources={"settings": settings, "io_manager": parquet_io_manager},
        run_config={"ops": {"metadata_tables": {"config": {"max_unpacked_mb": 5}}}},
    )
    assert not result.success
    [failure] = [e for e in result.all_events if e.is_step_failure]
    assert "unpacks to more than 5.0 MB; refused" in failure.step_failure_data.error.to_string()
    assert MetadataConfig().max_unpacked_mb == 2000
