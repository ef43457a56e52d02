"""Peak memory per HOTELCAP_PRECISION mode, and SD 1.5's component sizes for the memory estimate.

    python benchmarks/bench_precision_memory.py            # both parts
Part 1 loads the demo's tiny SD pipeline in each mode on the CPU in a fresh process and renders one 256 px
edit, reporting the process's peak resident memory. Part 2 counts SD 1.5's parameters from its real configs
(hotelcap_pipeline/edits/sd_configs.py) on the meta device, so no weights are allocated.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path


def measure(mode: str, models: str) -> dict:
    import torch
    from PIL import Image

    from hotelcap_pipeline.demo.tiny_diffusion import ensure_tiny_sd
    from hotelcap_pipeline.edits.pipeline import load_diffusion

    torch.set_num_threads(1)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    editor = load_diffusion(str(ensure_tiny_sd(Path(models))), "cpu", precision=mode)
    editor.edit(Image.new("RGB", (256, 256), (120, 90, 60)), prompt="a room at night", negative_prompt="",
                strength=0.5, steps=4, guidance=7.5, seed=0, size=(256, 256))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"mode": mode, "rss_before_mib": round(before / 1024), "peak_rss_mib": round(peak / 1024),
            "unet": str(editor.pipe.unet.dtype), "vae": str(editor.pipe.vae.dtype)}


def sd15_sizes() -> dict[str, int]:
    import torch
    from diffusers import AutoencoderKL, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    from hotelcap_pipeline.edits.sd_configs import SD15_TEXT_ENCODER, SD15_UNET, SD15_VAE

    def clean(config: dict) -> dict:
        return {k: v for k, v in config.items() if not k.startswith("_")}

    with torch.device("meta"):
        parts = {
            "unet": UNet2DConditionModel(**clean(SD15_UNET)),
            "vae": AutoencoderKL(**clean(SD15_VAE)),
            "text_encoder": CLIPTextModel(CLIPTextConfig(**{k: v for k, v in SD15_TEXT_ENCODER.items()
                                                           if k not in ("architectures", "model_type")})),
        }
    return {name: sum(p.numel() for p in model.parameters()) for name, model in parts.items()}


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--one":
        print(json.dumps(measure(sys.argv[2], sys.argv[3])))
        sys.exit(0)
    with tempfile.TemporaryDirectory() as models:
        for mode in ("fp32", "auto", "bf16", "fp16"):
            out = subprocess.run([sys.executable, __file__, "--one", mode, models], capture_output=True, text=True)
            print(out.stdout.strip() or out.stderr.strip().splitlines()[-1])
    sizes = sd15_sizes()
    print(json.dumps({"sd15_parameters": sizes}))
    for label, bytes_per in (("fp32", 4), ("fp16", 2)):
        print(label, {k: f"{v * bytes_per / 2**30:.2f} GiB" for k, v in sizes.items()})
