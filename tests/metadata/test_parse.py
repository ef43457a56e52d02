from pathlib import Path

import polars as pl
import pytest

from hotelcap_pipeline.metadata.parse import DatasetError, detect_header, read_metadata_csv, read_table
from hotelcap_pipeline.settings import DEMO_DIR

DEMO = DEMO_DIR / "dataset"
HEADER = "image_id,hotel_id,image_url,image_source,upload_timestamp\n"


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_demo_tables_have_the_upstream_shape():
    chains, _ = read_table(DEMO, "chains")
    hotels, _ = read_table(DEMO, "hotels")
    train, report = read_table(DEMO, "train_images")
    assert report.header is False  # like the real train_set.csv
    assert -1 in chains.get_column("chain_id").to_list()
    assert hotels.schema["latitude"] == pl.Float64
    assert train.schema["image_id"] == pl.Int64
    assert train.get_column("uploaded_at").null_count() == 0
    assert any("&" in n for n in hotels.get_column("hotel_name"))


def test_header_is_detected_not_assumed(tmp_path):
    no_header = write(tmp_path, "train_set.csv", "5,391,https://x/a.jpg,traffickcam,9/9/15 17:23\n")
    with_header = write(tmp_path, "test_set.csv", HEADER + "5,391,https://x/a.jpg,traffickcam,9/9/15 17:23\n")
    assert detect_header(no_header, "image_id") is False
    assert detect_header(with_header, "image_id") is True
    a, _ = read_metadata_csv(no_header, "images")
    b, _ = read_metadata_csv(with_header, "images")
    assert a.equals(b)


def test_both_timestamp_formats_parse_and_raw_text_is_kept(tmp_path):
    path = write(
        tmp_path,
        "train_set.csv",
        "1,391,u1,traffickcam,9/9/15 17:23\n2,391,u2,travel_website,2019-12-19 02:30:24\n3,391,u3,traffickcam,soon\n",
    )
    df, report = read_metadata_csv(path, "images")
    parsed = df.get_column("uploaded_at").to_list()
    assert str(parsed[0]) == "2015-09-09 17:23:00"
    assert str(parsed[1]) == "2019-12-19 02:30:24"
    assert parsed[2] is None and df.get_column("upload_timestamp")[2] == "soon"
    assert report.unparsed_timestamps == 1


def test_hotel_names_with_commas_in_quotes(tmp_path):
    path = write(tmp_path, "hotel_info.csv",
                 'hotel_id,hotel_name,chain_id,latitude,longitude\n7,"Inn, Spa & Co / West-End",-1,1.5,2.5\n')
    df, _ = read_metadata_csv(path, "hotels")
    assert df.get_column("hotel_name")[0] == "Inn, Spa & Co / West-End"


def test_unparsable_id_names_file_line_and_column(tmp_path):
    path = write(tmp_path, "train_set.csv", "1,391,u1,traffickcam,9/9/15 17:23\n2,abc,u2,traffickcam,9/9/15 17:23\n")
    with pytest.raises(DatasetError, match=r"train_set.csv line 2, column hotel_id = 'abc'"):
        read_metadata_csv(path, "images")


def test_bad_rows_can_be_skipped_and_are_counted(tmp_path):
    path = write(tmp_path, "train_set.csv", "1,391,u1,traffickcam,9/9/15 17:23\n2,abc,u2,traffickcam,x\n3,391,,t,x\n")
    df, report = read_metadata_csv(path, "images", on_bad_rows="skip")
    assert df.get_column("image_id").to_list() == [1]
    assert report.skipped == 2
    assert "line 3, column image_url is empty" in report.skipped_examples[1]


def test_duplicate_id_is_an_error_with_lines(tmp_path):
    path = write(tmp_path, "test_set.csv", HEADER + "1,391,u,t,x\n2,391,u,t,x\n1,392,u,t,x\n")
    with pytest.raises(DatasetError, match=r"duplicate image_id 1 on lines \[2, 4\]"):
        read_metadata_csv(path, "images")


def test_missing_column_in_header_is_named(tmp_path):
    path = write(tmp_path, "chain_info.csv", "chain_id,name\n1,a\n")
    with pytest.raises(DatasetError, match=r"missing column.*chain_name"):
        read_metadata_csv(path, "chains")


def test_wrong_column_count_without_header(tmp_path):
    path = write(tmp_path, "train_set.csv", "1,391,u1,traffickcam\n")
    with pytest.raises(DatasetError, match="expected 5 columns"):
        read_metadata_csv(path, "images")


