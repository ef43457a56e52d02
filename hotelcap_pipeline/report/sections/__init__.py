"""One module per part of the report; each section reads its tables and says plainly what is not there yet.

Every sentence with a number is generated from the tables; nothing here is a canned result.
"""

from hotelcap_pipeline.report.sections.about import REPORT_TABLES, about_section, reproduce_section
from hotelcap_pipeline.report.sections.dataset import dataset_section
from hotelcap_pipeline.report.sections.edits import edits_section, portrait_section
from hotelcap_pipeline.report.sections.persona import persona_section
from hotelcap_pipeline.report.sections.tagging import clusters_section, tagging_section

__all__ = [
    "REPORT_TABLES",
    "about_section",
    "clusters_section",
    "dataset_section",
    "edits_section",
    "persona_section",
    "portrait_section",
    "reproduce_section",
    "tagging_section",
]
