"""The sharded stages on a real distributed engine: dagster-celery with a Redis broker on 127.0.0.1.

The test starts Debian's redis-server and two Celery worker processes, launches one run of
`distributed_shards_job` per shard (eight orchestrating processes at once, as a backfill would), and checks
that the steps ran in the workers, on more than one of them, and that the tables equal those of one
in-process run over every shard.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import psutil
import pytest
import yaml
from helpers_processes import stop_group
from polars.testing import assert_frame_equal

from hotelcap_pipeline.definitions import defs
from hotelcap_pipeline.defs.materialize import Plan, run_plan
from hotelcap_pipeline.settings import DEMO_DIR, PROJECT_ROOT
from hotelcap_pipeline.sharding import SHARD_KEYS
from hotelcap_pipeline.store import DataStore

REDIS = shutil.which("redis-server") or "/usr/bin/redis-server"
BIN = Path(sys.executable).parent
UPSTREAM = ["chains", "hotels", "train_images", "test_images", "sampled_hotels"]
SHARDED = ["hotel_images", "image_embeddings"]
JOB = "distributed_shards_job"

if not Path(REDIS).exists():
    pytest.skip("redis-server is absent: apt-get install -y redis-server", allow_module_level=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    server = subprocess.Popen(
        [REDIS, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "redis-server did not start"
            time.sleep(0.2)
        yield f"redis://127.0.0.1:{port}"
    finally:
        stop_group(server)


def store_config(root: Path) -> dict:
    return {"resources": {"settings": {"config": {
        "profile": "demo", "data_store": str(root), "dataset": str(DEMO_DIR / "dataset")}}}}


def worker_pids(worker: subprocess.Popen) -> set[int]:
    return {worker.pid, *(p.pid for p in psutil.Process(worker.pid).children(recursive=True))}


@pytest.mark.timeout(900)
def test_shards_on_celery_workers_equal_one_in_process_run(tmp_path: Path, redis_url: str) -> None:
    home, whole, spread = tmp_path / "home", tmp_path / "whole", tmp_path / "spread"
    home.mkdir()
    with dg.instance_for_test(temp_dir=str(home)) as instance:
        keys = [dg.AssetKey(k) for k in UPSTREAM + SHARDED]
        assert run_plan(defs, instance, Plan(keys, {}), store_config(whole)).success
        # The distributed runs read the same upstream tables.
        (spread / "tables").mkdir(parents=True)
        for key in UPSTREAM:
            shutil.copy2(whole / "tables" / f"{key}.parquet", spread / "tables" / f"{key}.parquet")

        broker, backend = f"{redis_url}/0", f"{redis_url}/1"
        celery_yaml = tmp_path / "celery.yaml"
        celery_yaml.write_text(yaml.safe_dump({"execution": {"config": {"broker": broker, "backend": backend}}}))
        env = {**os.environ, "DAGSTER_HOME": str(home), "HOTELCAP_PROFILE": "demo",
               "HOTELCAP_DATA_STORE": str(spread), "HOTELCAP_DATASET": str(DEMO_DIR / "dataset"),
               "HOTELCAP_CELERY_BROKER": broker, "HOTELCAP_CELERY_BACKEND": backend}
        workers = [
            subprocess.Popen(
                [str(BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(celery_yaml),
                 "--name", f"hotelcap-test-{i}", "--", "--pool=solo", "--without-gossip", "--without-mingle"],
                cwd=PROJECT_ROOT, env={**env, "PATH": f"{BIN}{os.pathsep}{env.get('PATH', '')}"},
                stdout=open(tmp_path / f"worker{i}.log", "w"), stderr=subprocess.STDOUT,  # noqa: SIM115
                start_new_session=True,
            )
            for i in range(2)
        ]
        try:
            runs = {
                shard: subprocess.Popen(
                    [str(BIN / "dagster"), "job", "execute", "-m", "hotelcap_pipeline.definitions", "-j", JOB,
                     "--tags", json.dumps({"dagster/partition": shard})],
                    cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )
                for shard in SHARD_KEYS
            }
            for shard, run in runs.items():
                _, err = run.communicate(timeout=600)
                assert run.returncode == 0, f"{shard}: {err[-3000:]}"
            pids = [worker_pids(w) for w in workers]
        finally:
            for worker in workers:
                stop_group(worker)

        finished = instance.get_runs(filters=dg.RunsFilter(job_name=JOB))
        assert sorted(r.tags["dagster/partition"] for r in finished) == SHARD_KEYS
        assert all(r.status == dg.DagsterRunStatus.SUCCESS for r in finished)
        step_pids, orchestrators, ran = [], set(), []
        for run in finished:
            for entry in instance.all_logs(run.run_id):
                event = entry.dagster_event
                if event is not None and event.event_type == dg.DagsterEventType.RUN_START:
                    orchestrators.add(event.pid)
                if event is not None and event.event_type == dg.DagsterEventType.STEP_START:
                    step_pids.append(event.pid)
                    ran.append((run.tags["dagster/partition"], event.step_key))
        # Every shard's two assets ran as steps (their checks too, as steps of their own).
        assert {(shard, key) for shard in SHARD_KEYS for key in SHARDED} <= set(ran)
        assert not set(step_pids) & orchestrators, "a step ran in its orchestrating process, not in a worker"
        used = [i for i, worker in enumerate(pids) if set(step_pids) & worker]
        assert set(step_pids) <= set().union(*pids), "a step ran outside the Celery workers"
        assert len(used) == 2, f"the steps ran on {len(used)} worker(s), expected both"

    a, b = DataStore.at(whole), DataStore.at(spread)
    for key in SHARDED:
        assert_frame_equal(a.read_table(key).sort("image_id"), b.read_table(key).sort("image_id"))
