"""How good is an edit: is it still the same room, did the asked-for change happen, is the layout kept.

- ``clip_image_sim``: cosine of the CLIP embeddings of the edit and the original (1 = same picture to
  CLIP; the "same room" score).
- ``directional``: cosine between the image change E(edit) - E(orig) and the text change
  T(target) - T(source) (Gal et al., StyleGAN-NADA; used to judge InstructPix2Pix): > 0 when the image
  moved the way the text did, ~0 when the change is unrelated.
- ``ssim``: structural similarity (Wang et al., 2004) of downscaled grey versions: the layout score.
- ``off_direction`` (derived from the first two): how much of the image change the text change does not
  explain; a second, unasked change shows up here.
- ``local_change``: the share of the photo whose change a relighting does not explain (each pixel lit by a
  mix of its old light and the photo's new one): something appeared or went. A room relit as a whole
  scores ~0 (uneven light, a lamp's pool, counts), and a small second change in a dimmed room (petals, a
  towel swan), which hardly moves CLIP's ``off_direction``, does not.
- ``change_elsewhere``: the part of that local change lying outside its largest region: ~0 when one place
  changed (the view through a window at night), the petals on the bed when they came as well.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import cv2
import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter, label, maximum_filter

from hotelcap_pipeline.edits.pipeline import fit_dims

SSIM_SIDE = 128  # layout, not texture: compare at thumbnail size
LOCAL_SIDE = 256  # local_change: fine enough for a towel swan or rose petals on a bed
# A pixel changed locally when what the relighting leaves of its change (summed over R, G, B, each 0-1) is
# above this: well over JPEG and sensor noise, under what a pale object laid in a dim room leaves.
LOCAL_MIN_CHANGE = 0.25
# Changes with at most this many unchanged pixels between them (at LOCAL_SIDE) are one region: the panes of
# one window, petals strewn on a bed.
REGION_GAP = 16
# Bumped when a score's computation changes, so stored edits are scored again.
SCORES_VERSION = 2


class ClipEncoder(Protocol):
    """What scoring needs of ``hotelcap_pipeline.tagging.clip_model.ClipModel``."""

    model_id: str

    def encode_images(self, images: Sequence[Image.Image]) -> np.ndarray: ...

    def encode_texts(self, texts: Sequence[str]) -> np.ndarray: ...


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float = 1.0, sigma: float = 1.5) -> float:
    """Mean SSIM of two grey images of equal shape, Gaussian window (sigma 1.5, K1 0.01, K2 0.03)."""
    if a.shape != b.shape or a.ndim != 2:
        raise ValueError(f"ssim needs two 2-D arrays of one shape, got {a.shape} and {b.shape}")
    a = a.astype(np.float64)
    b = b.astype(np.float64)
    c1 = (0.01 * data_range) ** 2
    c2 = (0.03 * data_range) ** 2

    def blur(x: np.ndarray) -> np.ndarray:
        return gaussian_filter(x, sigma, truncate=3.5, mode="reflect")

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a * mu_a
    var_b = blur(b * b) - mu_b * mu_b
    cov = blur(a * b) - mu_a * mu_b
    num = (2 * mu_a * mu_b + c1) * (2 * cov + c2)
    den = (mu_a * mu_a + mu_b * mu_b + c1) * (var_a + var_b + c2)
    return float(np.mean(num / den))


def grey_thumbnail(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    return np.asarray(image.convert("L").resize(size, Image.Resampling.BILINEAR), dtype=np.float64) / 255.0


def layout_ssim(original: Image.Image, edited: Image.Image, side: int = SSIM_SIDE) -> float:
    """SSIM of the two images as grey thumbnails at the edit's aspect ratio (longer side ``side``)."""
    size = fit_dims(*edited.size, max_side=side, multiple=1)
    return ssim(grey_thumbnail(original, size), grey_thumbnail(edited, size))


def _colour_planes(image: Image.Image, size: tuple[int, int]) -> np.ndarray:
    """(3, height, width) floats 0-1 at ``size``, smoothed: sensor noise and JPEG blocks are not a change."""
    arr = np.asarray(image.convert("RGB"))
    if (arr.shape[1], arr.shape[0]) != size:
        arr = cv2.resize(arr, size, interpolation=cv2.INTER_AREA)
    arr = cv2.GaussianBlur(arr.astype(np.float32) * np.float32(1 / 255), (0, 0), 1.0)
    return np.ascontiguousarray(arr.transpose(2, 0, 1))


