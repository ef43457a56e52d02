"""Render report sections to one self-contained HTML page and to Markdown with relative figure links."""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

import jinja2
from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markupsafe import Markup

from hotelcap_pipeline.report.document import (
    Bullets,
    Figure,
    MarkdownText,
    Missing,
    Paragraph,
    Section,
    Table,
)
from hotelcap_pipeline.table_format import format_cell, markdown_table

FIGURES_DIR = "figures"
# Links the page may carry; any other link in a text keeps its words and loses the link.
_LINK_PREFIXES = ("#", "https://", "http://")


# --- Markdown -------------------------------------------------------------------------------------


def _md_table(table: Table) -> str:
    return markdown_table(table.frame, caption=table.caption)


def _demoted(markdown: str) -> str:
    """Headings one level down, as in the HTML: the report's own sections are the "##" headings."""
    lines, fenced = [], False
    for line in markdown.split("\n"):
        fenced ^= line.lstrip().startswith("```")
        lines.append(line if fenced else re.sub(r"^(#{1,5}) ", r"#\1 ", line))
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
        return _demoted(block.text.strip())
    if isinstance(block, Missing):
        return f"> **Not materialized yet.** {block.text}"
    raise TypeError(f"unknown report block {type(block).__name__}")


def section_markdown(section: Section) -> str:
    """One section's blocks as Markdown, without its title (the Dagster UI shows it under its own label)."""
    return "\n\n".join(_md_block(b) for b in section.blocks if not isinstance(b, Figure))


def to_markdown(title: str, sections: Sequence[Section]) -> str:
    parts = [f"# {title}", ""]
    parts += [f"{i}. [{s.title}](#{s.anchor})" for i, s in enumerate(sections, 1)]
    for section in sections:
        parts += ["", f'<a id="{section.anchor}"></a>', "", f"## {section.title}", ""]
        parts += [_md_block(b) + "\n" for b in section.blocks]
    return "\n".join(parts).rstrip() + "\n"


# --- HTML -----------------------------------------------------------------------------------------


def _drop_unsafe_links(state: StateCore) -> None:
    """Unwrap links that are neither anchors nor http(s), so a data value cannot add one."""
    for token in state.tokens:
        if token.type != "inline" or not token.children:
            continue
        kept, dropping = [], False
        for child in token.children:
            if child.type == "link_open":
                dropping = not str(child.attrGet("href") or "").startswith(_LINK_PREFIXES)
                if dropping:
                    continue
            elif child.type == "link_close" and dropping:
                dropping = False
                continue
            kept.append(child)
        token.children = kept


def _markdown_parser() -> MarkdownIt:
    # Raw HTML off: hotel names and other data values are text, never markup. Images off: the page
    # loads nothing from elsewhere.
    md = MarkdownIt("commonmark", {"html": False}).disable("image")
    md.core.ruler.push("drop_unsafe_links", _drop_unsafe_links)
    return md


_MD = _markdown_parser()


def inline_html(text: str) -> Markup:
    """One line of Markdown (`code`, **bold**, [text](https://...)) as escaped inline HTML."""
    return Markup(_MD.renderInline(text))


def markdown_html(text: str) -> Markup:
    """Markdown written by people (assets/), headings shifted one level: the page's h1/h2 sit above."""
    tokens = _MD.parse(text)
    for token in tokens:
        if token.type in ("heading_open", "heading_close"):
            token.tag = f"h{min(int(token.tag[1]) + 1, 6)}"
    return Markup(_MD.renderer.render(tokens, _MD.options, {}))


_BLOCK_KINDS: dict[type, str] = {
    Paragraph: "paragraph",
    Bullets: "bullets",
    Table: "table",
    Figure: "figure",
    MarkdownText: "markdown",
    Missing: "missing",
}


def _block_kind(block: object) -> str:
    kind = _BLOCK_KINDS.get(type(block))
    if kind is None:
        raise TypeError(f"unknown report block {type(block).__name__}")
    return kind


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("hotelcap_pipeline.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        inline=inline_html,
        markdown=markdown_html,
        cell=format_cell,
        # Embedded, so the page opens from disk, from an e-mail or from an object store alike.
        b64=lambda data: base64.b64encode(data).decode("ascii"),
    )
    env.globals.update(block_kind=_block_kind, numeric_columns=lambda df: [t.is_numeric() for t in df.dtypes])
    return env


_PAGE = _environment().get_template("report.html.j2")


def to_html(title: str, sections: Sequence[Section]) -> str:
    return _PAGE.render(title=title, sections=sections)
