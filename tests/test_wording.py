from __future__ import annotations

from hotelcap_pipeline.wording import listing, with_article


def test_articles_and_lists() -> None:
    assert [with_article(w) for w in ("lamp", "iron", "curtains")] == ["a lamp", "an iron", "curtains"]
    assert listing(["a bed"]) == "a bed"
    assert listing(["a bed", "a lamp"]) == "a bed and a lamp"
    assert listing(["a bed", "a lamp", "curtains"]) == "a bed, a lamp and curtains"
