"""Photo download on fair terms: hotelcap's whole `hotel_images` run against img2dataset's whole run.

Serves N synthetic photo-like JPEGs (distinct URLs; the bytes cycle through a pool of distinct photos)
from a loopback aiohttp server in its own process, then, on the same URLs, alternates (A B A B ...):

- **hotelcap, whole command**: ``hotelcap materialize --select hotel_images`` as a user runs it (Dagster
  start-up, planning, the run, the manifest), in a fresh copy of a DAGSTER_HOME and data store where the
  upstream assets (metadata tables, the hotel sample) were materialized beforehand;
- **img2dataset 1.47, whole command**, configured as its documentation recommends for this core count:
  one process per core, 32 threads each, and at least 4 shards per process (img2dataset hands each shard
  to one process, so fewer shards leave cores idle); ``keep_ratio_largest`` to 640 px, files output,
  JPEG quality 90 like hotelcap (its default is 95, which costs more to encode), sha256 on as by default.

Then the in-process comparison: ``download_images`` alone (no Dagster) against the CPU ceiling, the
fastest decode + resize + encode to a 640 px JPEG (quality 90, accurate DCT) this machine does with any
library at hand (Pillow, OpenCV, libjpeg-turbo through simplejpeg with DCT-domain scaling), run on every
core at once for a few seconds, right before and after each in-process run.

Every figure is reported as median and spread (min-max) over the rounds.

``--breakdown ROUNDS`` then says where the CPU goes beyond the ceiling: four stages, each the one before plus
one layer of what ``download_images`` does per photo (the ceiling's decode + encode; ``store_photo``, which adds
the header read, the atomic write, the sha256 and the manifest row; ``fetch_and_store`` fed from memory, which
adds the event loop and the decode threads; ``fetch_and_store`` over loopback, which adds the fetch). Each
pair of neighbouring stages runs side by side, one process per core, so the machine's drift hits both alike,
and their ratio of CPU per photo is what the added layer costs.

    python benchmarks/bench_download.py                      # 6000 x 1024x768 (~300 KB), 3 rounds
    python benchmarks/bench_download.py --size 2048x1536
    python benchmarks/bench_download.py --n 600 --rounds 1   # a quick check
    python benchmarks/bench_download.py --skip-whole --skip-in-process --img2dataset '' --breakdown 3

Nothing a run writes is deleted before the end (see ``fresh_folder``): the defaults need ~6 GB of scratch
space, ``--size 2048x1536 --n 3000 --rounds 2`` ~3 GB.

img2dataset lives in its own virtual environment (its pins clash with ours):
``python -m venv .bench/venv-img2dataset && .bench/venv-img2dataset/bin/pip install img2dataset==1.47.0``.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import math
import multiprocessing
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMG2DATASET = ROOT / ".bench" / "venv-img2dataset" / "bin" / "img2dataset"
PHOTOS_PER_HOTEL = 20
TARGET = 640
QUALITY = 90


def synthetic_photo(size: tuple[int, int], seed: int, quality: int) -> bytes:
    """A photo-like JPEG: smooth gradients plus fine noise, so it compresses like a real photo."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([
        128 + 90 * np.sin(xx / (37 + seed % 13) + c) * np.cos(yy / (53 + seed % 7) - c)
        for c in (0.0, 1.0, 2.0)
    ], axis=-1)
    noise = rng.normal(0, 12, size=(h, w, 3))
    pixels = np.clip(base + noise, 0, 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def serve(pool_dir: str, port_queue: multiprocessing.Queue) -> None:
    """The loopback server (runs in a child process): GET /img/<i>.jpg returns pool photo i mod K.

    Files are sent with sendfile, so the server costs the shared CPU as little as a loopback server can
    (a real photo host is another machine); both tools pay the same.
    """
    import asyncio

    from aiohttp import web

    pool = sorted(Path(pool_dir).glob("*.jpg"))

    async def photo(request: web.Request) -> web.FileResponse:
        return web.FileResponse(pool[int(request.match_info["index"]) % len(pool)],
                                headers={"Content-Type": "image/jpeg"})

    async def main() -> None:
        app = web.Application()
        app.router.add_get("/img/{index:\\d+}.jpg", photo)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port_queue.put(runner.addresses[0][1])
        await asyncio.Event().wait()

    asyncio.run(main())


NGINX = Path("/usr/sbin/nginx")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_nginx(work: Path, pool_dir: Path, n: int) -> tuple[subprocess.Popen, int]:
    """nginx (one worker, sendfile, keep-alive) serving /img/<i>.jpg as hard links to pool photo i mod K.

    The photo host is a remote machine in real use; on loopback its CPU is taken from the two cores both
    tools share, so the cheapest server there is keeps the comparison about the clients. img2dataset opens
    a connection per photo, which costs a Python server far more than it costs nginx.
    """
    pool = sorted(pool_dir.glob("*.jpg"))
    # nginx's worker drops root for an unprivileged user, which must be able to reach the files: mkdtemp's
    # folder is private (0700).
    work.chmod(0o755)
    pool_dir.chmod(0o755)
    www = work / "www" / "img"
    www.mkdir(parents=True)
    for i in range(n):
        os.link(pool[i % len(pool)], www / f"{i}.jpg")
    port = free_port()
    conf = work / "nginx.conf"
    conf.write_text(
        f"daemon off; worker_processes 1; pid {work}/nginx.pid; error_log {work}/nginx-error.log;\n"
        "events { worker_connections 4096; }\n"
        "http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 1000000;\n"
        "  types { image/jpeg jpg; }\n"
        f"  server {{ listen 127.0.0.1:{port} backlog=1024; root {work}/www; }} }}\n")
    proc = subprocess.Popen([str(NGINX), "-p", str(work), "-c", str(conf)], stdin=subprocess.DEVNULL)
    deadline = time.time() + 20
    while time.time() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return proc, port
        time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"nginx did not start; see {work}/nginx-error.log")


