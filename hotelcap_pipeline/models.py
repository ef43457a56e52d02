"""Models from Settings: where the weights come from (hub id, local file or folder, the demo's models).

The asset resources and the `hotelcap search` command both go through here, so the demo profile's
models are found (or built) the same way everywhere. The demo's CLIP is a shipped checkpoint, loaded
through the local-checkpoint path a user's own checkpoint takes.

A model that cannot be had is a ``ModelUnavailableError`` with one line: what was tried, why, and which
setting (the run config's field or the variable the value came from) or file to provide. The hub is asked
at most once per process whether it is reachable (a 2-second connection attempt, skipped when
``HF_HUB_OFFLINE`` is set); offline, hub ids are served from the local Hugging Face cache or refused at
once, never retried for a minute.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import socket
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlparse

from hotelcap_pipeline.settings import (
    DEMO_CLIP_MODEL,
    DEMO_CONTROLNET_MODEL,
    DEMO_DIFFUSION_MODEL,
    DEMO_IP2P_MODEL,
    ENVIRONMENT,
    Origin,
    Origins,
    Settings,
)
from hotelcap_pipeline.store import DataStore, first_line

if TYPE_CHECKING:
    from hotelcap_pipeline.tagging.clip_model import ClipModel

HUB_PROBE_TIMEOUT_S = 2.0
SINGLE_FILE_SUFFIXES = (".safetensors", ".ckpt")
_TRUE = {"1", "true", "yes", "on"}


class ModelUnavailableError(RuntimeError):
    """A model that cannot be loaded; the message is one line saying what was tried, why and what to set."""


class MissingModelFileError(ModelUnavailableError, FileNotFoundError):
    """A model file the settings name does not exist."""


def hub_endpoint() -> str:
    return os.environ.get("HF_ENDPOINT", "https://huggingface.co").rstrip("/")


def offline_requested() -> bool:
    return any(os.environ.get(v, "").strip().lower() in _TRUE for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _probe_address(endpoint: str) -> tuple[str, int]:
    """Where a request to ``endpoint`` goes first: its proxy (HTTPS_PROXY and the like, unless NO_PROXY
    names the host), which is all a proxy-only network lets through, else the host itself."""
    url = urlparse(endpoint)
    proxy = urllib.request.getproxies().get(url.scheme)
    if proxy and not urllib.request.proxy_bypass(url.hostname or ""):
        url = urlparse(proxy if "://" in proxy else f"http://{proxy}")
    return url.hostname or "", url.port or (443 if url.scheme == "https" else 80)


@functools.cache
def _hub_reachable(endpoint: str) -> bool:
    try:
        with socket.create_connection(_probe_address(endpoint), timeout=HUB_PROBE_TIMEOUT_S):
            return True
    except OSError:
        return False


def hub_offline() -> bool:
    """True when HF_HUB_OFFLINE asks for it or the hub does not answer (probed once per process)."""
    return offline_requested() or not _hub_reachable(hub_endpoint())


def hf_cache_dir() -> str:
    from huggingface_hub import constants

    return str(constants.HF_HUB_CACHE)


def _offline_reason() -> str:
    if offline_requested():
        return "HF_HUB_OFFLINE is set"
    return f"the hub ({hub_endpoint()}) is unreachable"


def cached_snapshot(repo_id: str) -> Path | None:
    """The local Hugging Face cache's snapshot folder of ``repo_id``, or None when it holds none."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def looks_like_path(name: str) -> bool:
    """A local path rather than a hub id ("org/name"): absolute, relative with ./ or ~, deeper, or a file name."""
    return (
        name.startswith(("/", ".", "~"))
        or name.count("/") != 1
        or (os.sep != "/" and os.sep in name)
        or name.endswith(SINGLE_FILE_SUFFIXES)
    )


# --- CLIP ------------------------------------------------------------------------------------------------

OPEN_CLIP_CONFIG = "open_clip_config.json"
CLIP_SUFFIXES = (".pt", ".pth", ".bin", ".safetensors")
OPEN_CLIP_WEIGHTS = ("open_clip_model.safetensors", "open_clip_pytorch_model.bin")


@dataclass(frozen=True)
class ClipSource:
    """What open_clip is given: a model name (built-in, ``local-dir:``) and weights (tag, file or none)."""

    model_name: str
    pretrained: str
    model_id: str  # the identity recorded with every embedding
    # create_model_and_transforms arguments from a tag's settings, given online and offline alike.
    options: tuple[tuple[str, object], ...] = ()


