"""Run settings from the HOTELCAP_* environment variables (the README's table of variables).

Environment variables give the defaults; Dagster run config overrides them per run
(see ``hotelcap_pipeline.defs.resources``).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ASSETS_DIR = PROJECT_ROOT / "assets"
DEMO_DIR = ASSETS_DIR / "demo"

PROFILES = ("hotels50k", "demo")
UPSTREAM_DATASET_URL = "https://github.com/GWUvision/Hotels-50K/raw/master/input/dataset.tar.gz"
DEFAULT_CLIP_MODEL = "ViT-B-32"
DEFAULT_CLIP_PRETRAINED = "laion2b_s34b_b79k"
DEFAULT_DIFFUSION_MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
# The structure-preserving edit modes' models (edit series with mode instruct-pix2pix / controlnet).
DEFAULT_IP2P_MODEL = "timbrooks/instruct-pix2pix"
DEFAULT_CONTROLNET_MODEL = "lllyasviel/control_v11p_sd15_canny"
# The demo profile's CLIP is trained on the synthetic world and shipped (python -m hotelcap_pipeline.demo.train_clip);
# its diffusion models are built locally (hotelcap_pipeline.demo.tiny_diffusion) under data_store/models/.
DEMO_CLIP_MODEL = "hotelcap-world-clip"
DEMO_CLIP_CHECKPOINT = DEMO_DIR / "models" / f"{DEMO_CLIP_MODEL}.pt"
DEMO_DIFFUSION_MODEL = "hotelcap-tiny-sd"
DEMO_IP2P_MODEL = "hotelcap-tiny-ip2p"
DEMO_CONTROLNET_MODEL = "hotelcap-tiny-controlnet"


def _env(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, or ``default`` when it is unset or blank."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or default


@dataclass(frozen=True)
class Origin:
    """Where a setting's value came from, as a message names it. ``setting`` is what the user sets to change it:
    the run config's field (``resources.<key>.config.<field>``) for a value given there, else the variable;
    ``profile`` marks a value nobody set, that profile's default."""

    setting: str
    profile: str = ""

    @property
    def source(self) -> str:
        return f"the {self.profile} profile's default {self.setting}" if self.profile else self.setting

    def given(self, value: object) -> str:
        """``<source>=<value!r>``: how a message names a value to change."""
        return f"{self.source}={value!r}"


@dataclass(frozen=True)
class Origins:
    """Origins by Settings field, hashable for the cached model loaders; a field not listed came from its
    variable (so code that builds no Settings, and the environment, keep the variables' names)."""

    by_field: tuple[tuple[str, Origin], ...] = ()

    def __getitem__(self, name: str) -> Origin:
        return dict(self.by_field).get(name) or Origin(ENV_VARS[name])

    def only(self, *names: str) -> Origins:
        """These fields' origins alone: a loader cached on them reloads for nothing else."""
        return Origins(tuple((name, self[name]) for name in names))


# Every value from its variable: what code given no Settings names.
ENVIRONMENT = Origins()


@dataclass(frozen=True)
class Settings:
    profile: str = "hotels50k"
    data_store: str = "./data_store"
    dataset: str = UPSTREAM_DATASET_URL
    n_hotels: int = 10
    seed: int = 0
    clip_model: str = DEFAULT_CLIP_MODEL
    clip_pretrained: str = DEFAULT_CLIP_PRETRAINED
    diffusion_model: str = DEFAULT_DIFFUSION_MODEL
    device: str = "auto"
    insecure_hosts: tuple[str, ...] = field(default_factory=tuple)
    # CSV of image_id,tags (known truth) for tag_evaluation; empty: nothing to measure against.
    labels: str = ""
    ip2p_model: str = DEFAULT_IP2P_MODEL
    controlnet_model: str = DEFAULT_CONTROLNET_MODEL
    # Diffusion weights' precision: auto (half with an fp32 VAE on cuda/mps, fp32 on cpu), fp32, fp16, bf16.
    precision: str = "auto"
    # Folders a remote dataset's rows may name local files under ("/" for anywhere); empty: refused.
    allow_local_files: tuple[str, ...] = field(default_factory=tuple)
    # The upstream test photos (test.tar.lz4, by URL or path, or a folder holding images/test/); empty: none.
    test_photos: str = ""
    # Where each value came from, for messages; not part of what the settings are.
    origins: Origins = field(default_factory=Origins, compare=False, repr=False)

    def origin(self, name: str) -> Origin:
        return self.origins[name]

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _default_clip_pretrained(demo: bool, clip_model: str) -> str:
    """The demo's shipped checkpoint for the demo's architecture; any other model in the demo needs its own."""
    if not demo:
        return DEFAULT_CLIP_PRETRAINED
    return str(DEMO_CLIP_CHECKPOINT) if clip_model == DEMO_CLIP_MODEL else ""


