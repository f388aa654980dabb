"""The handover summary for the community team: a page, and the same summary as a PDF to send or print."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from app.checkpoints.summary import summary_for
from app.delivery import shown_deliveries
from app.handover import PdfUnavailable

from .deps import CheckpointsDep, PageUser, valid_nhs_number
from .rendering import render_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/patients/{number}/handover")
async def handover(request: Request, services: CheckpointsDep, user: PageUser, number: str) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    picture = await services.view_picture(user, nhs_number, action="view-handover")
    summary = await services.handover(picture, user)
    discharges = [  # each discharge checklist by its first version's id, as its deliveries are kept
        s.assessment.id
        for s in await services.saved(nhs_number)
        if s.assessment.checkpoint == "discharge" and s.assessment.amends is None
    ]
    return render_page(
        request,
        "handover.html",
        user=user,
        picture=summary.picture,
        handover=summary,
        summary=summary_for(services, summary.picture),
        labels=services.mappings.source_labels,
        deliveries=await shown_deliveries(services.sessions, discharges),
    )


@router.get("/patients/{number}/handover.pdf")
async def handover_pdf(request: Request, services: CheckpointsDep, user: PageUser, number: str) -> Response:
    nhs_number = valid_nhs_number(number)
    picture = await services.view_picture(user, nhs_number, action="download-handover")
    try:
        pdf = await services.handover_pdf(picture, user)
    except PdfUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="safeguarding-handover-{nhs_number}.pdf"'},
    )
