"""`hotelcap materialize`: run a selection plus whatever it needs, every shard included.

The run goes through the persistent Dagster instance (DAGSTER_HOME), so the web UI shows it like
any other run. Upstream assets are added when they are missing or stale, the way the UI's
"Materialize" button with "missing and stale upstream" would, and sharded assets get one run over
the whole shard range (they share one partitions definition; a UI backfill instead runs one shard per
run, their backfill policy), so nobody has to spell partitions.

Staleness is read from the provenance Dagster records on every materialization, through the
instance's public record API: the tags ``dagster/code_version``, ``dagster/input_data_version/<key>``
and ``dagster/input_event_pointer/<key>``. An asset is stale when its code version changed since it
was materialized, or when a parent has a newer materialization (or observation) than the one it read
whose data version differs from the one it read (tables are versioned by their content, so a rerun with
other settings counts and a rerun giving the same table does not). An asset whose blocking check failed in
the run of its latest materialization is made again, and so is everything between an added asset and the
selection: it reads an input this run rebuilds.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from typing import Any

import dagster as dg

from hotelcap_pipeline.defs.orphans import HOST_TAG, this_host

log = logging.getLogger("hotelcap")

MATERIALIZE_JOB = "hotelcap_materialize"
CODE_VERSION_TAG = "dagster/code_version"
DATA_VERSION_TAG = "dagster/data_version"
INPUT_VERSION_TAG = "dagster/input_data_version/"
INPUT_POINTER_TAG = "dagster/input_event_pointer/"
SELECTION_TAG = "hotelcap/select"

# The one job the CLI launches (a subset of it per run): a named job, so the Runs list shows which assets
# a CLI run materialized and "Re-execute" finds the job again.
materialize_job = dg.define_asset_job(
    MATERIALIZE_JOB,
    selection=dg.AssetSelection.all(),
    description="What `hotelcap materialize` runs: the selected assets with their missing or stale upstream "
    "(the run's hotelcap/select tag names the selection).",
)

# Why the stored output of an asset cannot be used (missing or damaged files), or None when it can.
StoredProblem = Callable[[dg.AssetKey], str | None]


@dataclass
class Plan:
    selected: list[dg.AssetKey]
    added: dict[dg.AssetKey, str]  # upstream key -> why it was added (missing / stale / damaged)

    @property
    def keys(self) -> list[dg.AssetKey]:
        return [*self.selected, *self.added]


@dataclass(frozen=True)
class _Latest:
    storage_id: int
    tags: dict[str, str]
    run_id: str = ""


def _latest(instance: dg.DagsterInstance, key: dg.AssetKey, partition: str | None, observed: bool) -> _Latest | None:
    records_filter = dg.AssetRecordsFilter(asset_key=key, asset_partitions=[partition] if partition else None)
    fetch = instance.fetch_observations if observed else instance.fetch_materializations
    records = fetch(records_filter, limit=1).records
    if not records:
        return None
    event = records[0].asset_observation if observed else records[0].asset_materialization
    return _Latest(records[0].storage_id, dict(event.tags or {}) if event else {}, records[0].run_id)


class StalenessReader:
    """'missing', 'stale' or 'fresh' per asset key, from the asset specs and the instance's records."""

    def __init__(
        self, instance: dg.DagsterInstance, defs: dg.Definitions, materializable: AbstractSet[dg.AssetKey]
    ) -> None:
        self.instance = instance
        self.specs = {s.key: s for s in defs.resolve_all_asset_specs()}
        self.graph = defs.resolve_asset_graph()
        self.materializable = materializable
        self._cache: dict[tuple[dg.AssetKey, str | None], _Latest | None] = {}

    def _partitions(self, key: dg.AssetKey) -> list[str | None]:
        partitions_def = self.specs[key].partitions_def
        return [None] if partitions_def is None else list(partitions_def.get_partition_keys())

    def latest(self, key: dg.AssetKey, partition: str | None) -> _Latest | None:
        if (key, partition) not in self._cache:
            observed = key not in self.materializable
            self._cache[key, partition] = _latest(self.instance, key, partition, observed)
        return self._cache[key, partition]

    def _parent_changed(self, parent: dg.AssetKey, read: _Latest, child_partition: str | None) -> bool:
        """Did ``parent`` change since the materialization ``read`` consumed it?"""
        pointer = read.tags.get(INPUT_POINTER_TAG + parent.to_user_string())
        version = read.tags.get(INPUT_VERSION_TAG + parent.to_user_string())
        parent_partitions = self._partitions(parent)
        if child_partition is not None and child_partition in parent_partitions:
            parent_partitions = [child_partition]  # a shard reads the same shard of its parent
        for p in parent_partitions:
            now = self.latest(parent, p)
            if now is None or (pointer is not None and now.storage_id <= int(pointer)):
                continue
            # A newer event with the data version that was read changes nothing (one partition only: the
            # version recorded for a whole sharded parent is not any one shard's).
            if len(parent_partitions) > 1 or version is None or now.tags.get(DATA_VERSION_TAG) != version:
                return True
        return False

    def status(self, key: dg.AssetKey) -> str:
        spec = self.specs[key]
        stale = False
        newest: _Latest | None = None
        for partition in self._partitions(key):
            latest = self.latest(key, partition)
            if latest is None:
                return "missing"
            newest = latest if newest is None or latest.storage_id > newest.storage_id else newest
            recorded = latest.tags.get(CODE_VERSION_TAG)
            code_changed = spec.code_version is not None and recorded not in (None, spec.code_version)
            inputs_changed = any(self._parent_changed(d.asset_key, latest, partition) for d in spec.deps)
            stale = stale or code_changed or inputs_changed
        failed = self._failed_blocking_check(key, newest.run_id) if newest is not None else None
        if failed is not None:
            return f"its blocking check {failed} failed"
        return "stale" if stale else "fresh"

    def _failed_blocking_check(self, key: dg.AssetKey, run_id: str) -> str | None:
        """A blocking check that failed in the run of the latest materialization of ``key``: that output is not
        to be used (its run stopped there), so it is made again rather than read."""
        checks = [c for c in self.graph.get_check_keys_for_assets({key}) if self.graph.get_check_spec(c).blocking]
        if not checks:
            return None
        latest = self.instance.event_log_storage.get_latest_asset_check_execution_by_key(checks)
        for check, record in sorted(latest.items(), key=lambda item: item[0].name):
            if record.run_id == run_id and record.status.value == "FAILED":
                return check.name
        return None


