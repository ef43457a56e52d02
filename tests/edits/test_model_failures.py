"""Diffusion models in the layouts users keep, and a stage that fails loudly rather than filling rows with errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from hotelcap_pipeline.edits.pipeline import (
    DiffusionEditor,
    DiffusionEditors,
    load_diffusion,
    precision_dtypes,
)
from hotelcap_pipeline.edits.render import render_edits
from hotelcap_pipeline.edits.series import EditSeries
from hotelcap_pipeline.models import ModelUnavailableError, resolve_diffusion
from hotelcap_pipeline.settings import ENVIRONMENT

EDIT = {"prompt": "a hotel room at night", "negative_prompt": "", "guidance": 7.5, "steps": 4}


def series(name: str, mode: str = "img2img") -> EditSeries:
    return EditSeries(
        name=name, condition="time of day", prompt="hotel room at night", source_text="a room by day",
        target_text="a room at night", steps=4, strengths=(0.5, 1.0), mode=mode,
    )


def test_missing_model_folder_fails_before_any_row(photo_store, fake_clip, tiny_models, tmp_path: Path) -> None:
    root, selection = photo_store
    editors = DiffusionEditors(str(tmp_path / "sd15-missing"), ip2p_model=str(tiny_models["ip2p"]),
                               controlnet_model=str(tiny_models["controlnet"]), device="cpu")
    seen: list[str] = []
    with pytest.raises(ModelUnavailableError) as err:
        render_edits(selection, root, [series("night"), series("petals", "instruct-pix2pix")], editors, fake_clip,
                     None, max_side=64, progress=lambda d, t, what: seen.append(what))
    assert not seen
    message = str(err.value)
    assert "\n" not in message and "HOTELCAP_DIFFUSION_MODEL=" in message and "sd15-missing" in message


def test_series_with_an_unavailable_model_is_skipped_with_its_reason(photo_store, fake_clip, tiny_models) -> None:
    root, selection = photo_store
    editors = DiffusionEditors(str(tiny_models["sd"]), ip2p_model="/nowhere/ip2p",
                               controlnet_model=str(tiny_models["controlnet"]), device="cpu")
    rows = render_edits(selection, root, [series("night"), series("petals", "instruct-pix2pix")], editors,
                        fake_clip, None, max_side=64)
    by_edit = dict(rows.group_by("edit").agg("status").iter_rows())
    assert set(by_edit["night"]) == {"ok"} and set(by_edit["petals"]) == {"skipped"}
    reasons = rows.filter(rows["status"] == "skipped")["error"].unique().to_list()
    assert len(reasons) == 1 and "HOTELCAP_IP2P_MODEL=/nowhere/ip2p" in reasons[0]
    assert rows["edit"].to_list() == ["night"] * 3 + ["petals"] * 3


def test_a_controlnet_that_will_not_load_skips_only_its_series(photo_store, fake_clip, tiny_models,
                                                                tmp_path: Path) -> None:
    root, selection = photo_store
    broken = tmp_path / "controlnet-broken"
    shutil.copytree(tiny_models["controlnet"], broken)
    for weights in broken.rglob("*.safetensors"):
        weights.write_bytes(b"not safetensors")
    editors = DiffusionEditors(str(tiny_models["sd"]), ip2p_model=str(tiny_models["ip2p"]),
                               controlnet_model=str(broken), device="cpu")
    rows = render_edits(selection, root, [series("night"), series("lights_off", "controlnet")], editors,
                        fake_clip, None, max_side=64)
    by_edit = dict(rows.group_by("edit").agg("status").iter_rows())
    assert set(by_edit["night"]) == {"ok"} and set(by_edit["lights_off"]) == {"skipped"}
    reasons = rows.filter(rows["status"] == "skipped")["error"].unique().to_list()
    assert len(reasons) == 1 and "cannot load ControlNet" in reasons[0] and "HOTELCAP_CONTROLNET_MODEL" in reasons[0]


def test_fp16_only_folder_loads_through_the_variant(tiny_models, tmp_path: Path, make_room) -> None:
    """A folder holding only *.fp16.safetensors (as many hub repos' fp16 branches) is found and loaded."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(str(tiny_models["sd"]))
    folder = tmp_path / "sd-fp16"
    pipe.save_pretrained(folder, variant="fp16")
    assert not list(folder.rglob("diffusion_pytorch_model.safetensors"))
    assert resolve_diffusion(str(folder), ENVIRONMENT["diffusion_model"]).variant == "fp16"
    editor = load_diffusion(str(folder), "cpu")
    out = editor.edit(make_room(0, (64, 64)), **EDIT, strength=0.5, seed=0, size=(64, 64))
    assert out.image.size == (64, 64)


def test_a_folder_that_is_not_a_diffusers_model_is_named(tmp_path: Path) -> None:
    (tmp_path / "weights").mkdir()
    with pytest.raises(ModelUnavailableError, match=r"neither model_index\.json"):
        resolve_diffusion(str(tmp_path / "weights"), ENVIRONMENT["diffusion_model"])
    junk = tmp_path / "v1-5-pruned-emaonly.safetensors"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ModelUnavailableError, match=r"cannot load diffusion model") as err:
        load_diffusion(str(junk), "cpu")
    assert "\n" not in str(err.value)


