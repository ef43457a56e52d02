"""How much a rerun of the whole demo that changes nothing adds to DAGSTER_HOME (the event log must stay bounded).

    python benchmarks/bench_rerun_growth.py [--reruns 2] [--workdir DIR]

Runs `hotelcap materialize` with the demo profile on a fresh DAGSTER_HOME and data store, then reruns it
(every photo, embedding and edit is reused), and prints each rerun's growth per file and in all. Target:
under 1 MB (1,000,000 bytes) per rerun. The synthetic demo world; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
TARGET_BYTES = 1_000_000


def file_sizes(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_size for p in folder.rglob("*") if p.is_file()}


def materialize(env: dict[str, str]) -> float:
    cli = shutil.which("hotelcap", path=str(Path(sys.executable).parent)) or "hotelcap"
    start = time.perf_counter()
    done = subprocess.run([cli, "materialize"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"hotelcap materialize failed: {(done.stderr or done.stdout).strip().splitlines()[-1]}")
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reruns", type=int, default=2, help="reruns after the first run (default 2)")
    parser.add_argument("--workdir", default=None, help="scratch folder (default: a temporary one, removed)")
    args = parser.parse_args()

    work = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="hotelcap-rerun-"))
    home = work / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "DAGSTER_HOME": str(home), "HOTELCAP_DATA_STORE": str(work / "store"),
           "HOTELCAP_PROFILE": "demo"}
    try:
        print(f"first run (empty store): {materialize(env):.0f} s", flush=True)
        growth = []
        for n in range(1, args.reruns + 1):
            before = file_sizes(home)
            seconds = materialize(env)
            after = file_sizes(home)
            changed = {k: after.get(k, 0) - before.get(k, 0) for k in after.keys() | before.keys()}
            total = sum(changed.values())
            growth.append(total)
            print(f"rerun {n}: {seconds:.0f} s, DAGSTER_HOME grew by {total:,} bytes", flush=True)
            for name, size in sorted(changed.items(), key=lambda kv: -kv[1]):
                if size:
                    print(f"  {size:>10,}  {name}")
        worst = max(growth)
        verdict = "met" if worst < TARGET_BYTES else "NOT met"
        print(f"largest rerun growth {worst:,} bytes; target under {TARGET_BYTES:,}: {verdict}")
    finally:
        if not args.workdir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
