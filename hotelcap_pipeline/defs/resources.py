"""Dagster resources: run settings, and the heavy models, loaded once per process.

Field defaults come from the HOTELCAP_* environment variables when the code location loads; the
Launchpad (or ``--config-json``) can override any of them for one run.
"""

from __future__ import annotations

import functools
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from hotelcap_pipeline.models import clip_weights, diffusion_sources
from hotelcap_pipeline.settings import DEFAULT_CONTROLNET_MODEL, DEFAULT_IP2P_MODEL, Settings, load_settings
from hotelcap_pipeline.store import DataStore

# The CLIP autocast choices (tagging.clip_model's PRECISIONS), named here so the config offers only these.
Precision = Literal["fp32", "bf16", "fp16"]

# Read once when the code location loads: the defaults every resource and asset config shows.
ENV_DEFAULTS = load_settings()


def seed_field(what: str) -> Any:
    """An asset config's optional seed: unset, the asset takes the run's seed from the settings resource."""
    return Field(default=None, ge=0, description=f"Seed of {what}; default: the settings resource's seed.")


class HotelcapSettings(dg.ConfigurableResource):
    """Profile, data store and dataset source for a run (see the README's table of variables)."""

    profile: str = ENV_DEFAULTS.profile
    data_store: str = ENV_DEFAULTS.data_store
    dataset: str = ENV_DEFAULTS.dataset
    device: str = ENV_DEFAULTS.device
    n_hotels: int = Field(default=ENV_DEFAULTS.n_hotels, ge=1, description="Hotels to sample (HOTELCAP_N_HOTELS).")
    seed: int = Field(
        default=ENV_DEFAULTS.seed, ge=0,
        description="Seed of every random choice: the sample, k-modes, the edit picks and validation rooms, the "
        "portrait (HOTELCAP_SEED). An asset's own seed config, when set, wins for that asset.",
    )
    insecure_hosts: list[str] = Field(default_factory=lambda: list(ENV_DEFAULTS.insecure_hosts))
    labels: str = Field(
        default=ENV_DEFAULTS.labels,
        description="CSV of image_id,tags (';'-separated vocabulary words): known truth for tag_evaluation "
        "(HOTELCAP_LABELS); empty: tags are not measured against truth.",
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
    """The open_clip model (HOTELCAP_CLIP_MODEL + HOTELCAP_CLIP_PRETRAINED), loaded on first use."""

    model_name: str = ENV_DEFAULTS.clip_model
    pretrained: str = ENV_DEFAULTS.clip_pretrained
    precision: Precision = "fp32"
    batch_size: int = 64
    workers: int = 2

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

    model: str = ENV_DEFAULTS.diffusion_model
    ip2p_model: str = DEFAULT_IP2P_MODEL
    controlnet_model: str = DEFAULT_CONTROLNET_MODEL
    attention_slicing: bool | None = None
    max_side: int = Field(default=256 if ENV_DEFAULTS.is_demo else 512, description="Longer side of the edits, px.")

    def get(self, settings: HotelcapSettings) -> Any:
        s = settings.settings().with_overrides(diffusion_model=self.model)
        sources = diffusion_sources(s, self.ip2p_model, self.controlnet_model)
        return _load_diffusion(*sources, s.device, self.attention_slicing)


@functools.cache
def _load_diffusion(model: str, ip2p: str, controlnet: str, device: str, attention_slicing: bool | None) -> Any:
    from hotelcap_pipeline.edits.pipeline import DiffusionEditors

    return DiffusionEditors(model, ip2p_model=ip2p, controlnet_model=controlnet, device=device,
                            attention_slicing=attention_slicing)
