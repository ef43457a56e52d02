"""Text embeddings kept on disk by (CLIP model id, text): a rerun of the tagging with the same prompts and
model encodes nothing. One Parquet file per model under ``models/text_embeddings/``."""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import polars as pl

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.store import DamagedFileError, read_parquet_checked

logger = logging.getLogger(__name__)


class TextEncoder(Protocol):
    model_id: str
    embed_dim: int

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


class CachedTextEncoder:
    """``encode_texts`` of ``clip`` through a per-model cache file (``encoded`` counts the texts really encoded)."""

    def __init__(self, clip: TextEncoder, folder: Path) -> None:
        self.clip = clip
        self.model_id = clip.model_id
        self.embed_dim = clip.embed_dim
        digest = hashlib.sha256(clip.model_id.encode("utf-8")).hexdigest()[:16]
        self.path = Path(folder) / f"{digest}.parquet"
        self.encoded = 0
        self._rows: dict[str, np.ndarray] = {}
        self._dirty = False
        if self.path.is_file():
            try:
                table = read_parquet_checked(self.path, "image_tags")
            except DamagedFileError as exc:
                # Only a cache: start empty and let save() write it whole again.
                logger.warning("%s is damaged (%s): prompt embeddings are encoded again", exc.path, exc.reason)
                table = pl.DataFrame()
                self._dirty = True
            if table.height and table["model"][0] == self.model_id:
                for text, vector in zip(table["text"], table["embedding"], strict=True):
                    self._rows[text] = np.asarray(vector, dtype=np.float32)

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self._rows))
        if missing:
            for text, vector in zip(missing, self.clip.encode_texts(missing), strict=True):
                self._rows[text] = np.asarray(vector, dtype=np.float32)
            self.encoded += len(missing)
            self._dirty = True
        if not texts:
            return self.clip.encode_texts([])
        return np.stack([self._rows[t] for t in texts]).astype(np.float32, copy=False)

    def save(self) -> None:
        """Write the cache (atomically) when anything was added."""
        if not self._dirty:
            return
        texts = sorted(self._rows)
        table = pl.DataFrame(
            {
                "model": [self.model_id] * len(texts),
                "text": texts,
                "embedding": pl.Series([self._rows[t] for t in texts]).cast(pl.List(pl.Float32)),
            }
        )
        buf = io.BytesIO()
        table.write_parquet(buf)
        atomic_write_bytes(self.path, buf.getvalue())
        self._dirty = False