DIFFUSION_PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def _precision(value: str, origins: Mapping[str, Origin]) -> str:
    if value not in DIFFUSION_PRECISIONS:
        raise ValueError(f"{origins['precision'].given(value)}: expected one of {', '.join(DIFFUSION_PRECISIONS)}")
    return value


def load_settings(environ: Mapping[str, str] | None = None, run: Mapping[str, str] | None = None) -> Settings:
    """Read the HOTELCAP_* variables; the profile decides the defaults of the others. ``run`` holds values the
    run gives (by Settings field, as text), each in place of its variable; messages name where a value came from."""
    env = os.environ if environ is None else environ
    given = run or {}
    origins: dict[str, Origin] = {}
    profile = ""  # known once read: the origin of a default names it

    def get(name: str, default: str) -> str:
        variable = ENV_VARS[name]
        if name in given:  # a blank run value means the default, as a blank variable does
            value, origin = given[name].strip(), Origin(RUN_CONFIG_FIELDS[name])
        else:
            value, origin = _env(variable, "", env), Origin(variable)
        # Unset: the profile's default (the profile's own default is a profile).
        origins[name] = origin if value else Origin(variable, profile or default)
        return value or default

    profile = get("profile", "hotels50k")
    if profile not in PROFILES:
        raise ValueError(f"{origins['profile'].given(profile)}: expected one of {', '.join(PROFILES)}")
    demo = profile == "demo"
    try:
        n_hotels = int(get("n_hotels", "10"))
        seed = int(get("seed", "0"))
    except ValueError as exc:  # a default is never the bad one: these name what to set
        named = f"{origins['n_hotels'].setting} and {origins['seed'].setting}"
        raise ValueError(f"{named} must be integers: {exc}") from None
    if n_hotels < 1:
        raise ValueError(f"{origins['n_hotels'].setting} must be at least 1, got {n_hotels}")
    if seed < 0:
        raise ValueError(f"{origins['seed'].setting} must be 0 or more, got {seed}")
    clip_model = get("clip_model", DEMO_CLIP_MODEL if demo else DEFAULT_CLIP_MODEL)
    return Settings(
        profile=profile,
        data_store=get("data_store", "./data_store"),
        dataset=get("dataset", str(DEMO_DIR / "dataset") if demo else UPSTREAM_DATASET_URL),
        n_hotels=n_hotels,
        seed=seed,
        clip_model=clip_model,
        clip_pretrained=get("clip_pretrained", _default_clip_pretrained(demo, clip_model)),
        diffusion_model=get("diffusion_model", DEMO_DIFFUSION_MODEL if demo else DEFAULT_DIFFUSION_MODEL),
        device=get("device", "auto"),
        insecure_hosts=tuple(h.strip().lower() for h in get("insecure_hosts", "").split(",") if h.strip()),
        labels=get("labels", str(DEMO_DIR / "labels.csv") if demo else ""),
        ip2p_model=get("ip2p_model", DEMO_IP2P_MODEL if demo else DEFAULT_IP2P_MODEL),
        controlnet_model=get("controlnet_model", DEMO_CONTROLNET_MODEL if demo else DEFAULT_CONTROLNET_MODEL),
        precision=_precision(get("precision", "auto"), origins),
        allow_local_files=parse_allow_local_files(_env("HOTELCAP_ALLOW_LOCAL_FILES", "", env)),
        test_photos=get("test_photos", ""),
        origins=Origins(tuple(origins.items())),  # last: after every get()
    )


