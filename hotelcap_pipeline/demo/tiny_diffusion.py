"""The demo profile's diffusion models: tiny Stable Diffusion pipelines with deterministic random weights.

Each is saved with ``save_pretrained`` in a folder named after the model (``settings.DEMO_*_MODEL``) under
``data_store/models/`` and loaded back through the same ``from_pretrained`` call a hub id takes
(``hotelcap_pipeline.edits.pipeline.load_diffusion``), so the demo exercises the real loading code offline.
The VAE keeps SD's 8x downsampling so image sizes behave as with SD 1.5; everything else is as small as
diffusers allows. The tokenizer is CLIP's real BPE tokenizer, built from the vocabulary open_clip ships.
The weights are random: the demo's edits are noise-like.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

from hotelcap_pipeline.settings import DEMO_CONTROLNET_MODEL, DEMO_DIFFUSION_MODEL, DEMO_IP2P_MODEL

# CLIP's BPE table: 256 byte symbols, their end-of-word variants, 48894 merges, then the two special tokens.
CLIP_MERGES = 49152 - 256 - 2
CLIP_CONTEXT = 77
_BLOCKS = (16, 32)
_CROSS_DIM = 32


def _bytes_to_unicode() -> dict[int, str]:
    """GPT-2/CLIP's reversible byte -> printable character map (the BPE alphabet)."""
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    chars = list(printable)
    extra = 0
    for b in range(256):
        if b not in printable:
            printable.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(printable, (chr(c) for c in chars), strict=True))


def write_clip_tokenizer_files(folder: Path) -> None:
    """Write the CLIP tokenizer's ``vocab.json`` and ``merges.txt`` from open_clip's bundled BPE table."""
    import open_clip

    bpe_path = Path(open_clip.__file__).resolve().parent / "bpe_simple_vocab_16e6.txt.gz"
    lines = gzip.decompress(bpe_path.read_bytes()).decode("utf-8").split("\n")
    merges = lines[1 : CLIP_MERGES + 1]
    alphabet = list(_bytes_to_unicode().values())
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m.split()) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(tokens)}), encoding="utf-8")
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")


def build_clip_tokenizer(workdir: Path):  # -> transformers.CLIPTokenizer
    from transformers import CLIPTokenizer

    write_clip_tokenizer_files(workdir)
    return CLIPTokenizer.from_pretrained(str(workdir), model_max_length=CLIP_CONTEXT)


def _save_atomically(target: Path, save: Callable[[Path], None]) -> Path:
    """Build a model folder beside ``target`` and rename it into place, so a killed build leaves nothing."""
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        save(tmp)
        try:
            os.replace(tmp, target)
        except OSError:
            if not target.is_dir():  # another process won the race otherwise
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _tiny_unet(in_channels: int):
    from diffusers import UNet2DConditionModel

    return UNet2DConditionModel(
        sample_size=32,
        in_channels=in_channels,
        out_channels=4,
        block_out_channels=_BLOCKS,
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        cross_attention_dim=_CROSS_DIM,
        attention_head_dim=8,
        norm_num_groups=8,
    )


def _tiny_components(in_channels: int, seed: int, workdir: Path) -> dict[str, object]:
    from diffusers import AutoencoderKL, PNDMScheduler
    from transformers import CLIPTextConfig, CLIPTextModel

    # fork_rng keeps the caller's global RNG untouched; same seed, same weights.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        unet = _tiny_unet(in_channels)
        vae = AutoencoderKL(
            in_channels=3,
            out_channels=3,
            down_block_types=("DownEncoderBlock2D",) * 4,
            up_block_types=("UpDecoderBlock2D",) * 4,
            block_out_channels=(8, 8, 16, 16),
            layers_per_block=1,
            latent_channels=4,
            norm_num_groups=8,
            sample_size=256,
        )
        text_encoder = CLIPTextModel(
            CLIPTextConfig(
                vocab_size=49408,
                hidden_size=_CROSS_DIM,
                intermediate_size=64,
                num_hidden_layers=2,
                num_attention_heads=4,
                max_position_embeddings=CLIP_CONTEXT,
                bos_token_id=49406,
                eos_token_id=49407,
                pad_token_id=49407,
            )
        )
    # SD 1.5's own scheduler settings.
    scheduler = PNDMScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", skip_prk_steps=True, steps_offset=1
    )
    return {
        "unet": unet,
        "vae": vae,
        "text_encoder": text_encoder,
        "tokenizer": build_clip_tokenizer(workdir / "tokenizer-src"),
        "scheduler": scheduler,
        "safety_checker": None,
        "feature_extractor": None,
        "requires_safety_checker": False,
    }


def _save_pipeline(pipeline_cls: type, in_channels: int, seed: int) -> Callable[[Path], None]:
    def save(folder: Path) -> None:
        with tempfile.TemporaryDirectory() as work:
            pipe = pipeline_cls(**_tiny_components(in_channels, seed, Path(work)))
            pipe.save_pretrained(folder)
        # The slow CLIPTokenizer of older transformers reads these two files rather than tokenizer.json.
        write_clip_tokenizer_files(folder / "tokenizer")

    return save


def ensure_tiny_sd(models_dir: Path, seed: int = 0) -> Path:
    """The tiny text-to-image/img2img pipeline at ``models_dir/hotelcap-tiny-sd`` (built once)."""
    from diffusers import StableDiffusionPipeline

    # Saved as StableDiffusionPipeline, like SD 1.5 on the hub; the img2img auto-pipeline maps it.
    return _save_atomically(Path(models_dir) / DEMO_DIFFUSION_MODEL,
                            _save_pipeline(StableDiffusionPipeline, 4, seed))


def ensure_tiny_ip2p(models_dir: Path, seed: int = 0) -> Path:
    """A tiny InstructPix2Pix pipeline (UNet with 8 input channels: noise latents + image latents)."""
    from diffusers import StableDiffusionInstructPix2PixPipeline

    return _save_atomically(
        Path(models_dir) / DEMO_IP2P_MODEL, _save_pipeline(StableDiffusionInstructPix2PixPipeline, 8, seed)
    )


def ensure_tiny_controlnet(models_dir: Path, seed: int = 0) -> Path:
    """A tiny ControlNet matching the tiny SD's UNet; used on top of ``ensure_tiny_sd``'s pipeline."""
    from diffusers import ControlNetModel

    def save(folder: Path) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed + 1)
            controlnet = ControlNetModel(
                in_channels=4,
                block_out_channels=_BLOCKS,
                layers_per_block=1,
                down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
                cross_attention_dim=_CROSS_DIM,
                attention_head_dim=8,
                norm_num_groups=8,
                # Three 2x stages: the control image enters at latent size, as in SD 1.5's ControlNets.
                conditioning_embedding_out_channels=(8, 8, 16, 16),
            )
            # A fresh ControlNet's output convolutions are zero (no effect until trained); give them
            # weights so the demo's edges really steer the UNet.
            for conv in [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]:
                torch.nn.init.normal_(conv.weight, std=0.05)
        controlnet.save_pretrained(folder)

    return _save_atomically(Path(models_dir) / DEMO_CONTROLNET_MODEL, save)
