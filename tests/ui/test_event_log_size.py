"""A rerun that changes nothing adds little to DAGSTER_HOME: each shard's materialization carries its own
counts, a short preview and a small thumbnail, not the column schema again (the asset declares it once), and
no metadata is stored twice (with the Output it would be repeated in the STEP_OUTPUT event)."""

import dagster as dg
import pytest
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._serdes import serialize_value

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.defs.ui_metadata import COLUMN_SCHEMA
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS

KEYS = ["chains", "hotels", "train_images", "test_images", "sampled_hotels", "hotel_images"]
# Mirrored into the instance's cross-run index database too: stored twice.
INDEXED = {*ASSET_EVENTS, *ASSET_CHECK_EVENTS, *EVENT_TYPE_TO_PIPELINE_RUN_STATUS}


def stored_bytes(entry: dg.EventLogEntry) -> int:
    """What the sqlite event log writes for one event: its serialized form, once more when it is indexed."""
    size = len(serialize_value(entry))
    return 2 * size if entry.dagster_event_type in INDEXED else size


@pytest.mark.timeout(600)
def test_a_rerun_of_the_photo_stage_writes_small_events(tmp_path):
    config = {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(tmp_path / "store"), "dataset": str(DEMO_DIR / "dataset")}}}}
    plan = Plan([dg.AssetKey(k) for k in KEYS], {})
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        assert run_plan(defs, instance, plan, config).success
        rerun = run_plan(defs, instance, plan, config)  # every photo reused
        assert rerun.success
        entries = instance.all_logs(rerun.run_id)

    def of(event_type: dg.DagsterEventType, key: str | None = None) -> list[int]:
        return [stored_bytes(e) for e in entries if e.dagster_event_type == event_type
                and (key is None or e.dagster_event.asset_key == dg.AssetKey(key))]

    shards = of(dg.DagsterEventType.ASSET_MATERIALIZATION, "hotel_images")
    assert len(shards) == len(SHARD_KEYS)
    # Counts, path, a 2-row preview and a contact sheet of at most 1 kB: ~8-12 kB a shard with the index's
    # copy (it was 17-32 kB, with the column schema and a bigger sheet and preview on every shard).
    assert max(shards) < 14_000, shards
    for entry in entries:
        if entry.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialization = entry.asset_materialization
            assert materialization is not None
            if materialization.partition is not None:
                assert COLUMN_SCHEMA not in materialization.metadata, "the column schema is repeated per shard"
    # Output metadata would be stored a second time here: outputs carry none.
    with_metadata = [e.step_key for e in entries if e.dagster_event_type == dg.DagsterEventType.STEP_OUTPUT
                     and e.dagster_event.step_output_data.metadata]
    assert not with_metadata, f"outputs with metadata (stored twice): {with_metadata}"
    total = sum(stored_bytes(e) for e in entries)
    # ~262 kB, most of it Dagster's own step events (it was ~396 kB).
    assert total < 300_000, f"a rerun that changed nothing wrote {total:,} bytes of events"


def test_markdown_previews_stay_within_their_bound():
    import polars as pl

    from hotelcap_pipeline.defs.ui_metadata import markdown_table

    wide = pl.DataFrame({f"column_{i}": [f"value {i} of row {r}" for r in range(50)] for i in range(12)})
    text = markdown_table(wide, max_rows=50, max_chars=1_500)
    assert len(text) <= 1_500 + 40  # the bound, and the line saying how many rows are left out
    shown = [line for line in text.splitlines() if line.startswith("| value")]
    assert shown and text.endswith(f"({50 - len(shown)} more rows)")
    assert markdown_table(wide.head(2), max_chars=10_000).count("\n") == 3  # header, rule, two rows