def clip_weights(settings: Settings) -> str:
    """The open_clip pretrained tag or checkpoint path; the demo's checkpoint must have been trained and shipped."""
    if settings.clip_model.startswith(("hf-hub:", "local-dir:")) or Path(settings.clip_model).expanduser().is_dir():
        return settings.clip_pretrained  # the folder or hub repo carries its weights
    if not settings.clip_pretrained:
        pretrained = settings.origin("clip_pretrained")
        raise ModelUnavailableError(
            f"{pretrained.source} is empty for model {settings.clip_model!r}: give an open_clip pretrained "
            "tag or the path of a checkpoint"
        )
    checkpoint = Path(settings.clip_pretrained).expanduser()
    if settings.clip_model == DEMO_CLIP_MODEL and not checkpoint.is_file():
        train = f"`python -m hotelcap_pipeline.demo.train_clip --out {checkpoint.parent}` (about 10 minutes on a CPU)"
        origin = settings.origin("clip_pretrained")
        if origin.profile:  # the shipped checkpoint's place: nobody named another
            raise MissingModelFileError(f"the demo CLIP checkpoint {checkpoint} is missing: train it with {train}")
        raise MissingModelFileError(
            f"{origin.given(settings.clip_pretrained)}: no such file; set it to a checkpoint of {DEMO_CLIP_MODEL} "
            f"(or leave it empty for the shipped one), or train one there with {train}"
        )
    return settings.clip_pretrained


def _weights_in(folder: Path) -> Path | None:
    return next((folder / n for n in OPEN_CLIP_WEIGHTS if (folder / n).is_file()), None)


# Ends the id of a folder or hub model: what its open_clip_config.json builds (architecture, preprocessing).
CONFIG_MARK = "+config:"


def _forced_preprocess(model_name: str) -> dict[str, object]:
    """The preprocessing ``load_clip`` gives over a folder's config (a shipped architecture's), as config keys."""
    from hotelcap_pipeline.tagging.clip_model import PREPROCESS_ARGS, preprocess_args

    args = preprocess_args(model_name)
    return {key: args[arg] for key, arg in PREPROCESS_ARGS.items() if arg in args}


def _config_digest(config_path: Path, forced: dict[str, object]) -> str:
    """A short hash of the config open_clip applies: the file's (formatting aside) with ``forced`` over its
    preprocess_cfg, as open_clip merges them. The weights' hash alone would let another architecture or
    preprocessing reuse embeddings made before."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ModelUnavailableError(f"{config_path}: not a readable open_clip config ({first_line(exc)})") from None
    if not isinstance(config, dict):
        raise ModelUnavailableError(f"{config_path}: not a readable open_clip config (not a JSON object)")
    if forced:
        config = {**config, "preprocess_cfg": {**(config.get("preprocess_cfg") or {}), **forced}}
    canonical = json.dumps(config, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:8]


def _local_dir_source(folder: Path, label: str, pretrained: Origin, forced: dict[str, object],
                      hub_name: str = "") -> ClipSource:
    """An open_clip folder, checked; its id is ``label`` and its weights' hash, or ``hub_name`` for a hub
    snapshot, whose repo name stands for its weights (not hashed again on every resolve), and the config's hash."""
    from hotelcap_pipeline.tagging.clip_model import file_sha256

    if not (folder / OPEN_CLIP_CONFIG).is_file():
        raise ModelUnavailableError(
            f"CLIP folder {folder} holds no {OPEN_CLIP_CONFIG}: give an open_clip hub snapshot folder "
            f"(with {OPEN_CLIP_CONFIG} and {OPEN_CLIP_WEIGHTS[0]}) or set {pretrained.setting} to a checkpoint file"
        )
    weights = _weights_in(folder)
    if weights is None:
        raise ModelUnavailableError(
            f"CLIP folder {folder} holds no weights ({' or '.join(OPEN_CLIP_WEIGHTS)})"
        )
    config = _config_digest(folder / OPEN_CLIP_CONFIG, forced)
    named = hub_name or f"{label}/sha256:{file_sha256(weights)[:12]}"
    return ClipSource(f"local-dir:{folder}", "", f"{named}{CONFIG_MARK}{config}")


