"""`hotelcap materialize`: run a selection plus whatever it needs, every shard included.

The run goes through the persistent Dagster instance (DAGSTER_HOME), so the web UI shows it like
any other run. Upstream assets are added when they are missing or stale, the way the UI's
"Materialize" button with "missing and stale upstream" would, and sharded assets get one run over
the whole shard range (their backfill policy is single-run), so nobody has to spell partitions.
"""

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import dagster as dg

from hotelcap_pipeline.sharding import SHARD_KEYS

log = logging.getLogger("hotelcap")


@dataclass
class Plan:
    selected: list[dg.AssetKey]
    added: dict[dg.AssetKey, str]  # upstream key -> why it was added (missing / stale)

    @property
    def keys(self) -> list[dg.AssetKey]:
        return [*self.selected, *self.added]


def _statuses(instance: dg.DagsterInstance, graph, keys: Sequence[dg.AssetKey]) -> dict[dg.AssetKey, str]:
    """'missing', 'stale' or 'fresh' per key; partitioned keys are missing while any shard is."""
    from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView, TemporalContext
    from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
    from dagster._time import get_current_datetime

    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=graph,
    )
    resolver = CachingStaleStatusResolver(instance=instance, asset_graph=graph, loading_context=view)
    out: dict[dg.AssetKey, str] = {}
    for key in keys:
        node = graph.get(key)
        partitions = [None] if node.partitions_def is None else node.partitions_def.get_partition_keys()
        found = {resolver.get_status(key, p) for p in partitions}
        out[key] = (
            "missing" if StaleStatus.MISSING in found else "stale" if StaleStatus.STALE in found else "fresh"
        )
    return out


def plan_run(defs: dg.Definitions, instance: dg.DagsterInstance, select: Sequence[str] | None) -> Plan:
    graph = defs.resolve_asset_graph()
    materializable = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    if not select:
        return Plan(selected=materializable, added={})
    known = {k.to_user_string(): k for k in materializable}
    unknown = [s for s in select if s not in known]
    if unknown:
        raise SystemExit(f"unknown asset key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    selected = [known[s] for s in select]
    upstream: set[dg.AssetKey] = set()
    frontier = list(selected)
    while frontier:
        key = frontier.pop()
        for parent in graph.get(key).parent_keys:
            if parent not in upstream and parent in graph.materializable_asset_keys:
                upstream.add(parent)
                frontier.append(parent)
    upstream -= set(selected)
    statuses = _statuses(instance, graph, sorted(upstream, key=lambda k: k.to_user_string()))
    added = {k: why for k, why in statuses.items() if why != "fresh"}
    return Plan(selected=selected, added=added)


def run_plan(defs: dg.Definitions, instance: dg.DagsterInstance, plan: Plan, run_config: dict | None = None):
    job = defs.resolve_implicit_global_asset_job_def()
    graph = defs.resolve_asset_graph()
    tags = {}
    if any(graph.get(k).partitions_def is not None for k in plan.keys):
        tags = {
            "dagster/asset_partition_range_start": SHARD_KEYS[0],
            "dagster/asset_partition_range_end": SHARD_KEYS[-1],
        }
    config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(run_config or {})}
    # The checks of the selected assets run too (the blocking ones stop bad data early).
    checks = {c for c in graph.asset_check_keys if c.asset_key in set(plan.keys)}
    subset = job.get_subset(asset_selection=set(plan.keys), asset_check_selection=checks)
    return subset.execute_in_process(instance=instance, tags=tags, run_config=config, raise_on_error=False)
