"""The `hotelcap materialize` planner: which upstream assets it adds, and why, from the instance's records."""

from __future__ import annotations

import dagster as dg
import pytest

from hotelcap_pipeline.defs.materialize import MATERIALIZE_JOB, Plan, materialize_job, plan_run, run_plan

shards = dg.StaticPartitionsDefinition(["a", "b"])


def build_defs(code_version: str = "1", source_version: str = "v1") -> dg.Definitions:
    """A small graph with an observed input, a sharded asset and a sharded child of it."""
    @dg.observable_source_asset(name="words")
    def words() -> dg.DataVersion:
        return dg.DataVersion(source_version)

    # Outputs through `deps` and no IO manager: the planner reads only the records, not the values.
    @dg.asset(code_version=code_version, deps=["words"])
    def table() -> None: ...

    @dg.asset(code_version="1", deps=["table"], partitions_def=shards, backfill_policy=dg.BackfillPolicy.single_run())
    def pieces() -> None: ...

    @dg.asset(code_version="1", deps=["pieces"], partitions_def=shards, backfill_policy=dg.BackfillPolicy.single_run())
    def per_piece() -> None: ...

    @dg.asset(code_version="1", deps=["per_piece"])
    def summary() -> None: ...

    observe = dg.define_asset_job("observe_words", selection=dg.AssetSelection.assets("words"))
    return dg.Definitions(
        assets=[words, table, pieces, per_piece, summary],
        jobs=[materialize_job, observe],
    )


@pytest.fixture
def instance(tmp_path):
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as inst:
        yield inst


def run_all(defs: dg.Definitions, instance: dg.DagsterInstance) -> None:
    defs.resolve_job_def("observe_words").execute_in_process(instance=instance)
    result = run_plan(defs, instance, plan_run(defs, instance, None), {})
    assert result.success


def added(defs, instance, *select: str) -> dict[str, str]:
    plan = plan_run(defs, instance, list(select))
    return {k.to_user_string(): why for k, why in plan.added.items()}


def test_missing_upstream_is_added_and_nothing_once_all_is_materialized(instance):
    defs = build_defs()
    assert added(defs, instance, "summary") == {"table": "missing", "pieces": "missing", "per_piece": "missing"}
    run_all(defs, instance)
    assert added(defs, instance, "summary") == {}


def test_code_version_change_makes_the_asset_stale(instance):
    run_all(build_defs(code_version="1"), instance)
    assert added(build_defs(code_version="2"), instance, "pieces") == {"table": "stale"}


def test_what_reads_a_rebuilt_asset_is_rebuilt_too(instance):
    run_all(build_defs(code_version="1"), instance)
    # `table` changed: pieces and per_piece read it (directly or not) and are rebuilt before summary.
    assert added(build_defs(code_version="2"), instance, "summary") == {
        "table": "stale", "pieces": "stale (reads table, rebuilt in this run)",
        "per_piece": "stale (reads pieces, rebuilt in this run)"}


def test_an_asset_whose_blocking_check_failed_is_made_again(instance):
    def defs_where(passes: bool) -> dg.Definitions:
        @dg.asset(code_version="1")
        def table() -> None: ...

        @dg.asset_check(asset=table, blocking=True)
        def table_usable() -> dg.AssetCheckResult:
            return dg.AssetCheckResult(passed=passes)

        @dg.asset(code_version="1", deps=[table])
        def child() -> None: ...

        return dg.Definitions(assets=[table, child], asset_checks=[table_usable], jobs=[materialize_job])

    failing = defs_where(passes=False)
    assert not run_plan(failing, instance, plan_run(failing, instance, ["table"]), {}).success
    assert added(failing, instance, "child") == {"table": "its blocking check table_usable failed"}
    passing = defs_where(passes=True)
    assert run_plan(passing, instance, plan_run(passing, instance, ["table"]), {}).success
    assert added(passing, instance, "child") == {}


def test_a_changed_input_observation_makes_its_dependants_stale(instance):
    run_all(build_defs(source_version="v1"), instance)
    defs = build_defs(source_version="v2")
    defs.resolve_job_def("observe_words").execute_in_process(instance=instance)
    assert added(defs, instance, "pieces") == {"table": "stale"}


def test_an_unchanged_observation_changes_nothing(instance):
    defs = build_defs()
    run_all(defs, instance)
    defs.resolve_job_def("observe_words").execute_in_process(instance=instance)
    assert added(defs, instance, "summary") == {}


def test_a_missing_shard_makes_the_sharded_asset_missing_and_rematerializing_it_stales_the_child(instance):
    defs = build_defs()
    run_all(defs, instance)
    # One shard of `pieces` materialized again: per_piece's same shard and summary read older data.
    job = defs.resolve_job_def(MATERIALIZE_JOB).get_subset(asset_selection={dg.AssetKey("pieces")})
    assert job.execute_in_process(instance=instance, partition_key="a").success
    assert added(defs, instance, "summary") == {"per_piece": "stale"}


