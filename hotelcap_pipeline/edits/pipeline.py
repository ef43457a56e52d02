"""Diffusion pipelines loaded once with ``from_pretrained`` (hub id or local folder), and one call per edit.

Three edit modes share one interface:

- ``img2img``: Stable Diffusion image-to-image; ``strength`` is the share of the noise schedule re-run.
- ``controlnet``: the same, plus a ControlNet conditioned on the photo's Canny edges, so walls, furniture
  and windows stay where they are; loaded on top of the img2img pipeline's components (no second copy).
- ``instruct-pix2pix``: an InstructPix2Pix checkpoint; the prompt is an instruction and the photo is kept
  through the image guidance scale, to which ``strength`` is mapped (``ip2p_image_guidance``).

Seeds go through a CPU ``torch.Generator``: the initial noise is drawn on the CPU, so a seed gives the same
noise on cpu, cuda and mps. NaN or all-black outputs (fp16 overflow on MPS, a safety-checker hit) are
reported with the image, never passed off as an edit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, get_args

import numpy as np
import torch
from PIL import Image

from hotelcap_pipeline.settings import DEFAULT_CONTROLNET_MODEL, DEFAULT_IP2P_MODEL, resolve_device

EditMode = Literal["img2img", "instruct-pix2pix", "controlnet"]
MODES: tuple[EditMode, ...] = get_args(EditMode)
VAE_FACTOR = 8  # SD's VAE downsamples 8x; pipelines reject sizes that are not multiples of it
BLACK_LEVEL = 1.0 / 255.0


class ZeroStepError(ValueError):
    """``int(strength * steps)`` is 0: diffusers would run no denoising step and fail."""


def min_steps(strength: float) -> int:
    """The fewest inference steps that give ``strength`` at least one denoising step."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    steps = math.ceil(1.0 / strength)
    while int(steps * strength) < 1:  # float rounding: 1/strength may land just below an integer
        steps += 1
    return steps


def denoising_steps(strength: float, steps: int) -> int:
    """Steps img2img actually runs, computed as diffusers does; raises ``ZeroStepError`` when none."""
    if not 0.0 < strength <= 1.0:
        raise ValueError(f"strength must be in (0, 1], got {strength}")
    run = min(int(steps * strength), steps)
    if run < 1:
        raise ZeroStepError(
            f"strength {strength} x {steps} steps gives no denoising step; "
            f"use at least {min_steps(strength)} steps or a higher strength"
        )
    return run


def ip2p_image_guidance(strength: float) -> float:
    """InstructPix2Pix has no strength: map it to the image guidance scale, 1.5 (the paper's default) at 0.75.

    Higher image guidance keeps more of the photo, so strength 1.0 -> 1.0 and strength 0.5 -> 2.0.
    """
    return 1.0 + 2.0 * (1.0 - strength)


def fit_dims(width: int, height: int, max_side: int = 512, multiple: int = VAE_FACTOR) -> tuple[int, int]:
    """The photo's aspect ratio, longer side ``max_side``, each side rounded to a multiple of ``multiple``."""
    if width < 1 or height < 1:
        raise ValueError(f"image size must be positive, got {width}x{height}")
    if max_side < multiple:
        raise ValueError(f"max_side {max_side} is below the size multiple {multiple}")
    scale = max_side / max(width, height)

    def snap(side: int) -> int:
        return max(multiple, round(side * scale / multiple) * multiple)

    return snap(width), snap(height)


def canny_edges(image: Image.Image, low: int = 100, high: int = 200) -> Image.Image:
    """The Canny edge map ControlNet-canny was trained on (OpenCV, thresholds 100/200), as RGB."""
    import cv2

    edges = cv2.Canny(np.asarray(image.convert("L")), low, high)
    return Image.fromarray(np.stack([edges] * 3, axis=-1))


@dataclass(frozen=True)
class Rendered:
    image: Image.Image
    nsfw_flag: bool | None  # None: no safety checker loaded
    nan_or_black: bool


def to_rendered(array: np.ndarray, nsfw: list[bool] | None) -> Rendered:
    """Turn one pipeline output (H, W, 3 floats in [0, 1]) into an image, flagging NaN or black pixels."""
    nan = bool(np.isnan(array).any())
    array = np.nan_to_num(array, nan=0.0)
    black = bool(array.max(initial=0.0) <= BLACK_LEVEL)
    pixels = (np.clip(array, 0.0, 1.0) * 255.0).round().astype(np.uint8)
    return Rendered(Image.fromarray(pixels), None if nsfw is None else bool(nsfw[0]), nan or black)


