"""Plain English for short descriptions: an article before a word, and a list joined with "and".

Shared by the captions written for the visitors and the synthetic world's descriptions of its renders, so
both say "a bed, an iron and curtains" the same way.
"""

from __future__ import annotations

from collections.abc import Sequence


def with_article(word: str) -> str:
    """"a lamp", "an ottoman"; a plural word ("curtains", "pillows") as it is."""
    if word.endswith("s"):
        return word
    return ("an " if word[0] in "aeiou" else "a ") + word


def listing(words: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