def _hub_config(model_name: str, model_setting: str) -> Path:
    """The hub repo's open_clip_config.json, fetched (or found cached) as open_clip fetches it to build the model."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    try:
        return Path(hf_hub_download(model_name.removeprefix("hf-hub:"), OPEN_CLIP_CONFIG))
    except (OSError, ValueError, EntryNotFoundError) as exc:
        raise ModelUnavailableError(
            f"CLIP {model_name!r}: cannot fetch its {OPEN_CLIP_CONFIG} from the hub ({first_line(exc)}): set "
            f"{model_setting} to an open_clip repo on the hub or a local open_clip folder"
        ) from None


def _tag_file_in_cache(model_name: str, tag: str) -> Path | None:
    """The cached weights of an open_clip pretrained tag, looked up without the network."""
    from huggingface_hub import try_to_load_from_cache
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name, tag)
    if cfg.get("file"):
        return Path(cfg["file"])
    hub = cfg.get("hf_hub", "")
    if hub:
        from open_clip.pretrained import _get_safe_alternatives

        repo, filename = os.path.split(hub)
        filename = filename or "open_clip_pytorch_model.bin"
        for name in [*_get_safe_alternatives(filename), filename]:
            found = try_to_load_from_cache(repo, name)
            if isinstance(found, str):
                return Path(found)
    url = cfg.get("url", "")
    if url:
        candidate = Path("~/.cache/clip").expanduser() / os.path.basename(urlparse(url).path)
        if candidate.is_file():
            return candidate
    return None


def is_torchscript(path: Path) -> bool:
    """A TorchScript archive (how OpenAI's clip package stores its models): a zip holding constants.pkl, the
    mark torch itself goes by."""
    import zipfile

    try:
        with zipfile.ZipFile(path) as archive:
            return any(name.rpartition("/")[2] == "constants.pkl" for name in archive.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


TORCHSCRIPT_REFUSED = (
    "a TorchScript archive (as OpenAI's clip package saves its models), which carries code and is not loaded"
)


def _tag_options(model_name: str, tag: str) -> tuple[tuple[str, object], ...]:
    """What open_clip takes from a pretrained tag's config (normalisation, resizing, QuickGELU), as arguments."""
    from open_clip.pretrained import get_pretrained_cfg

    cfg = get_pretrained_cfg(model_name, tag)
    names = {"mean": "image_mean", "std": "image_std", "interpolation": "image_interpolation",
             "resize_mode": "image_resize_mode", "quick_gelu": "force_quick_gelu"}
    return tuple((arg, cfg[key]) for key, arg in names.items() if key in cfg)


def resolve_clip(model_name: str, pretrained: str, origins: Origins = ENVIRONMENT) -> ClipSource:
    """Where the CLIP comes from, checked before any download: a tag, a checkpoint, an open_clip folder
    (``local-dir:`` or a hub snapshot folder) or an ``hf-hub:`` repo (from the local cache when offline).
    ``origins`` says where the two came from (clip_model, clip_pretrained), for the errors."""
    import open_clip

    from hotelcap_pipeline.tagging.clip_model import clip_model_id, register_model_configs

    weights_origin = origins["clip_pretrained"]
    model_setting, weights_setting = origins["clip_model"].setting, weights_origin.setting
    forced = _forced_preprocess(model_name)
    if model_name.startswith("local-dir:"):
        folder = Path(model_name.removeprefix("local-dir:")).expanduser()
        return _local_dir_source(folder, folder.name, weights_origin, forced)
    if model_name.startswith("hf-hub:"):
        repo = model_name.removeprefix("hf-hub:")
        # The repo names its weights, as a tag does; its config is hashed, online and offline alike.
        if not hub_offline():
            config = _config_digest(_hub_config(model_name, model_setting), forced)
            return ClipSource(model_name, "", f"{model_name}{CONFIG_MARK}{config}")
        snapshot = cached_snapshot(repo)
        if snapshot is None:
            raise ModelUnavailableError(
                f"CLIP {model_name!r} is not in the local Hugging Face cache ({hf_cache_dir()}) and "
                f"{_offline_reason()}: "
                f"set {model_setting} to a local open_clip folder (with {OPEN_CLIP_CONFIG}), or HF_HOME to a "
                "cache that holds it"
            )
        return _local_dir_source(snapshot, model_name, weights_origin, forced, hub_name=model_name)
    for candidate in (model_name, pretrained):
        if candidate and Path(candidate).expanduser().is_dir():
            folder = Path(candidate).expanduser()
            return _local_dir_source(folder, folder.name, weights_origin, forced)
    register_model_configs()
    if model_name not in open_clip.list_models():
        raise ModelUnavailableError(
            f"unknown open_clip architecture {model_name!r}: set {model_setting} to one of "
            "open_clip.list_models(), an hf-hub:org/repo name or a local open_clip folder"
        )
    if not pretrained:
        raise ModelUnavailableError(
            f"no weights given for {model_name!r}: set {weights_setting} to a pretrained tag or a "
            "checkpoint path"
        )
    local = Path(pretrained).expanduser()
    if local.is_file():
        if is_torchscript(local):
            raise ModelUnavailableError(
                f"{weights_origin.source}={pretrained} is {TORCHSCRIPT_REFUSED}: set it to open_clip weights "
                f"(a state dict .pt/.bin or .safetensors) or to a pretrained tag of {model_name}"
            )
        return ClipSource(model_name, str(local), clip_model_id(model_name, pretrained))
    tags = open_clip.list_pretrained_tags_by_model(model_name)
    if pretrained not in tags:
        if "/" in pretrained or pretrained.startswith(("~", ".")) or Path(pretrained).suffix in CLIP_SUFFIXES:
            raise ModelUnavailableError(
                f"{weights_origin.source}={pretrained}: no such checkpoint file; set it to an open_clip "
                "checkpoint (.pt, .bin, .safetensors) or a pretrained tag of "
                f"{model_name} ({', '.join(tags) or 'none'})"
            )
        raise ModelUnavailableError(
            f"{pretrained!r} is neither a checkpoint file nor a pretrained tag of {model_name} "
            f"(tags: {', '.join(tags) or 'none'}): set {weights_setting}"
        )
    options = _tag_options(model_name, pretrained)
    if hub_offline():
        cached = _tag_file_in_cache(model_name, pretrained)
        if cached is None:
            raise ModelUnavailableError(
                f"CLIP {model_name}/{pretrained} is not in the local cache ({hf_cache_dir()}) and {_offline_reason()}: "
                f"set {weights_setting}=/path/to/open_clip_model.safetensors (or HF_HOME to a cache holding it)"
            )
        if is_torchscript(cached):
            # Only ~/.cache/clip can hold one: open_clip fetches these tags from the hub as plain weights.
            raise ModelUnavailableError(
                f"CLIP {model_name}/{pretrained}: the only local copy, {cached}, is {TORCHSCRIPT_REFUSED}, and "
                f"{_offline_reason()}: set {weights_setting}=/path/to/open_clip_model.safetensors (or HF_HOME "
                "to a cache holding the tag)"
            )
        return ClipSource(model_name, str(cached), clip_model_id(model_name, pretrained), options)
    # open_clip does not apply a tag's QuickGELU by itself: without the options the same id would name another network.
    return ClipSource(model_name, pretrained, clip_model_id(model_name, pretrained), options)


def clip_code_version(settings: Settings) -> str:
    """A short version of the CLIP the settings name, for ``image_embeddings``' code version: another model
    makes the embeddings (and what is computed from them) stale. A local file counts by path, size and
    modification time (cheap to read when the code location loads), a folder by its files so; a tag or hub
    name by itself."""
    parts = [settings.clip_model, settings.clip_pretrained]
    folder_or_hub = settings.clip_model.startswith("hf-hub:")
    for name in parts[:]:
        path = Path(name.removeprefix("local-dir:")).expanduser() if name else None
        if path is not None and path.exists():
            files = [path] if path.is_file() else sorted(p for p in path.iterdir() if p.is_file())
            parts += [f"{p.name}:{p.stat().st_size}:{p.stat().st_mtime_ns}" for p in files]
            folder_or_hub = folder_or_hub or path.is_dir()
    if folder_or_hub:
        # Their ids carry CONFIG_MARK, which stored ids from before it lack: re-embed those, as image_tags
        # would refuse them as another model's.
        parts.append(f"id{CONFIG_MARK}")
    return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:12]


