"""Wiring: the code location loads, and the metadata stage materializes through Dagster."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl

from hotelcap_pipeline.defs.assets import metadata, report
from hotelcap_pipeline.defs.io import parquet_io_manager
from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.demo.dataset import plan_photos
from hotelcap_pipeline.settings import DEMO_DIR, PROJECT_ROOT

METADATA_KEYS = ["chains", "hotels", "train_images", "test_images", "dataset_stats", "sampled_hotels"]
BIN = Path(sys.executable).parent


def demo_resources(store: Path) -> dict:
    settings = HotelcapSettings(profile="demo", data_store=str(store), dataset=str(DEMO_DIR / "dataset"))
    return {"settings": settings, "io_manager": parquet_io_manager}


def test_metadata_stage_materializes_in_process(tmp_path):
    result = dg.materialize(dg.load_assets_from_modules([metadata]), resources=demo_resources(tmp_path))
    assert result.success
    for key in METADATA_KEYS:
        assert (tmp_path / "tables" / f"{key}.parquet").exists(), key
    sample = pl.read_parquet(tmp_path / "tables" / "sampled_hotels.parquet")
    assert sample.height == 10 and "shard" in sample.columns
    stats_meta = result.asset_materializations_for_node("dataset_stats")[0].metadata
    assert stats_meta["train_images"].value == sum(p.split == "train" for p in plan_photos())
    assert (tmp_path / "report" / "figures" / "dataset_hotels_per_chain_fit.png").exists()


def test_run_config_overrides_reach_the_sample_and_the_report(tmp_path):
    override = {"ops": {"sampled_hotels": {"config": {"n_hotels": 3, "seed": 5}}}}
    result = dg.materialize(
        [*dg.load_assets_from_modules([metadata]), report.report],
        resources=demo_resources(tmp_path),
        run_config=override,
    )
    assert result.success
    sample = pl.read_parquet(tmp_path / "tables" / "sampled_hotels.parquet")
    assert sample.height == 3 and sample["seed"].unique().to_list() == [5]
    # The report describes this run, not the environment's defaults (seed 0, 10 hotels).
    md = (tmp_path / "report" / "report.md").read_text(encoding="utf-8")
    reproduce = md.split("## How to reproduce", 1)[1]
    assert "HOTELCAP_SEED=5 " in reproduce and "HOTELCAP_N_HOTELS=3 " in reproduce
    assert "HOTELCAP_DATASET=assets/demo/dataset " in reproduce
    assert '"n_hotels": 3' in reproduce and '"seed": 5' in reproduce  # the --config-json of the run
    assert str(PROJECT_ROOT) not in md and str(tmp_path) not in reproduce


def cli_env(tmp_path: Path) -> dict:
    (tmp_path / "home").mkdir(exist_ok=True)
    return {**os.environ, "HOTELCAP_PROFILE": "demo", "HOTELCAP_DATA_STORE": str(tmp_path / "store"),
            "DAGSTER_HOME": str(tmp_path / "home")}


def test_definitions_validate(tmp_path):
    out = subprocess.run([str(BIN / "dagster"), "definitions", "validate", "-m", "hotelcap_pipeline.definitions"],
                         cwd=PROJECT_ROOT, env=cli_env(tmp_path), capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]


def test_model_stages_share_the_gpu_pool_and_downloads_the_photos_pool():
    from hotelcap_pipeline.definitions import defs

    graph = defs.resolve_asset_graph()
    pools = {key.to_user_string(): graph.get(key).assets_def.node_def.pool for key in graph.get_all_asset_keys()}
    assert {k: v for k, v in pools.items() if v} == {
        "hotel_images": "photos", "image_embeddings": "gpu", "diffusion_edits": "gpu", "visitor_portrait": "gpu",
    }


def test_hotelcap_and_dagster_cli_materialize_the_metadata_selection(tmp_path):
    env = cli_env(tmp_path)
    selection = ",".join(METADATA_KEYS)
    out = subprocess.run([str(BIN / "hotelcap"), "materialize", "--select", selection],
                         cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    for key in METADATA_KEYS:
        assert (tmp_path / "store" / "tables" / f"{key}.parquet").exists(), key
    (tmp_path / "store" / "tables" / "chains.parquet").unlink()
    out = subprocess.run([str(BIN / "dagster"), "asset", "materialize", "-m", "hotelcap_pipeline.definitions",
                          "--select", "chains"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    assert (tmp_path / "store" / "tables" / "chains.parquet").exists()
    # Both CLIs recorded their runs in the same persistent instance (beside hotelcap's input observation).
    with dg.DagsterInstance.from_config(str(tmp_path / "home")) as instance:
        materialized = [r for r in instance.get_runs() if r.job_name != "observe_inputs_job"]
        assert len(materialized) == 2
        # hotelcap's run names the machine it ran on, so a killed one is recognised only there.
        from hotelcap_pipeline.defs.orphans import HOST_TAG, this_host

        assert [r.tags.get(HOST_TAG) for r in materialized if r.job_name == "hotelcap_materialize"] == [this_host()]


def test_unknown_key_is_a_clear_error(tmp_path):
    out = subprocess.run([str(BIN / "hotelcap"), "materialize", "--select", "chainz"],
                         cwd=PROJECT_ROOT, env=cli_env(tmp_path), capture_output=True, text=True)
    assert out.returncode != 0 and "unknown asset key(s): chainz" in out.stderr


def test_table_checks_evaluate_only_the_selected_assets_in_one_step(tmp_path):
    from hotelcap_pipeline.definitions import defs
    from hotelcap_pipeline.defs.materialize import Plan, run_plan

    config = {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(tmp_path / "store"), "dataset": str(DEMO_DIR / "dataset")}}}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        result = run_plan(defs, instance, Plan([dg.AssetKey(k) for k in METADATA_KEYS], {}), config)
        assert result.success
        evaluations = [e for e in result.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
    checked = {(e.step_key, e.event_specific_data.asset_key.to_user_string()) for e in evaluations}
    assert checked == {("table_checks", "train_images"), ("table_checks", "dataset_stats"),
                       ("table_checks", "sampled_hotels")}
    assert all(e.event_specific_data.passed for e in evaluations)
