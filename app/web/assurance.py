"""The safeguarding lead's assurance page (issue 19): the unit's figures month by month, their babies, and a CSV."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, Response

from app.assurance import SECTIONS, babies_behind, board_pdf, chart_uri, parse_period, report, to_csv, today_at_unit
from app.handover import PdfUnavailable

from .deps import CheckpointsDep, PageUser
from .rendering import render_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

From = Query(None, alias="from", max_length=7)
To = Query(None, alias="to", max_length=7)


@router.get("/unit/assurance")
async def assurance(
    request: Request, services: CheckpointsDep, user: PageUser, first: str | None = From, last: str | None = To
) -> HTMLResponse:
    """Every figure for the period (by default the last 12 months), each a number, a chart and a table whose
    counts link to the babies behind them. The lead only (Action.ASSURE), audited."""
    period = parse_period(first, last, today=today_at_unit(services))
    found = await report(services, user, period)
    charts = {f.key: chart_uri(f) for f in found.figures}
    return render_page(request, "assurance.html", user=user, report=found, charts=charts, sections=SECTIONS)


@router.get("/unit/assurance.csv")
async def assurance_csv(
    services: CheckpointsDep, user: PageUser, first: str | None = From, last: str | None = To
) -> Response:
    period = parse_period(first, last, today=today_at_unit(services))
    found = await report(services, user, period, action="download-assurance-csv")
    name = f"neosafe-assurance-{period.months[0]}-to-{period.months[-1]}.csv"
    return Response(
        to_csv(found.figures),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/unit/assurance.pdf")
async def assurance_pdf(
    services: CheckpointsDep, user: PageUser, first: str | None = From, last: str | None = To
) -> Response:
    """Every figure for the period as a tagged PDF (PDF/UA-1) for the Safeguarding Board's Section 11 return:
    counts and charts, no baby named. The lead only (Action.ASSURE), audited."""
    period = parse_period(first, last, today=today_at_unit(services))
    try:
        pdf = await board_pdf(services, user, period)
    except PdfUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    name = f"neosafe-assurance-{period.months[0]}-to-{period.months[-1]}.pdf"
    return Response(
        pdf, media_type="application/pdf", headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


@router.get("/unit/assurance/babies")
async def assurance_babies(
    request: Request,
    services: CheckpointsDep,
    user: PageUser,
    figure: str = Query("", max_length=60),  # defaults, so a role that may not see the figures gets 403, not 422
    month: str = Query("", max_length=7),
    outcome: str = Query("", max_length=60),
    first: str | None = From,
    last: str | None = To,
) -> HTMLResponse:
    """The babies one count is made of, each linking to the baby's page."""
    period = parse_period(first, last, today=today_at_unit(services))
    shown, babies = await babies_behind(services, user, period, figure, month, outcome)
    return render_page(
        request,
        "assurance_babies.html",
        user=user,
        figure=shown,
        month=month,
        outcome=outcome,
        babies=babies,
        period=period,
    )
