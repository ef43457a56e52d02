"""A single-file SD 1.5 checkpoint (as A1111 and ComfyUI keep ``v1-5-pruned-emaonly.safetensors``) loads offline.

The checkpoint is built here: SD 1.5's real component configs (``edits.sd_configs``) with random weights,
written under the original LDM key names, then loaded through ``load_diffusion`` exactly as a user's file is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from hotelcap_pipeline.edits.pipeline import load_diffusion
from hotelcap_pipeline.edits.sd_configs import SD15_TEXT_ENCODER, SD15_UNET, SD15_VAE


def _unet_to_ldm(name: str) -> str:
    """A diffusers UNet parameter name under the original LDM checkpoint's naming."""
    fixed = {
        "time_embedding.linear_1": "time_embed.0", "time_embedding.linear_2": "time_embed.2",
        "conv_in": "input_blocks.0.0", "conv_norm_out": "out.0", "conv_out": "out.2",
    }
    resnet = {"norm1": "in_layers.0", "conv1": "in_layers.2", "norm2": "out_layers.0", "conv2": "out_layers.3",
              "time_emb_proj": "emb_layers.1", "conv_shortcut": "skip_connection"}
    parts = name.split(".")
    for old, new in fixed.items():
        if name.startswith(old + "."):
            return f"model.diffusion_model.{new}{name[len(old):]}"
    if parts[0] == "down_blocks":
        block, kind, j, rest = int(parts[1]), parts[2], parts[3], parts[4:]
        if kind == "downsamplers":  # down_blocks.i.downsamplers.0.conv -> input_blocks.3(i+1).0.op
            head = f"input_blocks.{3 * (block + 1)}.0.op"
            rest = rest[1:]
        else:
            head = f"input_blocks.{3 * block + int(j) + 1}.{0 if kind == 'resnets' else 1}"
    elif parts[0] == "up_blocks":
        block, kind, j, rest = int(parts[1]), parts[2], parts[3], parts[4:]
        if kind == "upsamplers":  # the upsampler follows the resnet (and the attention, where there is one)
            head = f"output_blocks.{3 * block + 2}.{1 if block == 0 else 2}"
        else:
            head = f"output_blocks.{3 * block + int(j)}.{0 if kind == 'resnets' else 1}"
    else:  # mid_block
        kind, j, rest = parts[1], int(parts[2]), parts[3:]
        head = f"middle_block.{2 * j if kind == 'resnets' else 1}"
    if kind == "resnets" and rest[0] in resnet:
        rest = [resnet[rest[0]], *rest[1:]]
    return f"model.diffusion_model.{head}.{'.'.join(rest)}"


def _vae_to_ldm(name: str, value: torch.Tensor) -> tuple[str, torch.Tensor]:
    parts = name.split(".")
    attention = {"group_norm": "norm", "to_q": "q", "to_k": "k", "to_v": "v", "to_out": "proj_out"}
    if parts[0] in ("quant_conv", "post_quant_conv"):
        return f"first_stage_model.{name}", value
    side, rest = parts[0], parts[1:]
    if rest[0] in ("conv_in", "conv_out"):
        out = rest
    elif rest[0] == "conv_norm_out":
        out = ["norm_out", *rest[1:]]
    elif rest[0] == "mid_block":
        if rest[1] == "attentions":
            field = attention[rest[3]]
            tail = rest[5:] if rest[3] == "to_out" else rest[4:]
            if field != "norm" and value.dim() == 2:
                value = value[:, :, None, None]  # LDM's attention projections are 1x1 convolutions
            out = ["mid", "attn_1", field, *tail]
        else:
            out = ["mid", f"block_{int(rest[2]) + 1}", *rest[3:]]
    else:
        block = int(rest[1])
        level = block if side == "encoder" else 3 - block
        stage = "down" if side == "encoder" else "up"
        if rest[2] in ("downsamplers", "upsamplers"):
            out = [stage, str(level), "downsample" if side == "encoder" else "upsample", *rest[4:]]
        else:
            tail = ["nin_shortcut" if rest[4] == "conv_shortcut" else rest[4], *rest[5:]]
            out = [stage, str(level), "block", rest[3], *tail]
    return "first_stage_model." + ".".join([side, *out]), value


def _random(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    module = module.to_empty(device="cpu")
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.normal_(0.0, 0.02, generator=generator)
    return module


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_single_file_sd15_checkpoint_loads_offline(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from safetensors.torch import save_file
    from transformers import CLIPTextConfig, CLIPTextModel

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HOTELCAP_CACHE_DIR", str(tmp_path / "cache"))
    clean = {k: v for k, v in SD15_TEXT_ENCODER.items() if k not in ("architectures", "model_type")}
    with torch.device("meta"):
        unet = UNet2DConditionModel(**{k: v for k, v in SD15_UNET.items() if not k.startswith("_")})
        vae = AutoencoderKL(**{k: v for k, v in SD15_VAE.items() if not k.startswith("_")})
        text = CLIPTextModel(CLIPTextConfig(**clean))
    unet, vae, text = _random(unet, 1), _random(vae, 2), _random(text, 3)
    state: dict[str, torch.Tensor] = {}
    for name, value in unet.state_dict().items():
        state[_unet_to_ldm(name)] = value.half().contiguous()
    for name, value in vae.state_dict().items():
        key, tensor = _vae_to_ldm(name, value)
        state[key] = tensor.half().contiguous()
    for name, value in text.state_dict().items():
        # Checkpoints name the text tower's parameters text_model.*, whatever transformers' own layout.
        name = name if name.startswith("text_model.") else f"text_model.{name}"
        state[f"cond_stage_model.transformer.{name}"] = value.half().contiguous()
    checkpoint = tmp_path / "v1-5-pruned-emaonly.safetensors"
    save_file(state, str(checkpoint))
    del state

    editor = load_diffusion(str(checkpoint), "cpu")
    loaded = editor.pipe
    for original, part in ((unet, loaded.unet), (vae, loaded.vae)):
        mine = {k: v.half() for k, v in original.state_dict().items()}
        theirs = part.state_dict()
        assert mine.keys() == theirs.keys()
        assert all(torch.equal(mine[k].reshape(theirs[k].shape), theirs[k].half()) for k in mine)
    mine, theirs = text.state_dict(), loaded.text_encoder.state_dict()
    probe = next(k for k in mine if k.endswith("encoder.layers.0.mlp.fc1.weight"))
    assert torch.equal(mine[probe].half(), theirs[probe].half())
    assert loaded.tokenizer("a hotel room").input_ids[0] == 49406
