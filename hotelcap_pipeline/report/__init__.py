"""The human-readable report (HTML + Markdown) built from the stored tables; no Dagster imports."""

from hotelcap_pipeline.report.build import ReportFiles, build_report, report_sections
from hotelcap_pipeline.report.context import ReportContext, package_versions

__all__ = ["ReportContext", "ReportFiles", "build_report", "package_versions", "report_sections"]
