"""Stage 6: the human-readable report (HTML + Markdown) from the stored tables.

No `from __future__ import annotations`: Dagster reads config and resource types from live annotations.
"""

import dagster as dg

from hotelcap_pipeline.defs.resources import HotelcapSettings
from hotelcap_pipeline.report import ReportContext, build_report
from hotelcap_pipeline.report.sections import REPORT_TABLES
from hotelcap_pipeline.report.tables import ReportTables

# Read through DataStore (so sharded tables work), not passed in: deps only draw the lineage. The big
# metadata tables reach the report through dataset_stats.
REPORT_INPUTS = [t for t in REPORT_TABLES if t not in ("chains", "hotels", "train_images", "test_images")]


@dg.asset(
    deps=REPORT_INPUTS,
    group_name="report",
    kinds={"html", "markdown"},
    code_version="1",
    description="The report: dataset review, persona, tagging vs the original study, clusters vs classes, "
    "edit grids with scores, the portrait, what worked and what did not, and how to reproduce it. "
    "Sections whose tables are missing say so instead of showing numbers.",
)
def report(context: dg.AssetExecutionContext, settings: HotelcapSettings) -> dg.MaterializeResult:
    store = settings.store()
    tables = ReportTables(store)
    report_context = ReportContext.from_run(settings.settings(), tables, context.run_config)
    files = build_report(store, report_context, tables)
    store.push([files.html, files.markdown, *files.figures])
    context.log.info(f"report written to {store.location(files.html)} and {store.location(files.markdown)}")
    if files.missing:
        context.log.warning(
            f"report sections without data (not materialized yet): {', '.join(files.missing)}"
        )
    return dg.MaterializeResult(
        metadata={
            "path": dg.MetadataValue.path(store.location(files.html)),
            "markdown": dg.MetadataValue.path(store.location(files.markdown)),
            "figures": len(files.figures),
            "not_materialized_yet": ", ".join(files.missing) or "none",
            "preview": dg.MetadataValue.md(files.preview()),
        },
    )
