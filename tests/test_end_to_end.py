"""The whole graph on the demo through Dagster, then a rerun that reuses every photo, embedding and edit."""

import dagster as dg
import polars as pl
import pytest

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.demo.dataset import plan_photos
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.store import DataStore

SECTIONS = ["Dataset review", "The visitors", "Tagging results per method", "Clusters vs classes",
            "Edit series and their scores", "portrait", "What worked and what did not", "How to reproduce"]


def latest(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(dg.AssetKey(key))
    return {k: v.value for k, v in event.asset_materialization.metadata.items()}


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
        assert latest(instance, "image_embeddings")["computed"] == sum(p.split == "train" for p in plan_photos())
        assert latest(instance, "hotel_images")["failed"] == 0
        edits_meta = latest(instance, "diffusion_edits")
        assert edits_meta["failed"] == 0 and edits_meta["rendered"] == edits_meta["edits"] > 0

        second = run_plan(defs, instance, Plan(everything, {}), config)
        assert second.success
        assert latest(instance, "image_embeddings")["computed"] == 0
        assert latest(instance, "hotel_images")["fetched"] == 0
        assert latest(instance, "diffusion_edits")["rendered"] == 0
        assert latest(instance, "visitor_portrait")["reused"] is True

    store = DataStore.at(tmp_path / "store")
    edits = store.read_table("diffusion_edits")
    assert edits.select(pl.col("clip_image_sim", "directional", "ssim").is_not_null().all()).row(0) == (True,) * 3
    assert all((store.root / p).is_file() for p in edits.get_column("path"))
    html = (store.report / "index.html").read_text()
    markdown = (store.report / "report.md").read_text()
    for title in SECTIONS:
        assert title in html and title in markdown, title
    assert "src=\"http" not in html  # self-contained