# The variable behind each setting a run can override: run config goes through the same parsing and checks.
ENV_VARS = {
    "profile": "HOTELCAP_PROFILE",
    "data_store": "HOTELCAP_DATA_STORE",
    "dataset": "HOTELCAP_DATASET",
    "device": "HOTELCAP_DEVICE",
    "n_hotels": "HOTELCAP_N_HOTELS",
    "seed": "HOTELCAP_SEED",
    "insecure_hosts": "HOTELCAP_INSECURE_HOSTS",
    "labels": "HOTELCAP_LABELS",
    "clip_model": "HOTELCAP_CLIP_MODEL",
    "clip_pretrained": "HOTELCAP_CLIP_PRETRAINED",
    "diffusion_model": "HOTELCAP_DIFFUSION_MODEL",
    "ip2p_model": "HOTELCAP_IP2P_MODEL",
    "controlnet_model": "HOTELCAP_CONTROLNET_MODEL",
    "precision": "HOTELCAP_PRECISION",
    "test_photos": "HOTELCAP_TEST_PHOTOS",
}

# Where the run config sets each of them (definitions.py's resource key, then the resource's field): what a
# message names for a value given there, since the variable is then not what the run used.
RUN_CONFIG_FIELDS = {
    **{name: f"resources.settings.config.{name}" for name in (
        "profile", "data_store", "dataset", "device", "n_hotels", "seed", "insecure_hosts", "labels", "test_photos")},
    "clip_model": "resources.clip.config.model_name",
    "clip_pretrained": "resources.clip.config.pretrained",
    "diffusion_model": "resources.diffusion.config.model",
    "ip2p_model": "resources.diffusion.config.ip2p_model",
    "controlnet_model": "resources.diffusion.config.controlnet_model",
    "precision": "resources.diffusion.config.precision",
}


# Read where they are used, not by load_settings: the local cache, the Celery executor, the report link.
OTHER_VARIABLES = ("HOTELCAP_ALLOW_LOCAL_FILES", "HOTELCAP_CACHE_DIR", "HOTELCAP_CELERY_BROKER",
                   "HOTELCAP_CELERY_BACKEND", "HOTELCAP_REPORT_URL")
_PREFIX = "HOTELCAP_"
KNOWN_VARIABLES = frozenset((*ENV_VARS.values(), *OTHER_VARIABLES))


def unknown_variables(environ: Mapping[str, str] | None = None) -> list[str]:
    """One warning per HOTELCAP_* variable that nothing reads: a misspelt name would be ignored silently."""
    env = os.environ if environ is None else environ
    # Compared without the common prefix, which would make every name look close.
    known = [k.removeprefix(_PREFIX) for k in sorted(KNOWN_VARIABLES)]
    warnings = []
    for name in sorted(n for n in env if n.startswith(_PREFIX) and n not in KNOWN_VARIABLES):
        close = difflib.get_close_matches(name.removeprefix(_PREFIX), known, n=1)
        hint = f" (did you mean {_PREFIX}{close[0]}?)" if close else ""
        warnings.append(f"warning: {name} is not a hotelcap setting and is ignored{hint}")
    return warnings


def settings_with(overrides: Mapping[str, Any], environ: Mapping[str, str] | None = None) -> Settings:
    """The environment's settings with some given by the run (None: not given). They pass through
    ``load_settings`` in place of their variables, so a run that switches the profile also gets that
    profile's defaults for everything it does not set, every value meets the same checks, and a message
    about one names the run config's field."""
    run: dict[str, str] = {}
    for name, value in overrides.items():
        if isinstance(value, Enum):
            value = value.value
        if value is not None:
            run[name] = ",".join(value) if isinstance(value, list | tuple) else str(value)
    return load_settings(environ, run)


