"""Assemble the report from the store's tables and write report/index.html and report/report.md atomically."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hotelcap_pipeline.atomic_files import atomic_write_bytes, atomic_write_text
from hotelcap_pipeline.report.context import ReportContext
from hotelcap_pipeline.report.document import Section
from hotelcap_pipeline.report.render import section_markdown, to_html, to_markdown
from hotelcap_pipeline.report.sections import (
    about_section,
    clusters_section,
    dataset_section,
    edits_section,
    persona_section,
    portrait_section,
    reproduce_section,
    tagging_section,
)
from hotelcap_pipeline.report.tables import ReportTables
from hotelcap_pipeline.report.verdicts import findings_section
from hotelcap_pipeline.store import DataStore


@dataclass(frozen=True)
class ReportFiles:
    html: Path
    markdown: Path
    figures: tuple[Path, ...]
    sections: tuple[str, ...]
    missing: tuple[str, ...]  # tables not materialized yet, so their sections only say so
    findings: str  # the "what worked and what did not" section as Markdown, whole


def report_sections(store: DataStore, context: ReportContext, tables: ReportTables | None = None) -> list[Section]:
    tables = tables or ReportTables(store)
    return [
        about_section(context, tables),
        dataset_section(tables),
        persona_section(context, tables),
        tagging_section(tables),
        clusters_section(tables),
        edits_section(tables),
        portrait_section(tables),
        findings_section(tables, demo=context.is_demo),
        reproduce_section(context, tables),
    ]


def build_report(store: DataStore, context: ReportContext, tables: ReportTables | None = None) -> ReportFiles:
    """Write the report; sections whose tables are missing say "not materialized yet" instead of numbers."""
    sections = report_sections(store, context, tables)
    title = f"hotelcap report — profile {context.profile}"
    figures = []
    for figure in (f for s in sections for f in s.figures):
        path = store.figures / figure.filename
        # Stage figures are already there; only new or changed bytes are written.
        if not path.is_file() or path.read_bytes() != figure.png:
            atomic_write_bytes(path, figure.png)
        figures.append(path)
    html_path, md_path = store.report / "index.html", store.report / "report.md"
    atomic_write_text(md_path, to_markdown(title, sections))
    atomic_write_text(html_path, to_html(title, sections))
    return ReportFiles(
        html=html_path,
        markdown=md_path,
        figures=tuple(dict.fromkeys(figures)),
        sections=tuple(s.title for s in sections),
        missing=tuple(dict.fromkeys(k for s in sections for k in s.missing)),
        findings="\n\n".join(section_markdown(s) for s in sections if s.anchor == "findings"),
    )
