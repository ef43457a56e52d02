"""Search the stored tables: by the visitors' tags, or by free text against the CLIP embeddings.

Reads Parquet tables only; no Dagster run is needed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl

from hotelcap_pipeline.tagging.clip_model import ClipModel
from hotelcap_pipeline.tagging.embed import embedding_matrix
from hotelcap_pipeline.tagging.stats import labels_of
from hotelcap_pipeline.tagging.vocabulary import Tag, score_column


class UnknownTagError(ValueError):
    """A search word outside the vocabulary; the message lists the vocabulary."""


def resolve_words(words: Sequence[str], labels: Sequence[str], vocabulary: Sequence[Tag] = ()) -> list[str]:
    """Map search words to vocabulary labels (synonyms, singulars and plurals accepted), in query order."""
    aliases = {label.lower(): label for label in labels}
    for tag in vocabulary:
        if tag.label in labels:
            aliases.update({name.lower(): tag.label for name in tag.synonyms})
    resolved: list[str] = []
    unknown: list[str] = []
    for word in (w.strip().lower() for w in words if w.strip()):
        # The word as given, its singular ("beds", "couches") or its plural ("curtain" for "curtains").
        label = next((aliases[w] for w in (word, word.removesuffix("s"), word.removesuffix("es"), word + "s")
                      if w in aliases), None)
        if label is None:
            unknown.append(word)
        elif label not in resolved:
            resolved.append(label)
    if unknown:
        raise UnknownTagError(
            f"unknown tag word(s): {', '.join(unknown)}. The vocabulary is: {', '.join(sorted(labels))}"
        )
    if not resolved:
        raise UnknownTagError(f"no search words given. The vocabulary is: {', '.join(sorted(labels))}")
    return resolved


def split_query(query: str | Sequence[str], phrases: Sequence[str]) -> list[str]:
    """Split "bed coffee machine window" (one string or shell words) into search words, the longest known
    multi-word phrase first: "coffee machine" stays one word, as does its plural "coffee machines". A comma
    separates words for sure: "desk, lamp" is two words, though "desk lamp" is a known phrase."""
    known = {p.lower() for p in phrases if " " in p.strip()}
    longest = max((len(p.split()) for p in known), default=1)
    words: list[str] = []
    for part in " ".join([query] if isinstance(query, str) else query).lower().split(","):
        words += _phrases_first(part.split(), known, longest)
    return words


def _phrases_first(tokens: list[str], known: set[str], longest: int) -> list[str]:
    words: list[str] = []
    i = 0
    while i < len(tokens):
        for n in range(min(longest, len(tokens) - i), 1, -1):
            phrase = " ".join(tokens[i : i + n])
            if phrase in known or phrase.removesuffix("s") in known:
                words.append(phrase)
                i += n
                break
        else:
            words.append(tokens[i])
            i += 1
    return words


def recorded_model(embeddings_df: pl.DataFrame) -> str:
    """The CLIP model id recorded with most of the stored embeddings."""
    if embeddings_df.is_empty():
        raise ValueError("the stored image_embeddings table is empty: materialize image_embeddings first")
    counts = embeddings_df.group_by("model").len().sort(["len", "model"], descending=[True, False])
    return str(counts["model"][0])


def select_method(tags_df: pl.DataFrame, method: str | None) -> pl.DataFrame:
    """One method's rows of a table that may hold several (ValueError naming those it holds)."""
    if "method" not in tags_df.columns:
        return tags_df
    methods = tags_df["method"].unique(maintain_order=True).to_list()
    if method is None:
        if len(methods) > 1:
            raise ValueError(f"the table holds several tagging methods ({', '.join(methods)}): choose one")
        return tags_df
    if method not in methods:
        raise ValueError(f"no tags by method {method!r}; the table holds "
                         + (", ".join(methods) if methods else "no tags (materialize image_tags)"))
    return tags_df.filter(pl.col("method") == method)


def searched_tags(tags_df: pl.DataFrame, words: str | Sequence[str], vocabulary: Sequence[Tag] = ()) -> list[str]:
    """The vocabulary labels that ``words`` stand for, among those ``tags_df`` holds, in query order."""
    known = labels_of(tags_df)
    phrases = [*known, *(name for tag in vocabulary if tag.label in known for name in tag.synonyms)]
    return resolve_words(split_query(words, phrases), known, vocabulary)


def search_by_tags(
    tags_df: pl.DataFrame,
    words: Sequence[str],
    limit: int = 10,
    *,
    method: str | None = None,
    vocabulary: Sequence[Tag] = (),
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Hotels and photos ranked by how many of the words their tags cover.

    Photos: most matched words first, then the higher summed score of those words. Hotels: most words
    covered by any of their photos, then the number of photos matching every word, then the best
    photo's score. ``method`` picks one method's rows of a long table holding several.
    """
    tags_df = select_method(tags_df, method)
    labels = searched_tags(tags_df, words, vocabulary)
    wanted = pl.lit(pl.Series(labels, dtype=pl.Utf8))
    score = pl.sum_horizontal(
        [pl.when(pl.col("tags").list.contains(lbl)).then(pl.col(score_column(lbl))).otherwise(0.0) for lbl in labels]
    )
    photos = (
        tags_df.with_columns(
            pl.col("tags").list.set_intersection(wanted.implode()).alias("matched"),
            score.alias("score"),
        )
        .with_columns(pl.col("matched").list.len().alias("n_matched"))
        .filter(pl.col("n_matched") > 0)
        .sort(["n_matched", "score", "image_id"], descending=[True, True, False])
    )
    hotels = (
        photos.group_by("hotel_id", "chain_id")
        .agg(
            pl.col("matched").explode(empty_as_null=False).unique().sort().alias("covered"),
            (pl.col("n_matched") == len(labels)).sum().alias("photos_with_all"),
            pl.len().alias("matching_photos"),
            pl.col("score").max().alias("best_score"),
        )
        .with_columns(pl.col("covered").list.len().alias("n_covered"))
        .sort(["n_covered", "photos_with_all", "best_score", "hotel_id"], descending=[True, True, True, False])
        .select("hotel_id", "chain_id", "n_covered", "covered", "photos_with_all", "matching_photos", "best_score")
    )
    captions = ["caption"] if "caption" in photos.columns else []
    photos = photos.select("image_id", "hotel_id", "chain_id", "n_matched", "matched", "score", "tags", *captions)
    return hotels.head(limit), photos.head(limit)


def search_by_text(embeddings_df: pl.DataFrame, clip: ClipModel, text: str, limit: int = 10) -> pl.DataFrame:
    """Photos ranked by the cosine between their embedding and the text's."""
    if not text.strip():
        raise ValueError("empty text query")
    rows = embeddings_df.filter(pl.col("model") == clip.model_id)
    if rows.is_empty():
        made_by = ", ".join(embeddings_df["model"].unique().to_list()) or "nothing yet"
        raise ValueError(
            f"no embeddings by {clip.model_id!r} (the table holds {made_by}): "
            "materialize image_embeddings with this model first"
        )
    cosine = embedding_matrix(rows) @ clip.encode_texts([text])[0]
    order = np.argsort(-cosine, kind="stable")[:limit]
    keep = [c for c in ("image_id", "hotel_id", "chain_id") if c in rows.columns]
    return rows.select(keep)[order].with_columns(pl.Series("score", cosine[order], dtype=pl.Float32))
