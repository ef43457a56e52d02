"""The report as data: sections made of a few block kinds, rendered to HTML and Markdown alike."""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl


@dataclass(frozen=True)
class Paragraph:
    text: str  # one line of Markdown: `code`, **bold**, [links](https://...); raw HTML is shown as text


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]  # each one line of Markdown, like Paragraph.text


@dataclass(frozen=True)
class Table:
    frame: pl.DataFrame
    caption: str = ""


@dataclass(frozen=True)
class Figure:
    filename: str  # under report/figures/: the Markdown links it, the HTML embeds the bytes
    png: bytes
    caption: str


@dataclass(frozen=True)
class MarkdownText:
    """Markdown written by people (the persona), passed through to report.md and converted for HTML."""

    text: str


@dataclass(frozen=True)
class Missing:
    """A table the section needs is not there yet: say so, and how to make it; never guess its numbers."""

    key: str

    @property
    def text(self) -> str:
        return f"`{self.key}` is not materialized yet: run `hotelcap materialize --select {self.key}`."


Block = Paragraph | Bullets | Table | Figure | MarkdownText | Missing


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)

    def add(self, *blocks: Block) -> Section:
        self.blocks.extend(blocks)
        return self

    @property
    def missing(self) -> list[str]:
        return [b.key for b in self.blocks if isinstance(b, Missing)]

    @property
    def figures(self) -> list[Figure]:
        return [b for b in self.blocks if isinstance(b, Figure)]
