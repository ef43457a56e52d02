"""Per-series summary of the ``diffusion_edits`` table."""

from __future__ import annotations

import polars as pl


def edit_summary(edits: pl.DataFrame) -> pl.DataFrame:
    """One row per series: how many edits, the mean scores, and the share accepted by the validated rule
    (null for a series without one)."""
    ok = pl.col("status") == "ok"
    return edits.group_by("edit", maintain_order=True).agg(
        pl.len().alias("photos"),
        ok.sum().alias("ok"),
        pl.col("strength").filter(ok).mean().alias("strength"),
        pl.col("clip_image_sim").filter(ok).mean().alias("clip_image_sim"),
        pl.col("directional").filter(ok).mean().alias("directional"),
        pl.col("ssim").filter(ok).mean().alias("ssim"),
        pl.col("accepted").filter(ok).cast(pl.Float64).mean().alias("accepted"),
    )