def store_checker(defs: dg.Definitions, store: Any, instance: dg.DagsterInstance | None = None) -> StoredProblem:
    """Checks the stored output of each asset in ``store`` (a DataStore), every shard of a sharded asset: one
    deleted shard file makes the output unusable although the other shards are there. With ``instance``,
    the figures its latest materialization declared must be there too (the report shows them)."""
    from hotelcap_pipeline.defs.ui_metadata import declared_figures
    from hotelcap_pipeline.store import stored_problem

    specs = {s.key: s for s in defs.resolve_all_asset_specs()}

    def problem(key: dg.AssetKey) -> str | None:
        partitions = specs[key].partitions_def
        found = stored_problem(store, key.to_user_string(), partitions.get_partition_keys() if partitions else None)
        if found is not None or instance is None:
            return found
        absent = store.missing(declared_figures(instance, [key.to_user_string()]).get(key.to_user_string(), []))
        return f"figure {store.location(absent[0])} is missing" if absent else None

    return problem


def _upstream(
    graph: Any, materializable: AbstractSet[dg.AssetKey], selected: Sequence[dg.AssetKey]
) -> set[dg.AssetKey]:
    upstream = dg.AssetSelection.assets(*selected).upstream().resolve(graph)
    return set(upstream & materializable) - set(selected)


