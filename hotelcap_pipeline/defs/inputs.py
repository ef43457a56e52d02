"""The version-controlled inputs under assets/ as observable source assets.

Each observation records the file's content hash as its data version, so editing the vocabulary or
the edit series makes the assets built from them show as stale in the UI (and to
`hotelcap materialize`), and the `observe_inputs` schedule keeps the observations current.
"""

import hashlib

import dagster as dg

from hotelcap_pipeline.settings import ASSETS_DIR

INPUT_FILES = {
    "vocabulary": ("vocabulary.yaml", "The visitors' tag vocabulary, one reason per word."),
    "prompt_templates": ("prompt_templates.yaml", "Prompt templates for zero-shot tagging."),
    "edit_series": ("edit_series.yaml", "Diffusion edit series: one changed condition each."),
    "persona": ("persona.md", "The visitor persona the project serves."),
}


def _observer(key: str, filename: str, description: str) -> dg.SourceAsset:
    @dg.observable_source_asset(name=key, group_name="inputs", description=description)
    def observe() -> dg.DataVersion:
        data = (ASSETS_DIR / filename).read_bytes()
        return dg.DataVersion(hashlib.sha256(data).hexdigest()[:16])

    return observe


input_assets = [_observer(key, filename, description) for key, (filename, description) in INPUT_FILES.items()]
