"""Kill-and-resume: a download subprocess killed with SIGKILL mid-run, then a rerun that completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from helpers_photos import fast, requests_for
from PIL import Image

from hotelcap_pipeline.photos import download_images

CHILD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import polars as pl
    from hotelcap_pipeline.photos import DownloadOptions, download_images
    requests = pl.read_parquet(sys.argv[1])
    download_images(requests, Path(sys.argv[2]), DownloadOptions(max_in_flight=4, cpu_workers=2))
""")


def fully_decodes(path: Path) -> bool:
    try:
        with Image.open(path) as im:
            im.load()
            return max(im.size) == 640
    except OSError:
        return False


def test_sigkill_mid_run_then_rerun_completes(photo_server, tmp_path):
    n = 60
    urls = [photo_server.url(f"/blob/{'photo' if i % 2 else 'portrait'}?delay=0.2") for i in range(n)]
    urls[7] = photo_server.url("/blob/truncated")
    requests = requests_for(urls)
    requests.write_parquet(tmp_path / "requests.parquet")
    store = tmp_path / "store"

    child = subprocess.Popen([sys.executable, "-c", CHILD, str(tmp_path / "requests.parquet"), str(store)])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and len(list(store.rglob("*.jpg"))) < 4:
        time.sleep(0.02)
    os.kill(child.pid, signal.SIGKILL)
    child.wait(10)
    stored = list(store.rglob("*.jpg"))
    assert 4 <= len(stored) < n - 1, f"the child was not killed mid-run: {len(stored)} stored"
    assert all(fully_decodes(p) for p in stored)

    manifest = download_images(requests, store, fast(max_in_flight=8))
    assert manifest.filter(manifest["status"] == "ok").height == n - 1
    assert manifest.filter(manifest["image_id"] == 1008)["error"].to_list() == ["truncated image"]
    assert manifest["reused"].sum() >= len(stored)
    assert all(fully_decodes(store / p) for p in manifest["path"].drop_nulls())
    leftovers = [p for p in store.rglob("*") if p.is_file() and p.suffix != ".jpg"]
    assert leftovers == []
