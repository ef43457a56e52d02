"""An open_clip model loaded once, with unit-length image and text embeddings.

``load_clip`` is the only factory: ``pretrained`` is either an open_clip pretrained tag (downloaded and
cached by open_clip itself, exactly as users load it) or the path of a local checkpoint file. The demo's
shipped checkpoint goes through the same local-checkpoint path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import pickle
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from PIL import Image

from hotelcap_pipeline.settings import ENVIRONMENT, Origins, resolve_device

# Extra open_clip architectures shipped with the project (the demo's CLIP trained on the synthetic world).
MODEL_CONFIGS_DIR = Path(__file__).resolve().parent / "model_configs"

PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}

# The preprocess_cfg keys of a shipped config and the create_model_and_transforms arguments they become.
PREPROCESS_ARGS = {
    "resize_mode": "image_resize_mode",
    "interpolation": "image_interpolation",
    "mean": "image_mean",
    "std": "image_std",
}

_register_lock = threading.Lock()


def _project_configs() -> dict[str, dict]:
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(MODEL_CONFIGS_DIR.glob("*.json"))}


def register_model_configs() -> None:
    """Make open_clip aware of the configs in MODEL_CONFIGS_DIR (idempotent).

    A config may carry a ``preprocess_cfg`` as open_clip's hub configs do. open_clip reads that key only
    from hub and local-dir configs and passes everything else to the model class, which rejects it; so
    the architecture is registered without it and ``load_clip`` applies it.
    """
    from open_clip import factory

    with _register_lock:
        for name, config in _project_configs().items():
            if name not in factory.list_models():
                # open_clip has no public call to register a config given as a dict.
                factory._MODEL_CONFIGS[name] = {k: v for k, v in config.items() if k != "preprocess_cfg"}


def preprocess_args(model_name: str) -> dict[str, object]:
    """create_model_and_transforms arguments from a shipped config's ``preprocess_cfg`` (none for others)."""
    if model_name not in _project_configs():
        return {}  # open_clip's own, hub and folder models carry their preprocessing themselves
    path = MODEL_CONFIGS_DIR / f"{model_name}.json"
    config = json.loads(path.read_text(encoding="utf-8")).get("preprocess_cfg", {}) if path.is_file() else {}
    unknown = sorted(set(config) - set(PREPROCESS_ARGS))
    if unknown:
        raise ValueError(f"{path}: preprocess_cfg keys {unknown} are not supported ({', '.join(PREPROCESS_ARGS)})")
    return {PREPROCESS_ARGS[k]: v for k, v in config.items()}


def file_sha256(path: Path, chunk_size: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()


def clip_model_id(model_name: str, pretrained: str) -> str:
    """Stable id of architecture + weights: the tag for hub weights, the content hash for a local file."""
    path = Path(pretrained).expanduser()
    if path.is_file():
        return f"{model_name}/sha256:{file_sha256(path)[:12]}"
    return f"{model_name}/{pretrained}"


def _check_precision(precision: str, device: str) -> torch.dtype | None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: expected one of {', '.join(PRECISIONS)}")
    dtype = PRECISIONS[precision]
    kind = torch.device(device).type
    if dtype is None:
        return None
    if kind == "cpu" and dtype is not torch.bfloat16:
        raise ValueError("on cpu only bf16 autocast is supported; use precision='bf16' or 'fp32'")
    if kind == "cuda" and dtype is torch.bfloat16 and not torch.cuda.is_bf16_supported():
        raise ValueError("this GPU does not support bf16; use precision='fp16' or 'fp32'")
    if kind == "mps" and dtype is not torch.float16:
        raise ValueError("on mps only fp16 autocast is supported; use precision='fp16' or 'fp32'")
    return dtype


def _unit_rows(features: torch.Tensor) -> np.ndarray:
    features = features.float()
    features = features / features.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return features.cpu().numpy().astype(np.float32, copy=False)


class ClipNetwork(Protocol):
    """What this module uses of an open_clip ``CLIP`` / ``CustomTextCLIP`` (both nn.Modules)."""

    visual: torch.nn.Module

    def encode_image(self, image: torch.Tensor) -> torch.Tensor: ...

    def encode_text(self, text: torch.Tensor) -> torch.Tensor: ...


@dataclass
class ClipModel:
    """An open_clip model in eval mode on one device; every ``encode_*`` returns float32 unit rows."""

    model_id: str
    device: str
    embed_dim: int
    model: ClipNetwork = field(repr=False)
    preprocess: Callable[[Image.Image], torch.Tensor] = field(repr=False)
    tokenizer: Callable[[Sequence[str]], torch.Tensor] = field(repr=False)
    autocast_dtype: torch.dtype | None = None

    @property
    def image_size(self) -> int:
        """The (shorter) side the preprocess resizes to; JPEG decoding can stop at this scale."""
        size = getattr(self.model.visual, "image_size", 224)
        return int(min(size) if isinstance(size, tuple | list) else size)

    @contextlib.contextmanager
    def _inference(self) -> Iterator[None]:
        with torch.inference_mode():
            if self.autocast_dtype is None:
                yield
            else:
                with torch.autocast(device_type=torch.device(self.device).type, dtype=self.autocast_dtype):
                    yield

    def encode_pixels(self, batch: torch.Tensor) -> np.ndarray:
        """Embed an already preprocessed (N, 3, H, W) batch."""
        if batch.shape[0] == 0:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        with self._inference():
            features = self.model.encode_image(batch.to(self.device, non_blocking=True))
        return _unit_rows(features)

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray:
        if not images:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        return self.encode_pixels(torch.stack([self.preprocess(image) for image in images]))

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.embed_dim), dtype=np.float32)
        tokens = self.tokenizer(list(texts))
        with self._inference():
            features = self.model.encode_text(tokens.to(self.device))
        return _unit_rows(features)


