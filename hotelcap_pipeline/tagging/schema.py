"""The columns of the image_embeddings and tag_evaluation tables, without the stacks that compute them (torch,
scikit-learn), so the assets can declare them when the definitions load."""

from __future__ import annotations

import polars as pl

EMBEDDING_SCHEMA = pl.Schema(
    {
        "image_id": pl.Int64(),
        "hotel_id": pl.Int64(),
        "chain_id": pl.Int64(),
        "sha256": pl.Utf8(),
        "model": pl.Utf8(),
        "embedding": pl.List(pl.Float32),
    }
)

EVALUATION_SCHEMA = pl.Schema(
    {
        "method": pl.Utf8,
        "split": pl.Utf8,
        "tag": pl.Utf8,
        "precision": pl.Float64,
        "recall": pl.Float64,
        "f1": pl.Float64,
        "average_precision": pl.Float64,
        "auc": pl.Float64,
        "auc_low": pl.Float64,
        "auc_high": pl.Float64,
        "n_present": pl.Int64,
        "n_absent": pl.Int64,
        "n_given": pl.Int64,
        "threshold": pl.Float64,
        "accuracy": pl.Float64,
        "room_photos": pl.Int64,
        "photos": pl.Int64,
    }
)
