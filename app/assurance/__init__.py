"""Assurance for the safeguarding lead (issue 19): the unit's practice month by month, from NeoSafe's own tables."""

from .charts import chart_uri
from .export import read_csv, to_csv
from .figures import Baby, Figure, Period
from .mapping import SECTIONS, Measure, load_measures
from .service import Report, babies_behind, measures_for, parse_period, report, today_at_unit

__all__ = [
    "SECTIONS",
    "Baby",
    "Figure",
    "Measure",
    "Period",
    "Report",
    "babies_behind",
    "chart_uri",
    "load_measures",
    "measures_for",
    "parse_period",
    "read_csv",
    "report",
    "to_csv",
    "today_at_unit",
]
