"""The diffusers configs of Stable Diffusion 1.5 (and InstructPix2Pix, its 8-channel variant), so single-file
checkpoints (``v1-5-pruned-emaonly.safetensors``, ``.ckpt``) load offline through ``from_single_file``.

diffusers only knows which hub repo holds a checkpoint type's configs; these are the values of those
repos' config files (stable-diffusion-v1-5/stable-diffusion-v1-5, timbrooks/instruct-pix2pix), written
once into a local folder. The tokenizer files come from the CLIP BPE table open_clip ships.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from hotelcap_pipeline.atomic_files import atomic_write_bytes

SD15_UNET: dict[str, Any] = {
    "_class_name": "UNet2DConditionModel",
    "act_fn": "silu",
    "attention_head_dim": 8,
    "block_out_channels": [320, 640, 1280, 1280],
    "center_input_sample": False,
    "cross_attention_dim": 768,
    "down_block_types": ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
    "downsample_padding": 1,
    "flip_sin_to_cos": True,
    "freq_shift": 0,
    "in_channels": 4,
    "layers_per_block": 2,
    "mid_block_scale_factor": 1,
    "norm_eps": 1e-05,
    "norm_num_groups": 32,
    "out_channels": 4,
    "sample_size": 64,
    "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
}
SD15_VAE: dict[str, Any] = {
    "_class_name": "AutoencoderKL",
    "act_fn": "silu",
    "block_out_channels": [128, 256, 512, 512],
    "down_block_types": ["DownEncoderBlock2D"] * 4,
    "in_channels": 3,
    "latent_channels": 4,
    "layers_per_block": 2,
    "norm_num_groups": 32,
    "out_channels": 3,
    "sample_size": 512,
    "up_block_types": ["UpDecoderBlock2D"] * 4,
}
# openai/clip-vit-large-patch14's text tower, SD 1.5's text encoder.
SD15_TEXT_ENCODER: dict[str, Any] = {
    "architectures": ["CLIPTextModel"],
    "attention_dropout": 0.0,
    "bos_token_id": 0,
    "dropout": 0.0,
    "eos_token_id": 2,
    "hidden_act": "quick_gelu",
    "hidden_size": 768,
    "initializer_factor": 1.0,
    "initializer_range": 0.02,
    "intermediate_size": 3072,
    "layer_norm_eps": 1e-05,
    "max_position_embeddings": 77,
    "model_type": "clip_text_model",
    "num_attention_heads": 12,
    "num_hidden_layers": 12,
    "pad_token_id": 1,
    "projection_dim": 768,
    "vocab_size": 49408,
}
SD15_SCHEDULER: dict[str, Any] = {
    "_class_name": "PNDMScheduler",
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "beta_start": 0.00085,
    "clip_sample": False,
    "num_train_timesteps": 1000,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
    "steps_offset": 1,
    "trained_betas": None,
}
TOKENIZER_CONFIG: dict[str, Any] = {
    "model_max_length": 77,
    "bos_token": "<|startoftext|>",
    "eos_token": "<|endoftext|>",
    "pad_token": "<|endoftext|>",
    "unk_token": "<|endoftext|>",
    "do_lower_case": True,
    "tokenizer_class": "CLIPTokenizer",
}
# ControlNet v1.1 for SD 1.5 (lllyasviel/control_v11p_sd15_canny): the UNet's encoder half plus the
# conditioning embedding of the control image.
_ENCODER_KEYS = (
    "act_fn", "attention_head_dim", "block_out_channels", "cross_attention_dim", "down_block_types",
    "downsample_padding", "flip_sin_to_cos", "freq_shift", "in_channels", "layers_per_block",
    "mid_block_scale_factor", "norm_eps", "norm_num_groups",
)
SD15_CONTROLNET: dict[str, Any] = {
    "_class_name": "ControlNetModel",
    **{k: SD15_UNET[k] for k in _ENCODER_KEYS},
    "conditioning_embedding_out_channels": [16, 32, 96, 256],
    "controlnet_conditioning_channel_order": "rgb",
    "only_cross_attention": False,
    "resnet_time_scale_shift": "default",
    "upcast_attention": False,
    "use_linear_projection": False,
}
# diffusers' name of a checkpoint type -> (pipeline class, UNet input channels) whose configs are bundled.
BUNDLED = {"v1": ("StableDiffusionPipeline", 4), "instruct-pix2pix": ("StableDiffusionInstructPix2PixPipeline", 8)}


class _Shapes(Mapping[str, Any]):
    """A checkpoint's keys and tensor shapes without reading the tensors (what type detection needs)."""

    class _Shape:
        def __init__(self, shape: list[int]) -> None:
            self.shape = tuple(shape)

    def __init__(self, shapes: dict[str, list[int]]) -> None:
        self._shapes = shapes

    def __getitem__(self, key: str) -> Any:
        return self._Shape(self._shapes[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._shapes)

    def __len__(self) -> int:
        return len(self._shapes)


def checkpoint_shapes(path: str | Path) -> Mapping[str, Any]:
    path = Path(path)
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as fh:
            return _Shapes({k: list(fh.get_slice(k).get_shape()) for k in fh.keys()})  # noqa: SIM118
    import torch

    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    return _Shapes({k: list(v.shape) for k, v in state.items() if hasattr(v, "shape")})


def single_file_kind(path: str | Path) -> str:
    """diffusers' name of the checkpoint type: ``v1`` and ``instruct-pix2pix`` have their configs in BUNDLED."""
    from diffusers.loaders.single_file_utils import infer_diffusers_model_type

    return str(infer_diffusers_model_type(checkpoint_shapes(path)))


def _config_root() -> Path:
    base = Path(os.environ.get("HOTELCAP_CACHE_DIR") or Path.home() / ".cache" / "hotelcap")
    return base / "sd-configs"


def _write_json(path: Path, value: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(value, indent=2, sort_keys=True).encode("utf-8"))


def sd15_config_folder(kind: str = "v1", root: Path | None = None) -> Path:
    """A diffusers config folder (no weights) for an SD 1.5-type checkpoint, written once."""
    from hotelcap_pipeline.demo.tiny_diffusion import write_clip_tokenizer_files

    pipeline, in_channels = BUNDLED[kind]
    folder = (root or _config_root()) / kind
    if (folder / "model_index.json").is_file():
        return folder
    index: dict[str, Any] = {
        "_class_name": pipeline,
        "_diffusers_version": "0.42.0",
        "feature_extractor": [None, None],
        "requires_safety_checker": False,
        "safety_checker": [None, None],
        "scheduler": ["diffusers", "PNDMScheduler"],
        "text_encoder": ["transformers", "CLIPTextModel"],
        "tokenizer": ["transformers", "CLIPTokenizer"],
        "unet": ["diffusers", "UNet2DConditionModel"],
        "vae": ["diffusers", "AutoencoderKL"],
    }
    _write_json(folder / "unet" / "config.json", {**SD15_UNET, "in_channels": in_channels})
    _write_json(folder / "vae" / "config.json", SD15_VAE)
    _write_json(folder / "text_encoder" / "config.json", SD15_TEXT_ENCODER)
    _write_json(folder / "scheduler" / "scheduler_config.json", SD15_SCHEDULER)
    write_clip_tokenizer_files(folder / "tokenizer")
    _write_json(folder / "tokenizer" / "tokenizer_config.json", TOKENIZER_CONFIG)
    _write_json(folder / "model_index.json", index)  # last: its presence marks a complete folder
    return folder


def controlnet_config_folder(root: Path | None = None) -> Path:
    """A config folder (config.json only) for a single-file SD 1.5 ControlNet, written once."""
    folder = (root or _config_root()) / "controlnet-sd15"
    if not (folder / "config.json").is_file():
        _write_json(folder / "config.json", SD15_CONTROLNET)
    return folder
