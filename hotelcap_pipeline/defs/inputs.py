"""The version-controlled inputs under assets/ as observable source assets.

Each observation records the file's content hash as its data version, so editing the vocabulary or
the edit series makes the assets built from them show as stale in the UI (and to
`hotelcap materialize`, which hashes them before planning and records an observation, without a run, for
each one that changed). The `observe_inputs` sensor hashes the
files once a minute and records an observation only for a file whose hash changed: no run is launched
and nothing is written while the files stay as they are.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Mapping
from pathlib import Path

import dagster as dg

from hotelcap_pipeline.settings import ASSETS_DIR

INPUT_FILES = {
    "vocabulary": ("vocabulary.yaml", "The visitors' tag vocabulary, one reason per word."),
    "prompt_templates": ("prompt_templates.yaml", "Prompt templates for zero-shot tagging."),
    "edit_series": ("edit_series.yaml", "Diffusion edit series: one changed condition each."),
    "persona": ("persona.md", "The visitor persona the project serves."),
}
# The tag Dagster reads an observation's data version from (what an observable source asset's run writes).
DATA_VERSION_TAG = "dagster/data_version"
SENSOR_INTERVAL_S = 60
# Observable source assets are the documented way to version files outside Dagster; used on purpose.
warnings.filterwarnings("ignore", message="Function `observable_source_asset`", category=dg.BetaWarning)


def input_version(key: str, folder: Path = ASSETS_DIR) -> str:
    """The content hash of one input file: its data version."""
    return hashlib.sha256((folder / INPUT_FILES[key][0]).read_bytes()).hexdigest()[:16]


def _observer(key: str, filename: str, description: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        name=key, group_name="inputs", description=f"{description} File: `assets/{filename}`."
    )
    def observe() -> dg.DataVersion:
        return dg.DataVersion(input_version(key))

    return observe


input_assets = [_observer(key, filename, description) for key, (filename, description) in INPUT_FILES.items()]


def recorded_versions(instance: dg.DagsterInstance) -> dict[str, str]:
    """The data version of each input's latest observation in the instance (absent when never observed)."""
    out = {}
    for key in INPUT_FILES:
        records = instance.fetch_observations(dg.AssetKey(key), limit=1).records
        observation = records[0].asset_observation if records else None
        if observation is not None and observation.tags.get(DATA_VERSION_TAG):
            out[key] = observation.tags[DATA_VERSION_TAG]
    return out


def changed_inputs(recorded: Mapping[str, str], folder: Path = ASSETS_DIR) -> dict[str, str]:
    """Inputs whose current hash differs from ``recorded`` (or that were never recorded), with the new hash."""
    current = {key: input_version(key, folder) for key in INPUT_FILES}
    return {key: version for key, version in current.items() if recorded.get(key) != version}


@dg.sensor(
    name="observe_inputs",
    minimum_interval_seconds=SENSOR_INTERVAL_S,
    default_status=dg.DefaultSensorStatus.RUNNING,
    description="Once a minute, hash vocabulary.yaml, prompt_templates.yaml, edit_series.yaml and persona.md "
    "under `assets/`; when a hash changed, record an observation of that input (no run), so the assets built "
    "from it show as stale. Unchanged files write nothing.",
)
def observe_inputs(context: dg.SensorEvaluationContext) -> dg.SensorResult:
    # The cursor holds the hashes seen last; without one (first tick), the instance's own record decides.
    recorded = json.loads(context.cursor) if context.cursor else recorded_versions(context.instance)
    changed = changed_inputs(recorded)
    if not changed:
        return dg.SensorResult(skip_reason="no input file changed", cursor=json.dumps(recorded, sort_keys=True))
    return dg.SensorResult(asset_events=input_observations(changed),
                           cursor=json.dumps({**recorded, **changed}, sort_keys=True))


def input_observations(changed: Mapping[str, str]) -> list[dg.AssetObservation]:
    """One observation per changed input, carrying its new hash as the data version."""
    return [
        dg.AssetObservation(
            asset_key=key, tags={DATA_VERSION_TAG: version},
            metadata={"file": f"assets/{INPUT_FILES[key][0]}", "sha256_prefix": version},
        )
        for key, version in changed.items()
    ]


def observe_changed_inputs(instance: dg.DagsterInstance, folder: Path = ASSETS_DIR) -> list[str]:
    """Record an observation (no run) of each input whose hash differs from its latest one; their keys.

    What `hotelcap materialize` does before planning: an unchanged input costs four hashes and four
    record lookups instead of an observation run.
    """
    changed = changed_inputs(recorded_versions(instance), folder)
    for event in input_observations(changed):
        instance.report_runless_asset_event(event)
    return list(changed)
