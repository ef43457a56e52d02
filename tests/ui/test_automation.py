"""Automation that does not spam: nothing fires every few minutes, inputs are observed only when they change."""

import json

import dagster as dg
from dagster._core.definitions.data_version import extract_data_version_from_entry

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.inputs import INPUT_FILES, input_version, observe_inputs
from hotelcap_pipeline.defs.schedules import EAGER_ASSETS


def test_no_schedule_or_sensor_runs_often_by_default():
    for schedule in defs.schedules or []:
        assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED, schedule.name
    for sensor in defs.sensors or []:
        if sensor.default_status == dg.DefaultSensorStatus.RUNNING:
            assert (sensor.minimum_interval_seconds or 30) >= 60, sensor.name


def _evaluate(instance: dg.DagsterInstance, cursor: str | None) -> dg.SensorResult:
    result = observe_inputs(dg.build_sensor_context(instance=instance, cursor=cursor))
    assert isinstance(result, dg.SensorResult) and not result.run_requests
    for event in result.asset_events or []:
        instance.report_runless_asset_event(event)  # what the sensor daemon does with them
    return result


def test_inputs_sensor_observes_only_changed_files():
    with dg.instance_for_test() as instance:
        first = _evaluate(instance, None)
        observed = {e.asset_key.to_user_string() for e in first.asset_events}
        assert observed == set(INPUT_FILES)
        for key in INPUT_FILES:  # recorded as the data version Dagster's staleness reads
            record = instance.get_latest_data_version_record(dg.AssetKey(key))
            assert record is not None
            assert extract_data_version_from_entry(record.event_log_entry) == dg.DataVersion(input_version(key))

        second = _evaluate(instance, first.cursor)
        assert not second.asset_events and second.skip_reason

        # A restarted daemon has no cursor: the instance's own records say nothing changed.
        assert not _evaluate(instance, None).asset_events

        stale = json.dumps({**json.loads(first.cursor), "vocabulary": "an-older-hash"})
        changed = _evaluate(instance, stale)
        assert [e.asset_key.to_user_string() for e in changed.asset_events] == ["vocabulary"]


def test_only_cheap_assets_follow_updates_on_their_own():
    graph = defs.resolve_asset_graph()
    automated = {k.to_user_string() for k in graph.get_all_asset_keys() if graph.get(k).automation_condition}
    assert automated == set(EAGER_ASSETS)
    assert not automated & {"hotel_images", "image_embeddings", "diffusion_edits", "visitor_portrait"}



def test_materialize_records_only_changed_inputs_and_launches_no_run(tmp_path):
    from hotelcap_pipeline.defs.inputs import observe_changed_inputs

    for key, (filename, _) in INPUT_FILES.items():
        (tmp_path / filename).write_text(f"{key}\n")
    with dg.instance_for_test() as instance:
        assert sorted(observe_changed_inputs(instance, tmp_path)) == sorted(INPUT_FILES)
        assert observe_changed_inputs(instance, tmp_path) == []
        (tmp_path / INPUT_FILES["vocabulary"][0]).write_text("bed\n")
        assert observe_changed_inputs(instance, tmp_path) == ["vocabulary"]
        assert instance.get_runs() == []
        latest = instance.fetch_observations(dg.AssetKey("vocabulary"), limit=1).records[0]
        assert extract_data_version_from_entry(latest.event_log_entry) == dg.DataVersion(
            input_version("vocabulary", tmp_path))
