"""What the tables declare once on their assets instead of repeating it in every run's events, and what a
check's evaluation carries."""

import polars as pl

from hotelcap_pipeline.defs.assets.metadata import _reading_metadata
from hotelcap_pipeline.defs.assets.tagging import EVALUATION_COLUMNS, cluster_columns, tag_columns
from hotelcap_pipeline.defs.checks import _result
from hotelcap_pipeline.defs.ui_metadata import COLUMN_SCHEMA, declared_schema, table_metadata
from hotelcap_pipeline.tagging.vocabulary import load_vocabulary, score_column


def test_tag_evaluation_declares_the_evaluation_schema():
    from hotelcap_pipeline.tagging.evaluation import EVALUATION_SCHEMA

    assert {k: str(v) for k, v in EVALUATION_COLUMNS.items()} == {k: str(v) for k, v in EVALUATION_SCHEMA.items()}


def test_image_tags_declares_a_score_per_vocabulary_word_and_clusters_follow_the_labels():
    scores = [c for c in tag_columns() if c.startswith("score_")]
    assert scores == [score_column(t.label) for t in load_vocabulary()]
    assert "room_kind" in cluster_columns(True) and "room_kind" not in cluster_columns(False)
    assert "cluster_k_room_kinds" not in cluster_columns(False)


def test_nothing_is_declared_without_columns_and_a_preview_can_be_left_out():
    assert declared_schema({}, "image_tags") == {}
    assert COLUMN_SCHEMA in declared_schema({"image_id": pl.Int64}, "image_tags")
    table = pl.DataFrame({"image_id": [1, 2], "shard": ["shard-00", "shard-00"]})
    assert "preview" not in table_metadata(table, "hotel_images", "x.parquet", schema=False, preview_rows=0)
    assert "| image_id |" in table_metadata(table, "hotel_images")["preview"].value


def test_a_passed_check_carries_no_problem_list_and_a_failed_one_names_them():
    passed = _result([], rows=3)
    assert passed.passed and passed.metadata["n_problems"].value == 0 and "problems" not in passed.metadata
    failed = _result(["a", "b", "c", "d"])
    assert not failed.passed and failed.metadata["problems"].value == "a\nb\nc\nd"
    assert failed.description == "a; b; c (and 1 more)"


def test_the_parse_report_is_one_entry_beside_the_file():
    report = {"file": "hotel_info.csv", "rows": 3, "header_row": True, "skipped_rows": 0}
    meta = _reading_metadata(report)
    assert meta["file"] == "hotel_info.csv"
    assert meta["reading"].value == {"rows": 3, "header_row": True, "skipped_rows": 0}


def test_every_declared_column_says_what_it_holds():
    from hotelcap_pipeline.definitions import defs

    declared = {spec.key.to_user_string(): spec.metadata[COLUMN_SCHEMA]
                for spec in defs.resolve_all_asset_specs() if COLUMN_SCHEMA in spec.metadata}
    assert {"chains", "test_images", "sampled_hotels", "dataset_stats", "image_tags", "tag_stats",
            "tag_evaluation", "tag_clusters", "hotel_images", "image_embeddings", "edit_selection",
            "edit_validation", "diffusion_edits", "visitor_portrait"} <= set(declared)
    for key, schema in declared.items():
        undocumented = [c.name for c in schema.columns if not c.description]
        assert not undocumented, f"{key}: columns without a description: {undocumented}"


def test_a_materialization_repeats_the_schema_only_when_its_columns_differ(tmp_path):
    import dagster as dg

    from hotelcap_pipeline.defs.io import parquet_io_manager
    from hotelcap_pipeline.defs.resources import HotelcapSettings

    @dg.asset(name="chains", metadata=declared_schema({"chain_id": pl.Int64, "chain_name": pl.Utf8}, "chains"))
    def as_declared() -> pl.DataFrame:
        return pl.DataFrame({"chain_id": [1], "chain_name": ["a"]})

    @dg.asset(name="hotels", metadata=declared_schema({"hotel_id": pl.Int64}, "hotels"))
    def with_another_column() -> pl.DataFrame:
        return pl.DataFrame({"hotel_id": [1], "hotel_name": ["b"]})

    resources = {"settings": HotelcapSettings(data_store=str(tmp_path)), "io_manager": parquet_io_manager}
    result = dg.materialize([as_declared, with_another_column], resources=resources)
    chains, hotels = (result.asset_materializations_for_node(key)[0].metadata for key in ("chains", "hotels"))
    assert COLUMN_SCHEMA not in chains and "preview" in chains
    assert [c.name for c in hotels[COLUMN_SCHEMA].value.columns] == ["hotel_id", "hotel_name"]


def test_a_broken_vocabulary_declares_nothing_instead_of_breaking_the_code_location(monkeypatch):
    from hotelcap_pipeline.defs.assets import tagging
    from hotelcap_pipeline.yaml_input import InputFileError

    def broken() -> list:
        raise InputFileError("vocabulary.yaml: tags: not a list")

    monkeypatch.setattr(tagging, "load_vocabulary", broken)
    assert tagging.tag_columns() == {}


def test_figures_are_files_in_the_store_shown_by_url_not_inlined(tmp_path, monkeypatch):
    from hotelcap_pipeline.defs.ui_metadata import FIGURE_FILES, save_figures
    from hotelcap_pipeline.report.serve import REPORT_URL_ENV
    from hotelcap_pipeline.store import DataStore

    monkeypatch.setenv(REPORT_URL_ENV, "http://127.0.0.1:4321/index.html")
    store = DataStore.at(tmp_path)
    png = b"\x89PNG\r\n\x1a\n" + bytes(5_000)
    meta = save_figures({"auc": png, "scores": png}, store, prefix="tags_")
    assert (store.figures / "tags_auc.png").read_bytes() == png
    shown = meta["figures"].value
    url = "http://127.0.0.1:4321/figures/tags_auc.png"
    assert f"[![tags_auc]({url})]({url})" in shown  # the full-size figure from the report server, a link to it
    assert "base64" not in shown and len(shown) < 300
    assert meta[FIGURE_FILES].value == {"auc": "report/figures/tags_auc.png",
                                        "scores": "report/figures/tags_scores.png"}
    assert save_figures({}, store) == {}
    # A figure that carries its caption shows it under the image.
    from hotelcap_pipeline.figures import figure_png, new_figure

    fig, _ = new_figure()
    captioned = save_figures({"elbow": figure_png(fig, "k-modes cost by k")}, store)["figures"].value
    assert captioned.endswith("(http://127.0.0.1:4321/figures/elbow.png)\n\n*k-modes cost by k*")
    # A report served from a folder behind a proxy, named without its page or trailing slash: the figures
    # stay inside that folder.
    for given in ("https://example.org/reports/hotelcap", "https://example.org/reports/hotelcap/"):
        monkeypatch.setenv(REPORT_URL_ENV, given)
        shown = save_figures({"auc": png}, store)["figures"].value
        assert "(https://example.org/reports/hotelcap/figures/auc.png)" in shown, shown
