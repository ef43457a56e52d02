"""The consistency rules behind the checks of the summary tables: a consistent table passes, a doctored one
is named."""

import polars as pl

from hotelcap_pipeline import consistency
from hotelcap_pipeline.sharding import shard_of

CHAINS = pl.DataFrame({"chain_id": [1, 2]})
HOTELS = pl.DataFrame({"hotel_id": [10, 11, 12], "chain_id": [1, 1, 2]})
TRAIN = pl.DataFrame({"image_id": [1, 2, 3, 4], "hotel_id": [10, 10, 11, 12]})
TEST = pl.DataFrame({"image_id": [9], "hotel_id": [10]})


def stats(**counts: float) -> pl.DataFrame:
    base = {"chains": 2.0, "hotels": 3.0, "train_images": 4.0, "test_images": 1.0} | counts
    rows = [("counts", k, v) for k, v in base.items()] + [("images_per_hotel", "gini", 0.2)]
    return pl.DataFrame(rows, schema=["section", "metric", "value"], orient="row")


def test_dataset_stats():
    assert consistency.dataset_stats_problems(stats(), CHAINS, HOTELS, TRAIN, TEST) == []
    assert "train_images" in consistency.dataset_stats_problems(stats(train_images=5.0), CHAINS, HOTELS, TRAIN,
                                                                TEST)[0]
    bad_gini = stats().with_columns(pl.when(pl.col("metric") == "gini").then(1.5).otherwise(pl.col("value"))
                                    .alias("value"))
    assert "outside [0, 1]" in consistency.dataset_stats_problems(bad_gini, CHAINS, HOTELS, TRAIN, TEST)[0]


def test_sampled_hotels():
    sample = pl.DataFrame({"hotel_id": [10, 12], "n_train_images": [2, 1],
                           "shard": [shard_of(10), shard_of(12)]})
    assert consistency.sampled_hotels_problems(sample, HOTELS, TRAIN) == []
    wrong = sample.with_columns(pl.Series("n_train_images", [3, 1]))
    assert "n_train_images" in consistency.sampled_hotels_problems(wrong, HOTELS, TRAIN)[0]
    unknown = pl.concat([sample, pl.DataFrame({"hotel_id": [99], "n_train_images": [0], "shard": [shard_of(99)]})])
    assert any("not in hotels" in p for p in consistency.sampled_hotels_problems(unknown, HOTELS, TRAIN))


TAGS = pl.DataFrame({"method": ["seed"] * 3, "image_id": [1, 2, 3], "hotel_id": [10, 10, 11]})


def test_tag_stats():
    good = pl.DataFrame({"method": ["seed"], "photos": [3], "hotels": [2], "mean_tags_per_photo": [2.0],
                         "min_distinct_tags_per_hotel": [1], "mean_distinct_tags_per_hotel": [2.0],
                         "max_distinct_tags_per_hotel": [3]})
    assert consistency.tag_stats_problems(good, TAGS, 21) == []
    assert "photos" in consistency.tag_stats_problems(good.with_columns(pl.lit(4).alias("photos")), TAGS, 21)[0]
    unordered = good.with_columns(pl.lit(5).alias("min_distinct_tags_per_hotel"))
    assert "not ordered" in consistency.tag_stats_problems(unordered, TAGS, 21)[0]


def test_tag_clusters():
    clusters = TAGS.select("method", "image_id").with_columns(pl.Series("cluster", [0, 1, 0]))
    assert consistency.tag_clusters_problems(clusters, TAGS) == []
    assert consistency.tag_clusters_problems(clusters.head(2), TAGS)
    assert "negative" in consistency.tag_clusters_problems(clusters.with_columns(pl.lit(-1).alias("cluster")),
                                                           TAGS)[0]


def test_edit_selection():
    manifest = pl.DataFrame({"image_id": [1, 2, 3], "status": ["ok", "ok", "failed"]})
    selection = pl.DataFrame({"image_id": [1, 2], "rank": [1, 2], "min_distance": [None, 0.8]})
    assert consistency.edit_selection_problems(selection, manifest) == []
    failed_photo = selection.with_columns(pl.Series("image_id", [1, 3]))
    assert "not stored ok" in consistency.edit_selection_problems(failed_photo, manifest)[0]
    far = selection.with_columns(pl.Series("min_distance", [None, 2.5]))
    assert "min_distance" in consistency.edit_selection_problems(far, manifest)[0]


def test_report(tmp_path):
    html, markdown = tmp_path / "index.html", tmp_path / "report.md"
    html.write_text("<html></html>")
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "a.png").write_bytes(b"png")
    markdown.write_text("# Report\n\n![a](figures/a.png)\n")
    assert consistency.report_problems(html, markdown) == []
    markdown.write_text("# Report\n\n![b](figures/b.png)\n")
    assert "figures/b.png" in consistency.report_problems(html, markdown)[0]
    html.unlink()
    assert "missing or empty" in consistency.report_problems(html, markdown)[0]


def test_one_check_that_cannot_read_its_tables_fails_with_the_reason_and_the_others_run(tmp_path):
    import dagster as dg

    from hotelcap_pipeline.defs.resources import HotelcapSettings
    from hotelcap_pipeline.defs.table_checks import CHECKS, table_checks
    from hotelcap_pipeline.store import DataStore, write_parquet_atomic

    store = DataStore.at(tmp_path)
    write_parquet_atomic(pl.DataFrame({"hotel_id": [1, 2]}), store.table("hotels"))
    write_parquet_atomic(pl.DataFrame({"image_id": [10, 11], "hotel_id": [1, 2]}), store.table("train_images"))
    context = dg.build_asset_check_context(resources={"settings": HotelcapSettings(data_store=str(tmp_path))})
    results = {r.check_name: r for r in table_checks(context)}
    assert set(results) == set(CHECKS)  # every check evaluated in the one step
    assert results["train_images_reference_known_hotels"].passed
    missing = results["tag_stats_match_tags"]
    assert not missing.passed
    assert missing.description.startswith("could not run: FileNotFoundError:")
    assert "tag_stats.parquet" in missing.description
