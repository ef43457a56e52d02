"""The dataset review: counts, balance, and distribution fits of hotels per chain."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl
from scipy import stats as st

from hotelcap_pipeline.criteria import MIN_TEST_N
from hotelcap_pipeline.figures import figure_png, new_figure

UNKNOWN_CHAIN = -1


def gini(values: np.ndarray) -> float:
    """0 = perfectly balanced counts, towards 1 = everything in one group."""
    x = np.sort(np.asarray(values, dtype=np.float64))
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    ranks = np.arange(1, n + 1)
    return float((2 * (ranks * x).sum()) / (n * x.sum()) - (n + 1) / n)


def summarize_counts(counts: np.ndarray) -> dict[str, float]:
    c = np.asarray(counts, dtype=np.float64)
    if c.size == 0:
        return {"n": 0}
    summary = {
        "n": float(c.size),
        "mean": float(c.mean()),
        "std": float(c.std(ddof=1)) if c.size > 1 else 0.0,
        "min": float(c.min()),
        "p25": float(np.percentile(c, 25)),
        "median": float(np.median(c)),
        "p75": float(np.percentile(c, 75)),
        "max": float(c.max()),
        "gini": gini(c),
    }
    if summary["median"] > 0:  # undefined otherwise (most hotels without photos): left out, not NaN
        summary["max_over_median"] = summary["max"] / summary["median"]
    return summary


def fit_distributions(counts: np.ndarray) -> dict[str, float]:
    """Fit exponential and log-normal laws to positive counts, with goodness-of-fit tests.

    KS p-values use parameters estimated from the same data, so they are optimistic (Lilliefors);
    Anderson-Darling p-values are interpolated from tables made for estimated parameters.
    """
    x = np.asarray(counts, dtype=np.float64)
    x = x[x > 0]
    out: dict[str, float] = {"n": float(x.size)}
    # Fewer values than this and a test says nothing (a Shapiro-Wilk p on 3 values is noise): no fit.
    if x.size < MIN_TEST_N:
        return out
    scale = float(x.mean())
    out["expon_scale"] = scale
    out["expon_ks_stat"], out["expon_ks_p"] = (float(v) for v in st.kstest(x, "expon", args=(0.0, scale)))
    ad = st.anderson(x, dist="expon", method="interpolate")
    out["expon_ad_stat"], out["expon_ad_p"] = float(ad.statistic), float(ad.pvalue)
    shape, _, ln_scale = st.lognorm.fit(x, floc=0)
    out["lognorm_sigma"], out["lognorm_mu"] = float(shape), float(np.log(ln_scale))
    out["lognorm_ks_stat"], out["lognorm_ks_p"] = (
        float(v) for v in st.kstest(x, "lognorm", args=(shape, 0.0, ln_scale))
    )
    logs = np.log(x)
    ad_log = st.anderson(logs, dist="norm", method="interpolate")
    out["lognorm_ad_stat"], out["lognorm_ad_p"] = float(ad_log.statistic), float(ad_log.pvalue)
    if np.ptp(logs) > 0:
        out["log_shapiro_stat"], out["log_shapiro_p"] = (float(v) for v in st.shapiro(logs))
    # Log-likelihoods decide which law describes the counts better (better_fit).
    out["expon_loglik"] = float(st.expon.logpdf(x, 0.0, scale).sum())
    out["lognorm_loglik"] = float(st.lognorm.logpdf(x, shape, 0.0, ln_scale).sum())
    return out


def better_fit(fit: dict[str, float]) -> str:
    """The law with the lower AIC (2 parameters - 2 log-likelihood): the log-normal's second parameter must
    earn its place, or the one-parameter exponential wins."""
    return "log-normal" if 2 * 2 - 2 * fit["lognorm_loglik"] < 2 * 1 - 2 * fit["expon_loglik"] else "exponential"


@dataclass
class DatasetReview:
    table: pl.DataFrame
    headline: dict[str, float | int | str]
    figures: dict[str, bytes] = field(default_factory=dict)


def review_dataset(
    chains: pl.DataFrame, hotels: pl.DataFrame, train: pl.DataFrame, test: pl.DataFrame
) -> DatasetReview:
    rows: list[tuple[str, str, float]] = []

    def add(section: str, values: dict[str, float]) -> None:
        rows.extend((section, k, float(v)) for k, v in values.items())

    images_per_hotel = (
        hotels.select("hotel_id")
        .join(train.group_by("hotel_id").len("n_train"), on="hotel_id", how="left")
        .fill_null(0)
        .get_column("n_train")
        .to_numpy()
    )
    per_chain = hotels.group_by("chain_id").len("n_hotels")
    known = per_chain.filter(pl.col("chain_id") != UNKNOWN_CHAIN).get_column("n_hotels").to_numpy()
    unknown_share = float(
        train.join(hotels.select("hotel_id", "chain_id"), on="hotel_id", how="left")
        .select((pl.col("chain_id") == UNKNOWN_CHAIN).mean())
        .item()
        or 0.0
    )
    counts = {
        "chains": chains.height,
        "hotels": hotels.height,
        "train_images": train.height,
        "test_images": test.height,
        "hotels_without_train_images": int((images_per_hotel == 0).sum()),
        "train_images_of_unknown_hotels": train.join(hotels, on="hotel_id", how="anti").height,
        "hotels_of_unknown_chains": hotels.join(chains, on="chain_id", how="anti").height,
        "share_train_images_chain_unknown": unknown_share,
        "unparsed_timestamps": int(train.get_column("uploaded_at").null_count()),
        # Coordinates are nullable (NULL in the file): a hotel without them is counted, not dropped.
        "hotels_without_coordinates": hotels.filter(
            pl.col("latitude").is_null() | pl.col("longitude").is_null()
        ).height,
    }
    add("counts", counts)
    add("images_per_hotel", summarize_counts(images_per_hotel))
    add("hotels_per_chain_known", summarize_counts(known))
    add("hotels_per_chain_fit", fit_distributions(known))
    for split, df in (("train", train), ("test", test)):
        share = df.group_by("image_source").len().with_columns(pl.col("len") / max(df.height, 1))
        add(f"image_source_share_{split}", dict(share.iter_rows()))
    years = train.group_by(pl.col("uploaded_at").dt.year().alias("year")).len().drop_nulls().sort("year")
    add("train_uploads_per_year", {str(y): n for y, n in years.iter_rows()})

    table = pl.DataFrame(rows, schema={"section": pl.Utf8, "metric": pl.Utf8, "value": pl.Float64}, orient="row")
    fit = fit_distributions(known)
    better = better_fit(fit) if "expon_loglik" in fit else "n/a"
    ipc = summarize_counts(images_per_hotel)
    headline: dict[str, float | int | str] = {
        **{k: v for k, v in counts.items() if k in ("chains", "hotels", "train_images", "test_images")},
        "images_per_hotel_median": ipc.get("median", 0.0),
        "images_per_hotel_gini": round(ipc.get("gini", 0.0), 3),
        "hotels_per_chain_gini": round(gini(known), 3),
        "share_train_images_chain_unknown": round(unknown_share, 3),
        "hotels_per_chain_better_fit": better,
    }
    return DatasetReview(table=table, headline=headline, figures=_figures(images_per_hotel, known, fit))


def _figures(images_per_hotel: np.ndarray, hotels_per_chain: np.ndarray, fit: dict[str, float]) -> dict[str, bytes]:
    figures: dict[str, bytes] = {}
    fig, ax = new_figure()
    top = max(int(images_per_hotel.max()) if images_per_hotel.size else 1, 1)
    ax.hist(images_per_hotel, bins=min(60, top + 1), color="#4c72b0")
    ax.set(xlabel="train photos per hotel", ylabel="hotels", title="Photos per hotel")
    figures["images_per_hotel"] = figure_png(
        fig, "Train photos per hotel: how evenly the hotels are covered (a long right tail would mean a few "
        "hotels have many photos and most have few)."
    )

    fig, ax = new_figure()
    x = np.sort(hotels_per_chain)
    if x.size:
        ecdf = np.arange(1, x.size + 1) / x.size
        ax.step(x, ecdf, where="post", label="chains (known)", color="black")
        grid = np.linspace(max(x.min(), 1e-9), x.max(), 200)
        if "expon_scale" in fit:
            ax.plot(grid, st.expon.cdf(grid, 0, fit["expon_scale"]), label="exponential fit")
            ax.plot(grid, st.lognorm.cdf(grid, fit["lognorm_sigma"], 0, np.exp(fit["lognorm_mu"])),
                    label="log-normal fit")
        ax.set_xscale("log")
    ax.set(xlabel="hotels per chain", ylabel="share of chains", title="Hotels per chain: ECDF and fits")
    ax.legend(loc="lower right")
    fits = (
        "and the exponential and log-normal fits the dataset review's tests compare; the closer a curve follows "
        "the steps, the better that fit" if "expon_scale" in fit else "too few chains to fit a distribution"
    )
    figures["hotels_per_chain_fit"] = figure_png(
        fig, f"Hotels per chain, chains known only (log scale): the share of chains with at most x hotels, {fits}."
    )
    return figures
