"""The assurance figures as a document for the Safeguarding Board's Section 11 return: HTML laid out as a tagged PDF.

It goes outside the unit, so it holds counts only: each figure is copied without the babies behind it (no NHS
number, no name, no override's reason or who gave it) before the template sees it, so no template change can put
them back. Laid out as the handover's is (app.handover.pdf_of: WeasyPrint, PDF/UA-1, tagged), each figure a number, a
chart (the page's pygal SVG, which WeasyPrint draws as vector graphics) and a table by month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment

from app.checkpoints import User
from app.forms import LONDON
from app.handover import Routes

from .charts import chart_uri
from .figures import SECTIONS, Figure, Period

__all__ = ["STYLE", "Cover", "board_html", "counts_only"]

STYLE = "assurance-print.css"  # in the templates folder, put inline into the document
TITLE = "Safeguarding assurance for the Board (Section 11)"


@dataclass(frozen=True)
class Cover:
    """What the first page says of the document: which months, which unit, when it was made and by whom."""

    period: Period
    unit: str
    made_at: str
    made_by: str


def counts_only(figure: Figure) -> Figure:
    """The figure with its counts and none of the babies behind them (nor their notes)."""
    counts = {(m, o): n for m in figure.months for o, _ in figure.outcomes if (n := figure.count(m, o))}
    return Figure(
        figure.key,
        figure.section,
        figure.title,
        figure.outcomes,
        list(figure.months),
        figure.zero_expected,
        babies={},
        tallied=counts,
    )


def unit_name(routes: Routes | None) -> str:
    """The unit as delivery.toml's [unit] names it (name and ODS code)."""
    if routes is None:
        return "Not named (delivery.toml names no unit)"
    return f"{routes.unit.name} (ODS code {routes.unit.ods_code})"


def made_at(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local:%H:%M} on {local.day} {local:%B %Y} (UK time)"


def board_html(
    env: Environment, figures: list[Figure], *, period: Period, routes: Routes | None, made: datetime, user: User
) -> str:
    """The document's HTML, its style inline, every figure's babies left out."""
    shown = [counts_only(f) for f in figures]
    cover = Cover(period, unit_name(routes), made_at(made), f"{user.name} ({user.role.label})")
    css, _, _ = env.loader.get_source(env, STYLE)  # type: ignore[union-attr]
    return env.get_template("assurance_document.html").render(
        title=TITLE,
        cover=cover,
        figures=shown,
        charts={f.key: chart_uri(f) for f in shown},
        sections=SECTIONS,
        css=css,
    )
