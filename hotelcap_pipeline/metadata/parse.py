"""Parse the four Hotels-50K CSVs into typed, validated polars tables.

Facts about the real files (docs/hotels50k.md) shape this module: train_set.csv has no header row (so the header is
detected, never assumed), chain -1 means "unknown", upload timestamps come in two formats
(``9/9/15 17:23`` and ``2019-12-19 02:30:24``) and are kept raw beside a parsed, nullable datetime.
Every problem names the file, the line and the column. polars reads the rows; the csv module's exact but slower pass
over the file only runs when a row may have too many or too few fields or span several lines.
"""

from __future__ import annotations

import csv
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import polars as pl

CSV_FILES = {
    "chains": "chain_info.csv",
    "hotels": "hotel_info.csv",
    "train_images": "train_set.csv",
    "test_images": "test_set.csv",
}

SCHEMAS: dict[str, dict[str, type[pl.DataType] | pl.DataType]] = {
    "chains": {"chain_id": pl.Int64, "chain_name": pl.Utf8},
    "hotels": {
        "hotel_id": pl.Int64,
        "hotel_name": pl.Utf8,
        "chain_id": pl.Int64,
        "latitude": pl.Float64,
        "longitude": pl.Float64,
    },
    "images": {
        "image_id": pl.Int64,
        "hotel_id": pl.Int64,
        "image_url": pl.Utf8,
        "image_source": pl.Utf8,
        "upload_timestamp": pl.Utf8,
    },
}
ID_COLUMN = {"chains": "chain_id", "hotels": "hotel_id", "images": "image_id"}
# Numeric columns that may be unknown: these spellings of "no value" are read as null, not as bad rows.
NULLABLE = {"latitude", "longitude"}
NULL_SPELLINGS = ("", "NULL", "NONE", "NAN", "NA", "N/A")
MAX_LISTED = 10
REQUIRED = {
    "chains": ("chain_id",),
    "hotels": ("hotel_id", "chain_id"),
    "images": ("image_id", "hotel_id", "image_url", "image_source"),
}
# Slash-dates are TraffickCam's M/D/YY H:MM; the rest are travel_website's ISO-like stamps.
SLASH_FORMAT, ISO_FORMAT = "%m/%d/%y %H:%M", "%Y-%m-%d %H:%M:%S"

OnBadRows = Literal["error", "skip"]


class DatasetError(ValueError):
    """The metadata does not have the Hotels-50K shape; the message names file, line and column."""


@dataclass
class ParseReport:
    file: str
    rows: int = 0
    header: bool = False
    skipped: int = 0
    skipped_examples: list[str] = field(default_factory=list)
    unparsed_timestamps: int = 0
    blank_lines: int = 0
    duplicate_rows: int = 0
    duplicate_ids: list[int] = field(default_factory=list)
    undecodable_bytes: int = 0

    def as_metadata(self) -> dict[str, str | int | bool]:
        return {
            "file": self.file,
            "rows": self.rows,
            "header_row": self.header,
            "skipped_rows": self.skipped,
            "skipped_examples": "; ".join(self.skipped_examples) or "none",
            "unparsed_timestamps": self.unparsed_timestamps,
            "blank_lines": self.blank_lines,
            "duplicate_rows_skipped": self.duplicate_rows,
            "duplicate_ids": ", ".join(map(str, self.duplicate_ids[:MAX_LISTED])) or "none",
            "undecodable_bytes": self.undecodable_bytes,
        }


def check_utf8(path: Path, data: bytes, *, lossy: bool) -> int:
    """The number of bytes of ``data`` (the file's) that are not UTF-8 (0 for a clean file); without ``lossy`` the
    first one is a ``DatasetError`` naming the file and its byte offset."""
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if not lossy:
            line = data.count(b"\n", 0, exc.start) + 1
            raise DatasetError(
                f"{path}: byte {exc.start} (line {line}) is not UTF-8 ({data[exc.start:exc.start + 1]!r}); "
                "re-save the file as UTF-8, or set on_bad_rows: skip to read it with such bytes replaced"
            ) from None
        # Replacement characters the lossy read adds, not counting any the file already held.
        return data.decode("utf-8", errors="replace").count("\ufffd") - data.decode("utf-8", errors="ignore").count(
            "\ufffd"
        )
    return 0


