"""Render report sections to one self-contained HTML page and to Markdown with relative figure links."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence

import polars as pl

from hotelcap_pipeline.report.document import (
    Bullets,
    Figure,
    MarkdownText,
    Missing,
    Paragraph,
    Section,
    Table,
)

FIGURES_DIR = "figures"
_CODE = re.compile(r"`([^`]+)`")
_BOLD = re.compile(r"\*\*([^*]+)\*\*")
_ITEM = re.compile(r"^(?:[-*]|\d+\.)\s+")
_LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #4c72b0; padding-bottom: .3rem; }
h2 { margin-top: 2.2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: .8rem 0; font-size: .9rem; }
th, td { border: 1px solid #ccc; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f0f3f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
figure { margin: 1rem 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: .85rem; color: #555; }
.missing { background: #fff6e0; border-left: 4px solid #e0a800; padding: .4rem .8rem; }
code { background: #f4f4f4; padding: 0 .2rem; }
nav ol { columns: 2; }
"""


def format_cell(value: object) -> str:
    """One table cell as text: integers without decimals, other floats with 4 significant digits."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        if value != value:  # NaN
            return "n/a"
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(format_cell(v) for v in value)
    return str(value)


def _is_number(dtype: pl.DataType) -> bool:
    return dtype.is_numeric()


# --- Markdown -------------------------------------------------------------------------------------


def _md_cell(value: object) -> str:
    return format_cell(value).replace("|", "\\|").replace("\n", " ")


def _md_table(table: Table) -> str:
    df = table.frame
    lines = [f"*{table.caption}*", ""] if table.caption else []
    lines.append("| " + " | ".join(df.columns) + " |")
    lines.append("|" + "".join("---:|" if _is_number(t) else "---|" for t in df.dtypes))
    lines += ["| " + " | ".join(_md_cell(v) for v in row) + " |" for row in df.iter_rows()]
    return "\n".join(lines)


def _md_block(block: object) -> str:
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Table):
        return _md_table(block)
    if isinstance(block, Figure):
        return f"![{block.caption}]({FIGURES_DIR}/{block.filename})\n\n*{block.caption}*"
    if isinstance(block, MarkdownText):
        return block.text.strip()
    if isinstance(block, Missing):
        return f"> **Not materialized yet.** {block.text}"
    raise TypeError(f"unknown report block {type(block).__name__}")


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    parts += [f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(sections, 1)]
    for section in sections:
        parts += ["", f'<a id="{section.anchor}"></a>', "", f"## {section.title}", ""]
        parts += [_md_block(b) + "\n" for b in section.blocks]
    return "\n".join(parts).rstrip() + "\n"


# --- HTML -----------------------------------------------------------------------------------------


def inline_html(text: str) -> str:
    """Escape, then turn `code`, **bold** and [text](https://...) into tags."""
    out = html.escape(text, quote=False)
    out = _CODE.sub(r"<code>\1</code>", out)
    out = _BOLD.sub(r"<strong>\1</strong>", out)
    return _LINK.sub(lambda m: f'<a href="{html.escape(m.group(2))}">{m.group(1)}</a>', out)


def markdown_html(text: str) -> str:
    """The little Markdown people write in assets/: headings, lists, quotes and paragraphs."""
    blocks: list[str] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = [line.strip() for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        first = lines[0]
        if first.startswith("#"):
            level = min(len(first) - len(first.lstrip("#")) + 1, 6)  # the page's h1/h2 sit above
            blocks.append(f"<h{level}>{inline_html(first.lstrip('#').strip())}</h{level}>")
            lines = lines[1:]
            if not lines:
                continue
            first = lines[0]
        if _ITEM.match(first):
            tag = "ol" if first[0].isdigit() else "ul"
            items: list[str] = []
            for line in lines:
                if _ITEM.match(line):
                    items.append(_ITEM.sub("", line))
                else:
                    items[-1] += " " + line
            blocks.append(f"<{tag}>" + "".join(f"<li>{inline_html(i)}</li>" for i in items) + f"</{tag}>")
        elif first.startswith(">"):
            quote = " ".join(line.lstrip(">").strip() for line in lines)
            blocks.append(f"<blockquote>{inline_html(quote)}</blockquote>")
        else:
            blocks.append(f"<p>{inline_html(' '.join(lines))}</p>")
    return "\n".join(blocks)


def _html_table(table: Table) -> str:
    df = table.frame
    numeric = [_is_number(t) for t in df.dtypes]
    head = "".join(f"<th>{html.escape(c)}</th>" for c in df.columns)
    rows = []
    for row in df.iter_rows():
        cells = "".join(
            f'<td class="num">{html.escape(format_cell(v))}</td>'
            if num
            else f"<td>{html.escape(format_cell(v))}</td>"
            for v, num in zip(row, numeric, strict=True)
        )
        rows.append(f"<tr>{cells}</tr>")
    caption = f"<caption>{inline_html(table.caption)}</caption>" if table.caption else ""
    return f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _html_block(block: object) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{inline_html(block.text)}</p>"
    if isinstance(block, Bullets):
        return "<ul>" + "".join(f"<li>{inline_html(i)}</li>" for i in block.items) + "</ul>"
    if isinstance(block, Table):
        return _html_table(block)
    if isinstance(block, Figure):
        # Embedded, so the page opens from disk, from an e-mail or from an object store alike.
        data = base64.b64encode(block.png).decode("ascii")
        caption = inline_html(block.caption)
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{html.escape(block.caption)}">'
            f"<figcaption>{caption}</figcaption></figure>"
        )
    if isinstance(block, MarkdownText):
        return markdown_html(block.text)
    if isinstance(block, Missing):
        return f'<p class="missing"><strong>Not materialized yet.</strong> {inline_html(block.text)}</p>'
    raise TypeError(f"unknown report block {type(block).__name__}")


def to_html(title: str, sections: Sequence[Section]) -> str:
    toc = "".join(f'<li><a href="#{s.anchor}">{html.escape(s.title)}</a></li>' for s in sections)
    body = []
    for section in sections:
        body.append(f'<section id="{section.anchor}"><h2>{html.escape(section.title)}</h2>')
        body += [_html_block(b) for b in section.blocks]
        body.append("</section>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
        f"<h1>{html.escape(title)}</h1>\n<nav><ol>{toc}</ol></nav>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
