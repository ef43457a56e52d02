"""``tag_clusters``: k-modes on the binary photo x tag matrix, compared with hotels, chains and room kinds.

kmodes loops over points in Python, so it runs on the distinct rows only, with their counts as sample
weights: a million photos tagged with 20 words hold a few thousand distinct tag sets at most.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl
from kmodes.kmodes import KModes
from matplotlib.figure import Figure
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from hotelcap_pipeline.criteria import CLUSTER_ARI, Verdict
from hotelcap_pipeline.figures import figure_png
from hotelcap_pipeline.tagging.stats import labels_of, tag_matrix
from hotelcap_pipeline.wording import listing


@dataclass(frozen=True)
class KModesFit:
    labels: np.ndarray  # cluster of every input row
    cost: float  # weighted number of mismatches to the cluster modes
    k: int  # clusters actually fitted (at most the number of distinct rows)


@dataclass(frozen=True)
class ClusterAnalysis:
    # image_id, hotel_id, chain_id, [room_kind], cluster, cluster_k_hotels, cluster_k_chains, [cluster_k_room_kinds]
    assignments: pl.DataFrame
    summary: dict
    elbow_png: bytes


def distinct_rows(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``np.unique(matrix, axis=0, return_inverse=True, return_counts=True)`` for a 0/1 matrix, fast.

    Rows of up to 64 tags are packed into one integer each: sorting a million integers takes
    milliseconds, sorting a million rows seconds.
    """
    bits = np.asarray(matrix, dtype=bool)
    if bits.shape[1] > 64:
        distinct, inverse, counts = np.unique(bits, axis=0, return_inverse=True, return_counts=True)
        return distinct.astype(np.uint8), inverse.ravel(), counts
    # Big-endian packing keeps np.unique's lexicographic row order (first column most significant).
    packed = np.packbits(bits, axis=1)
    padded = np.zeros((len(bits), 8), dtype=np.uint8)
    padded[:, : packed.shape[1]] = packed
    codes = padded.view(">u8").ravel()
    unique_codes, inverse, counts = np.unique(codes, return_inverse=True, return_counts=True)
    unpacked = np.unpackbits(unique_codes.astype(">u8").view(np.uint8).reshape(-1, 8), axis=1)
    return unpacked[:, : bits.shape[1]], inverse.ravel(), counts


def fit_kmodes(matrix: np.ndarray, k: int, *, seed: int = 0, n_init: int = 4, max_iter: int = 50) -> KModesFit:
    """k-modes on the distinct rows of ``matrix`` weighted by their counts; labels for every row."""
    distinct, inverse, counts = distinct_rows(matrix)
    if k >= len(distinct):
        # Every distinct row is its own mode (kmodes skips iterating then and leaves no labels).
        return KModesFit(labels=inverse.copy(), cost=0.0, k=len(distinct))
    k = max(1, k)
    model = KModes(n_clusters=k, init="Huang", n_init=n_init, max_iter=max_iter, random_state=seed)
    # kmodes validates the weights element by element as Python numbers.
    model.fit(distinct, sample_weight=counts.tolist())
    return KModesFit(labels=np.asarray(model.labels_)[inverse], cost=float(model.cost_), k=k)


def elbow_k(ks: Sequence[int], costs: Sequence[float]) -> int:
    """The k farthest below the straight line from the first to the last (k, cost) point, both rescaled."""
    if len(ks) < 3:
        return int(ks[-1])
    x = np.asarray(ks, dtype=float)
    y = np.asarray(costs, dtype=float)
    x = (x - x[0]) / (x[-1] - x[0])
    span = y[0] - y[-1]
    y = (y - y[-1]) / span if span > 0 else np.zeros_like(y)
    # The chord runs from (0, 1) to (1, 0); the cost curve sags below it, most at the elbow.
    return int(ks[int(np.argmax(1.0 - x - y))])


def purity(classes: np.ndarray, clusters: np.ndarray) -> float:
    """Share of items belonging to the most common class of their cluster."""
    if len(classes) == 0:
        return float("nan")
    frame = pl.DataFrame({"cls": np.asarray(classes).astype(str), "cluster": clusters})
    majority = frame.group_by("cluster", "cls").len().group_by("cluster").agg(pl.col("len").max())
    return float(majority["len"].sum() / len(classes))


def agreement(classes: np.ndarray, clusters: np.ndarray) -> dict[str, float]:
    return {
        "ari": float(adjusted_rand_score(classes, clusters)),
        "nmi": float(normalized_mutual_info_score(classes, clusters)),
        "purity": purity(classes, clusters),
    }


def elbow_figure(ks: Sequence[int], costs: Sequence[float], chosen: int, method: str = "") -> bytes:
    fig = Figure(figsize=(6, 4))
    ax = fig.subplots()
    ax.plot(list(ks), list(costs), marker="o")
    ax.axvline(chosen, color="tab:red", linestyle="--", label=f"elbow k = {chosen}")
    ax.set_xlabel("k (clusters)")
    ax.set_ylabel("k-modes cost (mismatches)")
    ax.set_title("k-modes cost by number of clusters")
    ax.legend()
    whose = f"the `{method}` tags" if method else "the tags"
    return figure_png(
        fig, f"k-modes cost of {whose} (tags that differ from their cluster's mode, summed) by number of "
        f"clusters; the dashed line marks k = {chosen}, where adding clusters stops paying (the elbow)."
    )


# Groupings the clusters are compared with: column of the assignments table -> what it is called.
GROUPINGS = {"hotel_id": "hotel", "chain_id": "chain", "room_kind": "room kind"}


