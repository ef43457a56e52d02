"""The dataset review and the photos downloaded for the sample."""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.criteria import ALPHA, MIN_TEST_N
from hotelcap_pipeline.metadata.stats import better_fit
from hotelcap_pipeline.report.document import Missing, Paragraph, Section, Table
from hotelcap_pipeline.report.sections.common import num, pct
from hotelcap_pipeline.report.tables import ReportTables

TEST_NAMES = {"ks": "Kolmogorov-Smirnov", "ad": "Anderson-Darling", "shapiro": "Shapiro-Wilk on logs"}

# dataset_stats sections as the report names their tables.
TABLE_CAPTIONS = {
    "counts": "Counts from the four metadata tables",
    "images_per_hotel": "Train photos per hotel",
    "hotels_per_chain_known": "Hotels per chain, chains known only",
    "hotels_per_chain_fit": "Exponential and log-normal fits of hotels per chain: parameters, goodness-of-fit tests "
    "(statistic, p-value) and log-likelihoods",
    "image_source_share_train": "Where the train photos come from (share)",
    "image_source_share_test": "Where the test photos come from (share)",
    "train_uploads_per_year": "Train photos uploaded per year",
}


def _balance_word(gini: float) -> str:
    if gini >= 0.4:
        return "far from balanced"
    if gini >= 0.2:
        return "moderately unbalanced"
    return "close to balanced"


def _fit_sentence(fit: dict[str, float]) -> str:
    if "expon_loglik" not in fit:
        return "Too few chains to fit a distribution to the hotels per chain."
    if fit.get("n", 0) < MIN_TEST_N:
        return (
            f"Hotels per known chain: {fit.get('n', 0):.0f} values, too few to test a distribution (at least "
            f"{MIN_TEST_N} needed); no fit is reported."
        )
    parts = [
        f"Hotels per known chain (n = {fit.get('n', 0):.0f}): the {better_fit(fit)} law fits better by AIC "
        f"(log-likelihood {num(fit['lognorm_loglik'])} log-normal, 2 parameters, vs {num(fit['expon_loglik'])} "
        "exponential, 1 parameter)."
    ]
    for law, keys in (
        ("exponential", ("expon_ks_p", "expon_ad_p")),
        ("log-normal", ("lognorm_ks_p", "lognorm_ad_p", "log_shapiro_p")),
    ):
        ps = {k: fit[k] for k in keys if k in fit and fit[k] == fit[k]}
        if not ps:
            continue
        rejected = [k for k, p in ps.items() if p < ALPHA]
        listed = ", ".join(f"{TEST_NAMES[k.split('_')[-2]]} p = {num(p)}" for k, p in ps.items())
        verdict = f"rejected by {len(rejected)} of {len(ps)} tests" if rejected else "not rejected"
        parts.append(f"At α = {ALPHA}, the {law} hypothesis is {verdict} ({listed}).")
    parts.append("KS p-values use parameters fitted on the same data, so they are optimistic.")
    return " ".join(parts)


def dataset_section(tables: ReportTables) -> Section:
    s = Section("Dataset review", "dataset")
    stats = tables.get("dataset_stats")
    if stats is None:
        s.add(Missing("dataset_stats"))
    else:
        v = {(sec, m): val for sec, m, val in stats.select("section", "metric", "value").iter_rows()}
        counts = {m: val for (sec, m), val in v.items() if sec == "counts"}
        if counts:
            s.add(
                Paragraph(
                    f"{counts.get('chains', 0):.0f} chains (classes), {counts.get('hotels', 0):.0f} hotels, "
                    f"{counts.get('train_images', 0):.0f} train and {counts.get('test_images', 0):.0f} test "
                    f"photos; {pct(counts.get('share_train_images_chain_unknown', 0.0))} of the train photos "
                    "belong to hotels of the unknown chain (-1). (`hotels_of_unknown_chains` below counts "
                    "something else: hotels whose chain id the chains table lacks.)"
                )
            )
        for label, section in (
            ("Train photos per hotel", "images_per_hotel"),
            ("Hotels per known chain", "hotels_per_chain_known"),
        ):
            if (section, "gini") in v:
                gini = v[(section, "gini")]
                s.add(
                    Paragraph(
                        f"{label}: median {num(v.get((section, 'median'), 0.0))}, max "
                        f"{num(v.get((section, 'max'), 0.0))}, Gini {gini:.2f}: {_balance_word(gini)}."
                    )
                )
        s.add(
            Paragraph(_fit_sentence({m: val for (sec, m), val in v.items() if sec == "hotels_per_chain_fit"}))
        )
        for section in stats.get_column("section").unique(maintain_order=True).to_list():
            part = stats.filter(pl.col("section") == section).select("metric", "value")
            if part["metric"].to_list() == ["n"]:
                continue  # a fit that was not made (too few values): the sentence above says so
            s.add(Table(part, TABLE_CAPTIONS.get(section, section.replace("_", " "))))
        s.add(*tables.figures_of("dataset_stats"))
    s.add(*photos_blocks(tables))
    return s


def photos_blocks(tables: ReportTables) -> list:
    images = tables.get("hotel_images")
    if images is None:
        return [Missing("hotel_images")]
    ok = images.filter(pl.col("status") == "ok")
    failed = images.height - ok.height
    blocks: list = []
    sizes = ok.group_by("width", "height").len("photos").sort(["photos", "width", "height"], descending=True)
    blocks.append(
        Paragraph(
            f"Photos of the sampled hotels: {ok.height} of {images.height} downloaded and resized "
            f"({failed} failed), from {images['hotel_id'].n_unique()} hotels; {sizes.height} distinct sizes "
            "after resizing to a longer side of 640 px (the original study counted 46 sizes among its 406 "
            "photos)."
        )
    )
    if sizes.height:
        blocks.append(Table(sizes.head(8), "Most common photo sizes"))
    if failed and "error" in images.columns:
        reasons = (
            images.filter(pl.col("status") != "ok")
            .with_columns(pl.col("error").fill_null("unknown").str.slice(0, 80).alias("error"))
            .group_by("error")
            .len("photos")
            .sort(["photos", "error"], descending=[True, False])
        )
        blocks.append(Table(reasons.head(8), "Why photos failed"))
    return blocks
