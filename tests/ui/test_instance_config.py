"""The Dagster instance hotelcap creates: the gpu pool runs one step at a time, ticks are purged."""

import dagster as dg
from dagster._core.scheduler.instigation import InstigatorType, TickStatus

from hotelcap_pipeline.settings import ensure_dagster_home


def test_new_dagster_home_limits_the_gpu_pool(tmp_path, monkeypatch):
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    home = ensure_dagster_home()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        pools = instance.get_concurrency_config().pool_config
        assert pools.default_pool_limit == 1 and pools.pool_granularity.value == "op"
        assert instance.get_tick_retention_settings(InstigatorType.SENSOR)[TickStatus.SKIPPED] == 1


def test_an_old_default_is_upgraded_and_a_users_file_is_kept(tmp_path, monkeypatch):
    for name, text, kept in [("old", "telemetry:\n  enabled: false\n", False),
                             ("own", "telemetry:\n  enabled: true\n", True)]:
        home = tmp_path / name
        home.mkdir()
        (home / "dagster.yaml").write_text(text)
        monkeypatch.setenv("DAGSTER_HOME", str(home))
        ensure_dagster_home()
        assert ((home / "dagster.yaml").read_text() == text) is kept, name
