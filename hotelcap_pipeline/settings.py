"""Run settings from the HOTELCAP_* environment variables (the README's table of variables).

Environment variables give the defaults; Dagster run config overrides them per run
(see ``hotelcap_pipeline.defs.resources``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

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


def _env(name: str, default: str, environ: Mapping[str, str] | None = None) -> str:
    """The variable's value, or ``default`` when it is unset or blank."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or default


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

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _default_clip_pretrained(demo: bool, clip_model: str) -> str:
    """The demo's shipped checkpoint for the demo's architecture; any other model in the demo needs its own."""
    if not demo:
        return DEFAULT_CLIP_PRETRAINED
    return str(DEMO_CLIP_CHECKPOINT) if clip_model == DEMO_CLIP_MODEL else ""


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    """Read the HOTELCAP_* variables; the profile decides the defaults of the others."""
    env = os.environ if environ is None else environ

    def get(name: str, default: str) -> str:
        return _env(name, default, env)

    profile = get("HOTELCAP_PROFILE", "hotels50k")
    if profile not in PROFILES:
        raise ValueError(f"HOTELCAP_PROFILE={profile!r}: expected one of {', '.join(PROFILES)}")
    demo = profile == "demo"
    try:
        n_hotels = int(get("HOTELCAP_N_HOTELS", "10"))
        seed = int(get("HOTELCAP_SEED", "0"))
    except ValueError as exc:
        raise ValueError(f"HOTELCAP_N_HOTELS and HOTELCAP_SEED must be integers: {exc}") from None
    if n_hotels < 1:
        raise ValueError(f"HOTELCAP_N_HOTELS must be at least 1, got {n_hotels}")
    clip_model = get("HOTELCAP_CLIP_MODEL", DEMO_CLIP_MODEL if demo else DEFAULT_CLIP_MODEL)
    return Settings(
        profile=profile,
        data_store=get("HOTELCAP_DATA_STORE", "./data_store"),
        dataset=get("HOTELCAP_DATASET", str(DEMO_DIR / "dataset") if demo else UPSTREAM_DATASET_URL),
        n_hotels=n_hotels,
        seed=seed,
        clip_model=clip_model,
        clip_pretrained=get("HOTELCAP_CLIP_PRETRAINED", _default_clip_pretrained(demo, clip_model)),
        diffusion_model=get("HOTELCAP_DIFFUSION_MODEL", DEMO_DIFFUSION_MODEL if demo else DEFAULT_DIFFUSION_MODEL),
        device=get("HOTELCAP_DEVICE", "auto"),
        insecure_hosts=tuple(
            h.strip().lower() for h in get("HOTELCAP_INSECURE_HOSTS", "").split(",") if h.strip()
        ),
        labels=get("HOTELCAP_LABELS", str(DEMO_DIR / "labels.csv") if demo else ""),
    )


def default_dagster_home() -> Path:
    return PROJECT_ROOT / ".dagster_home"


def ensure_dagster_home() -> Path:
    """DAGSTER_HOME defaults to .dagster_home in the checkout so run history survives restarts."""
    home = Path(_env("DAGSTER_HOME", str(default_dagster_home()))).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def resolve_device(requested: str = "auto") -> str:
    """`auto` picks cuda, then mps, then cpu; anything else is passed to torch as is."""
    if requested != "auto":
        return requested
    import torch

    if torch.cuda.is_available():
        return "cuda"
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return "mps"
    return "cpu"
