"""Photo download throughput on this machine: hotelcap vs img2dataset 1.47 vs the upstream approach.

Serves N synthetic JPEGs (distinct URLs; the bytes cycle through a pool of distinct photos) from a
loopback aiohttp server in its own process, then times, one after the other on the same URLs:

- hotelcap: ``hotelcap_pipeline.photos.download_images`` with its default worker processes (one event
  loop per core) and, for comparison, in one process (``--processes auto,1``);
- img2dataset 1.47 (its CLI, ``keep_ratio_largest``, 640 px, 2 processes x 32 threads, files output);
- the upstream Hotels-50K approach: a multiprocessing pool over blocking urllib + OpenCV resize.

Every contender runs as a subprocess and is timed wall-clock, start-up included. Also prints the
single-core decode+resize+encode rate (hotelcap's own resize) as the CPU ceiling: 2 cores x that rate,
measured right before and right after each hotelcap run and averaged (a shared machine drifts by 10%
over minutes, so a ceiling from another minute would blur the share).

    python benchmarks/bench_download.py                       # 3000 x 1024x768 (~250 KB)
    python benchmarks/bench_download.py --size 2048x1536
    python benchmarks/bench_download.py --n 300               # a quick check
"""

from __future__ import annotations

import argparse
import io
import itertools
import json
import multiprocessing
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IMG2DATASET = ROOT / ".bench" / "venv-img2dataset" / "bin" / "img2dataset"


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
    """The loopback server (runs in a child process): GET /img/<i>.jpg returns pool photo i mod K."""
    import asyncio

    from aiohttp import web

    pool = [p.read_bytes() for p in sorted(Path(pool_dir).glob("*.jpg"))]

    async def photo(request: web.Request) -> web.Response:
        index = int(request.match_info["index"])
        return web.Response(body=pool[index % len(pool)], content_type="image/jpeg")

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


HOTELCAP_CHILD = """
import json, sys, time
from pathlib import Path
import polars as pl
from hotelcap_pipeline.http import SessionPolicy
from hotelcap_pipeline.photos import DownloadOptions, ResizeSpec, download_images
requests = pl.read_parquet(sys.argv[1])
in_flight = int(sys.argv[3])
processes = None if sys.argv[4] == "auto" else int(sys.argv[4])
options = DownloadOptions(session=SessionPolicy(limit=in_flight, limit_per_host=in_flight),
                          resize=ResizeSpec(resample=sys.argv[5]), processes=processes)
start = time.perf_counter()
manifest = download_images(requests, Path(sys.argv[2]), options, progress=lambda event: None)
print(json.dumps({"ok": manifest.filter(pl.col("status") == "ok").height,
                  "inner_s": time.perf_counter() - start}))
"""


