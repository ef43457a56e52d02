"""Diffusion benchmark: one img2img edit at 512 px with real-size, randomly initialised SD 1.5 components.

    python benchmarks/bench_diffusion.py [--size 512] [--steps 30] [--strength 0.5] [--device auto]
                                         [--dtype auto] [--threads 0] [--no-warmup]

The UNet, VAE and text encoder are built from SD 1.5's configs with random weights (no download), so
the time per step is the real model's; the pixels are noise. The edit goes through hotelcap's own
``DiffusionEditor.edit`` (CPU generator, NaN check). Printed: parameter counts and weight sizes of the
default models' components (from their configs, on the meta device), build time, seconds per edit,
per UNet step (timed with forward hooks) and the rest (text encoder, VAE encode and decode).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from hotelcap_pipeline.demo.tiny_diffusion import build_clip_tokenizer
from hotelcap_pipeline.edits.pipeline import DiffusionEditor, default_dtype, denoising_steps
from hotelcap_pipeline.settings import resolve_device

# SD 1.5's unet/config.json, vae/config.json and text_encoder/config.json (the fields that are not defaults).
UNET = {
    "sample_size": 64,
    "in_channels": 4,
    "out_channels": 4,
    "block_out_channels": (320, 640, 1280, 1280),
    "layers_per_block": 2,
    "down_block_types": ("CrossAttnDownBlock2D",) * 3 + ("DownBlock2D",),
    "up_block_types": ("UpBlock2D",) + ("CrossAttnUpBlock2D",) * 3,
    "cross_attention_dim": 768,
    "attention_head_dim": 8,
}
VAE = {
    "in_channels": 3,
    "out_channels": 3,
    "down_block_types": ("DownEncoderBlock2D",) * 4,
    "up_block_types": ("UpDecoderBlock2D",) * 4,
    "block_out_channels": (128, 256, 512, 512),
    "layers_per_block": 2,
    "latent_channels": 4,
    "sample_size": 512,
}
TEXT = {
    "vocab_size": 49408,
    "hidden_size": 768,
    "intermediate_size": 3072,
    "num_hidden_layers": 12,
    "num_attention_heads": 12,
    "max_position_embeddings": 77,
    "hidden_act": "quick_gelu",
    "bos_token_id": 49406,
    "eos_token_id": 49407,
    "pad_token_id": 49407,
}
# lllyasviel/control_v11p_sd15_canny: the UNet's encoder half plus the control-image embedding.
CONTROLNET = {
    k: UNET[k]
    for k in (
        "in_channels",
        "block_out_channels",
        "layers_per_block",
        "cross_attention_dim",
        "attention_head_dim",
        "down_block_types",
    )
}


def build_components(device: str, dtype: torch.dtype) -> dict[str, torch.nn.Module]:
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    with torch.device(device):  # initialise in place: faster on a GPU, no CPU copy
        parts = {
            "unet": UNet2DConditionModel(**UNET),
            "vae": AutoencoderKL(**VAE),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**TEXT)),
        }
    return {name: module.to(dtype).eval() for name, module in parts.items()}


def weight_sizes() -> list[tuple[str, int]]:
    """Parameter counts of every component the default models download, built on the meta device."""
    from diffusers import AutoencoderKL, ControlNetModel, UNet2DConditionModel
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig, CLIPTextConfig, CLIPTextModel

    def count(module: torch.nn.Module) -> int:
        return sum(p.numel() for p in module.parameters())

    vision = {
        "hidden_size": 1024,
        "intermediate_size": 4096,
        "num_hidden_layers": 24,
        "num_attention_heads": 16,
        "patch_size": 14,
        "image_size": 224,
        "projection_dim": 768,
    }
    with torch.device("meta"):
        return [
            ("SD 1.5 unet", count(UNet2DConditionModel(**UNET))),
            ("SD 1.5 vae", count(AutoencoderKL(**VAE))),
            ("SD 1.5 text_encoder", count(CLIPTextModel(CLIPTextConfig(**TEXT)))),
            (
                "SD 1.5 safety_checker",
                count(
                    StableDiffusionSafetyChecker(CLIPConfig(text_config=TEXT, vision_config=vision, projection_dim=768))
                ),
            ),
            ("InstructPix2Pix unet (8 input channels)", count(UNet2DConditionModel(**{**UNET, "in_channels": 8}))),
            ("ControlNet sd15 canny", count(ControlNetModel(**CONTROLNET))),
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=512, help="image side in pixels (multiple of 8)")
    parser.add_argument("--steps", type=int, default=30, help="inference steps before strength")
    parser.add_argument("--strength", type=float, default=0.5)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", choices=["auto", "fp32", "fp16", "bf16"], default="auto")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    parser.add_argument(
        "--warmup",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one untimed 1-step edit first (kernels, allocator)",
    )
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    dtype = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}.get(
        args.dtype, default_dtype(device)
    )
    run_steps = denoising_steps(args.strength, args.steps)

    print("weights of the default models' components (fp32 / fp16 download):")
    for name, params in weight_sizes():
        print(f"  {name:42s} {params / 1e6:8.1f} M params  {params * 4 / 1e9:5.2f} GB / {params * 2 / 1e9:5.2f} GB")

    from diffusers import PNDMScheduler, StableDiffusionImg2ImgPipeline

    t0 = time.perf_counter()
    parts = build_components(device, dtype)
    with tempfile.TemporaryDirectory() as work:
        tokenizer = build_clip_tokenizer(Path(work))
    pipe = StableDiffusionImg2ImgPipeline(
        **parts,
        tokenizer=tokenizer,
        scheduler=PNDMScheduler(
            beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1
        ),
        safety_checker=None,
        feature_extractor=None,
        requires_safety_checker=False,
    )
    pipe.set_progress_bar_config(disable=True)
    editor = DiffusionEditor(model="random SD 1.5", mode="img2img", device=device, dtype=dtype, pipe=pipe)
    build_s = time.perf_counter() - t0

    def sync() -> None:
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        elif device == "mps":
            torch.mps.synchronize()

    unet_times: list[float] = []
    started: list[float] = []

    def before_unet(*_: object) -> None:
        sync()
        started.append(time.perf_counter())

    def after_unet(*_: object) -> None:
        sync()
        unet_times.append(time.perf_counter() - started[-1])

    pipe.unet.register_forward_pre_hook(before_unet)
    pipe.unet.register_forward_hook(after_unet)

    photo = Image.radial_gradient("L").convert("RGB").resize((args.size, args.size))
    edit = {
        "prompt": "hotel room at night",
        "negative_prompt": "blurry",
        "guidance": 7.5,
        "seed": 0,
        "size": (args.size, args.size),
    }
    if args.warmup:
        editor.edit(photo, strength=1.0, steps=1, **edit)
    unet_times.clear()
    sync()
    t0 = time.perf_counter()
    result = editor.edit(photo, strength=args.strength, steps=args.steps, **edit)
    sync()
    edit_s = time.perf_counter() - t0
    per_step = sum(unet_times) / len(unet_times)

    name = torch.cuda.get_device_name() if device.startswith("cuda") else device
    print(
        f"device {name}, dtype {str(dtype).removeprefix('torch.')}, threads {torch.get_num_threads()}, "
        f"{args.size}x{args.size}, {args.steps} steps x strength {args.strength} = {run_steps} denoising steps"
    )
    print(f"build (random init) {build_s:8.1f} s")
    print(f"one edit            {edit_s:8.2f} s  ({len(unet_times)} UNet calls with CFG batch 2)")
    print(f"per UNet step       {per_step:8.3f} s")
    print(f"rest of the edit    {edit_s - sum(unet_times):8.2f} s  (text encoder, VAE encode + decode)")
    print(f"ratio edit / step   {edit_s / per_step:8.1f}")
    print(f"output NaN/black    {result.nan_or_black} (random weights: pixels are noise)")


if __name__ == "__main__":
    main()