def agreement_table(assignments: pl.DataFrame) -> pl.DataFrame:
    """ARI, NMI and purity of every clustering column against every grouping present, per method.

    ``assignments`` holds the ``tag_clusters`` rows: method, hotel_id, chain_id, room_kind (may be null:
    only labelled photos count for it), cluster (k by the elbow) and cluster_k_<grouping> columns.
    """
    rows = []
    methods = assignments["method"].unique(maintain_order=True).to_list() if "method" in assignments.columns else [None]
    for method in methods:
        frame = assignments if method is None else assignments.filter(pl.col("method") == method)
        choices = [c for c in frame.columns if c == "cluster" or c.startswith("cluster_k_")]
        for choice in choices:
            for column, name in GROUPINGS.items():
                if column not in frame.columns:
                    continue
                known = frame.filter(pl.col(column).is_not_null() & pl.col(choice).is_not_null())
                if known.is_empty():
                    continue
                rows.append(
                    {
                        "method": method,
                        "k_choice": "elbow" if choice == "cluster" else choice.removeprefix("cluster_k_"),
                        "k": known[choice].n_unique(),
                        "grouping": name,
                        "groups": known[column].n_unique(),
                        "photos": known.height,
                        **agreement(known[column].to_numpy(), known[choice].to_numpy()),
                    }
                )
    return pl.DataFrame(rows)


def study_method_first(methods: Sequence[str]) -> list[str]:
    """The methods with the study's (``seed``), the one the clusters' answer is about, first."""
    return sorted(methods, key=lambda m: m != "seed")


def cluster_verdicts(table: pl.DataFrame, method: str) -> list[Verdict]:
    """For each grouping: do the clusters with k = its number of groups follow it (ARI threshold)?"""
    rows = table.filter(
        (pl.col("method") == method) & (pl.col("k_choice") == pl.col("grouping").str.replace(" ", "_") + "s")
    )
    return [
        Verdict(
            subject=f"Clusters of the `{method}` tags vs {row['grouping']}s (k = {row['k']}, {row['groups']} "
            f"{row['grouping']}s)",
            threshold=CLUSTER_ARI,
            value=row["ari"],
            n=row["photos"],
            unit="photos",
            passed_text=f"the clusters follow the {row['grouping']}s",
            failed_text=f"the clusters do not follow the {row['grouping']}s",
        )
        for row in rows.iter_rows(named=True)
    ]


def match_answer(table: pl.DataFrame, summary: dict, method: str) -> str:
    """Plain answer to "does the number of clusters match the number of classes, and what do they follow",
    computed from the agreement table; every clause names its number."""
    rows = table.filter((pl.col("method") == method) & (pl.col("k_choice") == "elbow"))
    counts = {r["grouping"]: r["groups"] for r in rows.iter_rows(named=True)}
    k = summary["elbow_k"]
    equal = [f"{name}s" for name, n in counts.items() if n == k]
    parts = [
        f"The cost elbow of the `{method}` tags is at k = {k}; the sample has "
        + ", ".join(f"{n} {name}" + ("" if n == 1 else "s") for name, n in counts.items())
        + (f": k equals the number of {listing(equal)}." if equal else ": k matches none of them.")
    ]
    verdicts = cluster_verdicts(table, method)
    parts += [v.sentence() for v in verdicts]
    measured = [v for v in verdicts if v.status != "not measured"]
    if measured:
        best = max(measured, key=lambda v: v.value)
        parts.append(f"They agree best with {best.subject.split(' vs ')[1].split(' (')[0]} (ARI {best.value:.2f}).")
    parts.append(
        f"{summary['photos']} photos carry {summary['distinct_tag_sets']} distinct tag sets, the most clusters "
        "k-modes can tell apart."
    )
    return " ".join(parts)


def cluster_tags(
    tags_df: pl.DataFrame,
    labels: list[str] | None = None,
    *,
    k_range: Sequence[int] = range(1, 13),
    seed: int = 0,
    n_init: int = 4,
    room_kinds: pl.DataFrame | None = None,
) -> ClusterAnalysis:
    """Cluster one method's ``image_tags`` rows; k by the cost elbow, plus k = the number of hotels, chains
    and (where ``room_kinds`` gives image_id -> room_kind for labelled photos) room kinds."""
    if tags_df.is_empty():
        raise ValueError("no tagged photos to cluster")
    labels = labels or labels_of(tags_df)
    matrix = tag_matrix(tags_df, labels)
    distinct = len(distinct_rows(matrix)[2])
    ks = sorted({k for k in k_range if 1 <= k <= distinct}) or [1]
    fits = {k: fit_kmodes(matrix, k, seed=seed, n_init=n_init) for k in ks}
    costs = [fits[k].cost for k in ks]
    chosen = elbow_k(ks, costs)
    assignments = tags_df.select("image_id", "hotel_id", "chain_id")
    if room_kinds is not None:
        assignments = assignments.join(room_kinds.select("image_id", "room_kind"), on="image_id", how="left")
    columns = {"cluster": fits[chosen].labels}
    for column, name in GROUPINGS.items():
        if column in assignments.columns and assignments[column].drop_nulls().len():
            n = assignments[column].drop_nulls().n_unique()
            columns[f"cluster_k_{name.replace(' ', '_')}s"] = (
                fits[n] if n in fits else fit_kmodes(matrix, n, seed=seed, n_init=n_init)
            ).labels
    assignments = assignments.with_columns(pl.Series(c, v, dtype=pl.Int32) for c, v in columns.items())
    summary = {"photos": tags_df.height, "distinct_tag_sets": distinct, "k_range": ks, "costs": costs,
               "elbow_k": chosen}
    method = str(tags_df["method"][0]) if "method" in tags_df.columns else ""
    return ClusterAnalysis(assignments=assignments, summary=summary,
                           elbow_png=elbow_figure(ks, costs, chosen, method))
