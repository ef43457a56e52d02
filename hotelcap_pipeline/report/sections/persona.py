"""Who the tags and edits are for (the persona in assets/), and how well this run serves them."""

from __future__ import annotations

import polars as pl

from hotelcap_pipeline.report.context import ReportContext
from hotelcap_pipeline.report.document import Bullets, MarkdownText, Paragraph, Section, Table
from hotelcap_pipeline.report.sections.common import pct, without_title
from hotelcap_pipeline.report.tables import ReportTables

# The persona's priorities (assets/persona.md, "What a room must show them") and the words that find them.
PRIORITIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the workspace comes first", ("desk", "chair", "lamp", "table", "coffee machine")),
    ("a spotless bathroom", ("bathtub", "shower", "toilet", "sink", "mirror", "towel")),
    ("a bed that is simply a bed", ("bed", "pillow")),
    ("no television (a tag to filter it out)", ("television",)),
    ("light and air", ("window", "curtains", "balcony", "plant")),
)


def _tag_shares(tags: pl.DataFrame, words: tuple[str, ...]) -> float:
    return float(
        tags.select(pl.col("tags").list.eval(pl.element().is_in(list(words))).list.any().mean()).item()
    )


def _share_label(need: str, words: tuple[str, ...]) -> str:
    # A need met by the tag's absence ("no television") is reported as what the tag finds: photos to filter.
    return f"photos to filter out ({', '.join(words)})" if need.startswith("no ") else need.split(" (")[0]


def _first_method(tags: pl.DataFrame) -> tuple[str, pl.DataFrame]:
    if "method" not in tags.columns:
        return "-", tags
    method = sorted(tags["method"].unique().to_list())[0]
    return method, tags.filter(pl.col("method") == method)


def persona_section(ctx: ReportContext, tables: ReportTables) -> Section:
    from hotelcap_pipeline.edits.series import load_series
    from hotelcap_pipeline.tagging.vocabulary import load_vocabulary

    s = Section("The visitors, and why the tags and edits suit them", "persona")
    if ctx.persona_path.exists():
        text = ctx.persona_path.read_text(encoding="utf-8")
        # The file's own title duplicates this section's; its portrait prompt is shown with the portrait.
        body = without_title(text).split("\n## Portrait", 1)[0]
        s.add(MarkdownText(body))
    else:
        s.add(Paragraph(f"The persona file `{ctx.persona_path}` is missing."))

    vocabulary = load_vocabulary(ctx.vocabulary_path) if ctx.vocabulary_path.exists() else []
    labels = [t.label for t in vocabulary]
    items = []
    for need, words in PRIORITIES:
        covered = [w for w in words if w in labels]
        items.append(
            f"{need}: tags {', '.join(covered)}" if covered else f"{need}: no tag covers it yet (a gap)"
        )
    others = sorted(set(labels) - {w for _, ws in PRIORITIES for w in ws})
    if others:
        items.append(f"other tags: {', '.join(others)}")
    s.add(
        Paragraph(
            f"The visitors know a few plain words; the vocabulary has {len(labels)} of them, chosen "
            "for what the persona looks for in a room:"
        ),
        Bullets(tuple(items)),
    )
    if vocabulary:
        s.add(Table(pl.DataFrame({"tag": labels, "why": [t.reason for t in vocabulary]}), "The vocabulary"))

    tags = tables.get("image_tags")
    if tags is not None and tags.height:
        method, rows = _first_method(tags)
        shares = [f"{_share_label(need, words)}: {pct(_tag_shares(rows, words))}" for need, words in PRIORITIES]
        s.add(
            Paragraph(
                f"Share of this run's {rows.height} photos with a tag for each need (method `{method}`): "
                + "; ".join(shares)
                + "."
            )
        )

    if ctx.edit_series_path.exists():
        series = load_series(ctx.edit_series_path)
        s.add(
            Paragraph(
                "Each edit series changes one condition a visitor may meet on arrival and keeps the rest, so "
                "the guest still finds the room that was advertised. A series the synthetic world can show is "
                "judged by an acceptance rule fitted and validated on known right and wrong edits "
                "([Edit series and their scores](#edits); a rule that fails validation judges nothing); any "
                "other keeps at least the CLIP image similarity to the original photo listed here, and is "
                "never counted as worked."
            ),
            Table(
                pl.DataFrame(
                    {
                        "series": [x.name for x in series],
                        "condition": [x.condition for x in series],
                        "mode": [x.mode for x in series],
                        "strengths": [", ".join(f"{v:g}" for v in x.sweep) for x in series],
                        "a chosen edit must": [
                            "pass its acceptance rule" if x.world_condition
                            else f"keep clip_image_sim ≥ {x.preserve_threshold:g}" for x in series
                        ],
                    }
                ),
                "The edit series",
            ),
        )
    return s
