"""Diffusion pipelines loaded once with ``from_pretrained`` (hub id or local folder), and one call per edit.

Three edit modes share one interface:

- ``img2img``: Stable Diffusion image-to-image; ``strength`` is the share of the noise schedule re-run.
- ``controlnet``: the same, plus a ControlNet conditioned on the photo's Canny edges, so walls, furniture
  and windows stay where they are; loaded on top of the img2img pipeline's components (no second copy).
- ``instruct-pix2pix``: an InstructPix2Pix checkpoint; the prompt is an instruction and the photo is kept
  through the image guidance scale, to which ``strength`` is mapped (``ip2p_image_guidance``).

Seeds go through a CPU ``torch.Generator``: the initial noise is drawn on the CPU, so a seed gives the same
noise on cpu, cuda and mps. A NaN or all-black output of a half-precision pipeline (fp16 overflow) is
rendered once more in fp32; one that stays NaN or black (a safety-checker hit) is reported with the image,
never passed off as an edit.

Models load from a diffusers folder (fp16-only folders through ``variant="fp16"``), a single-file
checkpoint (``.safetensors``/``.ckpt``, through ``from_single_file``) or a hub id, as
``hotelcap_pipeline.models.resolve_diffusion`` finds them; one that cannot load raises
``ModelUnavailableError`` naming the setting it came from. Precision (``HOTELCAP_PRECISION``): ``auto`` is
fp16 UNet and text encoder with an fp32 VAE on cuda and mps (SD's VAE overflows in fp16), fp32 on cpu.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypedDict, get_args

import numpy as np
import torch
from PIL import Image

from hotelcap_pipeline.models import DiffusionSource, ModelUnavailableError, resolve_diffusion
from hotelcap_pipeline.settings import (
    DEFAULT_CONTROLNET_MODEL,
    DEFAULT_IP2P_MODEL,
    DIFFUSION_PRECISIONS,
    ENVIRONMENT,
    Origin,
    Origins,
    resolve_device,
)
from hotelcap_pipeline.store import first_line

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
    retried_fp32: bool = False  # the half-precision result was NaN/black and this one was rendered in fp32


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


HALF = {"fp16": torch.float16, "bf16": torch.bfloat16}


def precision_dtypes(precision: str, device: str) -> tuple[torch.dtype, torch.dtype]:
    """(UNet and text encoder dtype, VAE dtype) for a ``HOTELCAP_PRECISION`` value on ``device``.

    ``auto``: fp16 with an fp32 VAE on cuda and mps (SD's VAE overflows to NaN/black in fp16), fp32 on cpu.
    """
    if precision not in DIFFUSION_PRECISIONS:
        raise ValueError(f"precision {precision!r}: expected one of {', '.join(DIFFUSION_PRECISIONS)}")
    if precision == "auto":
        half = torch.device(device).type in ("cuda", "mps")
        return (torch.float16 if half else torch.float32), torch.float32
    if precision == "fp32":
        return torch.float32, torch.float32
    return HALF[precision], HALF[precision]


def default_dtype(device: str) -> torch.dtype:
    return precision_dtypes("auto", device)[0]


def _cast_inputs(module: torch.nn.Module) -> None:
    """Cast a module's floating-point tensor inputs to its own weights' dtype (whatever that is at call time,
    so an fp32 retry still works), so fp16 and fp32 components can be mixed."""

    def hook(_: torch.nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
        dtype = next(module.parameters()).dtype

        def cast(value: Any) -> Any:
            return value.to(dtype) if isinstance(value, torch.Tensor) and value.is_floating_point() else value

        return tuple(cast(a) for a in args), {k: cast(v) for k, v in kwargs.items()}

    module.register_forward_pre_hook(hook, with_kwargs=True)


def _mix_precision(pipe: Any, dtype: torch.dtype, vae_dtype: torch.dtype) -> None:
    """Keep the VAE in ``vae_dtype`` beside a ``dtype`` UNet: each side casts what it is given."""
    if vae_dtype == dtype:
        return
    vae = pipe.vae.to(vae_dtype)
    for part in ("encoder", "decoder", "quant_conv", "post_quant_conv"):
        module = getattr(vae, part, None)
        if isinstance(module, torch.nn.Module):
            _cast_inputs(module)
    for name in ("unet", "controlnet"):
        module = getattr(pipe, name, None)
        if isinstance(module, torch.nn.Module):
            _cast_inputs(module)


def _save_memory(pipe: Any, device: str, attention_slicing: bool | None) -> bool:
    """VAE slicing always, VAE tiling on cuda/mps (large photos decode in tiles); attention slicing where
    memory is tight (mps) unless told otherwise. Returns whether attention slicing is on."""
    vae = getattr(pipe, "vae", None)
    if vae is not None and hasattr(vae, "enable_slicing"):
        vae.enable_slicing()
        if torch.device(device).type != "cpu":
            vae.enable_tiling()
    slicing = torch.device(device).type == "mps" if attention_slicing is None else attention_slicing
    if slicing:
        pipe.enable_attention_slicing()
    return slicing


def release_memory() -> None:
    """Give freed pipeline memory back to the device after a pipeline is dropped."""
    import gc

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    mps = getattr(torch, "mps", None)
    if mps is not None and torch.backends.mps.is_available():
        mps.empty_cache()


class EditorSource(Protocol):
    """Anything that hands out the editor for a mode: one ``DiffusionEditor`` or ``DiffusionEditors``."""

    def model_for(self, mode: EditMode) -> str:
        """The model id an edit in ``mode`` records, known without loading it (for cache keys)."""
        ...

    def editor_for(self, mode: EditMode) -> DiffusionEditor: ...

    def unavailable(self, mode: EditMode) -> str | None:
        """Why ``mode``'s models cannot be loaded (known without loading them), or None when they can."""
        ...


class ControlNetUnavailableError(ModelUnavailableError):
    """The ControlNet itself cannot load (the base model did): only the ControlNet series are skipped."""


@dataclass
class DiffusionEditor:
    """One loaded pipeline and the settings it was loaded with."""

    model: str  # what the tables record: hub id or folder (base|controlnet for the controlnet mode)
    mode: EditMode
    device: str
    dtype: torch.dtype
    pipe: Any = field(repr=False)
    attention_slicing: bool = False
    vae_dtype: torch.dtype = torch.float32
    _text2img: Any = field(default=None, repr=False)

    @property
    def safety_checker(self) -> bool:
        return getattr(self.pipe, "safety_checker", None) is not None

    def model_for(self, mode: EditMode) -> str:
        return self.editor_for(mode).model

    def unavailable(self, mode: EditMode) -> str | None:
        return None if mode == self.mode else f"this editor runs {self.mode!r}, not {mode!r}"

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
        return self._run(self.pipe, args)

    def _run(self, pipe: Any, args: dict[str, Any]) -> Rendered:
        """Run ``pipe``; a NaN/black half-precision result is rendered once more with every part in fp32."""
        seed = args["generator"].initial_seed()
        with torch.inference_mode():
            out = pipe(**args)
        rendered = to_rendered(out.images[0], out.nsfw_content_detected)
        if not rendered.nan_or_black or self.dtype == torch.float32:
            return rendered
        pipe.to(dtype=torch.float32)
        try:
            with torch.inference_mode():
                out = pipe(**{**args, "generator": torch.Generator("cpu").manual_seed(seed)})
        finally:
            pipe.to(dtype=self.dtype)
            if self.vae_dtype != self.dtype:
                pipe.vae.to(self.vae_dtype)
        retried = to_rendered(out.images[0], out.nsfw_content_detected)
        return Rendered(retried.image, retried.nsfw_flag, retried.nan_or_black, retried_fp32=True)

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
        return self._run(
            self._text2img,
            {
                "prompt": prompt,
                "negative_prompt": negative_prompt or None,
                "width": width,
                "height": height,
                "num_inference_steps": steps,
                "guidance_scale": guidance,
                "generator": torch.Generator("cpu").manual_seed(seed),
                "output_type": "np",
            },
        )

    def with_controlnet(self, controlnet: str, origin: Origin | None = None) -> DiffusionEditor:
        """A ControlNet img2img editor sharing this img2img pipeline's components; ``origin``: where
        ``controlnet`` came from, named in errors (default: its variable)."""
        if self.mode != "img2img":
            raise ValueError(f"a ControlNet goes on the base img2img model, not on a {self.mode!r} editor")
        from diffusers import AutoPipelineForImage2Image, ControlNetModel

        origin = origin or ENVIRONMENT[MODEL_FIELDS["controlnet"]]
        source = resolve_diffusion(controlnet, origin, prefer_half=self.dtype != torch.float32)
        try:
            if source.kind == "single_file":
                from hotelcap_pipeline.edits.sd_configs import controlnet_config_folder

                # SD 1.5's ControlNet configs are local, so the file loads offline.
                net = ControlNetModel.from_single_file(
                    source.location, config=str(controlnet_config_folder()), local_files_only=True,
                    **dtype_kwargs(self.dtype),
                )
            else:
                net = _from_pretrained(ControlNetModel.from_pretrained, source, dtype_kwargs(self.dtype))
        except Exception as exc:  # any failure to build it means this ControlNet is unavailable here
            raise ControlNetUnavailableError(
                f"cannot load ControlNet {controlnet!r} ({source.kind}): {first_line(exc)}; "
                f"set {origin.setting} to a diffusers ControlNet folder, checkpoint file or hub id"
            ) from exc
        pipe = AutoPipelineForImage2Image.from_pipe(self.pipe, controlnet=net).to(self.device)
        pipe.set_progress_bar_config(disable=True)
        if self.vae_dtype != self.dtype:
            _cast_inputs(net)
        return DiffusionEditor(
            model=f"{self.model}|{controlnet}",
            mode="controlnet",
            device=self.device,
            dtype=self.dtype,
            pipe=pipe,
            attention_slicing=self.attention_slicing,
            vae_dtype=self.vae_dtype,
        )


def _variant_kwargs(source: DiffusionSource) -> dict[str, str]:
    return {"variant": source.variant} if source.variant and source.kind != "single_file" else {}


def _from_pretrained(load: Any, source: DiffusionSource, kwargs: dict[str, Any]) -> Any:
    """``load(location, ...)`` with the source's variant; a hub repo without fp16 files falls back to its
    full-precision ones (cast on load), since a preferred variant is only a saving."""
    try:
        return load(source.location, **_variant_kwargs(source), **kwargs)
    except (OSError, ValueError):
        if source.kind != "hub" or not source.variant:
            raise
        return load(source.location, **kwargs)


# The Settings field of each mode's own model: what a message about that model names (through its origin).
MODEL_FIELDS: dict[EditMode, str] = {
    "img2img": "diffusion_model",
    "instruct-pix2pix": "ip2p_model",
    "controlnet": "controlnet_model",
}


def _from_single_file(loader: Any, path: str, kwargs: dict[str, Any]) -> Any:
    """``from_single_file`` offline where it can be: SD 1.5-type checkpoints use the configs shipped in
    ``sd15_config``; other kinds need their configs from the hub (or its cache)."""
    from hotelcap_pipeline.edits.sd_configs import BUNDLED, sd15_config_folder, single_file_kind
    from hotelcap_pipeline.models import hub_offline

    kind = single_file_kind(path)
    if kind in BUNDLED:
        config = str(sd15_config_folder(kind))
        return loader.from_single_file(path, config=config, local_files_only=True, **kwargs)
    if hub_offline():
        raise ModelUnavailableError(
            f"{path}: a {kind} single-file checkpoint needs its pipeline configs from the hub, which is offline; "
            "convert it to a diffusers folder or run once with network to cache the configs"
        )
    return loader.from_single_file(path, **kwargs)


def load_diffusion(
    model: str,
    device: str = "auto",
    *,
    mode: EditMode = "img2img",
    controlnet: str | None = None,
    precision: str = "auto",
    attention_slicing: bool | None = None,
    origins: Origins = ENVIRONMENT,
) -> DiffusionEditor:
    """Load ``model`` (diffusers folder, single-file checkpoint or hub id) for ``mode`` as a user would.

    ``controlnet`` (mode ``controlnet`` only) is the ControlNet's folder, file or hub id; ``model`` is then
    the base SD checkpoint. ``precision``: see ``precision_dtypes``; ``attention_slicing`` defaults to on
    for MPS, where unified memory is tight. Raises ``ModelUnavailableError`` when the model cannot load,
    naming the model's setting as ``origins`` (where each value came from) has it.
    """
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
    if mode == "controlnet":
        base = load_diffusion(model, device, precision=precision, attention_slicing=attention_slicing,
                              origins=origins)
        return base.with_controlnet(controlnet or DEFAULT_CONTROLNET_MODEL, origins[MODEL_FIELDS["controlnet"]])
    if controlnet is not None:
        raise ValueError("controlnet= is only for mode='controlnet'")
    from diffusers import (
        AutoPipelineForImage2Image,
        StableDiffusionImg2ImgPipeline,
        StableDiffusionInstructPix2PixPipeline,
    )

    resolved = resolve_device(device, origins["device"])
    dtype, vae_dtype = precision_dtypes(precision, resolved)
    origin = origins[MODEL_FIELDS[mode]]
    source = resolve_diffusion(model, origin, prefer_half=dtype != torch.float32)
    loader: Any = StableDiffusionInstructPix2PixPipeline if mode == "instruct-pix2pix" else AutoPipelineForImage2Image
    kwargs: dict[str, Any] = {**dtype_kwargs(dtype)}
    try:
        if source.kind == "single_file":
            single = (
                StableDiffusionInstructPix2PixPipeline if mode == "instruct-pix2pix" else StableDiffusionImg2ImgPipeline
            )
            pipe = _from_single_file(single, source.location, kwargs)
        else:
            pipe = _from_pretrained(loader.from_pretrained, source, kwargs)
    except ModelUnavailableError:
        raise
    except Exception as exc:  # any failure to build the pipeline means this model is unavailable here
        raise ModelUnavailableError(
            f"cannot load diffusion model {model!r} ({source.kind}"
            f"{', variant ' + source.variant if source.variant else ''}): {first_line(exc)}; set {origin.setting} "
            "to a diffusers folder, a single-file checkpoint (.safetensors, .ckpt) or a hub id"
        ) from exc
    pipe = pipe.to(resolved)
    _mix_precision(pipe, dtype, vae_dtype)
    pipe.set_progress_bar_config(disable=True)
    slicing = _save_memory(pipe, resolved, attention_slicing)
    return DiffusionEditor(
        model=model, mode=mode, device=resolved, dtype=dtype, pipe=pipe, attention_slicing=slicing, vae_dtype=vae_dtype
    )


class _LoadOptions(TypedDict):
    """``load_diffusion``'s arguments that every editor of a run shares."""

    device: str
    precision: str
    attention_slicing: bool | None
    origins: Origins


# Editors that share one pipeline's components: loading one of the other group releases this group.
_GROUP: dict[EditMode, str] = {"img2img": "base", "controlnet": "base", "instruct-pix2pix": "ip2p"}


def uses_base_model(mode: EditMode) -> bool:
    """Whether ``mode`` runs on the base model (the diffusion_model setting)."""
    return _GROUP[mode] == "base"


class DiffusionEditors:
    """The editors one run needs, each loaded on first use: the base model serves img2img and ControlNet.

    One pipeline is resident at a time: asking for InstructPix2Pix releases the base pipeline and the
    other way round, so a run's peak memory is that of its largest pipeline, not of all of them.
    """

    def __init__(
        self,
        model: str,
        *,
        ip2p_model: str = DEFAULT_IP2P_MODEL,
        controlnet_model: str = DEFAULT_CONTROLNET_MODEL,
        device: str = "auto",
        precision: str = "auto",
        attention_slicing: bool | None = None,
        origins: Origins = ENVIRONMENT,
    ) -> None:
        self.model = model
        self.ip2p_model = ip2p_model
        self.controlnet_model = controlnet_model
        self.origins = origins  # where the models and device came from, for the errors
        self._load = _LoadOptions(device=device, precision=precision, attention_slicing=attention_slicing,
                                  origins=origins)
        self._editors: dict[EditMode, DiffusionEditor] = {}

    def named_by(self, origins: Origins) -> DiffusionEditors:
        """These editors with messages that name ``origins``' settings; the pipelines loaded so far, and
        those loaded later through either, are shared (one resident at a time still holds for both)."""
        view = copy.copy(self)
        view.origins = origins
        view._load = _LoadOptions(**{**self._load, "origins": origins})
        return view

    def model_for(self, mode: EditMode) -> str:
        if mode == "img2img":
            return self.model
        if mode == "controlnet":
            return f"{self.model}|{self.controlnet_model}"
        if mode == "instruct-pix2pix":
            return self.ip2p_model
        raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")

    def unavailable(self, mode: EditMode) -> str | None:
        """Why ``mode``'s models cannot be loaded here (checked without loading them), or None."""
        needed = {
            "img2img": [(self.model, "diffusion_model")],
            "controlnet": [(self.model, "diffusion_model"), (self.controlnet_model, "controlnet_model")],
            "instruct-pix2pix": [(self.ip2p_model, "ip2p_model")],
        }[mode]
        for model, name in needed:
            try:
                resolve_diffusion(model, self.origins[name])
            except ModelUnavailableError as exc:
                return str(exc)
        return None

    def release(self, keep: EditMode | None = None) -> None:
        """Drop the loaded pipelines, except those sharing ``keep``'s components."""
        dropped = [m for m in self._editors if keep is None or _GROUP[m] != _GROUP[keep]]
        for mode in dropped:
            del self._editors[mode]
        if dropped:
            release_memory()

    def editor_for(self, mode: EditMode) -> DiffusionEditor:
        if mode not in MODES:
            raise ValueError(f"mode {mode!r}: expected one of {', '.join(MODES)}")
        if mode not in self._editors:
            self.release(keep=mode)
            if mode == "img2img":
                self._editors[mode] = load_diffusion(self.model, **self._load)
            elif mode == "controlnet":
                self._editors[mode] = self.editor_for("img2img").with_controlnet(
                    self.controlnet_model, self.origins["controlnet_model"])
            else:
                self._editors[mode] = load_diffusion(self.ip2p_model, mode=mode, **self._load)
        return self._editors[mode]