def local_change_mask(original: Image.Image, edited: Image.Image, side: int = LOCAL_SIDE) -> np.ndarray:
    """Where (boolean, at ``side``) the change is one a relighting does not explain: each pixel compared with
    the original lit by a mix of its old light and the photo's new light (per colour channel, one gain: the
    median ratio edited / original), the mix chosen per pixel (least squares, from all old light to all new).
    A relit room, the view through its window left as it was, and the pixels where the two meet are
    explained. Marked where more than LOCAL_MIN_CHANGE is left, after a 3 x 3 opening that drops what is
    thinner than 3 px."""
    size = fit_dims(*edited.size, max_side=side, multiple=1)
    return _change_mask(_colour_planes(original, size), _colour_planes(edited, size))


def _change_mask(o: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``local_change_mask`` of two photos' ``_colour_planes``."""
    # Every other pixel of every other row is plenty for a median over the photo.
    gain = np.median(((e[:, ::2, ::2] + 0.01) / (o[:, ::2, ::2] + 0.01)).reshape(3, -1), axis=1)[:, None, None]
    relit = gain * o
    towards_old, wanted = o - relit, e - relit
    old_light = np.sum(wanted * towards_old, axis=0) / (np.sum(towards_old * towards_old, axis=0) + 1e-6)
    mix = np.clip(old_light, 0.0, 1.0)
    residual = np.abs(wanted - mix * towards_old).sum(axis=0)
    changed = (residual > LOCAL_MIN_CHANGE).astype(np.uint8)
    return cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8)).astype(bool)


def local_change(original: Image.Image, edited: Image.Image, side: int = LOCAL_SIDE) -> float:
    """Share of the photo (0-1) whose change a relighting does not explain (``local_change_mask``)."""
    return float(local_change_mask(original, edited, side).mean())


def change_elsewhere(mask: np.ndarray) -> float:
    """Share of the photo (0-1) changed locally (``mask``) outside the largest changed region, changes with at
    most REGION_GAP unchanged pixels between them counting as one region: what changed besides the main
    change."""
    if not mask.any():
        return 0.0
    # Each change grown by half the gap on every side, so changes that close touch.
    regions, _ = label(maximum_filter(mask, size=REGION_GAP + 1))
    per_region = np.bincount(regions[mask])
    return float((mask.sum() - per_region.max()) / mask.size)


def directional_similarity(
    orig: np.ndarray, edits: np.ndarray, source_text: np.ndarray, target_text: np.ndarray
) -> np.ndarray:
    """Cosine of each edit's image change with the text change; 0 where either change is nil."""
    image_delta = np.atleast_2d(edits) - orig
    text_delta = target_text - source_text
    norms = np.linalg.norm(image_delta, axis=1) * np.linalg.norm(text_delta)
    dots = image_delta @ text_delta
    return np.divide(dots, norms, out=np.zeros_like(dots), where=norms > 1e-12)


def score_edits(
    clip: ClipEncoder,
    original: Image.Image,
    edits: Sequence[Image.Image],
    text_pair: np.ndarray,
) -> list[dict[str, float]]:
    """Scores of each edit of ``original``; ``text_pair`` holds the unit text embeddings (source, target)."""
    embeddings = clip.encode_images([original, *edits])
    orig, edited = embeddings[0], embeddings[1:]
    image_sims = edited @ orig
    directional = directional_similarity(orig, edited, text_pair[0], text_pair[1])
    rows = []
    originals: dict[tuple[int, int], np.ndarray] = {}  # the original's planes, made once per edit size
    for i, edit in enumerate(edits):
        size = fit_dims(*edit.size, max_side=LOCAL_SIDE, multiple=1)
        if size not in originals:
            originals[size] = _colour_planes(original, size)
        local = _change_mask(originals[size], _colour_planes(edit, size))
        rows.append(
            {
                "clip_image_sim": float(image_sims[i]),
                "directional": float(directional[i]),
                "ssim": layout_ssim(original, edit),
                "local_change": float(local.mean()),
                "change_elsewhere": change_elsewhere(local),
            }
        )
    return rows


def off_direction(clip_image_sim: float, directional: float) -> float:
    """Length of the CLIP image change that the text change does not explain: |E(edit) - E(orig)| times the
    sine of its angle to the text change (unit embeddings, so |change| = sqrt(2 - 2 clip_image_sim)).
    0 when the picture moved only the way the text did; large when something else changed too."""
    change = math.sqrt(max(0.0, 2.0 - 2.0 * clip_image_sim))
    return change * math.sqrt(max(0.0, 1.0 - directional * directional))


