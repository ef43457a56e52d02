"""What the report states about the run that produced it: profile, seed, models, package versions."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from hotelcap_pipeline.settings import ASSETS_DIR, Settings

# The packages whose versions change the numbers (models, sampling, clustering, image codecs).
REPORTED_PACKAGES = (
    "hotelcap",
    "dagster",
    "polars",
    "numpy",
    "scipy",
    "scikit-learn",
    "kmodes",
    "torch",
    "open_clip_torch",
    "diffusers",
    "transformers",
    "Pillow",
    "aiohttp",
)


def package_versions(names: tuple[str, ...] = REPORTED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@dataclass(frozen=True)
class ReportContext:
    """The run settings the report states, and what the Dagster layer knows that the tables do not."""

    profile: str
    seed: int
    n_hotels: int
    dataset: str
    clip_model: str
    clip_pretrained: str
    diffusion_model: str
    device: str = "auto"
    # tag_clusters' summary (hotelcap_pipeline.tagging.clusters.cluster_tags) from its materialization
    # metadata; without it the agreement numbers are recomputed from the table.
    cluster_summary: dict[str, Any] | None = None
    persona_path: Path = ASSETS_DIR / "persona.md"
    vocabulary_path: Path = ASSETS_DIR / "vocabulary.yaml"
    edit_series_path: Path = ASSETS_DIR / "edit_series.yaml"
    packages: dict[str, str] = field(default_factory=package_versions)

    @classmethod
    def from_settings(cls, settings: Settings, **extra: Any) -> ReportContext:
        return cls(
            profile=settings.profile,
            seed=settings.seed,
            n_hotels=settings.n_hotels,
            dataset=settings.dataset,
            clip_model=settings.clip_model,
            clip_pretrained=settings.clip_pretrained,
            diffusion_model=settings.diffusion_model,
            device=settings.device,
            **extra,
        )

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"

    @property
    def clip_label(self) -> str:
        return f"{self.clip_model} ({self.clip_pretrained})" if self.clip_pretrained else self.clip_model