def load_clip_by_id(model_id: str, settings: Settings, precision: str = "fp32") -> ClipModel:
    """The CLIP that made embeddings recorded as ``model_id``, found without the network.

    Tried in order: the settings' own model (when its id matches), the demo's shipped checkpoint, and
    ``<arch>/<tag>`` ids from the local cache. Anything else is a one-line error naming what to set.
    """
    from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT
    from hotelcap_pipeline.tagging.clip_model import load_clip

    candidates: list[tuple[str, str]] = [(settings.clip_model, settings.clip_pretrained)]
    if DEMO_CLIP_CHECKPOINT.is_file():
        candidates.append((DEMO_CLIP_MODEL, str(DEMO_CLIP_CHECKPOINT)))
    arch, _, weights = model_id.partition("/")
    if model_id.startswith("hf-hub:"):
        candidates.append((model_id.partition(CONFIG_MARK)[0], ""))
    elif weights and not weights.startswith("sha256:"):
        candidates.append((arch, weights))
    for name, pretrained in candidates:
        try:
            source = resolve_clip(name, pretrained)
        except ModelUnavailableError:
            continue
        if source.model_id == model_id:
            return load_clip(name, pretrained, settings.device, precision=precision)
    raise ModelUnavailableError(
        f"the stored embeddings were made by {model_id!r}, which is not available locally: set "
        "HOTELCAP_CLIP_MODEL and HOTELCAP_CLIP_PRETRAINED to that model (a checkpoint path, or a tag in the local "
        "cache), or re-embed with `hotelcap materialize --select image_embeddings`"
    )


