"""The assurance use case: the safeguarding lead's figures for a period, authorised (Action.ASSURE) and audited."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date, datetime

from app.checkpoints import Action, Checkpoints, User, may
from app.checkpoints.outcomes import Refused
from app.forms import CHECKPOINTS, LONDON
from app.handover import pdf_of

from .document import board_html
from .figures import Baby, Figure, Period, compute
from .history import read_history

__all__ = ["MAX_MONTHS", "Report", "babies_behind", "board_pdf", "parse_period", "report", "today_at_unit"]

MAX_MONTHS = 24
MONTH = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")


@dataclass(frozen=True)
class Report:
    period: Period
    figures: list[Figure]
    made_at: datetime

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)


def _month(text: str) -> date:
    if not MONTH.fullmatch(text):
        raise Refused(f"a month is written as YYYY-MM, not {text[:20]!r}")
    return date(int(text[:4]), int(text[5:]), 1)


def parse_period(first: str | None, last: str | None, *, today: date) -> Period:
    """The months asked for (YYYY-MM each); by default the 12 months up to this one."""
    end = _month(last) if last else today.replace(day=1)
    if first:
        start = _month(first)
    else:
        year, month = divmod(end.year * 12 + end.month - 1 - 11, 12)
        start = date(year, month + 1, 1)
    period = Period(start, end)
    if start > end or len(period.months) > MAX_MONTHS:
        raise Refused(f"the period must run forwards and be at most {MAX_MONTHS} months")
    return period


def _titles(services: Checkpoints) -> dict[str, str]:
    return {c: services.checklists.short_title(c) for c in CHECKPOINTS}


async def report(services: Checkpoints, user: User, period: Period, *, action: str = "view-assurance") -> Report:
    """Every figure for `period`, from NeoSafe's own tables. Forbidden (and the refusal audited) to any role but
    the safeguarding lead; the viewing audited as `action` with the period."""
    await services.authorise(user, Action.ASSURE, None)
    measures = services.measures  # assurance.toml, read and checked once at wiring
    now = services.clock()
    history = await read_history(services.sessions, period.start, period.end, measures)
    figures = compute(
        history,
        measures,
        period,
        now=now,
        titles=_titles(services),
        source_labels=services.mappings.source_labels,
        sees_restricted=may(user, Action.SEE_RESTRICTED),
    )
    await services.audit(user, action, detail=f"{period.months[0]} to {period.months[-1]}")
    return Report(period, figures, now)


async def babies_behind(
    services: Checkpoints, user: User, period: Period, key: str, month: str, outcome: str
) -> tuple[Figure, list[Baby]]:
    """The babies one figure counts in one month and outcome: authorised and audited as the report is."""
    found = await report(services, user, period, action="view-assurance-babies")
    figure = found.figure(key)
    if figure is None or outcome not in dict(figure.outcomes) or month not in figure.months:
        raise Refused("there is no such figure for this period")
    if not figure.listed(outcome):
        raise Refused("this count is made in the database; the babies behind it are not listed")
    return figure, figure.babies.get((month, outcome), [])


async def board_pdf(services: Checkpoints, user: User, period: Period) -> bytes:
    """The figures for `period` as a tagged PDF for the Safeguarding Board, counts only: authorised and audited as
    the report is; PdfUnavailable where this server cannot lay one out."""
    found = await report(services, user, period, action="download-assurance-pdf")
    html = board_html(
        services.document_env, found.figures, period=period, routes=services.routes, made=found.made_at, user=user
    )
    return await asyncio.to_thread(pdf_of, html)  # layout is CPU work: keep it off the event loop


def today_at_unit(services: Checkpoints) -> date:
    return services.clock().astimezone(LONDON).date()
