"""A message about a setting names where its value came from: the run config's field when the run gave it
(the Launchpad, --config-json), the variable when the environment did, the profile when neither did."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hotelcap_pipeline.defs.resources import ClipResource, DiffusionResource, HotelcapSettings
from hotelcap_pipeline.models import ModelUnavailableError
from hotelcap_pipeline.settings import DeviceError, load_settings, settings_with


def test_settings_remember_where_each_value_came_from() -> None:
    env = {"HOTELCAP_PROFILE": "demo", "HOTELCAP_LABELS": "/labels.csv", "HOTELCAP_DEVICE": "cpu"}
    s = settings_with({"device": "tpu", "clip_pretrained": "/w.pt", "n_hotels": 4, "seed": None}, env)
    assert s.origin("device").given(s.device) == "resources.settings.config.device='tpu'"
    assert s.origin("clip_pretrained").source == "resources.clip.config.pretrained"
    assert s.origin("labels").given(s.labels) == "HOTELCAP_LABELS='/labels.csv'"
    assert s.origin("dataset").source == "the demo profile's default HOTELCAP_DATASET"
    assert s.origin("dataset").setting == "HOTELCAP_DATASET"  # what to set to change a default
    assert s.origin("seed").source == "the demo profile's default HOTELCAP_SEED"  # None: not given by the run
    # Where a value came from is not part of the settings: the same values compare (and cache) as equal.
    assert s == load_settings({**env, "HOTELCAP_DEVICE": "tpu", "HOTELCAP_CLIP_PRETRAINED": "/w.pt",
                               "HOTELCAP_N_HOTELS": "4"})


def test_a_bad_value_from_the_run_config_names_the_field_not_the_variable() -> None:
    with pytest.raises(ValueError) as bad:
        settings_with({"profile": "bogus"}, {})
    assert str(bad.value) == "resources.settings.config.profile='bogus': expected one of hotels50k, demo"
    with pytest.raises(ValueError) as bad:
        settings_with({"precision": "fp8"}, {"HOTELCAP_PRECISION": "fp16"})
    assert str(bad.value) == "resources.diffusion.config.precision='fp8': expected one of auto, fp32, fp16, bf16"


def test_a_bad_device_from_the_run_config_names_the_field(monkeypatch) -> None:
    monkeypatch.setenv("HOTELCAP_DEVICE", "cpu")
    with pytest.raises(DeviceError) as bad:
        ClipResource().get(HotelcapSettings(device="tpu"))  # the device is checked before any model loads
    assert str(bad.value) == ("resources.settings.config.device='tpu' is not a torch device (cpu, cuda, cuda:1, mps); "
                              "set resources.settings.config.device=auto (cuda, then mps, then cpu) or cpu")


def test_a_bad_value_from_the_environment_keeps_the_variable_in_the_message(monkeypatch) -> None:
    with pytest.raises(ValueError) as bad:
        settings_with({}, {"HOTELCAP_PRECISION": "fp8"})
    assert str(bad.value) == "HOTELCAP_PRECISION='fp8': expected one of auto, fp32, fp16, bf16"
    with pytest.raises(ValueError) as bad:
        load_settings({"HOTELCAP_PROFILE": "bogus"})
    assert str(bad.value) == "HOTELCAP_PROFILE='bogus': expected one of hotels50k, demo"
    monkeypatch.setenv("HOTELCAP_DEVICE", "tpu")
    with pytest.raises(DeviceError) as bad:
        ClipResource().get(HotelcapSettings())
    assert str(bad.value) == ("HOTELCAP_DEVICE='tpu' is not a torch device (cpu, cuda, cuda:1, mps); "
                              "set HOTELCAP_DEVICE=auto (cuda, then mps, then cpu) or cpu")


def test_every_run_config_field_named_is_a_field_of_the_resource_under_that_key() -> None:
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.settings import ENV_VARS, RUN_CONFIG_FIELDS

    assert set(RUN_CONFIG_FIELDS) == set(ENV_VARS)
    for path in RUN_CONFIG_FIELDS.values():
        top, key, config, field = path.split(".")
        assert (top, config) == ("resources", "config"), path
        assert field in type(defs.resources[key]).model_fields, path


def test_the_model_resources_name_their_own_fields(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOTELCAP_CLIP_MODEL", "ViT-B-32")
    monkeypatch.setenv("HOTELCAP_CLIP_PRETRAINED", "laion2b_s34b_b79k")
    settings = HotelcapSettings()
    with pytest.raises(ModelUnavailableError) as bad:
        ClipResource(pretrained=str(tmp_path / "missing.pt")).get(settings)
    assert str(bad.value).startswith(f"resources.clip.config.pretrained={tmp_path / 'missing.pt'}: no such checkpoint")
    with pytest.raises(ModelUnavailableError) as bad:
        ClipResource(model_name="no-such-arch").get(settings)
    assert "set resources.clip.config.model_name to one of" in str(bad.value)

    missing = {"model": str(tmp_path / "sd"), "ip2p_model": str(tmp_path / "ip2p"),
               "controlnet_model": str(tmp_path / "canny")}
    editors = DiffusionResource(**missing).get(settings)
    assert editors.unavailable("img2img") == (f"resources.diffusion.config.model={tmp_path / 'sd'}: no such file or "
                                              "folder; set it to a local diffusers folder, a single-file checkpoint "
                                              "(.safetensors, .ckpt) or a hub id")
    assert (editors.unavailable("instruct-pix2pix") or "").startswith(
        f"resources.diffusion.config.ip2p_model={tmp_path / 'ip2p'}: no such file or folder")


def test_a_controlnet_series_fails_the_stage_only_when_the_base_model_is_missing(tmp_path: Path) -> None:
    from hotelcap_pipeline.edits.render import _unavailable_series
    from hotelcap_pipeline.edits.series import load_series

    controlnet = [s for s in load_series() if s.mode == "controlnet"][:1]
    assert controlnet, "the edit series include a ControlNet one"
    settings = HotelcapSettings()
    base = tmp_path / "sd"
    with pytest.raises(ModelUnavailableError, match=r"^resources\.diffusion\.config\.model="):
        _unavailable_series(controlnet, DiffusionResource(
            model=str(base), ip2p_model=str(tmp_path / "ip2p"), controlnet_model=str(tmp_path / "canny")
        ).get(settings))
    base.mkdir()
    (base / "model_index.json").write_text("{}")
    img2img = [s for s in load_series() if s.mode == "img2img"][:1]
    skipped = _unavailable_series([*controlnet, *img2img], DiffusionResource(
        model=str(base), ip2p_model=str(tmp_path / "ip2p"), controlnet_model=str(tmp_path / "canny")
    ).get(settings))
    assert list(skipped) == [controlnet[0].name]
    assert "resources.diffusion.config.controlnet_model=" in skipped[controlnet[0].name]


def test_labels_from_the_run_config_are_named_as_such(tmp_path: Path) -> None:
    from hotelcap_pipeline.tagging.labels import read_labels
    from hotelcap_pipeline.yaml_input import InputFileError

    s = HotelcapSettings(labels=str(tmp_path / "labels.csv")).settings()
    with pytest.raises(InputFileError, match=r"; resources\.settings\.config\.labels names it: fix the path"):
        read_labels(s.labels, ["bed"], s.origin("labels"))


def _materialize(tmp_path: Path, config: dict, *select: str) -> subprocess.CompletedProcess:
    from hotelcap_pipeline.settings import DEMO_DIR

    env = {**os.environ, "HOTELCAP_PROFILE": "demo", "HOTELCAP_DATASET": str(DEMO_DIR / "dataset"),
           "HOTELCAP_DATA_STORE": str(tmp_path / "store"), "DAGSTER_HOME": str(tmp_path / "home")}
    return subprocess.run([sys.executable, "-m", "hotelcap_pipeline.cli", "materialize",
                           *(["--select", ",".join(select)] if select else []), "--config-json", json.dumps(config)],
                          env=env, capture_output=True, text=True, timeout=300)


def test_materialize_names_the_run_config_field_of_a_bad_value(tmp_path: Path) -> None:
    missing = tmp_path / "no-dataset.tar.gz"
    done = _materialize(tmp_path, {"resources": {"settings": {"config": {"dataset": str(missing)}}}}, "chains")
    assert done.returncode == 1, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last == (f"FAILED: metadata_tables: resources.settings.config.dataset={str(missing)!r}: "
                    "no such file or folder")
    assert "HOTELCAP_DATASET" not in done.stderr and "Traceback" not in done.stderr


def test_materialize_names_the_run_config_field_before_the_run(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    done = _materialize(tmp_path, {"resources": {"settings": {"config": {"data_store": str(a_file)}}}}, "chains")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1] == (
        f"resources.settings.config.data_store={a_file}: cannot use it as the data store folder (it is a file); "
        "set resources.settings.config.data_store to a folder this user can write")
    done = _materialize(tmp_path, {"resources": {"settings": {"config": {"profile": "bogus"}}}}, "chains")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == (
        "--config-json: resources.settings.config.profile='bogus': expected one of hotels50k, demo")


def test_a_missing_demo_checkpoint_named_by_the_user_is_their_setting_not_the_shipped_one() -> None:
    from hotelcap_pipeline.models import MissingModelFileError, clip_weights

    given = settings_with({"clip_pretrained": "/nowhere/clip.pt"}, {"HOTELCAP_PROFILE": "demo"})
    with pytest.raises(MissingModelFileError) as bad:
        clip_weights(given)
    assert str(bad.value).startswith("resources.clip.config.pretrained='/nowhere/clip.pt': no such file; set it to")
    from_env = load_settings({"HOTELCAP_PROFILE": "demo", "HOTELCAP_CLIP_PRETRAINED": "/nowhere/clip.pt"})
    with pytest.raises(MissingModelFileError, match=r"^HOTELCAP_CLIP_PRETRAINED='/nowhere/clip.pt': no such file"):
        clip_weights(from_env)
