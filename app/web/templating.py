"""Jinja2 with the NHS.UK frontend components; autoescaped; filters for how NHS pages write things."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from fastapi.templating import Jinja2Templates
from jinja2 import ChainableUndefined, ChoiceLoader, Environment, FileSystemLoader, PackageLoader

from .services import format_nhs_number

__all__ = ["make_templates"]


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
        return f"{value.day} {value:%B %Y, %H:%M}"
    return f"{value.day} {value:%B %Y}"


def make_templates(directory: Path) -> Jinja2Templates:
    env = Environment(
        loader=ChoiceLoader([FileSystemLoader(directory), PackageLoader("nhsuk_frontend_jinja")]),
        undefined=ChainableUndefined,
        autoescape=True,
    )
    env.filters["nhs_number"] = format_nhs_number
    env.filters["nhs_date"] = nhs_date
    return Jinja2Templates(env=env)
