"""One source of run parameters: the environment read when a run starts, run config over it, one set of checks."""

from __future__ import annotations

import pytest

from hotelcap_pipeline.defs.failures import EXPECTED_ERRORS
from hotelcap_pipeline.defs.resources import ClipResource, DiffusionResource, HotelcapSettings
from hotelcap_pipeline.settings import (
    DEFAULT_CLIP_MODEL,
    DEMO_CLIP_MODEL,
    KNOWN_VARIABLES,
    PROJECT_ROOT,
    DeviceError,
    resolve_device,
    settings_with,
    unknown_variables,
)


def test_the_environment_is_read_when_the_run_starts_not_at_import(monkeypatch):
    resource = HotelcapSettings()  # built before the variable changes, as definitions.py builds it
    monkeypatch.setenv("HOTELCAP_N_HOTELS", "3")
    monkeypatch.setenv("HOTELCAP_SEED", "11")
    s = resource.settings()
    assert (s.n_hotels, s.seed) == (3, 11)
    assert resource.seed_for(None) == 11 and resource.seed_for(4) == 4


def test_run_config_wins_and_a_profile_switch_brings_its_own_defaults(monkeypatch):
    monkeypatch.setenv("HOTELCAP_PROFILE", "hotels50k")
    monkeypatch.setenv("HOTELCAP_N_HOTELS", "3")
    assert HotelcapSettings().settings().clip_model == DEFAULT_CLIP_MODEL
    demo = HotelcapSettings(profile="demo", n_hotels=5).settings()
    assert demo.is_demo and demo.clip_model == DEMO_CLIP_MODEL and demo.n_hotels == 5


def test_model_resources_override_the_settings_they_are_given(monkeypatch, tmp_path):
    monkeypatch.setenv("HOTELCAP_PROFILE", "demo")
    settings = HotelcapSettings()
    clip = ClipResource(pretrained=str(tmp_path / "clip.pt"))
    assert settings.settings(clip_model=clip.model_name, clip_pretrained=clip.pretrained).clip_pretrained == str(
        tmp_path / "clip.pt"
    )
    diffusion = DiffusionResource(precision="bf16", max_side=320)
    assert diffusion.run_settings(settings).precision == "bf16"
    assert diffusion.edit_side(settings) == 320 and DiffusionResource().edit_side(settings) == 256


def test_a_value_meets_the_same_checks_from_the_environment_or_the_run(monkeypatch):
    # The same check, naming where the value came from: the run config's field, or the variable.
    with pytest.raises(ValueError, match=r"^resources\.diffusion\.config\.precision='fp8': expected one of"):
        settings_with({"precision": "fp8"})
    monkeypatch.setenv("HOTELCAP_PRECISION", "fp8")
    with pytest.raises(ValueError, match=r"^HOTELCAP_PRECISION='fp8': expected one of"):
        settings_with({})


def test_test_photos_are_off_unless_named_and_read_like_the_other_settings(monkeypatch, tmp_path):
    from hotelcap_pipeline.settings import ENV_VARS, load_settings

    assert load_settings({}).test_photos == "" and load_settings({"HOTELCAP_PROFILE": "demo"}).test_photos == ""
    assert ENV_VARS["test_photos"] == "HOTELCAP_TEST_PHOTOS"
    monkeypatch.setenv("HOTELCAP_TEST_PHOTOS", str(tmp_path / "test.tar.lz4"))
    assert HotelcapSettings().settings().test_photos == str(tmp_path / "test.tar.lz4")
    run = HotelcapSettings(test_photos="https://example.org/test.tar.lz4").settings()
    assert run.test_photos == "https://example.org/test.tar.lz4"
    assert HotelcapSettings.model_fields["test_photos"].description


def test_device_names_the_setting_when_unusable() -> None:
    import torch

    assert resolve_device("cpu") == "cpu"
    assert resolve_device("auto") in ("cpu", "cuda", "mps")
    with pytest.raises(DeviceError, match=r"HOTELCAP_DEVICE='tpu' is not a torch device .*set HOTELCAP_DEVICE=auto"):
        resolve_device("tpu")
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    with pytest.raises(DeviceError, match=rf"HOTELCAP_DEVICE='cuda:{count}', but torch sees {count} CUDA device"):
        resolve_device(f"cuda:{count}")
    assert "DeviceError" in EXPECTED_ERRORS  # one line for the user, no traceback


def test_a_misspelt_variable_gets_a_warning_naming_the_setting_it_resembles() -> None:
    env = {"HOTELCAP_N_HOTEL": "5", "HOTELCAP_SEED": "1", "HOTELCAP_COLOUR": "red", "PATH": "/bin"}
    assert unknown_variables(env) == [
        "warning: HOTELCAP_COLOUR is not a hotelcap setting and is ignored",
        "warning: HOTELCAP_N_HOTEL is not a hotelcap setting and is ignored (did you mean HOTELCAP_N_HOTELS?)",
    ]


def test_every_variable_the_package_reads_is_a_known_setting() -> None:
    # A variable read somewhere but missing from the list would be warned about while it works.
    import re

    read = {m for path in (PROJECT_ROOT / "hotelcap_pipeline").rglob("*.py")
            for m in re.findall(r"HOTELCAP_[A-Z0-9_]+\b(?!\*)", path.read_text(encoding="utf-8"))}
    assert read - KNOWN_VARIABLES == set()
    assert unknown_variables({name: "x" for name in KNOWN_VARIABLES}) == []


def test_the_demo_names_its_own_edit_models_and_a_named_model_is_used_as_given(tmp_path) -> None:
    from hotelcap_pipeline.models import diffusion_sources
    from hotelcap_pipeline.settings import load_settings

    demo = load_settings({"HOTELCAP_PROFILE": "demo", "HOTELCAP_DATA_STORE": str(tmp_path)})
    assert (demo.diffusion_model, demo.ip2p_model, demo.controlnet_model) == (
        "hotelcap-tiny-sd", "hotelcap-tiny-ip2p", "hotelcap-tiny-controlnet")
    # A demo run given a real InstructPix2Pix keeps it; only the demo's names become built folders.
    mixed = load_settings({"HOTELCAP_PROFILE": "demo", "HOTELCAP_DATA_STORE": str(tmp_path),
                           "HOTELCAP_DIFFUSION_MODEL": "/models/sd", "HOTELCAP_IP2P_MODEL": "/models/ip2p"})
    sd, ip2p, controlnet = diffusion_sources(mixed, mixed.ip2p_model, mixed.controlnet_model)
    assert (sd, ip2p) == ("/models/sd", "/models/ip2p")
    assert controlnet == str(tmp_path / "models" / "hotelcap-tiny-controlnet")
    assert (tmp_path / "models" / "hotelcap-tiny-controlnet").is_dir()
    assert not (tmp_path / "models" / "hotelcap-tiny-sd").exists()
