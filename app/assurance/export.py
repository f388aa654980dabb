"""The figures as CSV (one row per figure, month and outcome) and read back, so the export can be checked whole."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from app.forms import MEASURE_SECTIONS as SECTIONS

from .figures import Figure

__all__ = ["COLUMNS", "read_csv", "to_csv"]

COLUMNS = ("section", "figure", "title", "month", "outcome", "outcome_label", "count")


def _safe(text: str) -> str:
    """A cell a spreadsheet would run as a formula is quoted as text (CSV injection)."""
    return f"'{text}" if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def to_csv(figures: Iterable[Figure]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for f in figures:
        for month in f.months:
            for outcome, label in f.outcomes:
                row = (SECTIONS[f.section], f.key, f.title, month, outcome, label, str(f.count(month, outcome)))
                writer.writerow([_safe(cell) for cell in row])
    return out.getvalue()


def read_csv(text: str) -> dict[tuple[str, str, str], int]:
    """(figure, month, outcome) -> count, from `to_csv`'s text."""
    rows = csv.DictReader(io.StringIO(text))
    if tuple(rows.fieldnames or ()) != COLUMNS:
        raise ValueError(f"not an assurance export: columns {rows.fieldnames}")
    return {(r["figure"], r["month"], r["outcome"]): int(r["count"]) for r in rows}
