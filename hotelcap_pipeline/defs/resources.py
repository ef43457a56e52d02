"""Dagster resources: run settings, and the heavy models, loaded once per process.

One source of values: ``settings.load_settings`` reads the HOTELCAP_* variables (and the profile's
defaults) when a run starts, not when the code location loads. A field set here (the Launchpad,
``--config-json``) overrides its variable for one run and meets the same checks, and a message about it
names the field (``resources.settings.config.device``), not the variable; a field left empty takes the variable.
"""

from __future__ import annotations

import enum
import threading
from typing import Any, Literal

import dagster as dg
from pydantic import Field

from hotelcap_pipeline.models import clip_weights, diffusion_sources
from hotelcap_pipeline.settings import Origins, Settings, settings_with
from hotelcap_pipeline.store import DataStore

# The CLIP autocast choices (tagging.clip_model's PRECISIONS), named here so the config offers only these.
Precision = Literal["fp32", "bf16", "fp16"]


# Enums, not Literals: Dagster's config can make an Enum optional (empty: take the environment's value).
class Profile(enum.Enum):
    hotels50k = "hotels50k"
    demo = "demo"


class DiffusionPrecision(enum.Enum):
    auto = "auto"
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"



def seed_field(what: str) -> Any:
    """An asset config's optional seed: unset, the asset takes the run's seed from the settings resource."""
    return Field(default=None, ge=0, description=f"Seed of {what}; default: the settings resource's seed.")


class HotelcapSettings(dg.ConfigurableResource):
    """The run's parameters: profile, data store, dataset, test photos, device, sample size and seed. A field left empty
    takes its HOTELCAP_* variable (or the profile's default) when the run starts; a value set here (the
    Launchpad, --config-json) overrides it for this run."""

    profile: Profile | None = Field(
        default=None,
        description="hotels50k: the real dataset and pretrained models (network on first use); demo: the "
        "embedded synthetic world and its small models, offline. Empty: HOTELCAP_PROFILE, else hotels50k.",
    )
    data_store: str | None = Field(
        default=None,
        description="Root of everything the pipeline writes: a local folder or an fsspec URL such as "
        "s3://bucket/prefix. Empty: HOTELCAP_DATA_STORE, else ./data_store.",
    )
    dataset: str | None = Field(
        default=None,
        description="URL or local path of a Hotels-50K-format metadata archive (.tar.gz, .zip, .tar.lz4) or a "
        "folder of the four CSVs. Empty: HOTELCAP_DATASET, else the profile's dataset.",
    )
    device: str | None = Field(
        default=None,
        description="Torch device of the models: auto (cuda, then mps, then cpu), cpu, cuda, cuda:1, mps. "
        "Empty: HOTELCAP_DEVICE, else auto.",
    )
    n_hotels: int | None = Field(
        default=None, ge=1, description="Hotels to sample. Empty: HOTELCAP_N_HOTELS, else 10."
    )
    seed: int | None = Field(
        default=None, ge=0,
        description="Seed of every random choice: the sample, k-modes, the edit picks and validation rooms, the "
        "portrait; an asset's own seed config, when set, wins for that asset. Empty: HOTELCAP_SEED, else 0.",
    )
    insecure_hosts: list[str] | None = Field(
        default=None,
        description="Hosts whose TLS certificates are not verified, each named on purpose. Empty: "
        "HOTELCAP_INSECURE_HOSTS, else none (every certificate is verified).",
    )
    labels: str | None = Field(
        default=None,
        description="CSV of image_id,tags (';'-separated vocabulary words): known truth for tag_evaluation. "
        "Empty: HOTELCAP_LABELS, else the demo's labels on the demo and none otherwise.",
    )
    test_photos: str | None = Field(
        default=None,
        description="The upstream test photos: URL or local path of test.tar.lz4 (extracted safely into the data "
        "store's images/test/), or a folder already holding images/test/. They give test_images its occlusion "
        "level and mask columns. Empty: HOTELCAP_TEST_PHOTOS, else none (those columns stay null).",
    )
    min_ok_share: float = Field(
        default=0.5, ge=0.0, le=1.0,
        description="Share of photos that must be ok, or the photo stage's blocking check fails the run.",
    )

    def settings(self, **more: Any) -> Settings:
        """The run's settings: these fields (and ``more`` Settings fields, e.g. from a model resource)
        over the environment."""
        return settings_with(
            {
                "profile": self.profile,
                "data_store": self.data_store,
                "dataset": self.dataset,
                "device": self.device,
                "n_hotels": self.n_hotels,
                "seed": self.seed,
                "insecure_hosts": self.insecure_hosts,
                "labels": self.labels,
                "test_photos": self.test_photos,
                **more,
            }
        )

    @property
    def is_demo(self) -> bool:
        return self.settings().is_demo

    def seed_for(self, override: int | None) -> int:
        """An asset's seed: its own config value when given, else the run's seed."""
        return self.settings().seed if override is None else override

    def store(self) -> DataStore:
        return DataStore.at(self.settings().data_store)


