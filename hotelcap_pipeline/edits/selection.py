"""Pick the photos to edit: as different from each other as possible, spread over hotels.

Greedy farthest-point sampling on the CLIP embeddings (cosine distance): start from a photo drawn with the
seed, then repeatedly add the photo farthest from everything picked so far, taken from a hotel not yet
represented while one is left. This is the classic greedy for max-min dispersion, i.e. the "as different
as possible" the study asked for; the hotel rule keeps one hotel's many near-identical rooms from
filling the set.

Some edit series change one object (petals and a towel swan go on a bed, night and snow show in a
window) and are not tried on a photo whose tags lack it. So that each such series is judged on more than
one or two photos, each of these subjects gets a quota (a share of the picks, where enough photos show
it): while a quota is open, the picks come from the photos that show an open subject, of a new hotel if
one of them is. The quotas come first, so with two subjects and a share of one half they may fill every
pick; the reason of each pick says which rule chose it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

Subject = tuple[str, ...]  # tags of which a photo must show one, e.g. ("bed",)


def select_diverse(embeddings: pl.DataFrame, tags: pl.DataFrame | None, k: int, seed: int,
                   tags_method: str = "", subjects: Sequence[Subject] = (),
                   subject_share: float = 0.5) -> pl.DataFrame:
    """``k`` photos by farthest-point sampling; deterministic for ``seed`` whatever the input row order.

    ``embeddings``: image_id, hotel_id, chain_id, embedding (list of float) and any other columns, which
    are passed through. ``tags``: image_id, tags (list of str), or None. ``subjects``: what the edit series
    need a photo to show; each gets ``ceil(subject_share * min(k, photos))`` picks, or as many photos as
    show it.
    Returns the picks in pick order with ``rank`` (1 = first), ``min_distance`` (cosine distance to the
    nearest earlier pick; null for the first), ``new_hotel``, ``tags`` and a short ``reason``.
    """
    required = {"image_id", "hotel_id", "chain_id", "embedding"}
    if missing := required - set(embeddings.columns):
        raise ValueError(f"embeddings lack columns {sorted(missing)}")
    if k < 1:
        raise ValueError(f"k must be at least 1, got {k}")
    if not 0.0 <= subject_share <= 1.0:
        raise ValueError(f"subject_share must be in [0, 1], got {subject_share}")
    frame = embeddings.sort("image_id")
    if frame["image_id"].is_duplicated().any():
        dupes = frame.filter(pl.col("image_id").is_duplicated())["image_id"].unique().sort().to_list()
        raise ValueError(f"embeddings repeat image_id {dupes[:5]}")
    if tags is not None:
        frame = frame.join(tags.select("image_id", "tags"), on="image_id", how="left")
    else:
        frame = frame.with_columns(pl.lit(None, dtype=pl.List(pl.Utf8)).alias("tags"))

    n = frame.height
    if n == 0:
        return frame.drop("embedding").with_columns(
            pl.lit(None, pl.Int64).alias("rank"),
            pl.lit(None, pl.Float64).alias("min_distance"),
            pl.lit(None, pl.Boolean).alias("new_hotel"),
            pl.lit(None, pl.Utf8).alias("reason"),
        )
    vectors = np.asarray(frame["embedding"].to_list(), dtype=np.float64)
    vectors /= np.clip(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12, None)
    hotels = frame["hotel_id"].to_numpy()
    quotas = _SubjectQuotas(frame["tags"].to_list(), subjects, math.ceil(subject_share * min(k, n)))

    available = np.ones(n, dtype=bool)
    wanted = quotas.wanted(available)
    first = int(np.flatnonzero(wanted)[np.random.default_rng(seed).integers(int(wanted.sum()))])
    picks, new_hotel, why = [first], [True], [quotas.why(first)]
    wheres: list[str | None] = [None]
    distances: list[float | None] = [None]  # the first pick has no earlier pick to be far from
    seen_hotels = {hotels[first]}
    nearest = _distances(vectors, first)  # distance of every photo to its nearest pick
    available[first] = False
    quotas.take(first)
    while len(picks) < min(k, n):
        wanted = quotas.wanted(available)
        new_hotels = available & ~np.isin(hotels, list(seen_hotels))
        fresh = wanted & new_hotels
        pool = fresh if fresh.any() else wanted
        # argmax takes the first maximum: ties go to the lower image_id.
        pick = int(np.argmax(np.where(pool, nearest, -np.inf)))
        picks.append(pick)
        distances.append(float(nearest[pick]))
        new_hotel.append(bool(fresh.any()))
        why.append(quotas.why(pick))
        wheres.append(
            "a hotel not yet picked" if fresh.any()
            # Only a quota narrows the pool this way: its subject shows in picked hotels only.
            else "a hotel already picked, as no photo of another hotel shows the object wanted" if new_hotels.any()
            else "every hotel already picked"
        )
        seen_hotels.add(hotels[pick])
        available[pick] = False
        quotas.take(pick)
        nearest = np.minimum(nearest, _distances(vectors, pick))

    chosen = (
        frame[picks]
        .drop("embedding")
        .with_columns(
            pl.Series("rank", range(1, len(picks) + 1), dtype=pl.Int64),
            pl.Series("min_distance", distances, dtype=pl.Float64),
            pl.Series("new_hotel", new_hotel, dtype=pl.Boolean),
        )
    )
    reasons = [
        _reason(row["tags"], row["min_distance"], where, seed, tags_method) + subject_note
        for row, where, subject_note in zip(chosen.iter_rows(named=True), wheres, why, strict=True)
    ]
    return chosen.with_columns(pl.Series("reason", reasons, dtype=pl.Utf8))


def _distances(vectors: np.ndarray, pick: int) -> np.ndarray:
    # Clipped: a duplicate photo's cosine can round to just above 1, a distance of -2e-16.
    return np.clip(1.0 - vectors @ vectors[pick], 0.0, 2.0)


class _SubjectQuotas:
    """How many picks each subject still wants, and which photos show an open one."""

    def __init__(self, tags: list[list[str] | None], subjects: Sequence[Subject], per_subject: int) -> None:
        shown = [set(t or ()) for t in tags]
        self.subjects = list(dict.fromkeys(tuple(s) for s in subjects if s))
        # shows[i, j]: photo i shows subject j
        self.shows = np.array([[bool(t & set(s)) for s in self.subjects] for t in shown], dtype=bool).reshape(
            len(shown), len(self.subjects)
        )
        self.open = np.minimum(per_subject, self.shows.sum(axis=0))

    def wanted(self, available: np.ndarray) -> np.ndarray:
        """The available photos that show a subject whose quota is open; all available ones if none is."""
        showing = available & (self.shows[:, self.open > 0].any(axis=1))
        return showing if showing.any() else available.copy()

    def take(self, pick: int) -> None:
        self.open = np.maximum(self.open - self.shows[pick], 0)

    def why(self, pick: int) -> str:
        """The open subjects ``pick`` shows, said before ``take``; empty when it fills no quota."""
        row = zip(self.subjects, self.shows[pick], self.open, strict=True)
        names = [" or ".join(s) for s, shows, still_open in row if shows and still_open]
        return f"; among the photos showing a {' and a '.join(names)}, which an edit series changes" if names else ""


def _reason(tags: list[str] | None, distance: float | None, where: str | None, seed: int, method: str = "") -> str:
    named = f" ({method})" if method else ""  # which tagging method's tags: they differ a lot between methods
    what = f"tags{named}: {', '.join(tags)}" if tags else f"no tags{named}"
    if distance is None:
        return f"{what}; first pick (drawn with seed {seed})"
    return f"{what}; {distance:.3f} from the nearest earlier pick, from {where}"
