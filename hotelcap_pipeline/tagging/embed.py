"""The ``image_embeddings`` stage: one unit-length CLIP embedding per ``ok`` photo, computed incrementally.

An embedding is keyed by (image sha256, model id): photos already embedded by the same model are taken
from the previous table, identical bytes under two image ids are embedded once. Decoding and
preprocessing run in a thread pool (PIL and torch release the GIL) a few batches ahead of the forward pass.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import numpy as np
import polars as pl
import torch
from PIL import Image

from hotelcap_pipeline.frames import number
from hotelcap_pipeline.store import DamagedFileError, read_parquet_checked, write_parquet_atomic
from hotelcap_pipeline.tagging.clip_model import ClipModel, file_sha256
from hotelcap_pipeline.tagging.schema import EMBEDDING_SCHEMA

EMBEDDING_COLUMNS = tuple(EMBEDDING_SCHEMA)
MAX_REPORTED_ERRORS = 20
# Embeddings saved to a checkpoint part at least this often (photos), so a killed run loses little.
CHECKPOINT_EVERY = 256
logger = logging.getLogger(__name__)


class EmbeddingCheckpoint:
    """Embeddings computed so far, saved in parts as they go, so a killed run resumes where it stopped.

    Parts are hidden files beside the shard (``.checkpoint.<name>.<n>.parquet``): table readers and
    uploads skip hidden names, and each part is written atomically, so a kill mid-write loses that part only.
    """

    def __init__(self, folder: Path, name: str) -> None:
        self.folder = Path(folder)
        self.name = name

    def _parts(self) -> list[Path]:
        return sorted(self.folder.glob(f".checkpoint.{self.name}.*.parquet"),
                      key=lambda p: int(p.name.split(".")[-2]) if p.name.split(".")[-2].isdigit() else -1)

    def load(self) -> pl.DataFrame | None:
        frames = []
        for part in self._parts():
            try:
                frames.append(read_parquet_checked(part, "image_embeddings"))
            except DamagedFileError as exc:
                logger.warning("%s is damaged (%s): skipped, its photos are embedded again", exc.path, exc.reason)
        return pl.concat(frames, how="vertical_relaxed") if frames else None

    def save(self, part: pl.DataFrame) -> None:
        parts = self._parts()
        n = int(parts[-1].name.split(".")[-2]) + 1 if parts else 0
        write_parquet_atomic(part, self.folder / f".checkpoint.{self.name}.{n}.parquet")

    def clear(self) -> None:
        for part in self._parts():
            part.unlink(missing_ok=True)


def embedding_matrix(embeddings: pl.DataFrame, column: str = "embedding") -> np.ndarray:
    """The embedding column as a float32 (N, D) array."""
    series = embeddings[column]
    if series.len() == 0:
        return np.zeros((0, 0), dtype=np.float32)
    dim = int(number(series.list.len().max()))
    return series.list.to_array(dim).to_numpy().astype(np.float32, copy=False)


def embedding_series(matrix: np.ndarray, name: str = "embedding") -> pl.Series:
    return pl.Series(name, np.asarray(matrix, dtype=np.float32)).cast(pl.List(pl.Float32))


def load_pixels(path: Path, preprocess: Callable[[Image.Image], torch.Tensor], min_side: int) -> torch.Tensor:
    """Decode and preprocess one photo; JPEGs are decoded at the smallest DCT scale still >= ``min_side``."""
    with Image.open(path) as image:
        image.draft("RGB", (min_side, min_side))
        return preprocess(image.convert("RGB"))


def prefetch(
    items: Iterable[Path], load: Callable[[Path], torch.Tensor], batch_size: int, workers: int
) -> Iterator[list[torch.Tensor | Exception]]:
    """Batches of ``load(item)`` results (or the exception raised), in order, computed ahead in threads."""
    ahead = max(2 * batch_size, workers)

    def safe_load(item: Path) -> torch.Tensor | Exception:
        try:
            return load(item)
        except Exception as exc:  # a bad photo is reported, the rest of the batch goes on
            return exc

    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="embed-load") as pool:
        pending: deque[Future[torch.Tensor | Exception]] = deque()
        source = iter(items)
        for item in source:
            pending.append(pool.submit(safe_load, item))
            if len(pending) >= ahead:
                break
        batch: list[torch.Tensor | Exception] = []
        while pending:
            batch.append(pending.popleft().result())
            next_item = next(source, None)
            if next_item is not None:
                pending.append(pool.submit(safe_load, next_item))
            if len(batch) == batch_size:
                yield batch
                batch = []
        if batch:
            yield batch


def _cached_for_model(cached: pl.DataFrame | None, model_id: str) -> pl.DataFrame:
    empty = pl.DataFrame(schema={"sha256": pl.Utf8, "embedding": pl.List(pl.Float32)})
    if cached is None or cached.is_empty():
        return empty
    return (
        cached.filter(pl.col("model") == model_id)
        .select("sha256", pl.col("embedding").cast(pl.List(pl.Float32)))
        .unique("sha256", keep="first", maintain_order=True)
    )


def _with_sha256(ok: pl.DataFrame, store_root: Path) -> pl.DataFrame:
    """Fill a missing sha256 from the file itself, so every row can be keyed."""
    if ok["sha256"].null_count() == 0:
        return ok
    filled = [
        sha if sha is not None else file_sha256(store_root / path)
        for sha, path in zip(ok["sha256"], ok["path"], strict=True)
    ]
    return ok.with_columns(pl.Series("sha256", filled, dtype=pl.Utf8))


def embed_images(
    manifest: pl.DataFrame,
    store_root: Path,
    clip: ClipModel,
    cached: pl.DataFrame | None,
    *,
    batch_size: int = 64,
    workers: int = 2,
    progress: Callable[[int, int], None] | None = None,
    checkpoint: EmbeddingCheckpoint | None = None,
    checkpoint_every: int = CHECKPOINT_EVERY,
) -> tuple[pl.DataFrame, dict]:
    """Embed every ``ok`` photo of the ``hotel_images`` manifest, reusing ``cached`` rows of the same model.

    Returns the ``image_embeddings`` table (EMBEDDING_COLUMNS, sorted by image_id) and stats:
    computed, reused, failed, seconds, photos_per_s (of the computed photos) and errors
    (``"<image_id> <path>: <reason>"``, at most MAX_REPORTED_ERRORS). Photos that cannot be decoded are
    left out of the table and reported; the others go on. With ``checkpoint``, embeddings it holds from a
    killed run are reused, and new ones are saved to it every ``checkpoint_every`` photos.
    """
    start = time.perf_counter()
    store_root = Path(store_root)
    ok = manifest.filter(pl.col("status") == "ok").select("image_id", "hotel_id", "chain_id", "path", "sha256")
    ok = _with_sha256(ok, store_root)
    if checkpoint is not None:
        saved = checkpoint.load()
        if saved is not None:
            cached = saved if cached is None else pl.concat([cached.select(saved.columns), saved],
                                                            how="vertical_relaxed")
    known = _cached_for_model(cached, clip.model_id)
    todo = ok.join(known.select("sha256"), on="sha256", how="anti").unique("sha256", keep="first", maintain_order=True)

    paths = [store_root / p for p in todo["path"]]
    computed_sha: list[str] = []
    chunks: list[np.ndarray] = []
    errors: list[str] = []
    done = 0
    saved_upto = 0  # computed embeddings [0, saved_upto) are in the checkpoint
    forward_start = time.perf_counter()

    def save_checkpoint() -> None:
        nonlocal saved_upto
        if checkpoint is None or len(computed_sha) == saved_upto:
            return
        fresh = np.concatenate(chunks)[saved_upto:]
        checkpoint.save(pl.DataFrame({
            "sha256": pl.Series(computed_sha[saved_upto:], dtype=pl.Utf8),
            "model": pl.Series([clip.model_id] * len(fresh), dtype=pl.Utf8),
            "embedding": embedding_series(fresh),
        }))
        saved_upto = len(computed_sha)

    def load(path: Path) -> torch.Tensor:
        return load_pixels(path, clip.preprocess, clip.image_size)

    for batch in prefetch(paths, load, batch_size, workers):
        good = [(i, item) for i, item in enumerate(batch) if isinstance(item, torch.Tensor)]
        for i, item in enumerate(batch):
            if isinstance(item, Exception):
                row = todo.row(done + i, named=True)
                errors.append(f"{row['image_id']} {store_root / row['path']}: {type(item).__name__}: {item}")
        if good:
            chunks.append(clip.encode_pixels(torch.stack([pixels for _, pixels in good])))
            computed_sha.extend(todo["sha256"][done + i] for i, _ in good)
        done += len(batch)
        if len(computed_sha) - saved_upto >= checkpoint_every:
            save_checkpoint()
        if progress is not None:
            progress(done, len(paths))
    forward_seconds = time.perf_counter() - forward_start

    fresh = pl.DataFrame(
        {
            "sha256": pl.Series(computed_sha, dtype=pl.Utf8),
            "embedding": embedding_series(np.concatenate(chunks) if chunks else np.zeros((0, clip.embed_dim))),
        }
    )
    table = (
        ok.join(pl.concat([known, fresh]), on="sha256", how="inner")
        .with_columns(pl.lit(clip.model_id).alias("model"))
        .select(EMBEDDING_COLUMNS)
        .sort("image_id")
    )
    reused = ok.join(known.select("sha256"), on="sha256", how="semi").height
    stats = {
        "computed": len(computed_sha),
        "reused": reused,
        "failed": len(errors),
        "seconds": round(time.perf_counter() - start, 3),
        "photos_per_s": round(len(computed_sha) / forward_seconds, 2) if computed_sha and forward_seconds else 0.0,
        "errors": errors[:MAX_REPORTED_ERRORS],
        "model": clip.model_id,
    }
    return table, stats
