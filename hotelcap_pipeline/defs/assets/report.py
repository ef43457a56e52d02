"""Stage 6: the human-readable report (HTML + Markdown) from the stored tables.

No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
"""

import dagster as dg

from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.defs.ui_metadata import declared_figures, served_figures
from hotelcap_pipeline.report import ReportContext, build_report
from hotelcap_pipeline.report.sections import REPORT_TABLES
from hotelcap_pipeline.report.serve import report_url
from hotelcap_pipeline.report.tables import ReportTables

# Read through DataStore (so sharded tables work), not passed in: deps only draw the lineage. The big
# metadata tables reach the report through dataset_stats.
REPORT_INPUTS = [t for t in REPORT_TABLES if t not in ("chains", "hotels", "train_images", "test_images")]
SHOWN_FIGURES = 4  # full-size images on the asset page, from the report server; the report has them all
LINKED_FIGURES = 24  # links to the served figures; the rest are in the report


@dg.asset(
    deps=REPORT_INPUTS,
    group_name="report",
    kinds={"html", "markdown"},
    code_version="1",
    description="The report: dataset review, persona, tagging vs the original study, clusters vs classes, "
    "edit grids with scores, the portrait, what worked and what did not, and how to reproduce it. "
    "Sections whose tables are missing say so instead of showing numbers. `make ui` (or `hotelcap ui`) serves "
    "it beside the web UI: the asset's `open_report` link opens it.",
)
def report(context: dg.AssetExecutionContext, settings: HotelcapSettings) -> dg.MaterializeResult:
    store = settings.store()
    tables = ReportTables(store, declared_figures(context.instance, REPORT_INPUTS))
    report_context = ReportContext.from_run(settings.settings(), tables, context.run.run_config)
    files = build_report(store, report_context, tables)
    store.push([files.html, files.markdown, *files.figures])
    context.log.info(f"report written to {store.location(files.html)} and {store.location(files.markdown)}")
    if files.missing:
        context.log.warning(
            f"report sections without data (not materialized yet): {', '.join(files.missing)}"
        )
    # The first figures as images, the rest as links, all served beside the report (its figures/ folder).
    figures = served_figures(store, files.figures[:LINKED_FIGURES], images=SHOWN_FIGURES)
    if len(files.figures) > LINKED_FIGURES:
        figures += f"\n- … {len(files.figures) - LINKED_FIGURES} more in the report"
    # On the materialization only: a MaterializeResult's metadata is stored again in the STEP_OUTPUT event.
    context.add_asset_metadata(
        {
            "open_report": dg.MetadataValue.url(report_url()),
            "path": dg.MetadataValue.path(store.location(files.html)),
            "markdown": dg.MetadataValue.path(store.location(files.markdown)),
            "findings": dg.MetadataValue.md(files.findings),
            "figures": dg.MetadataValue.md(figures or "none"),
            "not_materialized_yet": ", ".join(files.missing) or "none",
        }
    )
    return dg.MaterializeResult()
