"""Dagster resources: run settings, and the heavy models, loaded once per process.

Field defaults come from the HOTELCAP_* environment variables when the code location loads; the
Launchpad (or ``--config-json``) can override any of them for one run.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from hotelcap_pipeline.models import clip_weights, diffusion_sources
from hotelcap_pipeline.settings import Settings, load_settings
from hotelcap_pipeline.store import DataStore, is_remote

# The CLIP autocast choices (tagging.clip_model's PRECISIONS), named here so the config offers only these.
Precision = Literal["fp32", "bf16", "fp16"]
Profile = Literal["hotels50k", "demo"]

# Read once when the code location loads: the defaults every resource and asset config shows.
ENV_DEFAULTS = load_settings()


def seed_field(what: str) -> Any:
    """An asset config's optional seed: unset, the asset takes the run's seed from the settings resource."""
    return Field(default=None, ge=0, description=f"Seed of {what}; default: the settings resource's seed.")


def _absolute_store(spec: str) -> str:
    """A local data store as an absolute path, so the Launchpad shows where a run writes."""
    return spec if is_remote(spec) else str(Path(spec.removeprefix("file://")).expanduser().resolve())


class HotelcapSettings(dg.ConfigurableResource):
    """The run's parameters: profile, data store, dataset, device, sample size and seed. Defaults come from
    the HOTELCAP_* environment variables of the process that loaded the code location; a value set here (the
    Launchpad, --config-json) overrides it for one run."""

    profile: Profile = Field(
        default=ENV_DEFAULTS.profile,  # type: ignore[arg-type]
        description="hotels50k: the real dataset and pretrained models (network on first use); demo: the "
        "embedded synthetic world and its small models, offline (HOTELCAP_PROFILE).",
    )
    data_store: str = Field(
        default=_absolute_store(ENV_DEFAULTS.data_store),
        description="Root of everything the pipeline writes: a local folder or an fsspec URL such as "
        "s3://bucket/prefix (HOTELCAP_DATA_STORE).",
    )
    dataset: str = Field(
        default=ENV_DEFAULTS.dataset,
        description="URL or local path of a Hotels-50K-format metadata archive (.tar.gz, .zip) or a folder of "
        "the four CSVs (HOTELCAP_DATASET).",
    )
    device: str = Field(
        default=ENV_DEFAULTS.device,
        description="Torch device of the models: auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps "
        "(HOTELCAP_DEVICE).",
    )
    n_hotels: int = Field(default=ENV_DEFAULTS.n_hotels, ge=1, description="Hotels to sample (HOTELCAP_N_HOTELS).")
    seed: int = Field(
        default=ENV_DEFAULTS.seed, ge=0,
        description="Seed of every random choice: the sample, k-modes, the edit picks and validation rooms, the "
        "portrait (HOTELCAP_SEED). An asset's own seed config, when set, wins for that asset.",
    )
    insecure_hosts: list[str] = Field(
        default_factory=lambda: list(ENV_DEFAULTS.insecure_hosts),
        description="Hosts whose TLS certificates are not verified, each named on purpose "
        "(HOTELCAP_INSECURE_HOSTS); empty: every certificate is verified.",
    )
    labels: str = Field(
        default=ENV_DEFAULTS.labels,
        description="CSV of image_id,tags (';'-separated vocabulary words): known truth for tag_evaluation "
        "(HOTELCAP_LABELS); empty: tags are not measured against truth.",
    )
    min_ok_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of photos that must be ok, or the photo stage's blocking check fails the run.",
    )

    def settings(self) -> Settings:
        return ENV_DEFAULTS.with_overrides(
            profile=self.profile,
            data_store=self.data_store,
            dataset=self.dataset,
            device=self.device,
            n_hotels=self.n_hotels,
            seed=self.seed,
            insecure_hosts=tuple(self.insecure_hosts),
            labels=self.labels,
        )

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"

    def seed_for(self, override: int | None) -> int:
        """An asset's seed: its own config value when given, else the run's seed."""
        return self.seed if override is None else override

    def store(self) -> DataStore:
        return DataStore.at(self.data_store)


class ClipResource(dg.ConfigurableResource):
    """The open_clip model (HOTELCAP_CLIP_MODEL + HOTELCAP_CLIP_PRETRAINED), loaded on first use, once per
    process."""

    model_name: str = Field(
        default=ENV_DEFAULTS.clip_model, description="open_clip architecture, e.g. ViT-B-32 (HOTELCAP_CLIP_MODEL)."
    )
    pretrained: str = Field(
        default=ENV_DEFAULTS.clip_pretrained,
        description="open_clip pretrained tag (e.g. laion2b_s34b_b79k) or a local checkpoint file "
        "(HOTELCAP_CLIP_PRETRAINED).",
    )
    precision: Precision = Field(
        default="fp32", description="Autocast precision of the forward pass: fp32, bf16 or fp16 (GPU only)."
    )
    batch_size: int = Field(default=64, ge=1, description="Photos per forward pass.")
    workers: int = Field(default=2, ge=1, description="Threads decoding photos while the model runs.")

    def get(self, settings: HotelcapSettings) -> Any:
        """The model for this run's settings (the demo loads its shipped checkpoint)."""
        s = settings.settings().with_overrides(clip_model=self.model_name, clip_pretrained=self.pretrained)
        return _load_clip(s.clip_model, clip_weights(s), s.device, self.precision)


