import numpy as np
import polars as pl
import pytest

from hotelcap_pipeline.demo.dataset import CHAINS, HOTELS, plan_photos
from hotelcap_pipeline.figures import png_caption
from hotelcap_pipeline.metadata.parse import read_table
from hotelcap_pipeline.metadata.sample import SamplingError, sample_hotels
from hotelcap_pipeline.metadata.stats import better_fit, fit_distributions, gini, review_dataset, summarize_counts
from hotelcap_pipeline.settings import DEMO_DIR
from hotelcap_pipeline.sharding import SHARD_KEYS, shard_of

DEMO = DEMO_DIR / "dataset"


@pytest.fixture(scope="module")
def tables():
    return {k: read_table(DEMO, k)[0] for k in ("chains", "hotels", "train_images", "test_images")}


def test_same_seed_same_hotels_whatever_the_row_order(tables):
    a = sample_hotels(tables["hotels"], tables["train_images"], 4, seed=7)
    b = sample_hotels(tables["hotels"].reverse(), tables["train_images"].sample(fraction=1.0, seed=1), 4, seed=7)
    assert a.get_column("hotel_id").to_list() == b.get_column("hotel_id").to_list()
    c = sample_hotels(tables["hotels"], tables["train_images"], 4, seed=8)
    assert set(c.get_column("hotel_id")) != set(a.get_column("hotel_id"))


def test_growing_the_sample_only_adds_hotels(tables):
    small = sample_hotels(tables["hotels"], tables["train_images"], 3, seed=0).get_column("hotel_id").to_list()
    large = sample_hotels(tables["hotels"], tables["train_images"], 6, seed=0).get_column("hotel_id").to_list()
    assert large[:3] == small


def test_sample_filters(tables):
    df = sample_hotels(tables["hotels"], tables["train_images"], 10, seed=0, min_train_images=5, chains=[17, 42])
    assert df.height > 0
    assert set(df.get_column("chain_id")) <= {17, 42}
    assert df.get_column("n_train_images").min() >= 5
    with pytest.raises(SamplingError):
        sample_hotels(tables["hotels"], tables["train_images"], 3, seed=0, min_train_images=1000)


def test_gini_on_hand_made_counts():
    assert gini(np.array([5, 5, 5, 5])) == pytest.approx(0.0)
    assert gini(np.array([0, 0, 0, 10])) == pytest.approx(0.75)
    assert summarize_counts(np.array([1, 2, 3]))["median"] == 2.0
    assert summarize_counts(np.array([1, 2, 6]))["max_over_median"] == 3.0
    # Most hotels without photos: the ratio is undefined and left out, so no check reads a NaN.
    assert "max_over_median" not in summarize_counts(np.array([0, 0, 0, 5]))


def test_fits_prefer_the_law_that_generated_the_data():
    rng = np.random.default_rng(0)
    lognormal = np.round(rng.lognormal(3, 1.2, 400)) + 1
    fit = fit_distributions(lognormal)
    assert fit["lognorm_loglik"] > fit["expon_loglik"] and better_fit(fit) == "log-normal"
    assert fit["lognorm_ks_p"] > 0.01 > fit["expon_ks_p"]
    assert fit["log_shapiro_p"] > 0.001
    # Exponential data: the log-normal's extra parameter buys a little likelihood, but not enough.
    exponential = rng.exponential(20, 400) + 0.5
    assert better_fit(fit_distributions(exponential)) == "exponential"
    assert better_fit({"lognorm_loglik": -100.5, "expon_loglik": -101.0}) == "exponential"  # < 1 unit apart


def test_review_counts_and_figures(tables):
    review = review_dataset(tables["chains"], tables["hotels"], tables["train_images"], tables["test_images"])
    counts = dict(review.table.filter(pl.col("section") == "counts").select("metric", "value").iter_rows())
    photos = plan_photos()
    assert counts["chains"] == len(CHAINS) and counts["hotels"] == len(HOTELS)
    assert counts["train_images"] == sum(p.split == "train" for p in photos)
    assert review.headline["test_images"] == sum(p.split == "test" for p in photos)
    assert all(png.startswith(b"\x89PNG") for png in review.figures.values())
    # The demo world's three known chains are too few to fit a law to: the figure's caption says so.
    assert "too few chains to fit" in (png_caption(review.figures["hotels_per_chain_fit"]) or "")


def test_shards_are_stable_and_spread():
    assert shard_of(391) == shard_of(391) in SHARD_KEYS
    assert len({shard_of(h) for h in range(1000, 1400)}) == len(SHARD_KEYS)


def test_hotels_without_coordinates_are_counted(tables):
    hotels = tables["hotels"].with_columns(
        pl.when(pl.col("hotel_id") == pl.col("hotel_id").min()).then(None).otherwise(pl.col("latitude"))
        .alias("latitude")
    )
    counts = dict(
        review_dataset(tables["chains"], hotels, tables["train_images"], tables["test_images"])
        .table.filter(pl.col("section") == "counts").select("metric", "value").iter_rows()
    )
    assert counts["hotels_without_coordinates"] == 1 + tables["hotels"]["latitude"].null_count()
    assert counts["hotels"] == hotels.height
