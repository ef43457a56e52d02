"""Kill-and-resume: a download killed with SIGKILL mid-run (the whole run, or one worker process), then a
rerun that completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from helpers_photos import fast, requests_for
from PIL import Image

from hotelcap_pipeline.photos import download_images
from hotelcap_pipeline.photos.progress import ProgressEvent

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import polars as pl
    from hotelcap_pipeline.http import SessionPolicy
    from hotelcap_pipeline.photos import DownloadOptions, download_images
    requests = pl.read_parquet(sys.argv[1])
    download_images(requests, Path(sys.argv[2]), DownloadOptions(
        session=SessionPolicy(limit=4), cpu_workers=2, processes=int(sys.argv[3])))
""")


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def photo_workers_of(pid: int) -> list[int]:
    def cmdline(child: int) -> bytes:
        try:
            return Path(f"/proc/{child}/cmdline").read_bytes()
        except OSError:
            return b""
    return [c for c in children_of(pid) if b"hotelcap_pipeline.photos.worker" in cmdline(c)]


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def stored_photos(store: Path) -> list[Path]:
    return [p for p in store.rglob("*.jpg") if not p.name.startswith(".")]


def fully_decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
            return max(im.size) == 640
    except OSError:
        return False


@pytest.mark.parametrize("processes", [1, 2])
def test_sigkill_mid_run_then_rerun_completes(photo_server, tmp_path, processes):
    n = 60
    urls = [photo_server.url(f"/blob/{'photo' if i % 2 else 'portrait'}?delay=0.2") for i in range(n)]
    urls[7] = photo_server.url("/blob/truncated")
    requests = requests_for(urls)
    requests.write_parquet(tmp_path / "requests.parquet")
    store = tmp_path / "store"

    # A script without a __main__ guard: worker processes must not re-run it.
    script = tmp_path / "download.py"
    script.write_text(CHILD)
    child = subprocess.Popen([sys.executable, str(script), str(tmp_path / "requests.parquet"), str(store),
                              str(processes)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(stored_photos(store)) < 4:
        time.sleep(0.02)
    workers = photo_workers_of(child.pid)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    # Orphaned worker processes notice and stop, so they cannot write beside the rerun.
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(running(pid) for pid in workers):
        time.sleep(0.05)
    assert len(workers) == (processes if processes > 1 else 0)
    assert not any(running(pid) for pid in workers)
    # A writer killed mid-write leaves its hidden temporary file (".<name>.<pid>-<n>.tmp.jpg"), never a photo.
    stored = stored_photos(store)
    assert 4 <= len(stored) < n - 1, f"the child was not killed mid-run: {len(stored)} stored"
    assert all(fully_decodes(p) for p in stored)

    manifest = download_images(requests, store, fast(max_in_flight=8))
    assert manifest.filter(manifest["status"] == "ok").height == n - 1
    assert manifest.filter(manifest["image_id"] == 1008)["error"].to_list() == ["truncated image"]
    assert manifest["reused"].sum() >= len(stored)
    assert all(fully_decodes(store / p) for p in manifest["path"].drop_nulls())
    leftovers = [p for p in store.rglob("*") if p.is_file() and (p.suffix != ".jpg" or p.name.startswith("."))]
    assert leftovers == []  # the rerun swept the killed run's temporary files


def test_a_killed_worker_process_leaves_failed_rows_and_a_rerun_completes(photo_server, tmp_path):
    n = 40
    urls = [photo_server.url(f"/blob/photo?delay={0.1 * (i % 3)}") for i in range(n)]
    requests = requests_for(urls)
    killed: list[int] = []

    def kill_one_worker(event: ProgressEvent) -> None:
        workers = photo_workers_of(os.getpid())
        if not killed and event.done >= 3 and workers:
            killed.append(workers[0])
            os.kill(workers[0], signal.SIGKILL)

    manifest = download_images(requests, tmp_path, fast(processes=2, max_in_flight=4),
                               progress=kill_one_worker)
    assert killed and manifest.height == n
    failed = manifest.filter(manifest["status"] == "failed")
    assert 0 < failed.height < n - 3
    assert set(failed["error"]) == {
        "photo worker process ended (exit code -9) before this photo was done"}
    assert all(fully_decodes(tmp_path / p) for p in manifest["path"].drop_nulls())

    rerun = download_images(requests, tmp_path, fast(processes=2))
    assert rerun["status"].to_list() == ["ok"] * n
    # A photo the killed worker had stored, but not yet reported, is complete on disk and reused too.
    assert n - failed.height <= rerun["reused"].sum() < n