@functools.cache
def _load_clip(model_name: str, weights: str, device: str, precision: Precision) -> Any:
    # Cached per process: every asset (and every run of an in-process executor) shares one model.
    from hotelcap_pipeline.tagging.clip_model import load_clip

    return load_clip(model_name, weights, device, precision=precision)


class DiffusionResource(dg.ConfigurableResource):
    """The diffusers pipelines (HOTELCAP_DIFFUSION_MODEL and the structure-preserving modes' models),
    each loaded with from_pretrained on first use, once per process."""

    model: str = Field(
        default=ENV_DEFAULTS.diffusion_model,
        description="Stable Diffusion 1.5 img2img: diffusers model id or local folder (HOTELCAP_DIFFUSION_MODEL).",
    )
    ip2p_model: str = Field(default=ENV_DEFAULTS.ip2p_model, description="InstructPix2Pix (HOTELCAP_IP2P_MODEL).")
    controlnet_model: str = Field(
        default=ENV_DEFAULTS.controlnet_model, description="ControlNet-canny for SD 1.5 (HOTELCAP_CONTROLNET_MODEL)."
    )
    precision: Literal["auto", "fp32", "fp16", "bf16"] = Field(
        default=ENV_DEFAULTS.precision,  # type: ignore[arg-type]
        description="auto: fp16 with an fp32 VAE on cuda/mps, fp32 on cpu (HOTELCAP_PRECISION).",
    )
    attention_slicing: bool | None = Field(
        default=None, description="Compute attention in slices (less memory, slower); unset: on for mps only."
    )
    max_side: int = Field(
        default=256 if ENV_DEFAULTS.is_demo else 512, ge=64, description="Longer side of the edits, px."
    )

    def get(self, settings: HotelcapSettings) -> Any:
        s = settings.settings().with_overrides(diffusion_model=self.model)
        sources = diffusion_sources(s, self.ip2p_model, self.controlnet_model)
        return _load_diffusion(*sources, s.device, self.precision, self.attention_slicing)


@functools.cache
def _load_diffusion(
    model: str, ip2p: str, controlnet: str, device: str, precision: str, attention_slicing: bool | None
) -> Any:
    from hotelcap_pipeline.edits.pipeline import DiffusionEditors

    return DiffusionEditors(model, ip2p_model=ip2p, controlnet_model=controlnet, device=device,
                            precision=precision, attention_slicing=attention_slicing)