class ClipResource(dg.ConfigurableResource):
    """The open_clip model (HOTELCAP_CLIP_MODEL + HOTELCAP_CLIP_PRETRAINED), loaded on first use, once per
    process."""

    model_name: str | None = Field(
        default=None, description="open_clip architecture, e.g. ViT-B-32. Empty: HOTELCAP_CLIP_MODEL."
    )
    pretrained: str | None = Field(
        default=None,
        description="open_clip pretrained tag (e.g. laion2b_s34b_b79k), an hf-hub: name or a local checkpoint "
        "file or folder. Empty: HOTELCAP_CLIP_PRETRAINED, else the model's default.",
    )
    precision: Precision = Field(
        default="fp32", description="Autocast precision of the forward pass: fp32, bf16 or fp16 (GPU only)."
    )
    batch_size: int = Field(default=64, ge=1, description="Photos per forward pass.")
    workers: int = Field(default=2, ge=1, description="Threads decoding photos while the model runs.")

    def get(self, settings: HotelcapSettings) -> Any:
        """The model for this run's settings (the demo loads its shipped checkpoint)."""
        s = settings.settings(clip_model=self.model_name, clip_pretrained=self.pretrained)
        origins = s.origins.only("clip_model", "clip_pretrained", "device")
        return _load_clip(s.clip_model, clip_weights(s), s.device, self.precision, origins)


# One model per process, keyed on what is loaded and not on where its values came from: the same model named
# by variable in one run and by run config in the next is loaded once. Every asset (and every run of an
# in-process executor) shares it.
_MODELS: dict[tuple[object, ...], Any] = {}
_MODELS_LOCK = threading.Lock()


def _load_clip(model_name: str, weights: str, device: str, precision: Precision, origins: Origins) -> Any:
    from hotelcap_pipeline.tagging.clip_model import load_clip

    key = ("clip", model_name, weights, device, precision)
    with _MODELS_LOCK:  # a failed load caches nothing, so its error names this run's settings
        if key not in _MODELS:
            _MODELS[key] = load_clip(model_name, weights, device, precision=precision, origins=origins)
        return _MODELS[key]


class DiffusionResource(dg.ConfigurableResource):
    """The diffusers pipelines (HOTELCAP_DIFFUSION_MODEL and the structure-preserving modes' models),
    each loaded with from_pretrained on first use, once per process."""

    model: str | None = Field(
        default=None,
        description="Stable Diffusion 1.5 img2img: diffusers model id, local folder or single-file checkpoint. "
        "Empty: HOTELCAP_DIFFUSION_MODEL.",
    )
    ip2p_model: str | None = Field(default=None, description="InstructPix2Pix. Empty: HOTELCAP_IP2P_MODEL.")
    controlnet_model: str | None = Field(
        default=None, description="ControlNet-canny for SD 1.5. Empty: HOTELCAP_CONTROLNET_MODEL."
    )
    precision: DiffusionPrecision | None = Field(
        default=None,
        description="auto: fp16 with an fp32 VAE on cuda/mps, fp32 on cpu. Empty: HOTELCAP_PRECISION, else auto.",
    )
    attention_slicing: bool | None = Field(
        default=None, description="Compute attention in slices (less memory, slower); unset: on for mps only."
    )
    max_side: int | None = Field(
        default=None, ge=64, description="Longer side of the edits, px. Empty: 256 on the demo, else 512."
    )

    def run_settings(self, settings: HotelcapSettings) -> Settings:
        return settings.settings(diffusion_model=self.model, ip2p_model=self.ip2p_model,
                                 controlnet_model=self.controlnet_model, precision=self.precision)

    def edit_side(self, settings: HotelcapSettings) -> int:
        return self.max_side or (256 if settings.is_demo else 512)

    def get(self, settings: HotelcapSettings) -> Any:
        s = self.run_settings(settings)
        sources = diffusion_sources(s, s.ip2p_model, s.controlnet_model)
        origins = s.origins.only("diffusion_model", "ip2p_model", "controlnet_model", "device")
        return _load_diffusion(*sources, s.device, s.precision, self.attention_slicing, origins)


def _load_diffusion(
    model: str, ip2p: str, controlnet: str, device: str, precision: str, attention_slicing: bool | None,
    origins: Origins,
) -> Any:
    from hotelcap_pipeline.edits.pipeline import DiffusionEditors

    key = ("diffusion", model, ip2p, controlnet, device, precision, attention_slicing)
    with _MODELS_LOCK:
        if key not in _MODELS:
            _MODELS[key] = DiffusionEditors(model, ip2p_model=ip2p, controlnet_model=controlnet, device=device,
                                            precision=precision, attention_slicing=attention_slicing)
        # The pipelines it has loaded are shared; its later messages name this run's settings.
        return _MODELS[key].named_by(origins)
