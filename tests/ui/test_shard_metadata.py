"""Each shard's materialization carries that shard's own counts, row count and file, also when one
run covers every shard."""

import dagster as dg
import polars as pl
import pytest

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS

KEYS = ["chains", "hotels", "train_images", "test_images", "sampled_hotels", "hotel_images", "image_embeddings"]


def latest_for_shard(instance: dg.DagsterInstance, key: str, shard: str) -> dict:
    records = instance.fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[shard]), limit=1
    ).records
    assert records, f"{key} {shard}: no materialization"
    materialization = records[0].asset_materialization
    assert materialization is not None
    return {k: v.value for k, v in materialization.metadata.items()}


@pytest.mark.timeout(600)
def test_one_run_over_every_shard_records_each_shards_own_metadata(tmp_path):
    store = tmp_path / "store"
    config = {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(store), "dataset": str(DEMO_DIR / "dataset")}}}}
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        result = run_plan(defs, instance, Plan([dg.AssetKey(k) for k in KEYS], {}), config)
        assert result.success
        assert len({e.step_key for e in result.all_events if e.step_key}) >= 2  # one run, not one per shard

        manifest = pl.read_parquet(store / "tables" / "hotel_images.parquet" / "*.parquet")
        embedded = pl.read_parquet(store / "tables" / "image_embeddings.parquet" / "*.parquet")
        # The schema the UI shows for every shard is the asset's, declared once: it names the stored columns.
        specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
        for key, table in (("hotel_images", manifest), ("image_embeddings", embedded)):
            declared = specs[key].metadata["dagster/column_schema"]
            assert [(c.name, c.type) for c in declared.columns] == [(n, str(t)) for n, t in table.schema.items()]
            assert all(c.description for c in declared.columns), key
        per_shard = dict(manifest.group_by("shard").len().iter_rows())
        assert len(set(per_shard.values())) > 1, "the demo's shards should differ in size"
        for shard in SHARD_KEYS:
            rows = per_shard.get(shard, 0)
            photos = latest_for_shard(instance, "hotel_images", shard)
            assert photos["dagster/row_count"] == rows, shard
            assert photos["ok"] + photos["failed"] == rows, shard  # requested: the row count
            assert photos["path"].endswith(f"hotel_images.parquet/{shard}.parquet"), photos["path"]
            assert pl.read_parquet(photos["path"]).height == rows
            assert "dagster/column_schema" not in photos  # declared once on the asset, not repeated per shard
            if rows:
                # No image bytes in the event: the sheet is a file in the store, shown from the report server.
                assert photos["contact_sheet"].count(f"/figures/contact_sheet_{shard}.png)") == 2
                assert "base64" not in photos["contact_sheet"] and len(photos["contact_sheet"]) < 300
                assert (store / "report" / "figures" / f"contact_sheet_{shard}.png").is_file()
            else:
                assert "no stored photo" in photos["contact_sheet"]

            embeddings = latest_for_shard(instance, "image_embeddings", shard)
            ok = manifest.filter((pl.col("shard") == shard) & (pl.col("status") == "ok")).height
            assert embeddings["dagster/row_count"] == ok and embeddings["computed"] == ok, shard
            assert embeddings["path"].endswith(f"image_embeddings.parquet/{shard}.parquet")
            assert embeddings["model"].startswith("hotelcap-world-clip")
