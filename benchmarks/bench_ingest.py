"""Ingest benchmark: synthetic train_set.csv of the real size -> validated, typed Parquet.

    python benchmarks/bench_ingest.py [--rows 1124215] [--repeat 3]

Generates a CSV in the real format (no header row, both timestamp formats, CDN and TraffickCam
URLs), then times hotelcap's parser + Parquet write in a fresh subprocess per repeat (so the peak
resident memory printed is the ingest's own), next to a bare typed polars read for reference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

CHILD = r"""
import json, resource, sys, time
from pathlib import Path
import polars as pl
from hotelcap_pipeline.metadata.parse import read_metadata_csv, parse_timestamps
from hotelcap_pipeline.store import write_parquet_atomic
csv_path, out, mode = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
t0 = time.perf_counter()
if mode == "hotelcap":
    df, report = read_metadata_csv(csv_path, "images")
    write_parquet_atomic(df, out)
else:
    df = pl.read_csv(csv_path, has_header=False, new_columns=["image_id", "hotel_id", "image_url", "image_source",
                     "upload_timestamp"], schema_overrides={"image_id": pl.Int64, "hotel_id": pl.Int64,
                     "upload_timestamp": pl.Utf8})
    df = df.with_columns(parse_timestamps(pl.col("upload_timestamp")).alias("uploaded_at"))
seconds = time.perf_counter() - t0
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": df.height, "peak_rss_mib": peak}))
"""


def make_train_csv(path: Path, rows: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    image_ids = np.arange(1, rows + 1) * 3 + rng.integers(0, 3, rows)
    hotel_ids = rng.integers(391, 481_432, rows)
    tcam = rng.random(rows) < 0.45
    hexes = [f"{x:016x}" for x in rng.integers(0, 2**62, rows)]
    month, day, year = rng.integers(1, 13, rows), rng.integers(1, 29, rows), rng.integers(14, 19, rows)
    hour, minute, sec = rng.integers(0, 24, rows), rng.integers(0, 60, rows), rng.integers(0, 60, rows)
    df = pl.DataFrame({"image_id": image_ids, "hotel_id": hotel_ids, "tcam": tcam, "hex": hexes,
                       "m": month, "d": day, "y": year, "H": hour, "M": minute, "S": sec})
    df = df.select(
        "image_id",
        "hotel_id",
        pl.when("tcam")
        .then(pl.format("https://traffickcam.example.org/images/{}.jpg", "image_id"))
        .otherwise(pl.format("https://i.travelapi.example.com/hotels/1000000/{}_b.jpg", "hex"))
        .alias("image_url"),
        pl.when("tcam").then(pl.lit("traffickcam")).otherwise(pl.lit("travel_website")).alias("image_source"),
        pl.when("tcam")
        .then(pl.format("{}/{}/{} {}:{}", "m", "d", "y", "H", pl.col("M").cast(pl.Utf8).str.zfill(2)))
        .otherwise(pl.format("20{}-{}-{} {}:{}:{}", "y", pl.col("m").cast(pl.Utf8).str.zfill(2),
                             pl.col("d").cast(pl.Utf8).str.zfill(2), pl.col("H").cast(pl.Utf8).str.zfill(2),
                             pl.col("M").cast(pl.Utf8).str.zfill(2), pl.col("S").cast(pl.Utf8).str.zfill(2)))
        .alias("upload_timestamp"),
    )
    df.write_csv(path, include_header=False)


def run_child(csv_path: Path, out: Path, mode: str) -> dict:
    result = subprocess.run([sys.executable, "-c", CHILD, str(csv_path), str(out), mode],
                            capture_output=True, text=True, check=True)
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_124_215)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        csv_path = Path(tmp) / "train_set.csv"
        t0 = time.perf_counter()
        make_train_csv(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {time.perf_counter() - t0:.1f} s")
        results: dict[str, list[dict]] = {"bare polars read": [], "hotelcap ingest": []}
        for _ in range(args.repeat):
            results["bare polars read"].append(run_child(csv_path, Path(tmp) / "bare.parquet", "bare"))
            results["hotelcap ingest"].append(run_child(csv_path, Path(tmp) / "train_images.parquet", "hotelcap"))
        best = {k: min(v, key=lambda r: r["seconds"]) for k, v in results.items()}
        for name, r in best.items():
            print(f"{name:>18}: {r['seconds']:.3f} s for {r['rows']:,} rows (best of {args.repeat}), "
                  f"peak RSS {r['peak_rss_mib']:.0f} MiB")
        ratio = best["hotelcap ingest"]["seconds"] / best["bare polars read"]["seconds"]
        print(f"hotelcap ingest (validate + Parquet write) / bare typed read: {ratio:.2f}x; target: under 1 s")


if __name__ == "__main__":
    main()