# ---- the CPU ceiling: decode + resize to 640 + encode, fastest way this machine has -------------------

def _target(width: int, height: int) -> tuple[int, int]:
    scale = TARGET / max(width, height)
    return (TARGET, round(height * scale)) if width >= height else (round(width * scale), TARGET)


def _pillow(data: bytes) -> bytes:
    im = Image.open(io.BytesIO(data))
    size = _target(*im.size)
    im.draft("RGB", size)
    im = im.convert("RGB").resize(size, Image.Resampling.HAMMING)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=QUALITY)
    return buf.getvalue()


def _opencv(data: bytes) -> bytes:
    import cv2

    header = Image.open(io.BytesIO(data))
    width, height = header.size
    reduce = max((f for f in (1, 2, 4, 8) if min(width, height) // f >= min(_target(width, height))), default=1)
    flag = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}[reduce]
    img = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    img = cv2.resize(img, _target(width, height), interpolation=cv2.INTER_AREA)
    return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, QUALITY])[1].tobytes()


def _simplejpeg(data: bytes) -> bytes:
    import cv2
    import simplejpeg

    height, width, _, _ = simplejpeg.decode_jpeg_header(data)
    tw, th = _target(width, height)
    pixels = simplejpeg.decode_jpeg(data, colorspace="RGB", min_width=tw, min_height=th)  # DCT-domain scaling
    if pixels.shape[:2] != (th, tw):
        pixels = cv2.resize(pixels, (tw, th), interpolation=cv2.INTER_AREA)
    return simplejpeg.encode_jpeg(pixels, quality=QUALITY, colorspace="RGB", colorsubsampling="420")


CEILING_METHODS: dict[str, Callable[[bytes], bytes]] = {
    "Pillow draft + Hamming": _pillow,
    "OpenCV reduced decode + INTER_AREA": _opencv,
    "simplejpeg DCT scaling + INTER_AREA": _simplejpeg,
}


def _ceiling_worker(method: str, pool_dir: str, seconds: float, start_at: float, out: multiprocessing.Queue) -> None:
    import cv2

    cv2.setNumThreads(1)
    fn = CEILING_METHODS[method]
    pool = [p.read_bytes() for p in sorted(Path(pool_dir).glob("*.jpg"))]
    fn(pool[0])
    while time.time() < start_at:
        time.sleep(0.001)
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        fn(pool[done % len(pool)])
        done += 1
    out.put(done / (time.perf_counter() - start))