def test_offline_hub_id_without_cache_is_refused_at_once(monkeypatch, tmp_path: Path) -> None:
    from huggingface_hub import constants

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelUnavailableError) as err:
        resolve_diffusion("stable-diffusion-v1-5/stable-diffusion-v1-5", ENVIRONMENT["diffusion_model"])
    assert "HF_HUB_OFFLINE is set" in str(err.value) and "HF_HOME" in str(err.value)


def test_offline_hub_id_in_the_cache_loads_from_it(monkeypatch, tmp_path: Path, tiny_models) -> None:
    from huggingface_hub import constants

    cache = tmp_path / "hub"
    repo = cache / "models--acme--tiny-sd"
    shutil.copytree(tiny_models["sd"], repo / "snapshots" / ("0" * 40))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("0" * 40)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    source = resolve_diffusion("acme/tiny-sd", ENVIRONMENT["diffusion_model"])
    assert source.kind == "folder" and Path(source.location).is_dir()
    assert load_diffusion("acme/tiny-sd", "cpu").model == "acme/tiny-sd"


def test_precision_modes() -> None:
    assert precision_dtypes("auto", "cpu") == (torch.float32, torch.float32)
    assert precision_dtypes("auto", "cuda") == (torch.float16, torch.float32)
    assert precision_dtypes("auto", "mps") == (torch.float16, torch.float32)
    assert precision_dtypes("fp32", "cuda") == (torch.float32, torch.float32)
    assert precision_dtypes("bf16", "cpu") == (torch.bfloat16, torch.bfloat16)
    with pytest.raises(ValueError, match="precision"):
        precision_dtypes("int8", "cpu")


def test_half_unet_with_fp32_vae_renders(tiny_models, make_room) -> None:
    """The auto mode's mix (half UNet and text encoder, fp32 VAE) runs end to end; bf16 stands in for fp16 on cpu."""
    editor = load_diffusion(str(tiny_models["sd"]), "cpu", precision="bf16")
    editor.pipe.vae.to(torch.float32)
    from hotelcap_pipeline.edits.pipeline import _mix_precision

    _mix_precision(editor.pipe, torch.bfloat16, torch.float32)
    editor.vae_dtype = torch.float32
    out = editor.edit(make_room(0, (64, 64)), **EDIT, strength=0.5, seed=0, size=(64, 64))
    assert editor.pipe.unet.dtype == torch.bfloat16 and editor.pipe.vae.dtype == torch.float32
    assert out.image.size == (64, 64) and not out.nan_or_black


class HalfOverflowPipe:
    """Black in half precision, a real image in fp32: the case the fp32 retry is for."""

    def __init__(self) -> None:
        self.dtype = torch.float16
        self.calls: list[torch.dtype] = []

    def to(self, dtype: torch.dtype) -> HalfOverflowPipe:
        self.dtype = dtype
        return self

    def __call__(self, **kwargs: object) -> object:
        self.calls.append(self.dtype)
        value = 0.0 if self.dtype == torch.float16 else 0.5
        image = np.full((8, 8, 3), value, np.float32)
        return type("Out", (), {"images": [image], "nsfw_content_detected": None})()


def test_black_half_precision_result_is_retried_once_in_fp32(make_room) -> None:
    pipe = HalfOverflowPipe()
    editor = DiffusionEditor(model="m", mode="img2img", device="cpu", dtype=torch.float16, pipe=pipe,
                             vae_dtype=torch.float16)
    out = editor.edit(make_room(0, (16, 16)), **EDIT, strength=1.0, seed=0, size=(8, 8))
    assert pipe.calls == [torch.float16, torch.float32] and pipe.dtype == torch.float16
    assert out.retried_fp32 and not out.nan_or_black


def test_one_pipeline_resident_at_a_time(tiny_models) -> None:
    editors = DiffusionEditors(str(tiny_models["sd"]), ip2p_model=str(tiny_models["ip2p"]),
                               controlnet_model=str(tiny_models["controlnet"]), device="cpu")
    editors.editor_for("img2img")
    editors.editor_for("controlnet")
    assert set(editors._editors) == {"img2img", "controlnet"}
    editors.editor_for("instruct-pix2pix")
    assert set(editors._editors) == {"instruct-pix2pix"}
    editors.editor_for("img2img")
    assert set(editors._editors) == {"img2img"}


