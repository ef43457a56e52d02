"""Data values reach terminals and reports as text: no escape sequences, no raw HTML."""

from __future__ import annotations

import html
import unicodedata

import polars as pl
import pytest

from hotelcap_pipeline import cli
from hotelcap_pipeline.report.document import Section, Table
from hotelcap_pipeline.report.render import to_markdown
from hotelcap_pipeline.store import DataStore, write_parquet_atomic
from hotelcap_pipeline.table_format import text_table
from hotelcap_pipeline.terminal import markdown_text, safe_text

HOSTILE = "Hotel \x1b]0;owned\x07\x1b[2J<script>alert(1)</script> & Spa\u202e"


def test_safe_text_shows_every_control_character():
    assert safe_text(HOSTILE, one_line=True) == (
        "Hotel \\x1b]0;owned\\x07\\x1b[2J<script>alert(1)</script> & Spa\\u202e")
    assert safe_text("two\nlines\tand \x9b") == "two\nlines\tand \\x9b"
    assert safe_text("two\nlines", one_line=True) == "two\\x0alines"


def test_text_table_cleans_strings_and_lists_and_leaves_the_rest():
    df = pl.DataFrame({"name": ["plain", HOSTILE], "tags": [["bed"], ["\x1b[31mred"]], "n": [1, 2]})
    text = text_table(df, max_width=None)
    assert "\x1b" not in text and "\\x1b]0;owned" in text and "\\x1b[31mred" in text
    assert text.splitlines()[2].split() == ["plain", "bed", "1"]


def test_report_markdown_escapes_names():
    table = Table(pl.DataFrame({"hotel_name": [HOSTILE], "photos": [3]}), caption="hotels")
    md = to_markdown("Report", [Section("Hotels", "hotels", [table])])
    assert "<script>" not in md and "\x1b" not in md
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Spa" in md
    assert markdown_text("a | b") == "a | b"


def test_data_in_markdown_reads_as_itself():
    from markdown_it import MarkdownIt

    # report.md as a Markdown viewer with tables (GitHub's, an editor's) shows it.
    render = MarkdownIt("commonmark").enable("table").render
    odd = r"/models/_tmp_/ip2p v1*final* [docs](https://evil.example) `hub` a\|b"
    table = Table(pl.DataFrame({"error": [odd]}))
    cell = render(to_markdown("Report", [Section("Errors", "errors", [table])])).partition("<tbody>")[2]
    paragraph = render(f"Not measured ({markdown_text(odd)}).")
    for page in (cell, paragraph):
        assert "<em>" not in page and "<a " not in page and "<code>" not in page
        assert odd in page  # as given, every character shown
    assert cell.count("<td>") == 1  # the backslashed pipe stays in its cell


def test_a_cut_cell_keeps_its_escapes_whole():
    from markdown_it import MarkdownIt

    from hotelcap_pipeline.table_format import markdown_table

    render = MarkdownIt("commonmark").enable("table").render
    # Cut at 12 columns, the escaped text would end inside "&amp;" or right after a lone backslash.
    for name in ("Bed & Breakfast & Spa", "Hotel_Name*Star*Inn"):
        md = markdown_table(pl.DataFrame({"name": [name]}), max_width=12)
        cell = html.unescape(render(md).partition("<td>")[2].partition("</td>")[0])
        assert cell == name[:11] + "…", (md, cell)


def test_terminal_tables_align_wide_characters():
    df = pl.DataFrame({"hotel": ["北京饭店", "Quiet Inn"], "photos": [12, 3]})
    lines = text_table(df).splitlines()

    def columns(text: str) -> int:  # what a terminal gives it: each CJK character takes two
        return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)

    assert len({columns(line) for line in lines}) == 1, lines  # the numbers end in one column
    assert columns(text_table(pl.DataFrame({"hotel": ["北京" * 40]}), max_width=9).splitlines()[2]) <= 9


@pytest.fixture
def hostile_store(tmp_path, monkeypatch):
    store = DataStore.at(tmp_path / "store")
    tags = pl.DataFrame({
        "image_id": [1, 2], "hotel_id": [10, 20], "chain_id": [0, 1], "method": ["seed", "seed"],
        "tags": [["bed"], ["bed"]], "caption": ["a bed", "a bed"], "score_bed": [0.3, 0.2],
    })
    write_parquet_atomic(tags, store.table("image_tags"))
    write_parquet_atomic(pl.DataFrame({"hotel_id": [10, 20], "hotel_name": [HOSTILE, "Quiet Inn"]}),
                         store.table("hotels"))
    monkeypatch.setenv("HOTELCAP_DATA_STORE", str(store.root))
    return store


def test_search_prints_no_escape_sequences(hostile_store, capsys):
    assert cli.main(["search", "bed", "--method", "seed"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\x07" not in out
    assert "\\x1b]0;owned" in out


def test_search_says_which_tags_it_searched_and_refuses_what_it_would_ignore(hostile_store, capsys):
    assert cli.main(["search", "beds", "--method", "seed"]) == 0
    assert "hotels ranked by the tags bed (from 'beds', method seed):" in capsys.readouterr().out
    assert cli.main(["search", "bed", "--text", "a bed"]) == 2
    assert "not both" in capsys.readouterr().err
    assert cli.main(["search", "--text", "a bed", "--method", "labeled"]) == 2
    assert "no tags by method 'labeled'; the table holds seed" in capsys.readouterr().err


def test_report_port_is_a_port(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["ui", "--report-port", "70000"])
    assert info.value.code == 2 and "at most 65535" in capsys.readouterr().err


@pytest.mark.parametrize("limit", ["0", "-1", "x"])
def test_search_limit_must_be_positive(hostile_store, capsys, limit):
    with pytest.raises(SystemExit) as info:
        cli.main(["search", "bed", "--limit", limit])
    assert info.value.code == 2
    assert "--limit" in capsys.readouterr().err


def test_materialize_with_an_empty_selection_is_an_error(capsys):
    assert cli.main(["materialize", "--select", ""]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("--select '' names no asset") and "\n" not in err


def test_materialize_with_malformed_config_json_names_the_option(capsys):
    assert cli.main(["materialize", "--config-json", "{ops:"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("--config-json: not valid JSON") and "\n" not in err
