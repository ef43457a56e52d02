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
    """Map search words to vocabulary labels (synonyms and a plural 's' accepted), in query order."""
    aliases = {label.lower(): label for label in labels}
    for tag in vocabulary:
        if tag.label in labels:
            aliases.update({name.lower(): tag.label for name in tag.synonyms})
    resolved: list[str] = []
    unknown: list[str] = []
    for word in (w.strip().lower() for w in words if w.strip()):
        label = aliases.get(word) or aliases.get(word.removesuffix("s"))
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


def split_query(query: str | Sequence[str], labels: Sequence[str]) -> list[str]:
    """Split "bed coffee machine window" into words, keeping multi-word labels whole."""
    text = " ".join([query] if isinstance(query, str) else query).lower().replace(",", " ")
    for label in sorted((lbl for lbl in labels if " " in lbl), key=len, reverse=True):
        text = text.replace(label, label.replace(" ", "\0"))
    return [w.replace("\0", " ") for w in text.split()]


def _select_method(tags_df: pl.DataFrame, method: str | None) -> pl.DataFrame:
    if "method" not in tags_df.columns:
        return tags_df
    methods = tags_df["method"].unique(maintain_order=True).to_list()
    if method is None:
        if len(methods) > 1:
            raise ValueError(f"the table holds several tagging methods ({', '.join(methods)}): choose one")
        return tags_df
    if method not in methods:
        raise ValueError(f"no tags by method {method!r}; the table holds {', '.join(methods)}")
    return tags_df.filter(pl.col("method") == method)


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
    tags_df = _select_method(tags_df, method)
    labels = resolve_words(words, labels_of(tags_df), vocabulary)
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
            pl.col("matched").flatten().unique().sort().alias("covered"),
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


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}"
    if isinstance(value, list | pl.Series):
        return ", ".join(_cell(v) for v in value)
    return str(value)


def format_table(df: pl.DataFrame, max_width: int = 48) -> str:
    """A plain aligned text table for the terminal; long cells are cut with an ellipsis."""
    if df.is_empty():
        return "(no results)"
    header = list(df.columns)
    cells = [[_cell(v) for v in row] for row in df.iter_rows()]
    cells = [[c if len(c) <= max_width else c[: max_width - 1] + "…" for c in row] for row in cells]
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(header)]
    numeric = [df.schema[c].is_numeric() for c in header]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row).rstrip() for row in cells)])