def parse_allow_local_files(value: str) -> tuple[str, ...]:
    """HOTELCAP_ALLOW_LOCAL_FILES: empty or 0 refuses, 1 allows any folder, else folders joined by os.pathsep."""
    value = value.strip()
    if value.lower() in ("", "0", "false", "no"):
        return ()
    if value.lower() in ("1", "true", "yes"):
        return ("/",)
    folders = tuple(p.strip() for p in value.split(os.pathsep) if p.strip())
    missing = [f for f in folders if not Path(f).expanduser().is_dir()]
    if missing:
        raise ValueError(f"HOTELCAP_ALLOW_LOCAL_FILES={value!r}: not a folder: {', '.join(missing)} "
                         f"(give 1, or folders separated by {os.pathsep!r})")
    return tuple(str(Path(f).expanduser().resolve()) for f in folders)


def default_dagster_home() -> Path:
    return PROJECT_ROOT / ".dagster_home"


# The instance config hotelcap writes when DAGSTER_HOME has none (a file of the user's own is never touched).
DAGSTER_YAML = """\
# Written by hotelcap because DAGSTER_HOME had no dagster.yaml; edit freely, it is not rewritten.
telemetry:
  enabled: false
# Steps in Dagster pool "gpu" (image_embeddings, diffusion_edits, visitor_portrait) run one at a time on
# this machine, also when a UI backfill launches one run per shard: each loads a model onto the device.
# So do those in pool "photos" (hotel_images): one shard's download already uses every core.
concurrency:
  pools:
    default_limit: 1
    granularity: op
# Sensor and schedule ticks (not runs) are purged: the input sensor evaluates once a minute.
retention:
  schedule:
    purge_after_days: 90
  sensor:
    purge_after_days:
      skipped: 1
      failure: 30
      success: 30
"""
# What earlier versions wrote: upgraded in place, since nobody chose it.
_OLD_DAGSTER_YAML = "telemetry:\n  enabled: false\n"


def unusable_folder(origin: Origin, folder: Path, exc: OSError, role: str) -> str:
    """The one line for a folder a setting names that cannot be created or written."""
    why = "it is a file" if folder.is_file() else exc.strerror or str(exc)
    return (f"{origin.source}={folder}: cannot use it as {role} ({why}); "
            f"set {origin.setting} to a folder this user can write")


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to .dagster_home in the checkout so run history survives restarts; its
    dagster.yaml, when absent, runs each pool (gpu, photos) one step at a time. A folder that cannot be used raises
    ValueError naming DAGSTER_HOME."""
    home = Path(_env("DAGSTER_HOME", str(default_dagster_home()))).resolve()
    config = home / "dagster.yaml"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not config.exists() or config.read_text() == _OLD_DAGSTER_YAML:
            config.write_text(DAGSTER_YAML)
    except OSError as exc:
        raise ValueError(unusable_folder(Origin("DAGSTER_HOME"), home, exc, "Dagster's folder")) from None
    os.environ["DAGSTER_HOME"] = str(home)
    return home


class DeviceError(ValueError):
    """The device setting names a device torch does not know, or one this machine does not have."""


def resolve_device(requested: str = "auto", origin: Origin | None = None) -> str:
    """`auto` picks cuda, then mps, then cpu; anything else must be a torch device this machine has. ``origin``:
    where ``requested`` came from, for the error (default: HOTELCAP_DEVICE)."""
    import torch

    if requested == "auto":
        if torch.cuda.is_available():
            return "cuda"
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return "mps"
        return "cpu"
    origin = origin or ENVIRONMENT["device"]
    given, hint = origin.given(requested), f"set {origin.setting}=auto (cuda, then mps, then cpu) or cpu"
    try:
        device = torch.device(requested)
    except (RuntimeError, ValueError):
        raise DeviceError(f"{given} is not a torch device (cpu, cuda, cuda:1, mps); {hint}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (device.index is not None and device.index >= count):
            raise DeviceError(f"{given}, but torch sees {count} CUDA device(s) here; {hint}")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise DeviceError(f"{given}, but torch has no MPS device here; {hint}")
    return requested