HOTELS = "hotel_id,hotel_name,chain_id,latitude,longitude\n"


def test_trailing_and_inner_blank_lines_are_ignored(tmp_path):
    path = write(tmp_path, "train_set.csv", "1,391,u1,t,9/9/15 17:23\n\n2,abc,u2,t,x\n\n\n")
    with pytest.raises(DatasetError, match=r"train_set.csv line 3, column hotel_id"):  # line numbers still true
        read_metadata_csv(path, "images")
    path = write(tmp_path, "test_set.csv", HEADER + "1,391,u,t,x\n2,391,u,t,x\n\n\n")
    df, report = read_metadata_csv(path, "images")
    assert df.height == 2 and report.blank_lines == 2 and report.skipped == 0


def test_null_coordinates_are_nulls_not_bad_rows(tmp_path):
    path = write(tmp_path, "hotel_info.csv", HOTELS + "1,A,2,1.5,2.5\n2,B,3,NULL,NULL\n3,C,3,,\n4,D,3,NaN,null\n")
    df, report = read_metadata_csv(path, "hotels")
    assert df.height == 4 and report.skipped == 0
    assert df.get_column("latitude").to_list() == [1.5, None, None, None]
    bad = write(tmp_path, "h2.csv", HOTELS + "1,A,2,north,2.5\n")
    with pytest.raises(DatasetError, match=r"column latitude = 'north'"):
        read_metadata_csv(bad, "hotels")


def test_duplicate_ids_are_a_counted_skip_keeping_the_first(tmp_path):
    path = write(tmp_path, "test_set.csv", HEADER + "1,391,first,t,x\n2,391,u,t,x\n1,392,again,t,x\n1,393,x,t,x\n")
    df, report = read_metadata_csv(path, "images", on_bad_rows="skip")
    assert df.get_column("image_id").to_list() == [1, 2]
    assert df.filter(pl.col("image_id") == 1).get_column("image_url").to_list() == ["first"]
    assert report.duplicate_rows == 2 and report.duplicate_ids == [1] and report.skipped == 2
    assert report.as_metadata()["duplicate_ids"] == "1"


def test_undecodable_byte_names_file_and_offset(tmp_path):
    path = tmp_path / "hotel_info.csv"
    path.write_bytes(HOTELS.encode() + b"1,Caf\xe9 Hotel,2,1.0,2.0\n")
    offset = len(HOTELS.encode()) + len(b"1,Caf")
    with pytest.raises(DatasetError, match=rf"hotel_info.csv: byte {offset} \(line 2\) is not UTF-8"):
        read_metadata_csv(path, "hotels")
    df, report = read_metadata_csv(path, "hotels", on_bad_rows="skip")
    assert df.get_column("hotel_name").to_list() == ["Caf\ufffd Hotel"] and report.undecodable_bytes == 1
    early = tmp_path / "chain_info.csv"
    early.write_bytes(b"\xff\xfechain_id,chain_name\n1,a\n")  # a UTF-16 mark in the first 8 KB
    with pytest.raises(DatasetError, match=r"byte 0 \(line 1\)"):
        read_metadata_csv(early, "chains")


TRAIN_ROW = "{},391,https://x/{}.jpg,traffickcam,9/9/15 17:23"


@pytest.mark.parametrize("mode", ["error", "skip"])
def test_a_stray_quote_names_its_line_in_one_short_line(tmp_path, mode):
    rows = [TRAIN_ROW.format(i, i) for i in range(1, 20_001)]
    rows[5] = rows[5].replace("https", '"https')  # a quote that never closes swallows the rest of the file
    path = write(tmp_path, "train_set.csv", "\n".join(rows) + "\n")
    with pytest.raises(DatasetError, match=r"train_set.csv: line 6 opens a quoted field that never closes") as caught:
        read_metadata_csv(path, "images", on_bad_rows=mode)
    message = str(caught.value)
    assert len(message) < 300 and "\n" not in message


