"""The one way tables become text: Markdown (report, Dagster UI previews) and aligned plain text (terminal).

Cells are formatted alike everywhere; data values (hotel names, URLs) pass through ``terminal`` so they
carry no raw HTML into Markdown and no control characters into a terminal.
"""

from __future__ import annotations

import unicodedata

import polars as pl

from hotelcap_pipeline.terminal import markdown_text, safe_text


def format_cell(value: object, *, none: str = "–") -> str:
    """One cell as text: integers without decimals, other floats with 4 significant digits, lists joined."""
    if value is None:
        return none
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, pl.Series):
        value = value.to_list()
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v, none=none) for v in value)
    return str(value)


def _char_width(char: str) -> int:
    # Columns a terminal gives a character: CJK and other wide ones take two, combining marks none.
    if unicodedata.combining(char):
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def display_width(text: str) -> int:
    """Terminal columns ``text`` takes (not its length: a hotel named in Chinese is twice as wide)."""
    return sum(_char_width(c) for c in text) if not text.isascii() else len(text)


def cut(text: str, max_width: int | None) -> str:
    """``text`` in at most ``max_width`` columns, ending in "…" when shortened."""
    if max_width is None or display_width(text) <= max_width:
        return text
    kept, used = [], 0
    for char in text:
        used += _char_width(char)
        if used > max_width - 1:
            break
        kept.append(char)
    return "".join(kept) + "…"


def _pad(text: str, width: int, right: bool) -> str:
    fill = " " * max(0, width - display_width(text))
    return fill + text if right else text + fill


def markdown_table(
    df: pl.DataFrame, *, max_rows: int | None = None, max_width: int | None = None, caption: str = "",
    max_chars: int | None = None,
) -> str:
    """A Markdown table, numbers right-aligned; cells escaped (no HTML, no control characters, no pipes).

    At most ``max_rows`` rows, and only as many as fit in ``max_chars`` characters (a Dagster event's
    budget); a last line says how many rows were left out.
    """
    head = df if max_rows is None else df.head(max_rows)

    def cell(value: object) -> str:
        # Cut before escaping: a cut through an escape ("&amp;", "\\*") would leave a broken one.
        return markdown_text(cut(format_cell(value), max_width)).replace("|", "\\|")

    lines = [f"*{markdown_text(caption, keep_markup=True)}*", ""] if caption else []
    lines.append("| " + " | ".join(head.columns) + " |")
    lines.append("|" + "".join("---:|" if t.is_numeric() else "---|" for t in head.dtypes))
    used, shown = sum(len(line) + 1 for line in lines), 0
    for row in head.iter_rows():
        line = "| " + " | ".join(cell(v) for v in row) + " |"
        if max_chars is not None and used + len(line) + 1 > max_chars:
            break
        lines.append(line)
        used, shown = used + len(line) + 1, shown + 1
    if shown < df.height:
        lines.append(f"\n… {df.height - shown} more rows")
    return "\n".join(lines)


def text_table(df: pl.DataFrame, *, max_width: int | None = 48) -> str:
    """An aligned plain-text table for the terminal (numbers right-aligned), control characters escaped."""
    if df.is_empty():
        return "(no results)"
    header = list(df.columns)
    cells = [[cut(safe_text(format_cell(v, none=""), one_line=True), max_width) for v in row] for row in df.iter_rows()]
    widths = [max(display_width(h), *(display_width(row[i]) for row in cells)) for i, h in enumerate(header)]
    numeric = [df.schema[c].is_numeric() for c in header]

    def line(values: list[str]) -> str:
        return "  ".join(_pad(v, w, num) for v, w, num in zip(values, widths, numeric, strict=True))

    return "\n".join([line(header), line(["-" * w for w in widths]), *(line(row).rstrip() for row in cells)])