def test_single_file_type_detection_reads_only_the_header(tmp_path: Path) -> None:
    """SD 1.5 and InstructPix2Pix checkpoints are told apart from tensor shapes alone; their configs are local."""
    from safetensors.torch import save_file

    from hotelcap_pipeline.edits.sd_configs import sd15_config_folder, single_file_kind

    key_v1 = "model.diffusion_model.output_blocks.11.0.skip_connection.weight"
    conv_in = "model.diffusion_model.input_blocks.0.0.weight"
    for channels, kind in [(4, "v1"), (8, "instruct-pix2pix")]:
        path = tmp_path / f"{kind}.safetensors"
        save_file({key_v1: torch.zeros(320, 640, 1, 1), conv_in: torch.zeros(320, channels, 3, 3)}, str(path))
        assert single_file_kind(path) == kind
        folder = sd15_config_folder(kind, root=tmp_path / "configs")
        unet = json.loads((folder / "unet" / "config.json").read_text())
        assert unet["in_channels"] == channels and unet["cross_attention_dim"] == 768
        assert (folder / "tokenizer" / "vocab.json").is_file()


def test_bundled_configs_describe_sd15_sized_models(tmp_path: Path) -> None:
    """The offline configs build SD 1.5's real architectures (checked by size on the meta device)."""
    from diffusers import ControlNetModel, UNet2DConditionModel

    from hotelcap_pipeline.edits.sd_configs import controlnet_config_folder, sd15_config_folder

    with torch.device("meta"):
        unet = UNet2DConditionModel.from_config(UNet2DConditionModel.load_config(
            str(sd15_config_folder("v1", root=tmp_path)), subfolder="unet"))
        net = ControlNetModel.from_config(ControlNetModel.load_config(str(controlnet_config_folder(root=tmp_path))))
    assert sum(p.numel() for p in unet.parameters()) == 859_520_964
    assert 360e6 < sum(p.numel() for p in net.parameters()) < 362e6


def test_fp32_retry_runs_the_real_mixed_precision_pipeline(tiny_models, make_room, monkeypatch) -> None:
    """The retry switches a half UNet + fp32 VAE pipeline to fp32, renders, and switches it back."""
    from hotelcap_pipeline.edits import pipeline as module

    editor = load_diffusion(str(tiny_models["sd"]), "cpu", precision="bf16")
    module._mix_precision(editor.pipe, torch.bfloat16, torch.float32)
    editor.vae_dtype = torch.float32
    real = module.to_rendered
    renders: list[int] = []
    unet_dtypes: set[torch.dtype] = set()
    editor.pipe.unet.register_forward_pre_hook(lambda m, args: unet_dtypes.add(next(m.parameters()).dtype))

    def first_black(array, nsfw):
        renders.append(1)
        rendered = real(array, nsfw)
        return module.Rendered(rendered.image, rendered.nsfw_flag, len(renders) == 1)

    monkeypatch.setattr(module, "to_rendered", first_black)
    out = editor.edit(make_room(0, (64, 64)), **EDIT, strength=0.5, seed=0, size=(64, 64))
    assert len(renders) == 2 and unet_dtypes == {torch.bfloat16, torch.float32}
    assert out.retried_fp32 and not out.nan_or_black
    assert editor.pipe.unet.dtype == torch.bfloat16 and editor.pipe.vae.dtype == torch.float32


def test_models_named_by_variable_and_by_run_config_load_once(tiny_models, monkeypatch, tmp_path) -> None:
    from hotelcap_pipeline.defs.resources import DiffusionResource, HotelcapSettings

    missing_ip2p = str(tmp_path / "ip2p")
    monkeypatch.setenv("HOTELCAP_DIFFUSION_MODEL", str(tiny_models["sd"]))
    monkeypatch.setenv("HOTELCAP_IP2P_MODEL", missing_ip2p)
    monkeypatch.setenv("HOTELCAP_CONTROLNET_MODEL", str(tiny_models["controlnet"]))
    monkeypatch.setenv("HOTELCAP_DEVICE", "cpu")
    by_variable = DiffusionResource().get(HotelcapSettings())
    by_run_config = DiffusionResource(model=str(tiny_models["sd"]), ip2p_model=missing_ip2p).get(HotelcapSettings())
    # The same values are the same models: one pipeline in memory, whichever run loaded it first.
    assert by_run_config.editor_for("img2img") is by_variable.editor_for("img2img")
    # Each run's messages still name what that run set.
    assert (by_variable.unavailable("instruct-pix2pix") or "").startswith(f"HOTELCAP_IP2P_MODEL={missing_ip2p}:")
    assert (by_run_config.unavailable("instruct-pix2pix") or "").startswith(
        f"resources.diffusion.config.ip2p_model={missing_ip2p}:")
