"""Per-series summary of the ``diffusion_edits`` table."""

from __future__ import annotations

import polars as pl


def edit_summary(edits: pl.DataFrame) -> pl.DataFrame:
    """One row per series: how many edits, the mean scores, and the share accepted by the validated rule
    (null for a series without one)."""
    ok = pl.col("status") == "ok"
    # A table written before the pixel scores existed has no such columns.
    scores = [c for c in ("clip_image_sim", "directional", "ssim", "local_change", "change_elsewhere")
              if c in edits.columns]
    return edits.group_by("edit", maintain_order=True).agg(
        pl.len().alias("photos"),
        ok.sum().alias("ok"),
        pl.col("strength").filter(ok).mean().alias("strength"),
        *(pl.col(c).filter(ok).mean().alias(c) for c in scores),
        pl.col("accepted").filter(ok).cast(pl.Float64).mean().alias("accepted"),
    )
