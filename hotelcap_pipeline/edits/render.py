"""Render every (photo x series) edit with a strength sweep, score it, keep the best, and reuse work done.

Layout under the store root:

    edits/<series>/<image_id>.png                  the chosen edit
    edits/_sweep/<series>/<image_id>/<key>.png      every sweep candidate, keyed by what made its pixels

Two cache levels make reruns free: a row whose key (photo bytes, model, settings, seed, size, sweep,
scorer and its score version, threshold, rule) matches the previous table and whose file exists is taken
as is; otherwise each candidate whose PNG already exists is only re-scored, not re-rendered. Candidates
carry their safety and NaN flags in a PNG text chunk, so a reused candidate keeps them. A candidate flagged
NaN/black is never reused (nor a row with one): it is rendered again, as after a switch to fp32.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from PIL import Image, ImageDraw

from hotelcap_pipeline.atomic_files import atomic_write_bytes
from hotelcap_pipeline.edits.cache import cache_key, image_problem, png_bytes, read_png_meta
from hotelcap_pipeline.edits.pipeline import (
    ControlNetUnavailableError,
    EditMode,
    EditorSource,
    Rendered,
    fit_dims,
    ip2p_image_guidance,
    uses_base_model,
)
from hotelcap_pipeline.edits.schema import EDIT_SCHEMA
from hotelcap_pipeline.edits.scores import SCORES_VERSION, ClipEncoder, EditRule, choose_strength, score_edits
from hotelcap_pipeline.edits.series import EditSeries
from hotelcap_pipeline.models import ModelUnavailableError
from hotelcap_pipeline.settings import ENV_VARS

SWEEP_DIR = "_sweep"
ACCEPT_MARK = {True: "accepted", False: "REJECTED", None: "not validated"}
Progress = Callable[[int, int, str], None]



def _previous_rows(previous: pl.DataFrame | None) -> dict[tuple[int, str], dict[str, Any]]:
    if previous is None or previous.is_empty() or "cache_key" not in previous.columns:
        return {}
    return {(r["image_id"], r["edit"]): r for r in previous.iter_rows(named=True) if r.get("status") == "ok"}


# What a rendered row adds to the request's columns; a reused row takes these from the stored one.
RENDERED_FIELDS = (
    "path", "prompt", "strength", "image_guidance", "width", "height", "sweep", "clip_image_sim", "directional",
    "ssim", "local_change", "change_elsewhere", "preserve_threshold", "choice_reason", "accepted", "rule",
    "nsfw_flag", "nan_or_black", "clip_model", "cache_key",
)


class _SeriesRenderer:
    """Renders one series over the photos; holds what is shared by its photos (text embeddings, model id)."""

    def __init__(
        self, s: EditSeries, store_root: Path, diffusion: EditorSource, clip: ClipEncoder, max_side: int,
        rule: EditRule | None,
    ) -> None:
        self.s = s
        self.rule = rule
        self.root = store_root
        self.diffusion = diffusion
        self.clip = clip
        self.max_side = max_side
        self.model = diffusion.model_for(s.mode)
        self._text_pair: np.ndarray | None = None

    def text_pair(self) -> np.ndarray:
        if self._text_pair is None:
            self._text_pair = self.clip.encode_texts([self.s.source_text, self.s.target_text])
        return self._text_pair

    def row_key(self, sha256: str, size: tuple[int, int]) -> str:
        return cache_key(
            {
                "photo": sha256,
                "model": self.model,
                "size": size,
                "sweep": self.s.sweep,
                "clip": self.clip.model_id,
                "scores": SCORES_VERSION,
                "threshold": self.s.preserve_threshold,
                "rule": self.rule.as_columns() if self.rule else None,
                # The directional score, and so the choice, is measured against this pair of texts.
                "texts": [self.s.source_text, self.s.target_text],
                **self.s.settings(),
            }
        )

    def candidate(
        self, photo: Image.Image, image_id: int, sha256: str, size: tuple[int, int], strength: float
    ) -> tuple[Rendered, bool]:
        """One sweep candidate, from its cached PNG when present; returns (rendered, reused)."""
        key = cache_key({"photo": sha256, "model": self.model, "size": size, "strength": strength, **self.s.settings()})
        path = self.root / "edits" / SWEEP_DIR / self.s.name / str(image_id) / f"{key}.png"
        meta = read_png_meta(path)
        # A NaN/black candidate is rendered again: it may have come from another precision (HOTELCAP_PRECISION).
        if meta is not None and not meta["nan_or_black"]:
            with Image.open(path) as im:
                return Rendered(im.convert("RGB"), meta["nsfw_flag"], meta["nan_or_black"]), True
        rendered = self.diffusion.editor_for(self.s.mode).edit(
            photo,
            prompt=self.s.prompt,
            negative_prompt=self.s.negative_prompt,
            strength=strength,
            steps=self.s.steps,
            guidance=self.s.guidance,
            seed=self.s.seed,
            size=size,
        )
        meta = {
            "nsfw_flag": rendered.nsfw_flag,
            "nan_or_black": rendered.nan_or_black,
            "strength": strength,
            "model": self.model,
            "photo": sha256,
            **self.s.settings(),
        }
        atomic_write_bytes(path, png_bytes(rendered.image, meta))
        return rendered, False

    def render(self, photo_row: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
        s = self.s
        image_id = photo_row["image_id"]
        out_rel = f"edits/{s.name}/{image_id}.png"
        with Image.open(self.root / photo_row["path"]) as im:
            photo = im.convert("RGB")
        size = fit_dims(*photo.size, max_side=self.max_side)
        key = self.row_key(photo_row["sha256"], size)
        # A stored edit is reused only when it still decodes whole (a damaged file is rendered again).
        # One with a NaN/black candidate goes to the sweep cache, which renders that candidate again.
        if (
            previous is not None
            and previous["cache_key"] == key
            and not any(e.get("nan_or_black") for e in previous.get("sweep") or ())
            and image_problem(self.root / out_rel) is None
        ):
            # Only what was rendered and measured: the request's own columns (condition, source path) are today's.
            return {k: previous[k] for k in RENDERED_FIELDS} | {"reused": True}

        rendered = [self.candidate(photo, image_id, photo_row["sha256"], size, st) for st in s.sweep]
        scores = score_edits(self.clip, photo, [r.image for r, _ in rendered], self.text_pair())
        sweep = [
            {
                "strength": st,
                "image_guidance": ip2p_image_guidance(st) if s.mode == "instruct-pix2pix" else None,
                **score,
                "nsfw_flag": r.nsfw_flag,
                "nan_or_black": r.nan_or_black,
                "reused": reused,
                "accepted": self.rule.accepts(score) if self.rule else None,
            }
            for st, (r, reused), score in zip(s.sweep, rendered, scores, strict=True)
        ]
        strength, accepted, reason = choose_strength(sweep, self.rule, s.preserve_threshold)
        chosen = next(i for i, e in enumerate(sweep) if e["strength"] == strength)
        if sweep[chosen]["nan_or_black"]:
            # Nothing usable to keep: a failed row (not an ok one carrying a black image) for the checks to count.
            black = [e["strength"] for e in sweep if e["nan_or_black"]]
            at = "every strength" if len(black) == len(sweep) else "every strength not flagged unsafe"
            raise ValueError(
                f"the edit came out black or NaN at {at} ({', '.join(f'{b:g}' for b in black)}); "
                f"set {ENV_VARS['precision']}=fp32 or check the diffusion model"
            )
        atomic_write_bytes(self.root / out_rel, png_bytes(rendered[chosen][0].image))
        best = sweep[chosen]
        return {
            "path": out_rel,
            "mode": s.mode,
            "model": self.model,
            "prompt": s.prompt,
            "seed": s.seed,
            "strength": strength,
            "image_guidance": best["image_guidance"],
            "steps": s.steps,
            "guidance": s.guidance,
            "width": size[0],
            "height": size[1],
            "sweep": sweep,
            "clip_image_sim": best["clip_image_sim"],
            "directional": best["directional"],
            "ssim": best["ssim"],
            "local_change": best["local_change"],
            "change_elsewhere": best["change_elsewhere"],
            "preserve_threshold": s.preserve_threshold,
            "choice_reason": reason,
            "accepted": accepted,
            "rule": self.rule.describe() if self.rule else None,
            "nsfw_flag": best["nsfw_flag"],
            "nan_or_black": best["nan_or_black"],
            "clip_model": self.clip.model_id,
            "reused": all(e["reused"] for e in sweep),
            "cache_key": key,
        }


def render_edits(
    selection: pl.DataFrame,
    store_root: Path,
    series: Sequence[EditSeries],
    diffusion: EditorSource,
    clip: ClipEncoder,
    previous: pl.DataFrame | None,
    *,
    rules: Mapping[str, EditRule | None] | None = None,
    max_side: int = 512,
    progress: Progress | None = None,
) -> pl.DataFrame:
    """Every (selected photo x series) edit, one row each (schema ``EDIT_SCHEMA``).

    ``selection`` needs image_id, hotel_id, path (relative to ``store_root``) and sha256. A photo that
    cannot be read or edited, or whose edit came out black or NaN at every strength, gives a ``failed`` row
    naming the file and the error; the others go on.
    ``rules`` holds each series' acceptance rule fitted on known edits (``edits.validation``); a series without one
    falls back to its preserve_threshold and its rows carry ``accepted`` = null.
    ``progress(done, total, what)`` is called after each row. A series whose model is unavailable gives
    ``skipped`` rows with the reason, and so does a photo whose tags do not show what the series changes
    (``_missing_subject``); a base model that cannot load raises ``ModelUnavailableError`` (the
    stage fails with that one line rather than recording a failed row per photo).
    """
    missing = {"image_id", "hotel_id", "path", "sha256"} - set(selection.columns)
    if missing:
        raise ValueError(f"selection lacks columns {sorted(missing)}")
    store_root = Path(store_root)
    prev = _previous_rows(previous)
    photos = list(selection.iter_rows(named=True))
    skipped = _unavailable_series(series, diffusion)
    total = len(photos) * len(series)
    done = 0
    by_series: dict[str, list[dict[str, Any]]] = {}
    # Series sharing a pipeline run together, so each pipeline is loaded once and released after its series.
    for s in sorted(series, key=lambda x: not uses_base_model(x.mode)):
        renderer = _SeriesRenderer(s, store_root, diffusion, clip, max_side, (rules or {}).get(s.name))
        rows = by_series.setdefault(s.name, [])
        for photo_row in photos:
            image_id = photo_row["image_id"]
            base = {
                "image_id": image_id,
                "hotel_id": photo_row["hotel_id"],
                "edit": s.name,
                "condition": s.condition,
                "source_path": photo_row["path"],
                "photo_sha256": photo_row["sha256"],
                "mode": s.mode,
                "model": renderer.model,
                "seed": s.seed,
                "steps": s.steps,
                "guidance": s.guidance,
                "reused": False,
            }
            unshown = _missing_subject(s, photo_row.get("tags"))
            if s.name in skipped:
                result = {**base, "status": "skipped", "error": skipped[s.name]}
            elif unshown is not None:
                result = {**base, "status": "skipped", "error": unshown}
            else:
                try:
                    done_row = renderer.render(photo_row, prev.get((image_id, s.name)))
                    result = {**base, "status": "ok", "error": None, **done_row}
                except ModelUnavailableError as exc:
                    # The base model failing ends the stage; a ControlNet or InstructPix2Pix model only its series.
                    if uses_base_model(s.mode) and not isinstance(exc, ControlNetUnavailableError):
                        raise
                    skipped[s.name] = f"series skipped: {exc}"
                    result = {**base, "status": "skipped", "error": skipped[s.name]}
                except (OSError, ValueError) as exc:
                    result = {**base, "status": "failed", "error": f"{photo_row['path']}: {exc}"}
            rows.append(result)
            done += 1
            if progress is not None:
                progress(done, total, f"{s.name}/{image_id}: {result['status']}")
    ordered = [row for s in series for row in by_series.get(s.name, [])]
    return pl.DataFrame(ordered, schema=EDIT_SCHEMA, strict=False)


def _missing_subject(s: EditSeries, tags: Sequence[str] | None) -> str | None:
    """Why a photo is not edited by ``s``: the series changes something its tags do not show (petals need a
    bed, the view through a window needs a window), so the edit could not be what the series asks and its
    rule was validated only on rooms that show one. None: edit it (also when the photo has no tags)."""
    needs = s.subject
    if not needs or tags is None or set(needs) & set(tags):
        return None
    return f"the photo's tags show no {' or '.join(needs)}, which this series changes"


def _unavailable_series(series: Sequence[EditSeries], diffusion: EditorSource) -> dict[str, str]:
    """Series whose model cannot be had here, each with the reason; checked before any photo is touched.

    The base model (the diffusion_model setting) missing fails the stage; a missing InstructPix2Pix or
    ControlNet model skips only the series that need it. Nothing left to render fails the stage too.
    """
    reasons: dict[str, str] = {}
    # Once per mode, not per series: each check resolves the models (files, the local hub cache).
    modes: set[EditMode] = {s.mode for s in series}
    if "controlnet" in modes:
        modes.add("img2img")
    unavailable = {mode: diffusion.unavailable(mode) for mode in modes}
    for s in series:
        why = unavailable[s.mode]
        if why is None:
            continue
        # A ControlNet series is checked base model first: the base model's own reason means it is the one missing.
        if s.mode == "img2img" or (s.mode == "controlnet" and why == unavailable["img2img"]):
            raise ModelUnavailableError(why)
        reasons[s.name] = f"series skipped: {why}"
    if series and len(reasons) == len(series):
        raise ModelUnavailableError(f"no edit series can run: {next(iter(reasons.values()))}")
    return reasons


def _fit_box(image: Image.Image, box: int) -> Image.Image:
    image = image.convert("RGB")
    image.thumbnail((box, box), Image.Resampling.LANCZOS)
    cell = Image.new("RGB", (box, box), "white")
    cell.paste(image, ((box - image.width) // 2, (box - image.height) // 2))
    return cell


def _mark(accepted: bool | None, rule_validated: bool) -> str:
    if accepted is None or rule_validated:
        return ACCEPT_MARK[accepted]
    return f"{'passes' if accepted else 'fails'} an unvalidated rule"


def before_after_grid(rows: pl.DataFrame, store_root: Path, series_name: str, *, box: int = 256,
                      rule_validated: bool = True) -> Image.Image:
    """One line per photo of ``series_name``: the original, then the chosen edit, with its scores below.
    Under a rule that failed validation, its verdict is marked as that rule's, not as a judgement."""
    done = rows.filter((pl.col("edit") == series_name) & (pl.col("status") == "ok")).sort("image_id")
    if done.is_empty():
        raise ValueError(f"no rendered edit of series {series_name!r} to show")
    caption = 28
    grid = Image.new("RGB", (2 * box, done.height * (box + caption)), "white")
    draw = ImageDraw.Draw(grid)
    for i, row in enumerate(done.iter_rows(named=True)):
        top = i * (box + caption)
        for j, rel in enumerate((row["source_path"], row["path"])):
            with Image.open(Path(store_root) / rel) as im:
                grid.paste(_fit_box(im, box), (j * box, top))
        draw.text((4, top + box + 2), f"{row['image_id']}  (before)", fill="black")
        draw.text(
            (box + 4, top + box + 2),
            f"s={row['strength']:g} clip={row['clip_image_sim']:.2f} dir={row['directional']:.2f} "
            f"ssim={row['ssim']:.2f}",
            fill="black",
        )
        # A line of its own: after the scores it ran past a small cell's edge.
        draw.text((box + 4, top + box + 14), _mark(row.get("accepted"), rule_validated), fill="black")
    return grid
