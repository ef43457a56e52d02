"""Data values made safe to print: no control characters reach a terminal or a Markdown report.

Hotel names and URLs come from the dataset, which we do not control; an ESC or BEL inside one could
retitle or clear the user's terminal. Every control character (C0, DEL, C1, and the bidirectional
overrides that reorder what is shown) is written as a visible escape instead.
"""

from __future__ import annotations

import html
import re

# C0 except newline and tab, DEL, C1, and the Unicode bidi controls (LRE..RLO, LRI..PDI).
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_CONTROL_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def safe_text(text: str, *, one_line: bool = False) -> str:
    """``text`` with every control character shown as ``\\xNN`` (``one_line``: newlines and tabs too)."""
    return (_CONTROL_ONE_LINE if one_line else _CONTROL).sub(_escape, text)


_MARKDOWN_INLINE = re.compile(r"([\\`*_\[\]])")


def markdown_text(text: str, *, keep_markup: bool = False) -> str:
    """A data value as Markdown text: read as itself, not as emphasis, code or a link (those characters are
    backslash-escaped), with no raw HTML (``<``, ``>``, ``&`` escaped) and no control characters.
    ``keep_markup``: our own words (a caption), whose Markdown is meant; only raw HTML is escaped."""
    text = safe_text(text, one_line=True)
    return html.escape(text if keep_markup else _MARKDOWN_INLINE.sub(r"\\\1", text), quote=False)