def dtype_kwargs(dtype: torch.dtype) -> dict[str, torch.dtype]:
    """``from_pretrained``'s dtype argument: ``dtype`` where diffusers has it (it deprecated ``torch_dtype``
    when adding it), ``torch_dtype`` on the older releases that only know that one."""
    from diffusers.utils import deprecation_utils

    return {"dtype": dtype} if hasattr(deprecation_utils, "_resolve_dtype") else {"torch_dtype": dtype}


def default_dtype(device: str) -> torch.dtype:
    # fp16 on MPS gives NaN/black images with SD's VAE; fp32 is the safe default there and on CPU.
    return torch.float16 if torch.device(device).type == "cuda" else torch.float32


class EditorSource(Protocol):
    """Anything that hands out the editor for a mode: one ``DiffusionEditor`` or ``DiffusionEditors``."""

    def model_for(self, mode: EditMode) -> str:
        """The model id an edit in ``mode`` records, known without loading it (for cache keys)."""
        ...

    def editor_for(self, mode: EditMode) -> DiffusionEditor: ...


@dataclass
class DiffusionEditor:
    """One loaded pipeline and the settings it was loaded with."""

    model: str  # what the tables record: hub id or folder (base|controlnet for the controlnet mode)
    mode: EditMode
    device: str
    dtype: torch.dtype
    pipe: Any = field(repr=False)
    attention_slicing: bool = False
    _text2img: Any = field(default=None, repr=False)

    @property
    def safety_checker(self) -> bool:
        return getattr(self.pipe, "safety_checker", None) is not None

    def model_for(self, mode: EditMode) -> str:
        return self.editor_for(mode).model

    def editor_for(self, mode: EditMode) -> DiffusionEditor:
        if mode != self.mode:
            raise ValueError(f"this editor runs {self.mode!r} ({self.model}); a {mode!r} series needs its own")
        return self

    def edit(
        self,
        image: Image.Image,
        *,
        prompt: str,
        negative_prompt: str,
        strength: float,
        steps: int,
        guidance: float,
        seed: int,
        size: tuple[int, int],
    ) -> Rendered:
        """Edit ``image`` at ``size`` (multiples of 8); the same arguments give the same pixels."""
        image = image.convert("RGB").resize(size, Image.Resampling.LANCZOS)
        args: dict[str, Any] = {
            "prompt": prompt,
            "negative_prompt": negative_prompt or None,
            "image": image,
            "num_inference_steps": steps,
            "guidance_scale": guidance,
            "generator": torch.Generator("cpu").manual_seed(seed),
            "output_type": "np",
        }
        if self.mode == "instruct-pix2pix":
            args["image_guidance_scale"] = ip2p_image_guidance(strength)
        else:
            denoising_steps(strength, steps)
            args["strength"] = strength
        if self.mode == "controlnet":
            args["control_image"] = canny_edges(image)
            args["width"], args["height"] = size
        with torch.inference_mode():
            out = self.pipe(**args)
        return to_rendered(out.images[0], out.nsfw_content_detected)

    def text2img(
        self,
        *,
        prompt: str,
        negative_prompt: str,
        seed: int,
        size: tuple[int, int],
        steps: int,
        guidance: float,
    ) -> Rendered:
        """Text-to-image through the img2img pipeline's own components (no second load)."""
        if self.mode != "img2img":
            raise ValueError(f"text-to-image needs the base img2img model, not a {self.mode!r} editor")
        if self._text2img is None:
            from diffusers import AutoPipelineForText2Image

            self._text2img = AutoPipelineForText2Image.from_pipe(self.pipe)
            self._text2img.set_progress_bar_config(disable=True)
        width, height = size
        with torch.inference_mode():
            out = self._text2img(
                prompt=prompt,
                negative_prompt=negative_prompt or None,
                width=width,
                height=height,
                num_inference_steps=steps,
                guidance_scale=guidance,
                generator=torch.Generator("cpu").manual_seed(seed),
                output_type="np",
            )
        return to_rendered(out.images[0], out.nsfw_content_detected)

    def with_controlnet(self, controlnet: str) -> DiffusionEditor:
        """A ControlNet img2img editor sharing this img2img pipeline's components."""
        if self.mode != "img2img":
            raise ValueError(f"a ControlNet goes on the base img2img model, not on a {self.mode!r} editor")
        from diffusers import AutoPipelineForImage2Image, ControlNetModel

        try:
            net = ControlNetModel.from_pretrained(controlnet, **dtype_kwargs(self.dtype))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot load ControlNet {controlnet!r} (hub id or local folder): {exc}") from exc
        pipe = AutoPipelineForImage2Image.from_pipe(self.pipe, controlnet=net).to(self.device)
        pipe.set_progress_bar_config(disable=True)
        return DiffusionEditor(
            model=f"{self.model}|{controlnet}",
            mode="controlnet",
            device=self.device,
            dtype=self.dtype,
            pipe=pipe,
            attention_slicing=self.attention_slicing,
        )


