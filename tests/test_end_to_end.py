"""The whole graph on the demo through Dagster, then a rerun that reuses every photo, embedding and edit."""

import dagster as dg
import polars as pl
import pytest
from dagster._serdes import serialize_value

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.demo.dataset import plan_photos
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS
from hotelcap_pipeline.store import DataStore

SECTIONS = ["Dataset review", "The visitors", "Tagging results per method", "Clusters vs classes",
            "Edit series and their scores", "portrait", "What worked and what did not", "How to reproduce"]


def latest(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


def shard_totals(instance: dg.DagsterInstance, key: str) -> dict[str, int]:
    """The counts of every shard's latest materialization, added up (each shard carries its own)."""
    totals: dict[str, int] = {}
    for shard in SHARD_KEYS:
        records = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=dg.AssetKey(key), asset_partitions=[shard]), limit=1
        ).records
        for name, value in records[0].asset_materialization.metadata.items():
            if isinstance(value.value, int) and not isinstance(value.value, bool):
                totals[name] = totals.get(name, 0) + value.value
    return totals


def event_bytes(instance: dg.DagsterInstance, run_id: str) -> int:
    """What a run wrote to the event log, serialized as the instance stores it."""
    return sum(len(serialize_value(entry)) for entry in instance.all_logs(run_id))


@pytest.mark.timeout(900)
def test_demo_graph_end_to_end_then_nothing_recomputed(tmp_path):
    graph = defs.resolve_asset_graph()
    everything = sorted(graph.materializable_asset_keys, key=lambda k: k.to_user_string())
    config = {
        "resources": {"settings": {"config": {"profile": "demo", "data_store": str(tmp_path / "store"),
                                              "dataset": str(DEMO_DIR / "dataset")}}},
        "ops": {"edit_selection": {"config": {"k": 2}},
                "visitor_portrait": {"config": {"steps": 4, "size": 64}}},
    }
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        # The first run spreads the photos over two worker processes; the rerun (in-process) reuses them all.
        spread = {**config, "ops": {**config["ops"], "hotel_images": {"config": {"processes": 2}}}}
        first = run_plan(defs, instance, Plan(everything, {}), spread)
        assert first.success
        checks = [e for e in first.all_events if e.event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION]
        assert checks and all(e.event_specific_data.passed for e in checks)
        assert shard_totals(instance, "image_embeddings")["computed"] == sum(p.split == "train" for p in plan_photos())
        assert shard_totals(instance, "hotel_images")["failed"] == 0
        edits_meta = shard_totals(instance, "diffusion_edits")
        assert edits_meta["failed"] == 0 and edits_meta["rendered"] == edits_meta["edits"] - edits_meta["skipped"] > 0

        second = run_plan(defs, instance, Plan(everything, {}), config)
        assert second.success
        assert shard_totals(instance, "image_embeddings")["computed"] == 0
        assert shard_totals(instance, "hotel_images")["fetched"] == 0
        assert shard_totals(instance, "diffusion_edits")["rendered"] == 0
        # Figures live in the data store, events carry bounded thumbnails: a rerun that changes nothing writes
        # about 1 MB of events (it was over 100 MB when every shard carried the run's images inline).
        assert event_bytes(instance, second.run_id) < 1_500_000
        # Every table asset's columns say what they hold (the UI's column schema): the one a materialization
        # carries, else the one the asset declares.
        declared = {spec.key: spec.metadata.get("dagster/column_schema") for spec in defs.resolve_all_asset_specs()}
        for key in everything:
            schema = latest(instance, key.to_user_string()).get("dagster/column_schema") or declared.get(key)
            schema = getattr(schema, "schema", schema)
            undocumented = [c.name for c in schema.columns if not c.description] if schema else []
            assert not undocumented, f"{key.to_user_string()}: columns without a description: {undocumented}"
        assert latest(instance, "visitor_portrait")["reused"] is True
        for key in ("edit_selection", "visitor_portrait"):  # stored as declared: no schema in their events
            assert "dagster/column_schema" not in latest(instance, key), key

    store = DataStore.at(tmp_path / "store")
    edits = store.read_table("diffusion_edits").filter(pl.col("status") != "skipped")  # skipped: no edit to score
    scored = edits.select(pl.col("clip_image_sim", "directional", "ssim").is_not_null().all())
    assert edits.height and scored.row(0) == (True,) * 3
    assert all((store.root / p).is_file() for p in edits.get_column("path"))
    html = (store.report / "index.html").read_text()
    markdown = (store.report / "report.md").read_text()
    for title in SECTIONS:
        assert title in html and title in markdown, title
    assert "src=\"http" not in html  # self-contained
