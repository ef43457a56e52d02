"""What the UI shows: every config and resource field is documented, choices are choices, descriptions render."""

import re

import dagster as dg
import pytest
from dagster._config import ConfigTypeKind

from hotelcap_pipeline.definitions import defs


def _undocumented(config_type, prefix: str) -> list[str]:
    missing = []
    for name, field in (getattr(config_type, "fields", None) or {}).items():
        if not (field.description or "").strip():
            missing.append(f"{prefix}.{name}")
        missing += _undocumented(field.config_type, f"{prefix}.{name}")
    return missing


def test_every_asset_config_field_is_documented():
    missing = []
    for assets_def in defs.resolve_asset_graph().assets_defs:
        if assets_def.is_executable and assets_def.op.config_field is not None:
            missing += _undocumented(assets_def.op.config_field.config_type, assets_def.node_def.name)
    assert not missing, f"config fields without a description: {missing}"


def test_every_resource_field_is_documented():
    missing = []
    for key, resource in defs.resources.items():
        if isinstance(resource, dg.ConfigurableResource):
            assert (type(resource).__doc__ or "").strip(), key
            missing += [f"{key}.{n}" for n, f in type(resource).model_fields.items() if not f.description]
    assert not missing, f"resource fields without a description: {missing}"


def test_choices_are_enums():
    graph = defs.resolve_asset_graph()
    clusters = graph.get(dg.AssetKey("tag_clusters")).assets_def.op.config_field.config_type
    assert clusters.fields["method"].config_type.kind == ConfigTypeKind.ENUM
    settings = defs.resources["settings"]
    with pytest.raises(Exception, match="profile"):
        type(settings)(profile="nope")  # type: ignore[arg-type]


# Markdown swallows <word> as an HTML tag: placeholders belong in code spans.
BARE_PLACEHOLDER = re.compile(r"<[A-Za-z_][^>]*>")


def _outside_code_spans(text: str) -> str:
    return re.sub(r"`[^`]*`", "", text)


def test_descriptions_render_in_markdown():
    graph = defs.resolve_asset_graph()
    texts = {k.to_user_string(): graph.get(k).description or "" for k in graph.get_all_asset_keys()}
    texts |= {f"job {j.name}": j.description or "" for j in defs.resolve_all_job_defs()}
    texts |= {f"schedule {s.name}": s.description or "" for s in defs.schedules or []}
    texts |= {f"sensor {s.name}": s.description or "" for s in defs.sensors or []}
    bad = {k: BARE_PLACEHOLDER.findall(_outside_code_spans(t)) for k, t in texts.items()}
    assert not {k: v for k, v in bad.items() if v}, bad
    undescribed = [k for k, t in texts.items() if not t.strip() and not k.startswith("job __")]
    assert not undescribed, f"without a description: {undescribed}"