def load_diffusion(
    model: str,
    device: str = "auto",
    *,
    mode: EditMode = "img2img",
    controlnet: str | None = None,
    dtype: torch.dtype | None = None,
    attention_slicing: bool | None = None,
) -> DiffusionEditor:
    """Load ``model`` (hub id or local folder) for ``mode`` exactly as a user would, once per process.

    ``controlnet`` (mode ``controlnet`` only) is the ControlNet's hub id or folder; ``model`` is then the base
    SD checkpoint. ``dtype`` defaults to fp16 on CUDA and fp32 elsewhere; ``attention_slicing`` defaults to
    on for MPS, where unified memory is tight.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "controlnet":
        base = load_diffusion(model, device, dtype=dtype, attention_slicing=attention_slicing)
        return base.with_controlnet(controlnet or DEFAULT_CONTROLNET_MODEL)
    if controlnet is not None:
        raise ValueError("controlnet= is only for mode='controlnet'")
    from diffusers import AutoPipelineForImage2Image, StableDiffusionInstructPix2PixPipeline

    resolved = resolve_device(device)
    dtype = dtype or default_dtype(resolved)
    loader = StableDiffusionInstructPix2PixPipeline if mode == "instruct-pix2pix" else AutoPipelineForImage2Image
    try:
        pipe = loader.from_pretrained(model, **dtype_kwargs(dtype))
    except (OSError, ValueError) as exc:
        raise ValueError(f"cannot load diffusion model {model!r} (hub id or local folder): {exc}") from exc
    pipe = pipe.to(resolved)
    pipe.set_progress_bar_config(disable=True)
    slicing = torch.device(resolved).type == "mps" if attention_slicing is None else attention_slicing
    if slicing:
        pipe.enable_attention_slicing()
    return DiffusionEditor(model=model, mode=mode, device=resolved, dtype=dtype, pipe=pipe, attention_slicing=slicing)


class _LoadOptions(TypedDict):
    """``load_diffusion``'s arguments that every editor of a run shares."""

    device: str
    dtype: torch.dtype | None
    attention_slicing: bool | None


class DiffusionEditors:
    """The editors one run needs, each loaded on first use: the base model serves img2img and ControlNet."""

    def __init__(
        self,
        model: str,
        *,
        ip2p_model: str = DEFAULT_IP2P_MODEL,
        controlnet_model: str = DEFAULT_CONTROLNET_MODEL,
        device: str = "auto",
        dtype: torch.dtype | None = None,
        attention_slicing: bool | None = None,
    ) -> None:
        self.model = model
        self.ip2p_model = ip2p_model
        self.controlnet_model = controlnet_model
        self._load = _LoadOptions(device=device, dtype=dtype, attention_slicing=attention_slicing)
        self._editors: dict[EditMode, DiffusionEditor] = {}

    def model_for(self, mode: EditMode) -> str:
        if mode == "img2img":
            return self.model
        if mode == "controlnet":
            return f"{self.model}|{self.controlnet_model}"
        if mode == "instruct-pix2pix":
            return self.ip2p_model
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")

    def editor_for(self, mode: EditMode) -> DiffusionEditor:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode not in self._editors:
            if mode == "img2img":
                self._editors[mode] = load_diffusion(self.model, **self._load)
            elif mode == "controlnet":
                self._editors[mode] = self.editor_for("img2img").with_controlnet(self.controlnet_model)
            else:
                self._editors[mode] = load_diffusion(self.ip2p_model, mode=mode, **self._load)
        return self._editors[mode]
