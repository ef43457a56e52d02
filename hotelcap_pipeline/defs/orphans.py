"""Runs whose process died (SIGKILL, power loss) stay STARTED in Dagster forever; mark them failed.

Runs executed in process (``hotelcap materialize``) and run workers of ``dagster dev`` both record the pid
of the process that started the run in its RUN_START event, and each step's process in its STEP_START
event. A run still STARTED whose processes no longer exist on this machine cannot finish any more: it is
reported failed, with the reason, so the UI and the next plan do not take it for one in progress, and the
pool slots its steps held are given back. A pid
says something only on the machine that started the run: runs of `hotelcap materialize` carry their host
(``HOST_TAG``); untagged runs are judged only in an instance whose runs live in SQLite under DAGSTER_HOME,
which is one machine's (a shared Postgres instance has runs of other machines, whose pids mean nothing
here).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable

import dagster as dg

HOST_TAG = "hotelcap/host"


def this_host() -> str:
    return socket.gethostname()


def runs_are_local(instance: dg.DagsterInstance) -> bool:
    """Whether every run of ``instance`` started on this machine: SQLite run storage (DAGSTER_HOME's files)."""
    return type(instance.run_storage).__name__.startswith("Sqlite")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run_pid(instance: dg.DagsterInstance, run_id: str) -> int | None:
    """The pid that started ``run_id``, from its RUN_START event (None before it started)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.RUN_START, limit=1).records
    for record in records:
        event = record.event_log_entry.dagster_event
        if event is not None and event.pid is not None:
            return int(event.pid)
    return None


def step_pids(instance: dg.DagsterInstance, run_id: str) -> set[int]:
    """The pids of the processes that ran ``run_id``'s steps (a multiprocess run's step processes outlive a
    killed parent, and may still be using the pool slot they hold)."""
    records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.STEP_START).records
    return {int(e.pid) for r in records if (e := r.event_log_entry.dagster_event) is not None and e.pid is not None}


def mark_orphaned_runs(instance: dg.DagsterInstance, alive: Callable[[int], bool] = pid_alive) -> list[str]:
    """Report every STARTED run whose process is gone as failed; returns their run ids."""
    marked = []
    here, local = this_host(), runs_are_local(instance)
    for run in instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED])):
        host = run.tags.get(HOST_TAG)
        if host != here and not (host is None and local):
            continue  # started on another machine: its pid cannot be checked from here
        pid = run_pid(instance, run.run_id)
        if pid is None or pid == os.getpid() or alive(pid):
            continue
        if any(alive(step) for step in step_pids(instance, run.run_id) - {pid, os.getpid()}):
            continue  # its launcher is gone, but a step still runs: not finished, not failed yet
        instance.report_run_failed(
            run, f"the process that ran it (pid {pid}) ended without finishing it (killed?); marked failed "
                 "by hotelcap on the next start")
        # A step killed inside a pool (photos, gpu) still holds its slot; with no daemon to free it, the
        # next run would wait for that slot forever.
        if instance.event_log_storage.supports_global_concurrency_limits:
            instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        marked.append(run.run_id)
    return marked
