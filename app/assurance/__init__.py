"""Assurance for the safeguarding lead (issue 19): the unit's practice month by month, from NeoSafe's own tables."""

from .charts import chart_uri
from .export import read_csv, to_csv
from .figures import SECTIONS, Baby, Figure, Period
from .service import Report, babies_behind, board_pdf, parse_period, report, today_at_unit

__all__ = [
    "SECTIONS",
    "Baby",
    "Figure",
    "Period",
    "Report",
    "babies_behind",
    "board_pdf",
    "chart_uri",
    "parse_period",
    "read_csv",
    "report",
    "to_csv",
    "today_at_unit",
]
