from __future__ import annotations

import json
from pathlib import Path

import open_clip
from transformers import CLIPTokenizer

from hotelcap_pipeline.demo.tiny_diffusion import ensure_tiny_sd, write_clip_tokenizer_files
from hotelcap_pipeline.settings import DEMO_DIFFUSION_MODEL


def test_tokenizer_files_reproduce_open_clips_tokens(tmp_path: Path):
    write_clip_tokenizer_files(tmp_path)
    tokenizer = CLIPTokenizer.from_pretrained(str(tmp_path), model_max_length=77)
    text = "A hotel room at night: lamps off, 2 beds & a towel-swan!"
    ours = tokenizer(text).input_ids
    theirs = [t for t in open_clip.get_tokenizer("ViT-B-32")([text])[0].tolist() if t]
    assert ours == theirs
    assert len(json.loads((tmp_path / "vocab.json").read_text())) == 49408


def test_tiny_sd_folder_is_a_diffusers_pipeline_built_once(tiny_models: dict[str, Path]):
    folder = tiny_models["sd"]
    assert folder.name == DEMO_DIFFUSION_MODEL
    index = json.loads((folder / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline" and index["safety_checker"] == [None, None]
    tokenizer_config = json.loads((folder / "tokenizer" / "tokenizer_config.json").read_text())
    assert tokenizer_config["model_max_length"] == 77
    assert (folder / "tokenizer" / "merges.txt").is_file()
    stamp = (folder / "unet" / "config.json").stat().st_mtime_ns
    assert ensure_tiny_sd(folder.parent) == folder
    assert (folder / "unet" / "config.json").stat().st_mtime_ns == stamp
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temp folder left


def test_ip2p_unet_takes_image_latents_too(tiny_models: dict[str, Path]):
    config = json.loads((tiny_models["ip2p"] / "unet" / "config.json").read_text())
    assert config["in_channels"] == 8
