"""Operations: one run per data store, runs killed outright marked failed, files as readable as the umask says."""

from __future__ import annotations

import contextlib
import os
import signal
import stat
import subprocess
import sys
import textwrap
import time

import dagster as dg
import pytest

from hotelcap_pipeline.atomic_files import FILE_MODE, atomic_write_bytes
from hotelcap_pipeline.defs.orphans import HOST_TAG, mark_orphaned_runs, pid_alive, this_host
from hotelcap_pipeline.settings import DAGSTER_YAML
from hotelcap_pipeline.store import DataStore, StoreBusyError, store_lock


def test_a_second_run_on_one_store_is_refused_with_the_holder(tmp_path):
    store = DataStore.at(tmp_path / "store")
    busy = rf"data store {store.root} is in use by hotelcap materialize \(pid {os.getpid()}, since "
    with store_lock(store), pytest.raises(StoreBusyError, match=busy), store_lock(store):
        pass
    with store_lock(store):  # released
        pass


def test_a_killed_holder_leaves_no_stale_lock(tmp_path):
    store = DataStore.at(tmp_path / "store")
    code = textwrap.dedent(f"""
        import sys, time
        from hotelcap_pipeline.store import DataStore, store_lock
        with store_lock(DataStore.at({str(store.root)!r})):
            print("held", flush=True)
            time.sleep(60)
    """)
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "held"
        with pytest.raises(StoreBusyError, match=f"pid {child.pid}"), store_lock(store):
            pass
        child.send_signal(signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
    with store_lock(store):
        pass


def test_materialize_refuses_while_another_holds_the_store(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli

    store = DataStore.at(tmp_path / "store")
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(store.root))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    with store_lock(store):
        assert cli.main(["materialize", "--select", "chains"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"data store {store.root} is in use by hotelcap materialize") and "\n" not in err


def test_materialize_names_a_data_store_it_cannot_use(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli

    not_a_folder = tmp_path / "store"
    not_a_folder.write_text("a file")
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(not_a_folder))
    assert cli.main(["materialize", "--select", "chains"]) == 1
    assert capsys.readouterr().err.strip() == (
        f"HOTELCAP_DATA_STORE={not_a_folder}: cannot use it as the data store folder (it is a file); "
        "set HOTELCAP_DATA_STORE to a folder this user can write")


def test_materialize_names_a_dagster_home_it_cannot_use(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli

    not_a_folder = tmp_path / "home"
    not_a_folder.write_text("a file")
    monkeypatch.setenv("DAGSTER_HOME", str(not_a_folder))
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(tmp_path / "store"))
    assert cli.main(["materialize", "--select", "chains"]) == 2
    assert capsys.readouterr().err.strip() == (
        f"DAGSTER_HOME={not_a_folder}: cannot use it as Dagster's folder (it is a file); "
        "set DAGSTER_HOME to a folder this user can write")


def test_a_run_whose_process_was_killed_is_marked_failed(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)  # hotelcap's: every pool limited to one step at a time
    code = textwrap.dedent("""
        import os, signal
        import dagster as dg

        @dg.op(pool="photos")
        def die():
            os.kill(os.getpid(), signal.SIGKILL)

        @dg.job
        def doomed():
            die()

        with dg.DagsterInstance.get() as instance:
            doomed.execute_in_process(instance=instance)
    """)
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    result = subprocess.run([sys.executable, "-c", code], env=env, timeout=120)
    assert result.returncode == -signal.SIGKILL
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [run] = instance.get_runs()
        assert run.status == dg.DagsterRunStatus.STARTED
        assert mark_orphaned_runs(instance, alive=lambda pid: True) == []
        # Started on another machine (a shared instance): its pid cannot be checked here, so it stays.
        instance.add_run_tags(run.run_id, {HOST_TAG: "another-machine"})
        assert mark_orphaned_runs(instance) == []
        instance.add_run_tags(run.run_id, {HOST_TAG: this_host()})
        storage = instance.event_log_storage
        assert storage.get_concurrency_info("photos").claimed_slots  # the killed step still holds the slot
        assert mark_orphaned_runs(instance) == [run.run_id]
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        assert not storage.get_concurrency_info("photos").claimed_slots  # so the next run is not kept waiting
        assert mark_orphaned_runs(instance) == []


def test_files_are_written_with_the_umask_mode(tmp_path):
    mask = os.umask(0o022)
    os.umask(mask)
    assert 0o666 & ~mask == FILE_MODE
    target = tmp_path / "report" / "index.html"
    atomic_write_bytes(target, b"<html></html>")
    assert stat.S_IMODE(target.stat().st_mode) == FILE_MODE
    assert [p.name for p in target.parent.iterdir()] == ["index.html"]


def test_an_atomic_write_steps_past_temporary_names_already_taken(tmp_path):
    from hotelcap_pipeline import atomic_files

    target = tmp_path / "photo.jpg"
    upcoming = next(atomic_files._temp_numbers) + 1
    # Left by a killed process that had this process's id: the write must neither fail nor touch them.
    planted = [tmp_path / f".photo.jpg.{os.getpid()}-{upcoming + k}.tmp.jpg" for k in range(3)]
    for path in planted:
        path.write_bytes(b"left by a killed process")
    atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"new"
    assert sorted(tmp_path.iterdir()) == sorted([target, *planted])
    assert all(path.read_bytes() == b"left by a killed process" for path in planted)


def test_a_failed_non_blocking_check_is_printed_although_the_run_succeeds(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli
    from hotelcap_pipeline.defs import table_checks
    from hotelcap_pipeline.defs.checks import _result

    asset, description, _ = table_checks.CHECKS["train_images_reference_known_hotels"]
    monkeypatch.setitem(table_checks.CHECKS, "train_images_reference_known_hotels",
                        (asset, description, lambda settings: _result(["2 photo(s) of unknown hotels"])))
    monkeypatch.setenv("HOTELCAP_PROFILE", "demo")
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["materialize", "--select", "train_images"]) == 0  # the check gates nothing
    err = capsys.readouterr().err
    assert "check failed: train_images train_images_reference_known_hotels: 2 photo(s) of unknown hotels" in err


def test_a_run_whose_step_outlives_its_killed_launcher_is_marked_only_when_the_step_ends(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML)
    (tmp_path / "orphan_job.py").write_text(textwrap.dedent(f"""
        import os, signal, time
        import dagster as dg

        @dg.op
        def outlives_its_launcher():
            with open({str(tmp_path / "step.pid")!r}, "w") as f:
                f.write(str(os.getpid()))
            os.kill(os.getppid(), signal.SIGKILL)  # the run's launcher dies; this step process goes on
            time.sleep(60)

        @dg.job(executor_def=dg.multiprocess_executor)
        def doomed():
            outlives_its_launcher()
    """))
    code = textwrap.dedent("""
        import dagster as dg
        import orphan_job

        with dg.DagsterInstance.get() as instance:
            dg.execute_job(dg.reconstructable(orphan_job.doomed), instance=instance)
    """)
    env = {**os.environ, "DAGSTER_HOME": str(home), "PYTHONPATH": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, timeout=120, cwd=tmp_path)
    assert result.returncode == -signal.SIGKILL
    step = int((tmp_path / "step.pid").read_text())
    try:
        with dg.DagsterInstance.from_config(str(home)) as instance:
            [run] = instance.get_runs()
            assert mark_orphaned_runs(instance) == []  # its step still runs
            os.kill(step, signal.SIGKILL)
            deadline = time.time() + 10
            while pid_alive(step) and time.time() < deadline:
                time.sleep(0.1)
            assert mark_orphaned_runs(instance) == [run.run_id]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(step, signal.SIGKILL)


def test_op_config_for_an_up_to_date_upstream_runs_it_instead_of_being_refused(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli

    monkeypatch.setenv("HOTELCAP_PROFILE", "demo")
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(tmp_path / "store"))
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert cli.main(["materialize", "--select", "chains"]) == 0
    capsys.readouterr()
    # metadata_tables is up to date; configuring its op must run it, not fail with Dagster's schema dump.
    config = '{"ops": {"metadata_tables": {"config": {"on_bad_rows": "skip"}}}}'
    assert cli.main(["materialize", "--select", "dataset_stats,dataset_stats", "--config-json", config]) == 0
    out = capsys.readouterr().out
    assert "adding chains (configured in --config-json)" in out
    assert "materializing 5 asset(s): dataset_stats, chains, hotels, test_images, train_images" in out


def test_the_env_form_of_a_run_config_value_names_the_store_the_run_writes(tmp_path, monkeypatch, capsys):
    from hotelcap_pipeline import cli

    monkeypatch.setenv("MY_STORE", str(tmp_path / "store"))
    env_form = {"resources": {"settings": {"config": {"data_store": {"env": "MY_STORE"}}}}}
    assert cli._run_settings(env_form).data_store == str(tmp_path / "store")
    with pytest.raises(ValueError, match=r"names the environment variable 'NOT_SET_HERE', which is not set"):
        cli._run_settings({"resources": {"settings": {"config": {"data_store": {"env": "NOT_SET_HERE"}}}}})
    with pytest.raises(ValueError, match=r"resources.settings.config.data_store must be a string"):
        cli._run_settings({"resources": {"settings": {"config": {"data_store": 5}}}})


def test_a_reader_that_goes_away_ends_the_command_quietly(monkeypatch) -> None:
    from hotelcap_pipeline import cli

    def search(args) -> int:
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(cli, "cmd_search", search)
    assert cli.main(["search", "bed"]) == 141