def plan_run(
    defs: dg.Definitions,
    instance: dg.DagsterInstance,
    select: Sequence[str] | None,
    stored_problem: StoredProblem | None = None,
) -> Plan:
    """The selection, plus upstream assets that are missing, stale, or whose stored files are unusable."""
    graph = defs.resolve_asset_graph()
    materializable = dg.AssetSelection.all().resolve(graph)
    ordered = sorted(materializable, key=lambda k: k.to_user_string())
    if select is None:
        return Plan(selected=ordered, added={})
    if not select:
        raise SystemExit("--select names no asset; leave it out to materialize the whole graph")
    known = {k.to_user_string(): k for k in materializable}
    unknown = [s for s in select if s not in known]
    if unknown:
        raise SystemExit(f"unknown asset key(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    selected = [known[s] for s in select]
    reader = StalenessReader(instance, defs, materializable)
    added: dict[dg.AssetKey, str] = {}
    upstream = _upstream(graph, materializable, selected)
    for key in sorted(upstream, key=lambda k: k.to_user_string()):
        why = reader.status(key)
        if why == "fresh" and stored_problem is not None:
            problem = stored_problem(key)
            why = f"stored output {problem}" if problem else why
        if why != "fresh":
            added[key] = why
    return Plan(selected=selected, added=added | _rebuilt_inputs(graph, reader.specs, added, upstream))


def _rebuilt_inputs(graph: Any, specs: dict[dg.AssetKey, Any], added: dict[dg.AssetKey, str],
                    upstream: AbstractSet[dg.AssetKey]) -> dict[dg.AssetKey, str]:
    """The upstream assets between a rebuilt one and the selection: each reads an input this run rebuilds, so
    its stored output is stale although no newer record says so yet."""
    if not added:
        return {}
    between = (dg.AssetSelection.assets(*added).downstream().resolve(graph) & upstream) - set(added)
    rebuilt = set(added)
    more: dict[dg.AssetKey, str] = {}
    while pending := [k for k in sorted(between - set(more), key=lambda k: k.to_user_string())
                      if any(d.asset_key in rebuilt for d in specs[k].deps)]:
        for key in pending:
            inputs = sorted(d.asset_key.to_user_string() for d in specs[key].deps if d.asset_key in rebuilt)
            more[key] = f"stale (reads {', '.join(inputs)}, rebuilt in this run)"
        rebuilt |= set(pending)
    return more


def configured_assets(defs: dg.Definitions, run_config: dict | None) -> list[str]:
    """The asset keys whose op ``run_config`` configures (``ops.<op name>``; a multi-asset op gives all of its
    keys), in the order of the graph's keys."""
    ops = (run_config or {}).get("ops")
    if not isinstance(ops, dict) or not ops:
        return []
    graph = defs.resolve_asset_graph()
    return sorted(key.to_user_string() for key in dg.AssetSelection.all().resolve(graph)
                  if graph.get(key).assets_def.node_def.name in ops)


def run_plan(
    defs: dg.Definitions, instance: dg.DagsterInstance, plan: Plan, run_config: dict | None = None
) -> dg.ExecuteInProcessResult:
    job = defs.resolve_job_def(MATERIALIZE_JOB)
    specs = {s.key: s for s in defs.resolve_all_asset_specs()}
    tags = {SELECTION_TAG: ",".join(k.to_user_string() for k in plan.selected)[:4000], HOST_TAG: this_host()}
    partitioned = [p for k in plan.keys if (p := specs[k].partitions_def) is not None]
    if partitioned:
        shard_keys = partitioned[0].get_partition_keys()
        tags |= {"dagster/asset_partition_range_start": shard_keys[0],
                 "dagster/asset_partition_range_end": shard_keys[-1]}
    config = {"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(run_config or {})}
    # The checks of the selected assets run too (the blocking ones stop bad data early).
    checks = dg.AssetSelection.checks_for_assets(*plan.keys).resolve_checks(defs.resolve_asset_graph())
    subset = job.get_subset(asset_selection=set(plan.keys), asset_check_selection=checks)
    return subset.execute_in_process(instance=instance, tags=tags, run_config=config, raise_on_error=False)
