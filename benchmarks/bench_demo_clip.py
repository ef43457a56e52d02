"""Held-out tagging quality of the demo CLIP (trained on the synthetic world), and its training time.

    python benchmarks/bench_demo_clip.py [--photos 300] [--seed 1] [--retrain]

Loads the shipped checkpoint through load_clip (as the demo does), checks its sha256 against its JSON
record, renders held-out rooms of the demo's own hotels (never trained on) at the demo's real photo
sizes, and prints per-tag ROC AUC of each tagging method's scores (photos that show the tag vs photos
that do not), the median AUC and the mAP per method, whether the seed method's median AUC meets the
0.9 target, and the training time recorded in the JSON. ``--retrain`` also runs the training command
into a temporary folder, prints the measured training time and whether the new checkpoint has the same
bytes as the shipped one.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from hotelcap_pipeline.demo.train_clip import (
    TARGET_MEDIAN_AUC,
    build,
    evaluate,
    held_out_photos,
    metrics_table,
)
from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL
from hotelcap_pipeline.tagging.clip_model import file_sha256, load_clip


def shipped_record() -> dict:
    record_path = DEMO_CLIP_CHECKPOINT.with_suffix(".json")
    if not DEMO_CLIP_CHECKPOINT.is_file() or not record_path.is_file():
        raise SystemExit(
            f"{DEMO_CLIP_CHECKPOINT} or its JSON is missing: run `python -m hotelcap_pipeline.demo.train_clip`"
        )
    return json.loads(record_path.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=int, default=300, help="held-out renders")
    parser.add_argument("--seed", type=int, default=1, help="seed of the held-out rooms (training never uses it)")
    parser.add_argument("--retrain", action="store_true", help="also time the training command (about 10 min)")
    args = parser.parse_args()

    record = shipped_record()
    sha = file_sha256(DEMO_CLIP_CHECKPOINT)
    print(
        f"{DEMO_CLIP_CHECKPOINT.name}: {DEMO_CLIP_CHECKPOINT.stat().st_size / 1e6:.1f} MB, "
        f"{record['parameters'] / 1e6:.2f} M parameters, sha256 {sha[:12]} "
        f"({'matches' if sha == record['sha256'] else 'DOES NOT match'} its JSON)"
    )
    clip = load_clip(DEMO_CLIP_MODEL, str(DEMO_CLIP_CHECKPOINT), device="cpu")
    start = time.perf_counter()
    photos = held_out_photos(args.photos, args.seed)
    methods = evaluate(clip, photos)
    print(
        f"\n{len(photos)} held-out renders of the demo hotels at real sizes ({time.perf_counter() - start:.0f} s),"
        " per-tag ROC AUC:"
    )
    print(metrics_table(methods))
    median = methods["seed"]["median_auc"]
    print(
        f"\nseed method median AUC {median:.3f}: target >= {TARGET_MEDIAN_AUC} "
        f"{'met' if median >= TARGET_MEDIAN_AUC else 'NOT met'}"
    )
    print(
        f"recorded training: {record['training_seconds']} s wall on {record['threads']} threads "
        f"(`{record['command']}`, torch {record['torch']}, open_clip {record['open_clip']})"
    )

    if args.retrain:
        with tempfile.TemporaryDirectory(prefix="bench-demo-clip-") as tmp:
            start = time.perf_counter()
            again = build(Path(tmp), log=lambda _message: None)
            wall = time.perf_counter() - start
        same = "identical bytes" if again["sha256"] == record["sha256"] else "DIFFERENT bytes"
        print(
            f"retrained: {again['training_seconds']} s training, {wall:.0f} s with the held-out measurement; "
            f"checkpoint has {same} to the shipped one"
        )


if __name__ == "__main__":
    main()