def upstream_worker(job: tuple[str, str]) -> bool:
    """One photo the upstream way: blocking urllib, OpenCV decode, resize longer side to 640, imwrite."""
    import urllib.request

    import cv2

    url, dest = job
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            data = np.frombuffer(resp.read(), np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_COLOR)
        h, w = img.shape[:2]
        scale = 640 / max(h, w)
        img = cv2.resize(img, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        Path(dest).parent.mkdir(parents=True, exist_ok=True)
        return bool(cv2.imwrite(dest, img))
    except Exception:
        return False


def run_upstream(urls_file: str, out_dir: str, processes: int) -> None:
    urls = pl.read_parquet(urls_file)["url"].to_list()
    jobs = [(url, str(Path(out_dir) / f"{i}.jpg")) for i, url in enumerate(urls)]
    with multiprocessing.get_context("fork").Pool(processes) as pool:
        ok = sum(pool.imap_unordered(upstream_worker, jobs, chunksize=4))
    print(json.dumps({"ok": ok}))


def timed(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, str]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return elapsed, proc.stdout


def count_jpegs(folder: Path) -> int:
    return sum(1 for _ in folder.rglob("*.jpg"))


def cpu_ceiling(pool: list[bytes], seconds: float, resample: str) -> float:
    """Photos per second that one core decodes, resizes to 640 and encodes (hotelcap's resize_photo)."""
    from hotelcap_pipeline.photos import ResizeSpec, resize_photo

    spec = ResizeSpec(resample=resample)  # type: ignore[arg-type]
    done, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        resize_photo(pool[done % len(pool)], spec)
        done += 1
    return done / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=3000, help="photos to serve and fetch (default 3000)")
    parser.add_argument("--size", default="1024x768", help="synthetic photo size (default 1024x768)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the served photos")
    parser.add_argument("--pool", type=int, default=48, help="distinct photos the URLs cycle through")
    parser.add_argument("--processes", default="auto,1",
                        help="hotelcap worker processes to time: 'auto' (the default, one per core) and/or numbers")
    parser.add_argument("--resamples", default="hamming",
                        help="hotelcap resize filters to time: hamming (the default), lanczos, bicubic, box")
    parser.add_argument("--in-flight", type=int, default=64)
    parser.add_argument("--upstream-processes", type=int, default=os.cpu_count() or 2,
                        help="pool size of the upstream approach (Pool() default: CPU count)")
    parser.add_argument("--img2dataset", default=str(DEFAULT_IMG2DATASET),
                        help="img2dataset CLI ('' to skip)")
    parser.add_argument("--ceiling-seconds", type=float, default=5.0)
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one, removed)")
    parser.add_argument("--_upstream", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args._upstream:
        run_upstream(args._upstream[0], args._upstream[1], int(args._upstream[2]))
        return

    width, height = (int(v) for v in args.size.lower().split("x"))
    work = Path(args.workdir or tempfile.mkdtemp(prefix="hotelcap-bench-"))
    pool_dir = work / "pool"
    pool_dir.mkdir(parents=True, exist_ok=True)
    pool = [synthetic_photo((width, height), seed, args.quality) for seed in range(args.pool)]
    for i, data in enumerate(pool):
        (pool_dir / f"{i:04d}.jpg").write_bytes(data)
    mean_kb = sum(map(len, pool)) / len(pool) / 1000
    print(f"{args.n} photos {width}x{height}, mean {mean_kb:.0f} KB ({args.pool} distinct), "
          f"{os.cpu_count()} CPU cores")

    ctx = multiprocessing.get_context("fork")
    ports: multiprocessing.Queue = ctx.Queue()
    server = ctx.Process(target=serve, args=(str(pool_dir), ports), daemon=True)
    server.start()
    results: dict[str, float] = {}
    ceilings: dict[str, float] = {}  # contender -> 2 x single-core rate around its run
    try:
        port = ports.get(timeout=30)
        urls = [f"http://127.0.0.1:{port}/img/{i}.jpg" for i in range(args.n)]
        requests = pl.DataFrame({
            "image_id": list(range(args.n)), "hotel_id": [i // 20 for i in range(args.n)],
            "chain_id": [-1] * args.n, "image_source": ["travel_website"] * args.n, "url": urls,
            "split": ["train"] * args.n,
        })
        requests.write_parquet(work / "requests.parquet")
        # img2dataset's reader wants string columns (its CSV reader breaks on the dataset's timestamps).
        requests.select(pl.all().cast(pl.Utf8)).write_parquet(work / "urls.parquet")

        for processes, resample in itertools.product(args.processes.split(","), args.resamples.split(",")):
            out = work / f"hotelcap-{processes}-{resample}"
            before = cpu_ceiling(pool, args.ceiling_seconds, resample)
            elapsed, stdout = timed([sys.executable, "-c", HOTELCAP_CHILD, str(work / "requests.parquet"),
                                     str(out), str(args.in_flight), processes, resample])
            info = json.loads(stdout.strip().splitlines()[-1])
            label = "worker processes" if processes == "auto" else f"{processes} process(es)"
            name = f"hotelcap ({label}, {resample})"
            after = cpu_ceiling(pool, args.ceiling_seconds, resample)
            results[name] = info["ok"] / elapsed
            ceilings[name] = before + after
            print(f"{name}: {info['ok']}/{args.n} ok in {elapsed:.1f} s "
                  f"({info['inner_s']:.1f} s without start-up) -> {info['ok'] / elapsed:.1f} img/s; "
                  f"CPU ceiling ({resample}) {before:.1f} img/s on one core before, {after:.1f} after "
                  f"-> 2 cores {before + after:.1f} img/s")
            shutil.rmtree(out, ignore_errors=True)

        if args.img2dataset:
            out = work / "img2dataset"
            env = {**os.environ, "NO_ALBUMENTATIONS_UPDATE": "1", "WANDB_MODE": "disabled"}
            elapsed, _ = timed([args.img2dataset, "--url_list", str(work / "urls.parquet"),
                                "--input_format", "parquet", "--url_col", "url", "--output_folder", str(out),
                                "--resize_mode", "keep_ratio_largest", "--image_size", "640",
                                "--processes_count", "2", "--thread_count", "32", "--output_format", "files"],
                               env=env)
            ok = count_jpegs(out)
            results["img2dataset 1.47"] = ok / elapsed
            print(f"img2dataset 1.47: {ok}/{args.n} ok in {elapsed:.1f} s -> {ok / elapsed:.1f} img/s")
            shutil.rmtree(out, ignore_errors=True)

        out = work / "upstream"
        elapsed, stdout = timed([sys.executable, __file__, "--_upstream", str(work / "urls.parquet"),
                                 str(out), str(args.upstream_processes)])
        ok = json.loads(stdout.strip().splitlines()[-1])["ok"]
        results["upstream (urllib + OpenCV pool)"] = ok / elapsed
        print(f"upstream (pool of {args.upstream_processes}, urllib + OpenCV): {ok}/{args.n} ok "
              f"in {elapsed:.1f} s -> {ok / elapsed:.1f} img/s")
        shutil.rmtree(out, ignore_errors=True)
    finally:
        server.terminate()
        server.join(5)

    reference = results.get("img2dataset 1.47")
    print("\nsummary (images/s, ratio to img2dataset, share of the 2-core CPU ceiling measured around the run):")
    for name, rate in results.items():
        ratio = f"{rate / reference:.2f}x" if reference else "n/a"
        ceiling = ceilings.get(name)
        share = f"{rate / ceiling:6.0%} of {ceiling:.0f}" if ceiling else "     -"
        print(f"  {name:40s} {rate:8.1f}  {ratio:>7s}  {share}")
    if args.workdir is None:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