def _first_line(path: Path) -> tuple[int, str]:
    """The blank lines before the first line with something on it, and that line."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        for blank, line in enumerate(fh):
            if line.strip():
                return blank, line
    raise DatasetError(f"{path}: file is empty (no line holds anything but blanks)")


def detect_header(path: Path, first_column: str) -> bool:
    """A first (non-blank) line whose first field is not an integer is a header (train_set.csv has none)."""
    return _is_header(_first_line(path)[1], first_column)


def _is_header(line: str, first_column: str) -> bool:
    first = next(csv.reader([line]))[0].strip()
    if first.lower() == first_column:
        return True
    try:
        int(first)
    except ValueError:
        return True
    return False


def read_metadata_csv(path: Path, kind: str, *, on_bad_rows: OnBadRows = "error") -> tuple[pl.DataFrame, ParseReport]:
    """Read one CSV of ``kind`` (chains, hotels or images) into its typed schema."""
    schema = SCHEMAS[kind]
    names = list(schema)
    if not path.exists():
        raise DatasetError(f"{path}: missing (expected the Hotels-50K file {path.name})")
    data = path.read_bytes()
    undecodable = check_utf8(path, data, lossy=on_bad_rows == "skip")
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    del data
    skip, first = _first_line(path)
    header = _is_header(first, names[0])
    report = ParseReport(file=str(path), header=header, undecodable_bytes=undecodable)
    raw, scan = _read_rows(path, names, header, skip, lines)
    raw = _name_columns(raw, names, header, path)
    width = scan.width if scan is not None else len(names)
    # __line keeps each row's first line in the file for the messages; __fields is the field count of a row
    # with too many or too few.
    if scan is None:
        raw = raw.with_row_index("__line", offset=skip + 1 + header)
    else:
        raw = raw.with_columns(pl.Series("__line", scan.starts, dtype=pl.Int64))
        if scan.ragged:
            fields = pl.Series("__fields", [None] * raw.height, dtype=pl.Int64)
            fields.scatter(list(scan.ragged), list(scan.ragged.values()))
            raw = raw.with_columns(fields)
    ragged = "__fields" in raw.columns
    # Blank lines (a trailing newline too many) read as all-null rows: they hold no data, so they are dropped.
    blank = pl.all_horizontal(pl.col(n).is_null() | (pl.col(n).str.strip_chars() == "") for n in names)
    if ragged:
        blank = blank & pl.col("__fields").is_null()
    report.blank_lines = skip + raw.select(blank.sum()).item()
    raw = raw.filter(~blank)
    # Cast every typed column leniently, then point at the first value that failed: one pass, and
    # the slow row-by-row explanation only runs when something is wrong.
    casts, flags = [], []
    for name, dtype in schema.items():
        col = pl.col(name)
        if name in NULLABLE:
            col = pl.when(col.str.strip_chars().str.to_uppercase().is_in(NULL_SPELLINGS)).then(None).otherwise(col)
        if dtype == pl.Utf8:
            casts.append(col if name == "hotel_name" else col.str.strip_chars())
        else:
            casts.append(col.str.strip_chars().cast(dtype, strict=False))
            flags.append((col.str.strip_chars().cast(dtype, strict=False).is_null() & col.is_not_null())
                         .alias(f"__bad_{name}"))
    flags += [pl.col(name).is_null().alias(f"__missing_{name}") for name in REQUIRED[kind]]
    if ragged:
        flags.append(pl.col("__fields").is_not_null())
    # Lazy so that common-subexpression elimination casts each column once.
    checks = (
        raw.lazy()
        .select(
            [pl.col("__line")]
            + [c.alias(n) for c, n in zip(casts, names, strict=True)]
            + [pl.any_horizontal(flags).alias("__bad")]
        )
        .collect()
    )
    typed = checks.drop("__bad")
    if checks.get_column("__bad").any():
        bad_rows = raw.filter(checks.get_column("__bad"))
        messages = [
            _explain_bad_row(row, schema, kind, path, width) for row in bad_rows.head(5).iter_rows(named=True)
        ]
        if on_bad_rows == "error":
            more = f" (and {bad_rows.height - 1} more bad rows)" if bad_rows.height > 1 else ""
            raise DatasetError(f"{path}: {messages[0]}{more}; fix the file, or set on_bad_rows: skip to drop and "
                               "count bad rows")
        report.skipped = bad_rows.height
        report.skipped_examples = messages
        typed = typed.filter(~checks.get_column("__bad"))
        if typed.is_empty():
            # Skipping is for a few bad rows; a file with no good one is the wrong file, not an empty table.
            raise DatasetError(f"{path}: all {bad_rows.height} rows are bad, e.g. {messages[0]}; check that this is "
                               f"the Hotels-50K {path.name} ({', '.join(names)})")
    id_col = ID_COLUMN[kind]
    ids = typed.get_column(id_col)
    if ids.n_unique() != typed.height:
        dups = typed.filter(pl.col(id_col).is_duplicated())
        first_dup = dups.get_column(id_col)[0]
        dup_lines = typed.filter(pl.col(id_col) == first_dup).get_column("__line").to_list()
        message = (
            f"duplicate {id_col} {first_dup} on lines {dup_lines} ({dups.get_column(id_col).n_unique()} duplicated ids "
            "in all)"
        )
        if on_bad_rows == "error":
            raise DatasetError(f"{path}: {message}; set on_bad_rows: skip to keep each id's first row")
        # The first row of each id is kept; the later ones are counted and listed.
        later = typed.filter(pl.col(id_col).is_first_distinct().not_())
        report.duplicate_rows = later.height
        report.duplicate_ids = later.get_column(id_col).unique(maintain_order=True).to_list()
        report.skipped += later.height
        report.skipped_examples.append(f"{path.name}: {message}, first rows kept")
        typed = typed.filter(pl.col(id_col).is_first_distinct())
    typed = typed.drop("__line")
    if kind == "images":
        typed = typed.with_columns(parse_timestamps(pl.col("upload_timestamp")).alias("uploaded_at"))
        report.unparsed_timestamps = typed.select(
            (pl.col("uploaded_at").is_null() & pl.col("upload_timestamp").is_not_null()).sum()
        ).item()
    report.rows = typed.height
    return typed, report


def _explain_bad_row(row: dict, schema: dict, kind: str, path: Path, width: int) -> str:
    where = f"{path.name} line {row['__line']}"
    if row.get("__fields") is not None:
        return f"{where} has {row['__fields']} fields, expected {width} columns"
    for name, dtype in schema.items():
        value = row[name]
        if value is None and name in REQUIRED[kind]:
            return f"{where}, column {name} is empty"
        if value is not None and dtype != pl.Utf8:
            try:
                (int if dtype == pl.Int64 else float)(value.strip())
            except ValueError:
                return f"{where}, column {name} = {value!r} is not a valid {dtype}"
    return f"{where}: unparsable row"


def _name_columns(raw: pl.DataFrame, names: list[str], header: bool, path: Path) -> pl.DataFrame:
    if header:
        found = {c.strip().lower().lstrip("\ufeff"): c for c in raw.columns}
        missing = [n for n in names if n not in found]
        if missing:
            raise DatasetError(
                f"{path}: missing column(s) {', '.join(missing)} in the header (found: {', '.join(raw.columns)})"
            )
        return raw.select([pl.col(found[n]).alias(n) for n in names])
    return raw  # read with the schema's names


def _read_rows(path: Path, names: list[str], header: bool, skip: int, lines: int) -> tuple[pl.DataFrame, _Scan | None]:
    """The rows as text, read by polars, and the csv module's exact pass over the file when polars' read leaves
    a doubt about the rows' lines or field counts (None for a clean file)."""

    def read(truncate_ragged_lines: bool) -> pl.DataFrame:
        # polars' default: an empty unquoted field is null, so a blank value counts as missing. Without a header
        # the schema fixes the columns, so a ragged first row is one bad row, not the file's width.
        return pl.read_csv(path, has_header=header, infer_schema=False, encoding="utf8-lossy", quote_char='"',
                           skip_lines=skip, schema=None if header else dict.fromkeys(names, pl.Utf8),
                           truncate_ragged_lines=truncate_ragged_lines)

    scan = None
    try:
        raw = read(False)
    except pl.exceptions.PolarsError as exc:
        # A row with too many fields, or quoting polars cannot read: the csv module's pass names the line.
        scan = _scan_rows(path, skip, header, len(names))
        if not scan.ragged:
            raise DatasetError(_unreadable(path, exc)) from None
        try:
            raw = read(True)
        except pl.exceptions.PolarsError as again:
            raise DatasetError(_unreadable(path, again)) from None
    # Rows that do not fill a line each (a quoted field over several lines) or a row short of fields (read as
    # nulls at its end) need the exact pass too; a clean file needs neither.
    if scan is None and skip + header + raw.height != lines:
        scan = _scan_rows(path, skip, header, len(names))
    elif scan is None and (short := _short_rows(path, raw, skip + header)):
        first = skip + header + 1
        scan = _Scan(array("q", range(first, first + raw.height)), raw.width, short)
    if scan is not None and len(scan.starts) != raw.height:
        raise DatasetError(f"{path}: polars reads {raw.height} rows where the csv module reads {len(scan.starts)} "
                           "(lone carriage returns as line ends?); re-save it as plain CSV with \\n line ends")
    return raw, scan