def test_a_damaged_store_adds_the_asset_even_when_dagster_calls_it_fresh(instance):
    defs = build_defs()
    run_all(defs, instance)

    def problem(key: dg.AssetKey) -> str | None:
        return "damaged (truncated)" if key.to_user_string() == "table" else None

    plan = plan_run(defs, instance, ["pieces"], stored_problem=problem)
    assert plan.added == {dg.AssetKey("table"): "stored output damaged (truncated)"}


def test_selection_errors_are_one_line(instance):
    defs = build_defs()
    with pytest.raises(SystemExit, match="unknown asset key"):
        plan_run(defs, instance, ["nope"])
    with pytest.raises(SystemExit, match="names no asset"):
        plan_run(defs, instance, [])


def test_cli_runs_are_a_named_job_tagged_with_their_selection(instance):
    defs = build_defs()
    result = run_plan(defs, instance, Plan([dg.AssetKey("table")], {}), {})
    run = instance.get_run_by_id(result.run_id)
    assert run is not None and run.job_name == MATERIALIZE_JOB
    assert run.tags["hotelcap/select"] == "table"


def demo_config(store_root: object, **settings: object) -> dict:
    """Run config of the real graph on the demo world, its outputs in ``store_root``."""
    from hotelcap_pipeline.settings import DEMO_DIR

    return {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(store_root), "dataset": str(DEMO_DIR / "dataset"), **settings}}}}


def materialize_upstream_of(defs: dg.Definitions, instance: dg.DagsterInstance, key: str, config: dict) -> None:
    first = plan_run(defs, instance, [key])
    assert run_plan(defs, instance, Plan(first.keys, {}), config).success


def test_a_deleted_table_is_rebuilt_although_the_instance_records_it(tmp_path):
    """`make clean` (or a lost disk) with DAGSTER_HOME kept: the planner adds what the store no longer has."""
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.store import DataStore, stored_problem

    store = DataStore.at(str(tmp_path / "store"))
    config = {"resources": {"settings": {"config": {"data_store": str(store.root)}}}}
    tables = [dg.AssetKey(k) for k in ("chains", "hotels", "train_images", "test_images")]
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        assert run_plan(defs, instance, Plan(tables, {}), config).success

        def problem(key: dg.AssetKey) -> str | None:
            return stored_problem(store, key.to_user_string())

        assert plan_run(defs, instance, ["sampled_hotels"], stored_problem=problem).added == {}
        store.table("hotels").unlink()
        added = plan_run(defs, instance, ["sampled_hotels"], stored_problem=problem).added
        assert list(added) == [dg.AssetKey("hotels")] and "missing" in added[dg.AssetKey("hotels")]


def test_a_deleted_shard_file_is_rebuilt_although_the_other_shards_are_there(tmp_path):
    """One shard file of a sharded table deleted by hand: the planner checks every shard the asset has."""
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.defs.materialize import store_checker
    from hotelcap_pipeline.store import DataStore

    store = DataStore.at(str(tmp_path / "store"))
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        materialize_upstream_of(defs, instance, "hotel_images", demo_config(store.root))
        problem = store_checker(defs, store)
        assert plan_run(defs, instance, ["image_embeddings"], stored_problem=problem).added == {}
        (store.table("hotel_images") / "shard-01.parquet").unlink()
        added = plan_run(defs, instance, ["image_embeddings"], stored_problem=problem).added
        assert list(added) == [dg.AssetKey("hotel_images")] and "shard-01.parquet is missing" in added[
            dg.AssetKey("hotel_images")]


def test_a_table_rebuilt_with_other_settings_stales_what_read_it_and_the_same_table_does_not(tmp_path):
    """Tables are versioned by their content: more hotels sampled is a change, the same sample again is not."""
    from hotelcap_pipeline.definitions import defs

    sampled = dg.AssetKey("sampled_hotels")
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        materialize_upstream_of(defs, instance, "hotel_images", demo_config(tmp_path / "store", n_hotels=4))
        assert plan_run(defs, instance, ["image_embeddings"]).added == {}
        assert run_plan(defs, instance, Plan([sampled], {}), demo_config(tmp_path / "store", n_hotels=3)).success
        assert plan_run(defs, instance, ["image_embeddings"]).added == {dg.AssetKey("hotel_images"): "stale"}
        assert run_plan(defs, instance, Plan([sampled], {}), demo_config(tmp_path / "store", n_hotels=4)).success
        assert plan_run(defs, instance, ["image_embeddings"]).added == {}


def test_a_deleted_figure_rebuilds_the_asset_that_declared_it(tmp_path):
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.defs.materialize import store_checker
    from hotelcap_pipeline.store import DataStore

    store = DataStore.at(str(tmp_path / "store"))
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        materialize_upstream_of(defs, instance, "dataset_stats", demo_config(store.root))
        problem = store_checker(defs, store, instance)
        assert plan_run(defs, instance, ["report"], stored_problem=problem).added.get(
            dg.AssetKey("dataset_stats")) is None
        figure = sorted(store.figures.glob("dataset_*.png"))[0]
        figure.unlink()
        added = plan_run(defs, instance, ["report"], stored_problem=problem).added
        assert added[dg.AssetKey("dataset_stats")] == f"stored output figure {figure} is missing"
