from __future__ import annotations

import numpy as np
import pytest

from hotelcap_pipeline.edits.pipeline import (
    DiffusionEditors,
    ZeroStepError,
    denoising_steps,
    fit_dims,
    ip2p_image_guidance,
    load_diffusion,
    min_steps,
    to_rendered,
)
from hotelcap_pipeline.models import ModelUnavailableError

EDIT = {"prompt": "a hotel room at night", "negative_prompt": "blurry", "guidance": 7.5, "steps": 10}


def pixels(rendered) -> np.ndarray:
    return np.asarray(rendered.image)


@pytest.mark.parametrize(
    ("size", "max_side", "expected"),
    [
        ((640, 480), 512, (512, 384)),
        ((480, 640), 512, (384, 512)),
        ((640, 427), 512, (512, 344)),  # 341.6 -> nearest multiple of 8
        ((1000, 10), 512, (512, 8)),  # never below one multiple
        ((300, 300), 512, (512, 512)),  # small photos are scaled up to the model's size
    ],
)
def test_fit_dims_keeps_aspect_on_multiples_of_8(size, max_side, expected):
    assert fit_dims(*size, max_side=max_side) == expected
    w, h = fit_dims(*size, max_side=max_side)
    assert w % 8 == 0 and h % 8 == 0


def test_zero_step_guard_matches_diffusers_rounding():
    assert denoising_steps(0.5, 10) == 5
    assert denoising_steps(0.29, 100) == 28  # int() truncation, as diffusers does
    with pytest.raises(ZeroStepError, match="use at least 4 steps"):
        denoising_steps(0.3, 3)
    assert min_steps(0.3) == 4 and denoising_steps(0.3, min_steps(0.3)) == 1
    with pytest.raises(ValueError):
        denoising_steps(0.0, 10)


def test_edit_refuses_a_zero_step_call(editors: DiffusionEditors, make_room):
    editor = editors.editor_for("img2img")
    with pytest.raises(ZeroStepError):
        editor.edit(make_room(0, (64, 48)), **{**EDIT, "steps": 3}, strength=0.2, seed=0, size=(64, 48))


def test_same_seed_same_pixels_other_seed_other_pixels(editors: DiffusionEditors, make_room):
    editor = editors.editor_for("img2img")
    photo = make_room(0, (96, 64))
    a = editor.edit(photo, **EDIT, strength=0.6, seed=3, size=(96, 64))
    b = editor.edit(photo, **EDIT, strength=0.6, seed=3, size=(96, 64))
    c = editor.edit(photo, **EDIT, strength=0.6, seed=4, size=(96, 64))
    assert a.image.size == (96, 64)
    assert np.array_equal(pixels(a), pixels(b))
    assert not np.array_equal(pixels(a), pixels(c))
    assert a.nsfw_flag is None  # the tiny pipeline has no safety checker: unknown, not "safe"
    assert not a.nan_or_black


def test_loading_back_from_the_folder_gives_the_same_pixels(tiny_models, editors: DiffusionEditors, make_room):
    photo = make_room(1, (64, 64))
    fresh = load_diffusion(str(tiny_models["sd"]), "cpu")
    assert fresh.dtype.is_floating_point and fresh.device == "cpu" and not fresh.attention_slicing
    a = fresh.edit(photo, **EDIT, strength=0.5, seed=1, size=(64, 64))
    b = editors.editor_for("img2img").edit(photo, **EDIT, strength=0.5, seed=1, size=(64, 64))
    assert np.array_equal(pixels(a), pixels(b))


@pytest.mark.parametrize("mode", ["controlnet", "instruct-pix2pix"])
def test_structure_preserving_modes_render_deterministically(editors: DiffusionEditors, mode: str, make_room):
    editor = editors.editor_for(mode)
    photo = make_room(2, (80, 64))
    a = editor.edit(photo, **EDIT, strength=0.75, seed=5, size=(80, 64))
    b = editor.edit(photo, **EDIT, strength=0.75, seed=5, size=(80, 64))
    plain = editors.editor_for("img2img").edit(photo, **EDIT, strength=0.75, seed=5, size=(80, 64))
    assert a.image.size == (80, 64)
    assert np.array_equal(pixels(a), pixels(b))
    # The ControlNet residuals / the 8-channel UNet do change the result.
    assert not np.array_equal(pixels(a), pixels(plain))


def test_controlnet_shares_the_base_components(editors: DiffusionEditors):
    base, net = editors.editor_for("img2img"), editors.editor_for("controlnet")
    assert type(net.pipe).__name__ == "StableDiffusionControlNetImg2ImgPipeline"
    assert net.pipe.unet is base.pipe.unet and net.pipe.vae is base.pipe.vae
    assert net.model == editors.model_for("controlnet")


def test_ip2p_strength_maps_to_image_guidance():
    assert ip2p_image_guidance(0.75) == pytest.approx(1.5)
    assert ip2p_image_guidance(1.0) == pytest.approx(1.0)
    assert ip2p_image_guidance(0.5) > ip2p_image_guidance(0.75)  # lower strength keeps more of the photo


def test_text2img_uses_the_base_pipeline(editors: DiffusionEditors):
    base = editors.editor_for("img2img")
    a = base.text2img(prompt="a portrait", negative_prompt="", seed=2, size=(48, 64), steps=4, guidance=7.5)
    b = base.text2img(prompt="a portrait", negative_prompt="", seed=2, size=(48, 64), steps=4, guidance=7.5)
    assert a.image.size == (48, 64) and np.array_equal(pixels(a), pixels(b))
    assert base._text2img.unet is base.pipe.unet
    with pytest.raises(ValueError, match="base img2img"):
        editors.editor_for("instruct-pix2pix").text2img(
            prompt="x", negative_prompt="", seed=0, size=(64, 64), steps=2, guidance=1.0
        )


def test_nan_and_black_outputs_are_flagged():
    ok = np.full((8, 8, 3), 0.5, np.float32)
    black = np.zeros((8, 8, 3), np.float32)
    nan = ok.copy()
    nan[0, 0, 0] = np.nan
    assert not to_rendered(ok, None).nan_or_black
    assert to_rendered(black, [False]).nan_or_black
    flagged = to_rendered(nan, [True])
    assert flagged.nan_or_black and flagged.nsfw_flag is True
    assert np.asarray(flagged.image)[0, 0, 0] == 0


def test_unknown_model_gives_a_clear_error(tmp_path):
    with pytest.raises(ModelUnavailableError, match=r"HOTELCAP_DIFFUSION_MODEL=.*nowhere: no such file or folder"):
        load_diffusion(str(tmp_path / "nowhere"), "cpu")
    with pytest.raises(ValueError, match="mode"):
        load_diffusion("x", "cpu", mode="inpaint")