@dataclass
class _Scan:
    starts: array  # the line each row (after the header) starts on
    width: int  # the fields a row should have: the header's, or the schema's without one
    ragged: dict[int, int]  # row index -> field count, for the rows with too many or too few


def _scan_rows(path: Path, skip: int, header: bool, width: int) -> _Scan:
    """One pass of the csv module over the file: exact lines where a quoted field spans several, the rows with a
    wrong field count, and the line of a quote never closed. About 1 s for train_set.csv, so it only runs when
    polars' read leaves a doubt."""
    starts = array("q")
    ragged: dict[int, int] = {}
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as fh:
        for _ in range(skip):
            fh.readline()
        # strict: a quote never closed is an error at the end of the file, not a field swallowing the rest.
        reader = csv.reader(fh, strict=True)
        end = skip  # the last line of the previous row
        try:
            if header:
                width = len(next(reader))
                end = skip + reader.line_num
            for fields in reader:
                if len(fields) != width and any(f.strip() for f in fields):
                    ragged[len(starts)] = len(fields)
                starts.append(end + 1)
                end = skip + reader.line_num
        except csv.Error as exc:
            if "field limit" in str(exc) or "end of data" in str(exc):
                raise DatasetError(f"{path}: line {end + 1} opens a quoted field that never closes (a stray '\"'?); "
                                   "close or remove that quote") from None
            raise DatasetError(f"{path}: line {end + 1} is not valid CSV ({exc}); a '\"' inside a quoted field "
                               "must be doubled") from None
    return _Scan(starts, width, ragged)


