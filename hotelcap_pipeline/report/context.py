"""What the report states about the run that produced it: profile, seed, models, package versions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from hotelcap_pipeline.settings import ASSETS_DIR, PROJECT_ROOT, Settings

if TYPE_CHECKING:
    from hotelcap_pipeline.report.tables import ReportTables

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


def portable_path(value: str) -> str:
    """A setting as another machine can use it: hub ids and URLs as they are, paths inside the checkout
    relative to it, other local paths as a placeholder naming the file (never this machine's layout)."""
    if not value or "://" in value or not (value.startswith(("/", "~", ".")) or Path(value).exists()):
        return value
    path = Path(value).expanduser().resolve()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return f"/path/to/{path.name}"


def package_versions(names: tuple[str, ...] = REPORTED_PACKAGES) -> dict[str, str]:
    versions = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


# Settings that describe the machine, not the run: another machine sets its own.
MACHINE_SETTINGS = frozenset({"data_store", "device", "insecure_hosts", "allow_local_files"})


def _what_the_run_chose(run_config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The run config's assets' and resources' settings (the CLIP's batch size, the edits' side, a model
    given there), without those that describe the machine: what another machine needs to redo the run."""
    kept: dict[str, Any] = {}
    if run_config.get("ops"):
        kept["ops"] = dict(run_config["ops"])
    resources: dict[str, Any] = {}
    for name, entry in dict(run_config.get("resources") or {}).items():
        config = {k: v for k, v in dict((entry or {}).get("config") or {}).items()
                  if not (name == "settings" and k in MACHINE_SETTINGS)}
        if config:
            resources[name] = {"config": config}
    if resources:
        kept["resources"] = resources
    return kept or None


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
    labels: str = ""
    ip2p_model: str = ""
    controlnet_model: str = ""
    precision: str = "auto"
    test_photos: str = ""
    # The run's config overrides (Launchpad, --config-json), printed with the command that reproduces it.
    run_config: dict[str, Any] | None = None
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
            dataset=portable_path(settings.dataset),
            clip_model=settings.clip_model,
            clip_pretrained=portable_path(settings.clip_pretrained),
            diffusion_model=portable_path(settings.diffusion_model),
            device=settings.device,
            labels=portable_path(settings.labels),
            ip2p_model=portable_path(settings.ip2p_model),
            controlnet_model=portable_path(settings.controlnet_model),
            precision=settings.precision,
            test_photos=portable_path(settings.test_photos),
            **extra,
        )

    @classmethod
    def from_run(cls, settings: Settings, tables: ReportTables, run_config: Mapping[str, Any] | None = None
                 ) -> ReportContext:
        """What the run did, read from the tables it wrote where they say it (the sample's seed and size),
        else from the run's settings; the device as resolved on this machine (as set, where this machine lacks
        it: on a cluster the report's CPU pod shares the GPU pods' settings); the run's config overrides."""
        from hotelcap_pipeline.settings import DeviceError, resolve_device

        try:
            device = resolve_device(settings.device)
        except DeviceError:
            device = settings.device

        sample = tables.get("sampled_hotels")
        seed, n_hotels = settings.seed, settings.n_hotels
        if sample is not None and sample.height and "seed" in sample.columns:
            seed, n_hotels = int(sample["seed"][0]), sample.height
        return cls.from_settings(
            settings.with_overrides(seed=seed, n_hotels=n_hotels, device=device),
            run_config=_what_the_run_chose(run_config or {}),
        )

    @property
    def is_demo(self) -> bool:
        return self.profile == "demo"

    @property
    def clip_label(self) -> str:
        return f"{self.clip_model} ({self.clip_pretrained})" if self.clip_pretrained else self.clip_model
