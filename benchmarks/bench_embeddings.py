"""Photos/s of the image_embeddings stage versus the forward pass alone, in one run.

    python benchmarks/bench_embeddings.py [--arch demo --arch ViT-B-32] [--photos 256] [--batch-size 32]
                                          [--workers 2] [--threads N] [--photo-side 640] [--no-bf16]
                                          [--device cpu|cuda|mps|auto]

For each architecture, loaded through load_clip's local-checkpoint path (the demo's shipped trained
checkpoint; random weights, saved to a temporary file, for the others):
the stage (embed_images: read JPEG, decode, preprocess, forward, Parquet-ready table) on synthetic
photos of the upstream size (longer side 640), and the forward pass alone on pre-made tensors with the
same model, batch size and torch threads. Target: stage >= 90% of forward-only. Also the bf16 autocast
speed-up of the forward pass on this machine. ``--device`` runs both on a GPU (``auto``: cuda, then mps,
then cpu); the photos are still decoded on the CPU, as in the stage.
"""

from __future__ import annotations

import argparse
import hashlib
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl
import torch
from PIL import Image, ImageDraw

from hotelcap_pipeline.atomic_files import atomic_path
from hotelcap_pipeline.settings import DEMO_CLIP_CHECKPOINT, DEMO_CLIP_MODEL, resolve_device
from hotelcap_pipeline.tagging.clip_model import ClipModel, load_clip
from hotelcap_pipeline.tagging.embed import embed_images

ARCHS = {"demo": DEMO_CLIP_MODEL, "ViT-B-32": "ViT-B-32"}


def synthetic_photos(root: Path, count: int, side: int, seed: int = 0) -> pl.DataFrame:
    """JPEG 'rooms' (gradients and boxes, longer side ``side``) and their hotel_images manifest."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        height = side * 3 // 4
        ramp = np.linspace(0, 1, side)[None, :, None] * rng.uniform(60, 200, size=3)
        pixels = np.broadcast_to(ramp, (height, side, 3)).astype(np.uint8)
        image = Image.fromarray(np.ascontiguousarray(pixels))
        draw = ImageDraw.Draw(image)
        for _ in range(6):
            x, y = rng.integers(0, side - 60), rng.integers(0, height - 60)
            draw.rectangle(
                (x, y, x + rng.integers(20, 200), y + rng.integers(20, 150)),
                fill=tuple(int(c) for c in rng.integers(0, 255, 3)),
            )
        rel = f"images/train/-1/{i % 10}/traffickcam/{i}.jpg"
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        image.save(path, quality=90)
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        rows.append({"image_id": i, "hotel_id": i % 10, "chain_id": -1, "path": rel, "sha256": sha, "status": "ok"})
    return pl.DataFrame(rows)


def checkpoint_of(arch: str, models_dir: Path) -> Path:
    """The demo's shipped checkpoint, or random weights (speed does not depend on them) for the others."""
    if arch == DEMO_CLIP_MODEL:
        if not DEMO_CLIP_CHECKPOINT.is_file():
            raise SystemExit(f"{DEMO_CLIP_CHECKPOINT} is missing: run `python -m hotelcap_pipeline.demo.train_clip`")
        return DEMO_CLIP_CHECKPOINT
    import open_clip

    path = models_dir / f"{arch}-random.pt"
    torch.manual_seed(0)
    model = open_clip.create_model(arch, pretrained=None)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        torch.save(model.state_dict(), fh)
    return path


def forward_only(clip: ClipModel, photos: int, batch_size: int) -> float:
    """Photos/s of encode_pixels on pre-made tensors (the same number of photos and batches)."""
    batch = torch.randn(batch_size, 3, clip.image_size, clip.image_size)
    clip.encode_pixels(batch)  # warm-up
    start = time.perf_counter()
    done = 0
    while done < photos:
        n = min(batch_size, photos - done)
        clip.encode_pixels(batch[:n])
        done += n
    return photos / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", action="append", choices=list(ARCHS), help="repeatable; default: both")
    parser.add_argument("--photos", type=int, default=256)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="decode/preprocess threads of the stage")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch intra-op threads")
    parser.add_argument("--photo-side", type=int, default=640)
    parser.add_argument("--no-bf16", action="store_true")
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory(prefix="bench-embed-") as tmp:
        root = Path(tmp)
        manifest = synthetic_photos(root / "store", args.photos, args.photo_side)
        print(
            f"{args.photos} synthetic JPEGs {args.photo_side}x{args.photo_side * 3 // 4}, batch {args.batch_size}, "
            f"torch threads {args.threads}, stage workers {args.workers}, {device}"
        )
        for name in args.arch or list(ARCHS):
            arch = ARCHS[name]
            checkpoint = checkpoint_of(arch, root / "models")
            clip = load_clip(arch, str(checkpoint), device=device)
            before = forward_only(clip, args.photos, args.batch_size)  # also warms up this batch shape
            _, stats = embed_images(
                manifest, root / "store", clip, None, batch_size=args.batch_size, workers=args.workers
            )
            # Forward-only measured before and after the stage, so load drifting during the run cancels out.
            forward = (before + forward_only(clip, args.photos, args.batch_size)) / 2
            stage = stats["computed"] / stats["seconds"]
            print(
                f"[{name}] stage {stage:8.1f} photos/s (whole call, {stats['seconds']:.2f} s) | "
                f"forward-only {forward:8.1f} photos/s | stage/forward = {stage / forward:.0%} (target >= 90%)"
            )
            if device == "mps" and not args.no_bf16:
                print(f"[{name}] bf16 autocast: not measured (on mps only fp16 autocast is supported)")
            elif not args.no_bf16:
                bf16 = load_clip(arch, str(checkpoint), device=device, precision="bf16")
                fast = forward_only(bf16, args.photos, args.batch_size)
                print(f"[{name}] forward-only bf16 autocast {fast:8.1f} photos/s | bf16/fp32 = {fast / forward:.2f}x")


if __name__ == "__main__":
    main()
