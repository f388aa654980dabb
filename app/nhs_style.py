"""How NHS pages and documents write NHS numbers and dates (the NHS digital service manual's style)."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

__all__ = ["LONDON", "format_nhs_number", "nhs_date"]

LONDON = ZoneInfo("Europe/London")  # the unit's wall clock


def format_nhs_number(number: str | None) -> str:
    """NHS numbers are read out in 3-3-4 groups."""
    if not number:
        return "not known"
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else number


def nhs_date(value: str | date | datetime | None) -> str:
    """'20 November 2026' (and '14:05' after it when there is a time), as the NHS style guide writes dates."""
    if not value:
        return "date not recorded"
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00")) if "T" in value else date.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime):
        if value.tzinfo is not None:  # the unit's clock, not UTC's: 14:05 in summer is 14:05 on the ward
            value = value.astimezone(LONDON)
        return f"{value.day} {value:%B %Y, %H:%M}"
    return f"{value.day} {value:%B %Y}"
