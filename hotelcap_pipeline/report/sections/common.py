"""Small formatting helpers the report's sections share."""

from __future__ import annotations

import re


def pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def num(x: float) -> str:
    return f"{x:.3g}"


def without_title(markdown: str) -> str:
    """A Markdown file's body without its first-level title (the section has its own)."""
    return re.sub(r"\A#\s[^\n]*\n", "", markdown)
