"""Zero-shot tags for the visitors' vocabulary, by three methods compared side by side in ``tag_stats``.

- ``seed``: the original study's rule. Score = cosine between the photo and "a photo of a {label}"; a photo
  gets every tag above 0.25, or its single best tag if none is.
- ``ensemble``: each tag's text embedding is the renormalised mean of many prompts (every ensemble
  template x the label and its synonyms, plus the tag's own prompts), as open_clip's zero-shot
  classifier builds it. Averaging cancels the wording noise of one prompt. Same rule, threshold 0.25.
- ``calibrated``: fixes the two problems the original study saw: cosines are low for every tag, and
  present and absent tags score almost alike. Two biases cause this. One sits in the photo: some photos
  are close to every text. The other sits in the tag: some prompts are close to every photo. The
  ensemble cosine is centred twice. First it is taken relative to the photo's cosine with a "hotel room"
  baseline prompt (how much the tag explains beyond "a hotel room"). Then it is standardised per tag over
  the collection with the median and the MAD (robust to the photos that do show the object). The stored
  score is this z value, so one threshold (default 1.0: about 1 robust standard deviation above the
  tag's typical photo) means the same for every tag; the best tag is the fallback as in ``seed``. A
  tag with no spread (a one-photo collection) keeps its relative cosine, well below the default
  threshold, so that fallback still ranks what the photo shows.
  It assumes that most photos do not show any one tag. A tag that is in nearly every photo (a bed, in
  bedroom photos) gets tagged less often than it should. The assumption needs a collection, so scores
  depend on the photos tagged together: rerun on the whole collection, not photo by photo.

Every tag's score is kept in a ``score_<label>`` column, so thresholds can change without CLIP.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from hotelcap_pipeline.tagging.captions import captions_for
from hotelcap_pipeline.tagging.embed import embedding_matrix
from hotelcap_pipeline.tagging.methods import DEFAULT_THRESHOLDS, METHODS, TaggingMethod
from hotelcap_pipeline.tagging.text_cache import TextEncoder as ClipModel
from hotelcap_pipeline.tagging.vocabulary import PromptTemplates, Tag, load_templates

ID_COLUMNS = ("image_id", "hotel_id", "chain_id")


def decide_tags(scores: np.ndarray, threshold: float | np.ndarray) -> np.ndarray:
    """Boolean (N, T): every tag scoring above its threshold, or the single best tag when none does.

    ``threshold`` is one number or one per tag (shape (T,)).
    """
    scores = np.asarray(scores)
    chosen = scores > np.asarray(threshold)
    empty = ~chosen.any(axis=1)
    if scores.shape[1] and empty.any():
        chosen[np.flatnonzero(empty), scores[empty].argmax(axis=1)] = True
    return chosen


def robust_standardise(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """(x - median) / (1.4826 * MAD) along ``axis``; the standard deviation stands in when the MAD is 0."""
    median = np.median(values, axis=axis, keepdims=True)
    spread = 1.4826 * np.median(np.abs(values - median), axis=axis, keepdims=True)
    spread = np.where(spread > 1e-8, spread, values.std(axis=axis, keepdims=True))
    return (values - median) / np.where(spread > 1e-8, spread, 1.0)


def calibrated_scores(cosines: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """Tag cosines (N, T) relative to the photos' baseline cosine (N,), standardised per tag.

    A tag with no spread over the collection (every tag of a one-photo collection) has no scale to be
    standardised by; it keeps the relative cosine, so the best-tag fallback picks what the photo shows
    beyond a hotel room rather than the first tag of a row of zeros.
    """
    relative = cosines - baseline[:, None]
    scores = robust_standardise(relative, axis=0)
    if relative.shape[0]:
        # The criterion robust_standardise falls back to dividing by 1 on.
        flat = relative.std(axis=0) <= 1e-8
        scores[:, flat] = relative[:, flat]
    return scores


def ensemble_prompts(tag: Tag, templates: PromptTemplates) -> list[str]:
    return [t.format(label=name) for name in tag.names for t in templates.ensemble] + list(tag.prompts)


def class_embeddings(clip: ClipModel, prompts: Sequence[Sequence[str]]) -> np.ndarray:
    """One unit row per class: the renormalised mean of the embeddings of its prompts."""
    flat = [text for texts in prompts for text in texts]
    owner = np.repeat(np.arange(len(prompts)), [len(texts) for texts in prompts])
    encoded = clip.encode_texts(flat)
    means = np.stack([encoded[owner == k].mean(axis=0) for k in range(len(prompts))])
    return (means / np.linalg.norm(means, axis=1, keepdims=True)).astype(np.float32)


def method_scores(
    images: np.ndarray, clip: ClipModel, vocabulary: Sequence[Tag], method: TaggingMethod, templates: PromptTemplates
) -> np.ndarray:
    """(N, T) decision scores of ``method`` for unit image embeddings."""
    if method == "seed":
        return images @ class_embeddings(clip, [[templates.seed.format(label=t.label)] for t in vocabulary]).T
    if method in ("ensemble", "calibrated"):
        cosines = images @ class_embeddings(clip, [ensemble_prompts(t, templates) for t in vocabulary]).T
        if method == "ensemble":
            return cosines
        baseline = images @ class_embeddings(clip, [templates.baseline])[0]
        return calibrated_scores(cosines, baseline)
    raise ValueError(f"unknown tagging method {method!r}; expected one of {', '.join(METHODS)}")


def tags_table(
    ids: pl.DataFrame,
    vocabulary: Sequence[Tag],
    method: TaggingMethod,
    scores: np.ndarray,
    threshold: float | np.ndarray,
) -> pl.DataFrame:
    """The ``image_tags`` rows of one method from its scores."""
    chosen = decide_tags(scores, threshold)
    labels = np.array([t.label for t in vocabulary], dtype=object)
    captions = captions_for(chosen, scores, list(labels))
    return ids.select(ID_COLUMNS).hstack(
        pl.DataFrame(
            {
                "method": pl.Series([method] * ids.height, dtype=pl.Utf8),
                "tags": pl.Series([list(labels[row]) for row in chosen], dtype=pl.List(pl.Utf8)),
                "caption": pl.Series(captions, dtype=pl.Utf8),
                **{tag.column: pl.Series(scores[:, k], dtype=pl.Float32) for k, tag in enumerate(vocabulary)},
            }
        )
    )


def tag_images(
    embeddings: pl.DataFrame,
    clip: ClipModel,
    vocabulary: Sequence[Tag],
    method: TaggingMethod,
    *,
    threshold: float | None = None,
    templates: PromptTemplates | None = None,
) -> pl.DataFrame:
    """Tag every row of ``image_embeddings``: image_id, hotel_id, chain_id, method, tags, score_<label>..."""
    if method not in METHODS:
        raise ValueError(f"unknown tagging method {method!r}; expected one of {', '.join(METHODS)}")
    foreign = embeddings.filter(pl.col("model") != clip.model_id)
    if foreign.height:
        raise ValueError(
            f"{foreign.height} embeddings were made by {foreign['model'][0]!r}, not {clip.model_id!r}: "
            "re-embed with the current model first"
        )
    templates = templates or load_templates()
    images = embedding_matrix(embeddings) if embeddings.height else np.zeros((0, clip.embed_dim), np.float32)
    scores = method_scores(images, clip, vocabulary, method, templates)
    return tags_table(
        embeddings, vocabulary, method, scores, DEFAULT_THRESHOLDS[method] if threshold is None else threshold
    )


def tag_all_methods(
    embeddings: pl.DataFrame,
    clip: ClipModel,
    vocabulary: Sequence[Tag],
    *,
    thresholds: dict[str, float] | None = None,
    templates: PromptTemplates | None = None,
) -> pl.DataFrame:
    """The long ``image_tags`` table: one block of rows per method, in METHODS order."""
    thresholds = {**DEFAULT_THRESHOLDS, **(thresholds or {})}
    templates = templates or load_templates()
    return pl.concat(
        [tag_images(embeddings, clip, vocabulary, m, threshold=thresholds[m], templates=templates) for m in METHODS]
    )