def _short_rows(path: Path, raw: pl.DataFrame, first: int) -> dict[int, int]:
    """Row index -> field count of the rows with too few fields, in a file of one line per row whose rows start on
    line ``first`` (0-based). polars reads a short row as nulls at its end, like an empty last value, so only the
    rows ending in a null are read again, each from its own line: a file with empty values in its last column
    costs a scan for line ends, not the csv module's pass over every row."""
    doubtful = raw.select(pl.arg_where(pl.col(raw.columns[-1]).is_null()
                                       & pl.any_horizontal(pl.all().is_not_null()))).to_series()
    if doubtful.is_empty():
        return {}
    data = path.read_bytes()
    ends = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == ord("\n"))
    short = {}
    for row in doubtful.to_list():
        line = first + row
        start = int(ends[line - 1]) + 1 if line else 0
        end = int(ends[line]) if line < len(ends) else len(data)
        text = data[start:end].decode("utf-8", errors="replace").removeprefix("\ufeff").rstrip("\r")
        fields = len(next(csv.reader([text]), []))
        if fields != raw.width:
            short[row] = fields
    return short


def _unreadable(path: Path, exc: Exception) -> str:
    # polars' message can quote the rest of the file: its first line, cut short, is enough.
    reason = (str(exc).strip().splitlines() or ["unknown error"])[0][:200]
    return f"{path}: not a readable CSV ({reason}); re-save it as comma-separated UTF-8 text"


def parse_timestamps(col: pl.Expr) -> pl.Expr:
    """The two upstream formats; anything else stays null (the raw text is kept beside it)."""
    text = col.str.strip_chars()
    return (
        pl.when(text.str.contains("/", literal=True))
        .then(text.str.strptime(pl.Datetime("us"), SLASH_FORMAT, strict=False))
        .otherwise(text.str.strptime(pl.Datetime("us"), ISO_FORMAT, strict=False))
    )


def find_csv_folder(root: Path) -> Path:
    """The folder holding chain_info.csv: ``root`` itself, ``root/dataset`` or deeper (``input/dataset``)."""
    if (root / CSV_FILES["chains"]).exists():
        return root
    candidates = sorted(
        p.parent for p in root.rglob(CSV_FILES["chains"]) if "__MACOSX" not in p.parts and not p.name.startswith("._")
    )
    if not candidates:
        raise DatasetError(f"{root}: no {CSV_FILES['chains']} found (expected the four Hotels-50K CSVs)")
    return candidates[0]


def read_table(folder: Path, key: str, *, on_bad_rows: OnBadRows = "error") -> tuple[pl.DataFrame, ParseReport]:
    """Read one of the four tables by asset key from a folder of CSVs."""
    kind = "images" if key.endswith("_images") else key
    return read_metadata_csv(folder / CSV_FILES[key], kind, on_bad_rows=on_bad_rows)