@dataclass(frozen=True)
class EditRule:
    """Accept an edit when the asked change happened and nothing else did, by every score:

    - the condition changed: ``directional`` at least ``min_directional``, and the picture changed at all
      (``ssim`` at most ``max_ssim``; the CLIP change of an unchanged photo is noise and points anywhere);
    - the room kept: ``clip_image_sim`` at least ``min_clip_image_sim`` and ``ssim`` at least ``min_ssim``;
    - nothing else changed: ``off_direction`` (the change the text does not explain) at most
      ``max_off_direction``, ``local_change`` (the change a relighting does not explain) at most
      ``max_local_change``, and ``change_elsewhere`` (local change outside the main region) at most
      ``max_change_elsewhere``.
    """

    min_directional: float
    min_clip_image_sim: float
    min_ssim: float
    max_ssim: float = math.inf
    max_off_direction: float = math.inf
    max_local_change: float = math.inf
    max_change_elsewhere: float = math.inf

    def accepts(self, scores: Mapping[str, float]) -> bool:
        sim, directional = scores["clip_image_sim"], scores["directional"]
        return (
            directional >= self.min_directional
            and sim >= self.min_clip_image_sim
            and self.min_ssim <= scores["ssim"] <= self.max_ssim
            and off_direction(sim, directional) <= self.max_off_direction
            and _pixel_score(scores, "local_change") <= self.max_local_change
            and _pixel_score(scores, "change_elsewhere") <= self.max_change_elsewhere
        )

    def describe(self) -> str:
        parts = [f"directional ≥ {self.min_directional:.3f}", f"clip_image_sim ≥ {self.min_clip_image_sim:.3f}"]
        parts.append(f"ssim ≥ {self.min_ssim:.3f}")
        if math.isfinite(self.max_ssim):
            parts.append(f"ssim ≤ {self.max_ssim:.3f}")
        if math.isfinite(self.max_off_direction):
            parts.append(f"off_direction ≤ {self.max_off_direction:.3f}")
        if math.isfinite(self.max_local_change):
            parts.append(f"local_change ≤ {self.max_local_change:.4f}")
        if math.isfinite(self.max_change_elsewhere):
            parts.append(f"change_elsewhere ≤ {self.max_change_elsewhere:.4f}")
        return ", ".join(parts)

    def as_columns(self) -> dict[str, float]:
        return {"min_directional": self.min_directional, "min_clip_image_sim": self.min_clip_image_sim,
                "min_ssim": self.min_ssim, "max_ssim": self.max_ssim,
                "max_off_direction": self.max_off_direction, "max_local_change": self.max_local_change,
                "max_change_elsewhere": self.max_change_elsewhere}


def _pixel_score(scores: Mapping[str, float | None], name: str) -> float:
    # Unmeasured (a row scored before the score existed): it passes only an unset bound.
    value = scores.get(name)
    return math.inf if value is None else value


def choose_strength(
    sweep: Sequence[Mapping[str, Any]], rule: EditRule | None, preserve_threshold: float
) -> tuple[float, bool | None, str]:
    """Pick a strength from scored sweep entries (``strength``, ``directional``, ``clip_image_sim``, ``ssim``).

    Returns (strength, accepted, reason). Entries flagged ``nan_or_black`` or ``nsfw_flag`` are never
    chosen while an unflagged one exists (when every entry is flagged the lowest is returned; the renderer fails a
    row whose kept entry is NaN/black). With a validated ``rule``, only the entries it accepts compete
    (best directional score, ties: the lower strength); when it accepts none, the lowest strength is shown
    and marked not accepted. Without a rule (a series the world cannot show), the entries keeping CLIP
    image similarity >= ``preserve_threshold`` compete and ``accepted`` is None: no rule could judge them.
    """
    if not sweep:
        raise ValueError("choose_strength needs at least one sweep entry")
    usable = [e for e in sweep if not e.get("nan_or_black") and not e.get("nsfw_flag")]
    if not usable:
        lowest = min(e["strength"] for e in sweep)
        verdict = None if rule is None else False  # without a rule nothing judged it, as below
        return lowest, verdict, f"every strength gave a NaN, black or flagged image; kept the lowest, {lowest:g}"
    lowest = min(e["strength"] for e in usable)
    if rule is not None:
        accepted = [e for e in usable if rule.accepts(e)]
        if not accepted:
            return lowest, False, f"no strength passed the series' rule ({rule.describe()}); lowest shown"
        best = max(accepted, key=lambda e: (e["directional"], -e["strength"]))
        return best["strength"], True, (
            f"best directional score {best['directional']:.3f} of {len(accepted)}/{len(sweep)} strengths "
            f"accepted by the series' rule ({rule.describe()})"
        )
    kept = [e for e in usable if e["clip_image_sim"] >= preserve_threshold]
    if kept:
        best = max(kept, key=lambda e: (e["directional"], -e["strength"]))
        return best["strength"], None, (
            f"no rule for this series; best directional score {best['directional']:.3f} of {len(kept)}/{len(sweep)} "
            f"strengths with clip_image_sim >= {preserve_threshold:g}"
        )
    return lowest, None, (
        f"no rule for this series; no strength kept clip_image_sim >= {preserve_threshold:g}; the lowest, {lowest:g}"
    )