@pytest.mark.parametrize(
    "name, text, kind, line, fields",
    [
        # headerless: a row with a field too many, a row short of two (the first row too)
        ("train_set.csv", "".join(TRAIN_ROW.format(i, i) + (",extra" if i == 3 else "") + "\n" for i in range(1, 6))
         + "6,391,u\n", "images", 3, 6),
        ("train_set.csv", "1,391,u,t\n" + TRAIN_ROW.format(2, 2) + "\n", "images", 1, 4),
        ("hotel_info.csv", HOTELS + "1,A,2,1.5,2.5\n2,B,3,1.5,2.5,extra\n3,C,3,1.5,2.5\n", "hotels", 3, 6),
        # too few: the coordinates are nullable, but a row without them is not a row with them empty
        ("hotel_info.csv", HOTELS + "1,A,2,1.5,2.5\n2,B,3\n3,C,3,,\n", "hotels", 3, 3),
        # a short row found from its own line: after a byte order mark, blank lines, CRLF, a quoted comma
        ("train_set.csv", "\ufeff1,391,u,t\r\n" + TRAIN_ROW.format(2, 2) + "\r\n", "images", 1, 4),
        ("hotel_info.csv", "\n\n" + HOTELS + '1,"A, the",2,1.5,\n2,"B, a",3\n', "hotels", 5, 3),
    ],
    ids=["no header, long and short rows", "no header, short first row", "header, long row", "header, short row",
         "no header, BOM and CRLF", "header after blank lines, quoted commas"],
)
def test_rows_with_too_many_or_too_few_fields_are_bad_rows(tmp_path, name, text, kind, line, fields):
    path = write(tmp_path, name, text)
    with pytest.raises(DatasetError, match=rf"{name} line {line} has {fields} fields, expected 5 columns"):
        read_metadata_csv(path, kind)
    df, report = read_metadata_csv(path, kind, on_bad_rows="skip")
    assert report.skipped == len(report.skipped_examples) >= 1
    assert report.skipped_examples[0] == f"{name} line {line} has {fields} fields, expected 5 columns"
    assert df.height == report.rows == text.count("\n") - (kind == "hotels") - report.skipped - report.blank_lines


def test_a_ragged_row_in_a_large_file_is_skipped_with_its_line(tmp_path):
    rows = [TRAIN_ROW.format(i, i) for i in range(1, 200_001)]
    rows[150_000] += ",extra"
    path = write(tmp_path, "train_set.csv", "\n".join(rows) + "\n")
    df, report = read_metadata_csv(path, "images", on_bad_rows="skip")
    assert df.height == 199_999 and 150_001 not in df.get_column("image_id")
    assert report.skipped_examples == ["train_set.csv line 150001 has 6 fields, expected 5 columns"]


def test_a_header_after_blank_lines_is_found(tmp_path):
    path = write(tmp_path, "hotel_info.csv", "\n\n" + HOTELS + "1,A,2,1.5,2.5\n2,B,x,1.5,2.5\n")
    with pytest.raises(DatasetError, match=r"hotel_info.csv line 5, column chain_id = 'x'"):
        read_metadata_csv(path, "hotels")
    df, report = read_metadata_csv(path, "hotels", on_bad_rows="skip")
    assert report.header and df.get_column("hotel_id").to_list() == [1] and report.blank_lines == 2
    headerless = write(tmp_path, "train_set.csv", "\n" + TRAIN_ROW.format(1, 1) + "\n2,x,u,t,x\n")
    with pytest.raises(DatasetError, match=r"train_set.csv line 3, column hotel_id = 'x'"):
        read_metadata_csv(headerless, "images")
    blank = write(tmp_path, "chain_info.csv", "\n  \n")
    with pytest.raises(DatasetError, match="file is empty"):
        read_metadata_csv(blank, "chains")


def test_line_numbers_count_the_lines_of_a_quoted_multiline_field(tmp_path):
    path = write(tmp_path, "hotel_info.csv", HOTELS + '1,"Inn\nby the\nsea",2,1.5,2.5\n2,B,x,1.5,2.5\n')
    with pytest.raises(DatasetError, match=r"hotel_info.csv line 5, column chain_id = 'x'"):
        read_metadata_csv(path, "hotels")
    df, _ = read_metadata_csv(path, "hotels", on_bad_rows="skip")
    assert df.get_column("hotel_name").to_list() == ["Inn\nby the\nsea"]


def test_a_file_whose_every_row_is_bad_fails_even_when_skipping(tmp_path):
    # Skipping drops a few bad rows; when none is left the file is the wrong one, and an empty table would let
    # the run go on as if the dataset had no photos.
    path = write(tmp_path, "train_set.csv", "1,2,3\n4,5,6\n")
    with pytest.raises(DatasetError, match=r"train_set.csv: all 2 rows are bad, e.g. train_set.csv line 1 has 3 "
                                           r"fields, expected 5 columns; check that this is the Hotels-50K"):
        read_metadata_csv(path, "images", on_bad_rows="skip")
