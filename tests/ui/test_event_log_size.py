"""A rerun that changes nothing adds little to DAGSTER_HOME: each shard's materialization carries its own
counts, path and the URL of its contact sheet, not the column schema or a preview again (the asset declares its columns
once and the shard's file is linked); a table's materialization repeats its schema only when its columns
differ from the declared ones; no metadata is stored twice (with the Output it would be repeated in the
STEP_OUTPUT event); assets and checks read the tables they need from the store instead of loading Dagster inputs."""

import dagster as dg
import polars as pl
import pytest
from dagster._core.events import ASSET_CHECK_EVENTS, ASSET_EVENTS, EVENT_TYPE_TO_PIPELINE_RUN_STATUS
from dagster._serdes import serialize_value

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.defs.ui_metadata import COLUMN_SCHEMA, table_schema
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS

KEYS = ["chains", "hotels", "train_images", "test_images", "sampled_hotels", "dataset_stats", "hotel_images",
        "image_embeddings", "image_tags", "tag_stats", "tag_evaluation", "tag_clusters"]
# Tables whose declared columns do not depend on the environment the definitions loaded in (tag_clusters'
# room-kind columns follow HOTELCAP_LABELS then): their materializations must match the declaration.
DECLARED_EXACTLY = ["chains", "hotels", "train_images", "test_images", "sampled_hotels", "dataset_stats",
                    "image_tags", "tag_stats", "tag_evaluation"]
# Mirrored into the instance's cross-run index database too: stored twice.
INDEXED = {*ASSET_EVENTS, *ASSET_CHECK_EVENTS, *EVENT_TYPE_TO_PIPELINE_RUN_STATUS}


def stored_bytes(entry: dg.EventLogEntry) -> int:
    """What the sqlite event log writes for one event: its serialized form, once more when it is indexed."""
    size = len(serialize_value(entry))
    return 2 * size if entry.dagster_event_type in INDEXED else size


@pytest.mark.timeout(900)
def test_a_rerun_that_changes_nothing_writes_small_events(tmp_path):
    store = tmp_path / "store"
    config = {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(store), "dataset": str(DEMO_DIR / "dataset")}}}}
    plan = Plan([dg.AssetKey(k) for k in KEYS], {})
    (tmp_path / "home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "home")) as instance:
        assert run_plan(defs, instance, plan, config).success
        rerun = run_plan(defs, instance, plan, config)  # every photo and embedding reused
        assert rerun.success
        entries = instance.all_logs(rerun.run_id)

    def of(event_type: dg.DagsterEventType, key: str | None = None) -> list[int]:
        return [stored_bytes(e) for e in entries if e.dagster_event_type == event_type
                and (key is None or e.dagster_event.asset_key == dg.AssetKey(key))]

    shards = of(dg.DagsterEventType.ASSET_MATERIALIZATION, "hotel_images")
    assert len(shards) == len(SHARD_KEYS)
    # Counts, path and the contact sheet's URL: ~7.3-7.7 kB a shard with the index's copy (it was 17-32 kB with
    # the column schema, a bigger sheet and preview on every shard, then 8-12 kB with a 1 kB inline sheet).
    assert max(shards) < 8_500, shards

    specs = {spec.key.to_user_string(): spec for spec in defs.resolve_all_asset_specs()}
    materialized = set()
    for entry in entries:
        if entry.dagster_event_type != dg.DagsterEventType.ASSET_MATERIALIZATION:
            continue
        materialization = entry.asset_materialization
        assert materialization is not None
        key = materialization.asset_key.to_user_string()
        if materialization.partition is not None:
            assert COLUMN_SCHEMA not in materialization.metadata, f"{key}: the column schema is repeated per shard"
            assert "preview" not in materialization.metadata, f"{key}: a preview on every shard"
            continue
        if COLUMN_SCHEMA not in specs[key].metadata:
            continue
        # The schema is repeated exactly when the stored columns differ from the declared ones.
        actual = table_schema(pl.read_parquet(store / "tables" / f"{key}.parquet", n_rows=0), key)
        differs = actual != specs[key].metadata[COLUMN_SCHEMA]
        assert (COLUMN_SCHEMA in materialization.metadata) == differs, key
        assert not (differs and key in DECLARED_EXACTLY), f"{key}: the declared columns are not the stored ones"
        materialized.add(key)
    assert set(DECLARED_EXACTLY) <= materialized

    # Each input a step loads would add a STEP_INPUT and a LOADED_INPUT event: assets and checks read the
    # tables they need from the store (their upstreams are deps), so no step loads any.
    check_steps = {e.step_key for e in entries if e.dagster_event_type == dg.DagsterEventType.ASSET_CHECK_EVALUATION}
    assert "table_checks" in check_steps and len(check_steps) >= 5  # the non-blocking checks share one step
    loading = {e.step_key for e in entries if e.dagster_event_type == dg.DagsterEventType.LOADED_INPUT}
    assert not loading, f"steps loading Dagster inputs: {sorted(loading)}"
    # No image bytes: figures and contact sheets are files in the store, shown by URL.
    inlined = {e.dagster_event.asset_key.to_user_string() for e in entries
               if e.dagster_event_type == dg.DagsterEventType.ASSET_MATERIALIZATION and "base64" in serialize_value(e)}
    assert not inlined, f"image bytes inlined in the events of {sorted(inlined)}"
    # Output metadata would be stored a second time here: outputs carry none.
    with_metadata = [e.step_key for e in entries if e.dagster_event_type == dg.DagsterEventType.STEP_OUTPUT
                     and e.dagster_event.step_output_data.metadata]
    assert not with_metadata, f"outputs with metadata (stored twice): {with_metadata}"
    total = sum(stored_bytes(e) for e in entries)
    # ~372 kB, most of it Dagster's own step and check events (it was ~587 kB with column schemas on every
    # table, previews on every shard and checks loading their tables as inputs, then ~465 kB with thumbnails
    # inline, assets loading inputs and a step per check).
    assert total < 420_000, f"a rerun that changed nothing wrote {total:,} bytes of events"


def test_markdown_previews_stay_within_their_bound():
    from hotelcap_pipeline.table_format import markdown_table

    wide = pl.DataFrame({f"column_{i}": [f"value {i} of row {r}" for r in range(50)] for i in range(12)})
    text = markdown_table(wide, max_rows=50, max_chars=1_500)
    assert len(text) <= 1_500 + 40  # the bound, and the line saying how many rows are left out
    shown = [line for line in text.splitlines() if line.startswith("| value")]
    assert shown and text.endswith(f"… {50 - len(shown)} more rows")
    assert markdown_table(wide.head(2), max_chars=10_000).count("\n") == 3  # header, rule, two rows