def cpu_ceiling(pool_dir: Path, seconds: float) -> dict[str, float]:
    """Photos/s of each method with one process per core running at once (the machine's rate, not 2 x one)."""
    ctx = multiprocessing.get_context("spawn")
    cores = os.cpu_count() or 1
    rates: dict[str, float] = {}
    for method in CEILING_METHODS:
        out: multiprocessing.Queue = ctx.Queue()
        start_at = time.time() + 1.5
        procs = [ctx.Process(target=_ceiling_worker, args=(method, str(pool_dir), seconds, start_at, out))
                 for _ in range(cores)]
        for p in procs:
            p.start()
        rates[method] = sum(out.get(timeout=120) for _ in procs)
        for p in procs:
            p.join()
    return rates


# ---- the contenders ---------------------------------------------------------------------------------

def write_dataset(folder: Path, urls: list[str]) -> None:
    """The four Hotels-50K CSVs (train_set.csv without a header, as upstream) naming ``urls``."""
    folder.mkdir(parents=True, exist_ok=True)
    n_hotels = math.ceil(len(urls) / PHOTOS_PER_HOTEL)
    (folder / "chain_info.csv").write_text("chain_id,chain_name\n-1,unknown\n")
    with (folder / "hotel_info.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["hotel_id", "hotel_name", "chain_id", "latitude", "longitude"])
        for h in range(n_hotels):
            w.writerow([1000 + h, f"Hotel {h}", -1, 10.0, 20.0])
    with (folder / "train_set.csv").open("w", newline="") as f:
        w = csv.writer(f)
        for i, url in enumerate(urls):
            w.writerow([1_000_000 + i, 1000 + i // PHOTOS_PER_HOTEL, url, "travel_website", "2019-06-10 10:33:36"])
    (folder / "test_set.csv").write_text("image_id,hotel_id,image_url,image_source,upload_timestamp\n")


def hotelcap_env(work: Path, home: Path, store: Path, n_hotels: int) -> dict[str, str]:
    return {**os.environ, "DAGSTER_HOME": str(home), "HOTELCAP_DATA_STORE": str(store),
            "HOTELCAP_DATASET": str(work / "dataset"), "HOTELCAP_N_HOTELS": str(n_hotels),
            "HOTELCAP_PROFILE": "hotels50k"}


def hotelcap_cli() -> str:
    return str(Path(sys.executable).with_name("hotelcap"))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


PHOTOS_CONFIG = {"ops": {"hotel_images": {"config": {"allowed_networks": ["127.0.0.0/8"]}}}}


def prepare_hotelcap(work: Path, n_hotels: int) -> None:
    """Materialize the upstream assets once into a template DAGSTER_HOME and data store."""
    env = hotelcap_env(work, work / "home-template", work / "store-template", n_hotels)
    (work / "home-template").mkdir()
    timed([hotelcap_cli(), "materialize", "--select", "sampled_hotels,train_images,test_images"], env)


def run_hotelcap(work: Path, n_hotels: int, n: int) -> tuple[float, int]:
    home, store = fresh_folder(work, "home"), fresh_folder(work, "store")
    shutil.copytree(work / "home-template", home)
    shutil.copytree(work / "store-template", store)
    elapsed, _ = timed([hotelcap_cli(), "materialize", "--select", "hotel_images",
                        "--config-json", json.dumps(PHOTOS_CONFIG)], hotelcap_env(work, home, store, n_hotels))
    manifest = pl.read_parquet(store / "tables" / "hotel_images.parquet" / "*.parquet")
    ok = manifest.filter(pl.col("status") == "ok").height
    settle()
    if ok != n:
        raise RuntimeError(f"hotelcap stored {ok} of {n} photos")
    return elapsed, ok


def run_img2dataset(work: Path, cli: str, n: int) -> tuple[float, int]:
    out = fresh_folder(work, "img2dataset-out")
    processes = os.cpu_count() or 1
    per_shard = math.ceil(n / (4 * processes))
    env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"}
    elapsed, _ = timed([cli, "--url_list", str(work / "urls.parquet"), "--input_format", "parquet",
                        "--url_col", "url", "--output_folder", str(out), "--resize_mode", "keep_ratio_largest",
                        "--image_size", str(TARGET), "--encode_quality", str(QUALITY),
                        "--processes_count", str(processes), "--thread_count", "32",
                        "--number_sample_per_shard", str(per_shard), "--output_format", "files"], env)
    ok = sum(1 for _ in out.rglob("*.jpg"))
    settle()
    if ok != n:
        raise RuntimeError(f"img2dataset stored {ok} of {n} photos")
    return elapsed, ok


IN_PROCESS_CHILD = """
import json, os, resource, sys, time
from pathlib import Path
import polars as pl
from hotelcap_pipeline.http import SessionPolicy
from hotelcap_pipeline.photos import DownloadOptions, download_images

def machine():
    # Seconds of CPU time since boot per state (user, nice, system, idle, iowait, irq, softirq, steal).
    try:
        fields = Path("/proc/stat").read_text().split()[1:9]
    except OSError:
        return None
    return [int(v) / os.sysconf("SC_CLK_TCK") for v in fields]

def cpu():
    me, workers = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + workers.ru_utime, me.ru_stime + workers.ru_stime

requests = pl.read_parquet(sys.argv[1])
options = DownloadOptions(session=SessionPolicy(limit=64, limit_per_host=64, allowed_networks=("127.0.0.0/8",)))
before_machine, before_cpu = machine(), cpu()
start = time.perf_counter()
manifest = download_images(requests, Path(sys.argv[2]), options, progress=lambda event: None)
seconds = time.perf_counter() - start
after_machine, after_cpu = machine(), cpu()
busy = None
if before_machine and after_machine:
    spent = [a - b for a, b in zip(after_machine, before_machine)]
    busy = sum(spent) - spent[3] - spent[4]  # all but idle and iowait
print(json.dumps({"ok": manifest.filter(pl.col("status") == "ok").height, "seconds": seconds,
                  "user": after_cpu[0] - before_cpu[0], "sys": after_cpu[1] - before_cpu[1], "busy": busy}))
"""


def run_in_process(work: Path) -> dict[str, float]:
    """One ``download_images`` run in a fresh process: photos stored, seconds, and the CPU it took (its own
    and its workers' user and system time, and every core's busy time on the machine, server included)."""
    out = fresh_folder(work, "in-process-out")
    _, stdout = timed([sys.executable, "-c", IN_PROCESS_CHILD, str(work / "requests.parquet"), str(out)])
    info = json.loads(stdout.strip().splitlines()[-1])
    settle()
    return info


# ---- where the CPU goes: stages added one at a time, each pair measured at the same moment ------------

# Each stage is the one before plus one layer of what download_images does per photo.
BREAKDOWN_STAGES = {
    "ceiling": "decode + encode of in-memory photos (the ceiling's function)",
    "stored": "+ header read, atomic write, sha256, manifest row (store_photo, one thread)",
    "threads": "+ event loop and decode threads (fetch_and_store, photos from memory)",
    "network": "+ the fetch over loopback (fetch_and_store as a worker runs it)",
}
BREAKDOWN_PAIRS = [("ceiling", "stored"), ("stored", "threads"), ("threads", "network")]


def breakdown_child(argv: list[str]) -> None:
    """One stage over photos ``first..first+count`` of the URL list; prints CPU ms per photo (all threads).

    Runs in its own process, beside the other stage of its pair, one per core: the machine's drift (10-15%
    within minutes here) hits both alike, so their ratio is what the added layer costs.
    """
    import resource

    from hotelcap_pipeline.http import SessionPolicy
    from hotelcap_pipeline.photos import batch
    from hotelcap_pipeline.photos.fetch import FetchOutcome
    from hotelcap_pipeline.photos.paths import image_relpath
    from hotelcap_pipeline.photos.resize import ResizeSpec, resize_photo
    from hotelcap_pipeline.photos.storage import store_photo

    stage, pool_dir, port, store = argv[0], argv[1], int(argv[2]), argv[3]
    first, count = int(argv[4]), int(argv[5])
    pool = [p.read_bytes() for p in sorted(Path(pool_dir).glob("*.jpg"))]
    indices = range(first, first + count)
    rows_in = [{"image_id": i, "hotel_id": i // PHOTOS_PER_HOTEL, "chain_id": -1,
                "image_source": "travel_website", "url": "", "split": "train"} for i in indices]
    # The store's own layout (the folder depth is part of what a write costs).
    jobs = [batch.Job(n, row, f"http://127.0.0.1:{port}/img/{row['image_id']}.jpg",
                      image_relpath(row["split"], row["chain_id"], row["hotel_id"], row["image_source"],
                                    row["image_id"]))
            for n, row in enumerate(rows_in)]
    rows: list[dict] = []
    _simplejpeg(pool[0])  # first calls import and set up; the other stages' processes pay theirs the same way
    resize_photo(pool[0], ResizeSpec())
    before = resource.getrusage(resource.RUSAGE_SELF)
    if stage == "ceiling":
        for i in indices:
            _simplejpeg(pool[i % len(pool)])
    elif stage == "stored":
        spec = ResizeSpec()
        for job in jobs:
            # The folder is made by the write, on the first photo in it, as in a download.
            photo = store_photo(pool[job.row["image_id"] % len(pool)], f"{store}/{job.relpath}", spec)
            rows.append(batch.result_row(job, photo, None, False, 1))
    else:
        if stage == "threads":
            class MemoryFetcher(batch.PhotoFetcher):
                async def fetch(self, url: str) -> FetchOutcome:
                    return FetchOutcome(pool[int(url.rpartition("/")[2].split(".")[0]) % len(pool)], None, 1)

            batch.PhotoFetcher = MemoryFetcher  # type: ignore[misc]
        # As one of two worker processes under the in-process run's limits (64 in flight in all).
        options = batch.DownloadOptions(session=SessionPolicy(limit=32, limit_per_host=32,
                                                              allowed_networks=("127.0.0.0/8",)), cpu_workers=2)
        batch.fetch_and_store(jobs, lambda index, row: rows.append(row), store_root=Path(store), options=options)
        if any(row["status"] != "ok" for row in rows):
            raise SystemExit(f"{stage}: failed rows, e.g. {next(r for r in rows if r['status'] != 'ok')}")
    after = resource.getrusage(resource.RUSAGE_SELF)
    spent = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    print(json.dumps({"stage": stage, "cpu_ms": 1000 * spent / count}))


def run_breakdown(work: Path, pool_dir: Path, port: int, n: int, rounds: int) -> dict[tuple[str, str], list[float]]:
    """Each pair of stages, ``rounds`` times, each time side by side (they swap halves of the URLs)."""
    count = min(2000, n // 2)
    ratios: dict[tuple[str, str], list[float]] = {pair: [] for pair in BREAKDOWN_PAIRS}
    boot = f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import bench_download as b; " \
           "b.breakdown_child(sys.argv[1:])"
    for r in range(rounds):
        for pair in BREAKDOWN_PAIRS:
            store = fresh_folder(work, "breakdown")
            firsts = (0, n // 2) if r % 2 == 0 else (n // 2, 0)
            procs = [subprocess.Popen([sys.executable, "-c", boot, stage, str(pool_dir), str(port), str(store),
                                       str(first), str(count)], stdout=subprocess.PIPE, text=True)
                     for stage, first in zip(pair, firsts, strict=True)]
            outs = [p.communicate()[0] for p in procs]
            if any(p.returncode for p in procs):
                raise RuntimeError(f"breakdown {pair} failed: {outs}")
            cpu = [json.loads(o.strip().splitlines()[-1])["cpu_ms"] for o in outs]
            ratios[pair].append(cpu[1] / cpu[0])
            print(f"breakdown round {r + 1}: {pair[0]} {cpu[0]:.2f} ms/photo, {pair[1]} {cpu[1]:.2f} ms/photo "
                  f"(x{cpu[1] / cpu[0]:.3f})", flush=True)
            settle()
    return ratios


# Nothing a contender wrote is deleted before the benchmark ends. ext4 without a journal (this machine's
# disk) will not hand out an inode freed in the last 60 s (360 s while its inode-table block is dirty), and
# every file created meanwhile scans past each such inode: writing 6,000 photo-size files cost 0.06 ms of
# system time per file on a quiet file system and 0.52-0.66 ms within a few minutes of deleting 12,000, even
# after waiting 70 s. Deleting one contender's output would bill the next one for it; a user's store is
# not written right after a mass deletion. Each run gets a new folder; all of them (~0.55 GB per run at
# 1024x768) go with the scratch folder at the end.
SETTLE_S = 3.0


def fresh_folder(work: Path, name: str) -> Path:
    """A folder no earlier run used, under ``work/runs``, numbered after the ones there."""
    runs = work / "runs"
    runs.mkdir(exist_ok=True)
    return runs / f"{sum(1 for _ in runs.iterdir()) + 1:03d}-{name}"


def cpu_breakdown(info: dict[str, float], ceiling_rate: float) -> dict[str, float]:
    """CPU milliseconds per stored photo: hotelcap's (its process and workers), every core's busy time
    (the photo host and the kernel's own threads too), and the ceiling's (all cores at its rate)."""
    cores = os.cpu_count() or 1
    per_photo = 1000 / max(1, info["ok"])
    breakdown = {"hotelcap user": info["user"] * per_photo, "hotelcap system": info["sys"] * per_photo}
    if info.get("busy") is not None:
        breakdown["machine busy (server, kernel included)"] = info["busy"] * per_photo
    breakdown["ceiling (every core at its rate)"] = 1000 * cores / ceiling_rate
    return breakdown


def settle() -> None:
    """Write the last run's files back to disk and pause, so its writeback does not land on the next run."""
    os.sync()
    time.sleep(SETTLE_S)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=6000, help="photos to serve and fetch (default 6000)")
    parser.add_argument("--size", default="1024x768", help="synthetic photo size (default 1024x768)")
    parser.add_argument("--pool", type=int, default=48, help="distinct photos the URLs cycle through")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds of each contender")
    parser.add_argument("--img2dataset", default=str(DEFAULT_IMG2DATASET), help="img2dataset CLI ('' to skip)")
    parser.add_argument("--skip-in-process", action="store_true", help="only the whole-command comparison")
    parser.add_argument("--skip-whole", action="store_true", help="no whole-command comparison")
    parser.add_argument("--breakdown", type=int, default=0, metavar="ROUNDS",
                        help="rounds of the CPU breakdown by stage, pairs of stages side by side (default 0: none)")
    parser.add_argument("--server", choices=["nginx", "aiohttp"], default="nginx" if NGINX.exists() else "aiohttp",
                        help="the loopback photo host (default nginx where installed: apt-get install nginx-light)")
    parser.add_argument("--ceiling-seconds", type=float, default=4.0)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one, removed)")
    args = parser.parse_args()

    width, height = (int(v) for v in args.size.lower().split("x"))
    n = args.n - args.n % PHOTOS_PER_HOTEL
    n_hotels = n // PHOTOS_PER_HOTEL
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hotelcap-bench-"))
    if work.exists() and args.workdir:
        shutil.rmtree(work)
    pool_dir = work / "pool"
    pool_dir.mkdir(parents=True)
    pool = [synthetic_photo((width, height), seed, QUALITY) for seed in range(args.pool)]
    for i, data in enumerate(pool):
        (pool_dir / f"{i:04d}.jpg").write_bytes(data)
    print(f"{n} photos {width}x{height}, mean {sum(map(len, pool)) / len(pool) / 1000:.0f} KB "
          f"({args.pool} distinct), {os.cpu_count()} CPU cores", flush=True)

    whole: dict[str, list[float]] = {"hotelcap": [], "img2dataset 1.47": []}
    in_process: list[float] = []
    cpu_ms: list[dict[str, float]] = []
    ceilings: list[dict[str, float]] = []
    server: subprocess.Popen | multiprocessing.Process
    if args.server == "nginx":
        server, port = start_nginx(work, pool_dir, n)
    else:
        ports: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
        server = multiprocessing.get_context("fork").Process(target=serve, args=(str(pool_dir), ports), daemon=True)
        server.start()
        port = ports.get(timeout=30)
    print(f"photo host: {args.server} on 127.0.0.1:{port}", flush=True)
    try:
        urls = [f"http://127.0.0.1:{port}/img/{i}.jpg" for i in range(n)]
        write_dataset(work / "dataset", urls)
        requests = pl.DataFrame({
            "image_id": [1_000_000 + i for i in range(n)], "hotel_id": [1000 + i // PHOTOS_PER_HOTEL for i in range(n)],
            "chain_id": [-1] * n, "image_source": ["travel_website"] * n, "url": urls, "split": ["train"] * n,
        })
        requests.write_parquet(work / "requests.parquet")
        # img2dataset's reader wants string columns.
        requests.select(pl.all().cast(pl.Utf8)).write_parquet(work / "urls.parquet")
        if not args.skip_whole:
            prepare_hotelcap(work, n_hotels)
            settle()
        for r in range(0 if args.skip_whole else args.rounds):
            elapsed, ok = run_hotelcap(work, n_hotels, n)
            whole["hotelcap"].append(ok / elapsed)
            print(f"round {r + 1}: hotelcap materialize --select hotel_images: {ok} in {elapsed:.1f} s "
                  f"-> {ok / elapsed:.1f} photos/s", flush=True)
            if args.img2dataset:
                elapsed, ok = run_img2dataset(work, args.img2dataset, n)
                whole["img2dataset 1.47"].append(ok / elapsed)
                print(f"round {r + 1}: img2dataset: {ok} in {elapsed:.1f} s -> {ok / elapsed:.1f} photos/s", flush=True)
        if not args.skip_in_process:
            for r in range(args.rounds):
                before = cpu_ceiling(pool_dir, args.ceiling_seconds)
                info = run_in_process(work)
                after = cpu_ceiling(pool_dir, args.ceiling_seconds)
                ok, seconds = int(info["ok"]), info["seconds"]
                in_process.append(ok / seconds)
                ceilings.append({m: (before[m] + after[m]) / 2 for m in before})
                best = max(ceilings[-1].values())
                cpu_ms.append(cpu_breakdown(info, best))
                print(f"round {r + 1}: in-process download_images {ok / seconds:.1f} photos/s; ceiling "
                      + ", ".join(f"{m} {v:.1f}" for m, v in ceilings[-1].items())
                      + f" -> {ok / seconds / best:.0%} of the fastest; CPU ms per photo: "
                      + ", ".join(f"{k} {v:.2f}" for k, v in cpu_ms[-1].items()), flush=True)
        breakdown = run_breakdown(work, pool_dir, port, n, args.breakdown) if args.breakdown else {}
    finally:
        server.terminate()
        if isinstance(server, subprocess.Popen):
            server.wait(5)
        else:
            server.join(5)

    timed_rounds = 0 if args.skip_whole and args.skip_in_process else args.rounds
    print(f"\nsummary, {width}x{height}" + (f", photos/s, median (min-max) of {timed_rounds} interleaved round(s)"
                                           if timed_rounds else "") + ":")
    for name, rates in whole.items():
        if rates:
            print(f"  whole command  {name:18s} {spread(rates)}")
    if whole["img2dataset 1.47"]:
        ratios = [a / b for a, b in zip(whole["hotelcap"], whole["img2dataset 1.47"], strict=True)]
        ratio = statistics.median(whole["hotelcap"]) / statistics.median(whole["img2dataset 1.47"])
        print(f"  hotelcap / img2dataset: {ratio:.2f}x (ratio of medians; per round "
              + ", ".join(f"{x:.2f}" for x in ratios) + "); target 1.3x: " + ("met" if ratio >= 1.3 else "NOT met"))
    if in_process:
        best_rates = [max(c.values()) for c in ceilings]
        shares = [a / b for a, b in zip(in_process, best_rates, strict=True)]
        for method in ceilings[0]:
            print(f"  CPU ceiling    {method:36s} {spread([c[method] for c in ceilings])}")
        for key in cpu_ms[0]:
            print(f"  CPU ms per photo, {key:41s} {spread([c[key] for c in cpu_ms])}")
        print(f"  in-process download_images {spread(in_process)} = {statistics.median(shares):.0%} of the "
              f"fastest ceiling (per round " + ", ".join(f"{s:.0%}" for s in shares) + "); target 85%: "
              + ("met" if statistics.median(shares) >= 0.85 else "NOT met"))
    if breakdown:
        print(f"  CPU per photo by stage, each against the one before it at the same moment ({args.breakdown} "
              "round(s), median (min-max) of the ratios):")
        total = 1.0
        for (_, stage), ratios in breakdown.items():
            ratio = statistics.median(ratios)
            total *= ratio
            print(f"    {BREAKDOWN_STAGES[stage]:78s} x{ratio:.3f} (x{min(ratios):.3f}-x{max(ratios):.3f})")
        print(f"    all layers: x{total:.3f} the ceiling's CPU per photo: about {1 / total:.0%} of the ceiling's rate")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
