"""Whether a stage produced something usable: the rules behind the blocking checks that fail a run whose rows
mostly failed, so a success is never reported over failed work. Row-level failures below these limits stay
rows with their reasons."""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.photos.summary import failure_reason
from hotelcap_pipeline.settings import ENV_VARS

# The share of photos that must be ok for the photo stage to count as having worked.
MIN_PHOTO_OK_SHARE = 0.5


def photo_share_problems(manifest: pl.DataFrame, min_share: float = MIN_PHOTO_OK_SHARE,
                         dataset_setting: str = ENV_VARS["dataset"]) -> list[str]:
    """One line when fewer than ``min_share`` of the manifest's photos are ok (an empty manifest is a problem,
    whose line names ``dataset_setting``: the variable or run config field the dataset came from)."""
    total = manifest.height
    ok = manifest.filter(pl.col("status") == "ok").height
    if total == 0:
        return [f"no photo in the manifest: check the sampled hotels and {dataset_setting}"]
    if ok / total >= min_share:
        return []
    errors = manifest.filter(pl.col("status") != "ok").get_column("error").drop_nulls()
    # Quoted whole ("decompression bomb: 2e+08 pixels"), the attempt counts grouped as the summary does.
    reasons = errors.map_elements(failure_reason, return_dtype=pl.Utf8)
    common = reasons.value_counts(sort=True).head(1) if errors.len() else None
    example = f"; most common error: {common.row(0)[0]}" if common is not None and common.height else ""
    return [f"only {ok} of {total} photos are ok ({ok / total:.0%}, below the {min_share:.0%} required){example}"]


def edit_series_problems(edits: pl.DataFrame) -> list[str]:
    """One line per edit series that ran (not skipped) and produced no successful edit."""
    problems: list[str] = []
    if edits.is_empty():
        return problems
    for name, statuses, errors in (
        edits.group_by("edit", maintain_order=True).agg("status", "error").iter_rows()
    ):
        if "ok" in statuses or set(statuses) == {"skipped"}:
            continue
        first = next((e for e in errors if e), "no error recorded")
        problems.append(f"edit series {name}: no successful edit of {len(statuses)} ({first})")
    return problems
