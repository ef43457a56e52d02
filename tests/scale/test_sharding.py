"""Shards: a per-shard backfill with the multiprocess executor gives the same tables as one run over all."""

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.settings import DEMO_DIR, PROJECT_ROOT
from hotelcap_pipeline.sharding import SHARD_KEYS
from hotelcap_pipeline.store import DataStore

SHARDED = ["hotel_images", "image_embeddings"]
UPSTREAM = ["chains", "hotels", "train_images", "test_images", "sampled_hotels"]
DOWNSTREAM = ["image_tags", "tag_stats", "tag_clusters"]


def store_config(root) -> dict:
    return {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(root), "dataset": str(DEMO_DIR / "dataset")}}}}


DAGSTER = str(Path(sys.executable).parent / "dagster")


def keys(names: list[str]) -> list[dg.AssetKey]:
    return [dg.AssetKey(n) for n in names]


@pytest.mark.timeout(900)
def test_backfill_per_shard_equals_one_run(tmp_path):
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        whole = run_plan(defs, instance, Plan(keys(UPSTREAM + SHARDED + DOWNSTREAM), {}),
                         store_config(tmp_path / "whole"))
        assert whole.success

        assert run_plan(defs, instance, Plan(keys(UPSTREAM), {}), store_config(tmp_path / "shards")).success
        # What a backfill launches: one run per shard, side by side as the run queue would, each through
        # Dagster's CLI, whose asset job runs every step in its own process (the multiprocess executor).
        env = {**os.environ, "DAGSTER_HOME": instance.root_directory, "HOTELCAP_PROFILE": "demo",
               "HOTELCAP_DATA_STORE": str(tmp_path / "shards"), "HOTELCAP_DATASET": str(DEMO_DIR / "dataset")}
        runs = {}
        for batch in (SHARD_KEYS[:4], SHARD_KEYS[4:]):
            for shard in batch:
                runs[shard] = subprocess.Popen(
                    [DAGSTER, "asset", "materialize", "-m", "hotelcap_pipeline.definitions",
                     "--select", ",".join(SHARDED), "--partition", shard],
                    cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )
            for shard in batch:
                _, err = runs[shard].communicate(timeout=600)
                assert runs[shard].returncode == 0, f"{shard}: {err[-3000:]}"
        backfill = [r for r in instance.get_runs() if r.tags.get("dagster/partition") in SHARD_KEYS]
        assert len(backfill) == len(SHARD_KEYS)
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in backfill)
        engine = [e.message for e in instance.all_logs(backfill[0].run_id, of_type=dg.DagsterEventType.ENGINE_EVENT)]
        assert any("Multiprocess executor" in m for m in engine)
        assert run_plan(defs, instance, Plan(keys(DOWNSTREAM), {}), store_config(tmp_path / "shards")).success

    a, b = DataStore.at(tmp_path / "whole"), DataStore.at(tmp_path / "shards")
    for key in SHARDED + DOWNSTREAM:
        left, right = a.read_table(key), b.read_table(key)
        order = [c for c in ("method", "image_id") if c in left.columns] or left.columns[:1]
        # Batches differ between the runs, so floats may differ in the last bits; everything else is exact.
        assert_frame_equal(left.sort(order), right.sort(order), check_exact=False, rel_tol=1e-4, abs_tol=1e-5)
    assert sorted(p.name for p in (tmp_path / "shards" / "tables" / "hotel_images.parquet").iterdir()) == [
        f"{s}.parquet" for s in SHARD_KEYS
    ]
    assert pl.read_parquet(tmp_path / "whole" / "tables" / "image_tags.parquet").height > 0
