"""The columns of the diffusion_edits and edit_validation tables, without the rendering stack (torch) or the
scoring one (scikit-learn), so the assets can declare them when the definitions load."""

from __future__ import annotations

from typing import TYPE_CHECKING

import polars as pl

if TYPE_CHECKING:
    from polars._typing import SchemaDict

SWEEP_SCHEMA = pl.Struct(
    {
        "strength": pl.Float64,
        "image_guidance": pl.Float64,
        "clip_image_sim": pl.Float64,
        "directional": pl.Float64,
        "ssim": pl.Float64,
        "local_change": pl.Float64,
        "change_elsewhere": pl.Float64,
        "nsfw_flag": pl.Boolean,
        "nan_or_black": pl.Boolean,
        "reused": pl.Boolean,
        "accepted": pl.Boolean,
    }
)
EDIT_COLUMNS: SchemaDict = {
    "image_id": pl.Int64,
    "hotel_id": pl.Int64,
    "edit": pl.Utf8,
    "condition": pl.Utf8,
    "status": pl.Utf8,
    "error": pl.Utf8,
    "path": pl.Utf8,
    "source_path": pl.Utf8,
    "photo_sha256": pl.Utf8,
    "mode": pl.Utf8,
    "model": pl.Utf8,
    "prompt": pl.Utf8,
    "seed": pl.Int64,
    "strength": pl.Float64,
    "image_guidance": pl.Float64,
    "steps": pl.Int64,
    "guidance": pl.Float64,
    "width": pl.Int64,
    "height": pl.Int64,
    "sweep": pl.List(SWEEP_SCHEMA),
    "clip_image_sim": pl.Float64,
    "directional": pl.Float64,
    "ssim": pl.Float64,
    "local_change": pl.Float64,
    "change_elsewhere": pl.Float64,
    "preserve_threshold": pl.Float64,
    "choice_reason": pl.Utf8,
    "accepted": pl.Boolean,  # passed the series' fitted rule; null: the series has no rule
    "rule": pl.Utf8,
    "nsfw_flag": pl.Boolean,
    "nan_or_black": pl.Boolean,
    "clip_model": pl.Utf8,
    "reused": pl.Boolean,
    "cache_key": pl.Utf8,
}
EDIT_SCHEMA = pl.Schema(EDIT_COLUMNS)

# The ``edit_validation`` table's columns: one row per (room, candidate), the scores, the rule's verdict and
# the series' fitted bounds.
VALIDATION_COLUMNS: SchemaDict = {
    "series": pl.Utf8, "room": pl.Int64, "split": pl.Utf8, "class": pl.Utf8, "second_condition": pl.Utf8,
    "clip_image_sim": pl.Float64, "directional": pl.Float64, "ssim": pl.Float64, "off_direction": pl.Float64,
    "local_change": pl.Float64, "change_elsewhere": pl.Float64, "accepted": pl.Boolean,
    "min_directional": pl.Float64, "min_clip_image_sim": pl.Float64,
    "min_ssim": pl.Float64, "max_ssim": pl.Float64, "max_off_direction": pl.Float64,
    "max_local_change": pl.Float64, "max_change_elsewhere": pl.Float64,
}

# The ``edit_selection`` table: the picked photos' embedding keys and file, their tags and why each was picked.
SELECTION_COLUMNS: SchemaDict = {
    "image_id": pl.Int64, "hotel_id": pl.Int64, "chain_id": pl.Int64, "sha256": pl.Utf8, "model": pl.Utf8,
    "shard": pl.Utf8, "path": pl.Utf8, "tags": pl.List(pl.Utf8), "rank": pl.Int64, "min_distance": pl.Float64,
    "new_hotel": pl.Boolean, "reason": pl.Utf8,
}

# The ``visitor_portrait`` table: one row, the portrait's settings, safety flags and file.
PORTRAIT_COLUMNS: SchemaDict = {
    "cache_key": pl.Utf8, "guidance": pl.Float64, "height": pl.Int64, "model": pl.Utf8, "nan_or_black": pl.Boolean,
    "negative_prompt": pl.Utf8, "nsfw_flag": pl.Boolean, "prompt": pl.Utf8, "seed": pl.Int64, "steps": pl.Int64,
    "width": pl.Int64, "path": pl.Utf8, "reused": pl.Boolean,
}