# Where torch's advice to load with weights_only=False begins, wherever it stands in the message.
_UNSAFE_ADVICE = re.compile(r"(In PyTorch [\d.]+, we changed the default|Re-running `?torch\.load).*")


def _load_failure(exc: BaseException) -> str:
    """One line on why weights did not load: torch's first line, with the first mismatch where it only
    announces a list of them, and never its advice to load an unreadable file with weights_only=False."""
    text = str(exc)
    if "Weights only load failed" in text:
        return "not a checkpoint torch reads with weights_only=True (a damaged file, or one that carries code)"
    if "TorchScript" in text:
        from hotelcap_pipeline.models import TORCHSCRIPT_REFUSED

        return TORCHSCRIPT_REFUSED
    lines = [line for line in (_UNSAFE_ADVICE.sub("", line).strip() for line in text.splitlines()) if line]
    lines = [line for line in lines if not ("weights_only" in line and "False" in line)]
    if not lines:
        return type(exc).__name__
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]


def load_clip(model_name: str, pretrained: str, device: str = "auto", *, precision: str = "fp32",
              origins: Origins = ENVIRONMENT) -> ClipModel:
    """Build an open_clip model and load its weights: a pretrained tag, a local checkpoint file, an open_clip
    folder (``local-dir:`` or a hub snapshot folder holding open_clip_config.json) or an ``hf-hub:`` repo.

    Offline (``HF_HUB_OFFLINE`` or no answer from the hub) tags and repos come from the local cache only.
    ``precision`` selects an optional autocast (``bf16`` on cpu/cuda, ``fp16`` on cuda/mps); the weights
    stay in fp32 and the embeddings are returned as float32 either way. A model that cannot be had raises
    ``ModelUnavailableError`` with one line saying what to set; ``origins`` says where the model, weights and
    device came from (the run config or the variables), so that the line names the place the user set them.
    """
    import open_clip

    from hotelcap_pipeline.models import ModelUnavailableError, resolve_clip

    resolved = resolve_device(device, origins["device"])
    autocast_dtype = _check_precision(precision, resolved)
    source = resolve_clip(model_name, pretrained, origins)
    try:
        model, _, preprocess = open_clip.create_model_and_transforms(
            source.model_name,
            pretrained=source.pretrained or None,
            device=resolved,
            **{**preprocess_args(model_name), **dict(source.options)},
        )
        config = open_clip.get_model_config(source.model_name)
        tokenizer = open_clip.get_tokenizer(source.model_name)
    except (RuntimeError, OSError, ValueError, KeyError, pickle.UnpicklingError) as exc:
        raise ModelUnavailableError(
            f"cannot load CLIP {source.model_id!r} from {source.pretrained or source.model_name}: "
            f"{_load_failure(exc)} ({origins['clip_model'].setting} names the architecture, "
            f"{origins['clip_pretrained'].setting} the weights)"
        ) from exc
    model.eval()
    return ClipModel(
        model_id=source.model_id,
        device=resolved,
        embed_dim=int(config["embed_dim"]),
        model=model,
        preprocess=preprocess,
        tokenizer=tokenizer,
        autocast_dtype=autocast_dtype,
    )