# --- diffusion ---------------------------------------------------------------------------------------------

DiffusionKind = Literal["folder", "single_file", "hub"]
WEIGHT_SUFFIXES = (".safetensors", ".bin")


@dataclass(frozen=True)
class DiffusionSource:
    """Where a diffusion model is loaded from; ``name`` is what the user gave and what tables record."""

    name: str
    location: str
    kind: DiffusionKind
    variant: str | None = None


def _folder_variant(folder: Path, prefer_half: bool) -> str | None:
    """``fp16`` when the folder's weights exist only as ``*.fp16.*`` files, or in both forms and half is wanted."""
    weights = [p for p in folder.rglob("*") if p.suffix in WEIGHT_SUFFIXES and p.is_file()]
    half = [p for p in weights if p.name.split(".")[-2:-1] == ["fp16"]]
    full = [p for p in weights if p not in half]
    if half and (not full or prefer_half):
        return "fp16"
    return None


def resolve_diffusion(model: str, origin: Origin, *, prefer_half: bool = False) -> DiffusionSource:
    """Check that ``model`` (a diffusers folder, a single-file checkpoint or a hub id) can be loaded here,
    without loading it. ``origin``: where ``model`` came from, named in the error."""
    named = f"{origin.source}={model}"
    if not model:
        raise ModelUnavailableError(
            f"{origin.source} is empty: set it to a diffusers folder, a checkpoint file or a hub id")
    path = Path(model).expanduser()
    if path.is_file():
        if path.suffix not in SINGLE_FILE_SUFFIXES:
            raise ModelUnavailableError(
                f"{named}: a file, but not a single-file checkpoint ({', '.join(SINGLE_FILE_SUFFIXES)})"
            )
        return DiffusionSource(model, str(path), "single_file")
    if path.is_dir():
        if not (path / "model_index.json").is_file() and not (path / "config.json").is_file():
            raise ModelUnavailableError(
                f"{named}: the folder holds neither model_index.json (a diffusers pipeline) nor "
                "config.json (a diffusers model); give the diffusers folder itself or a .safetensors/.ckpt file"
            )
        return DiffusionSource(model, str(path), "folder", _folder_variant(path, prefer_half))
    if looks_like_path(model):
        raise ModelUnavailableError(
            f"{named}: no such file or folder; set it to a local diffusers folder, a single-file "
            "checkpoint (.safetensors, .ckpt) or a hub id"
        )
    if hub_offline():
        snapshot = cached_snapshot(model)
        if snapshot is None:
            raise ModelUnavailableError(
                f"{named}: not in the local Hugging Face cache ({hf_cache_dir()}) and {_offline_reason()}; "
                "set it to a local diffusers folder or single-file checkpoint (.safetensors, .ckpt), or HF_HOME to a "
                "cache that holds it"
            )
        return DiffusionSource(model, str(snapshot), "folder", _folder_variant(snapshot, prefer_half))
    return DiffusionSource(model, model, "hub", "fp16" if prefer_half else None)


def diffusion_sources(settings: Settings, ip2p_model: str, controlnet_model: str) -> tuple[str, str, str]:
    """(img2img, InstructPix2Pix, ControlNet) model ids or folders; a demo model's name (the demo profile's
    defaults) is its folder under the store's models/, built on first use."""
    from hotelcap_pipeline.demo.tiny_diffusion import ensure_tiny_controlnet, ensure_tiny_ip2p, ensure_tiny_sd

    builders = {DEMO_DIFFUSION_MODEL: ensure_tiny_sd, DEMO_IP2P_MODEL: ensure_tiny_ip2p,
                DEMO_CONTROLNET_MODEL: ensure_tiny_controlnet}

    def source(model: str) -> str:
        build = builders.get(model)
        return model if build is None else str(build(DataStore.at(settings.data_store).models))

    return source(settings.diffusion_model), source(ip2p_model), source(controlnet_model)
