"""The handover summary for the community team: a page, and the same summary as a PDF to send or print."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import HTMLResponse, Response

from .deps import PageUser, ServicesDep, valid_nhs_number
from .handover_document import PdfUnavailable, document_html, pdf_of
from .pages import audited_picture, render_page

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/patients/{number}/handover")
async def handover(request: Request, services: ServicesDep, user: PageUser, number: str) -> HTMLResponse:
    picture = await audited_picture(services, user, valid_nhs_number(number), "view-handover")
    return render_page(
        request,
        "handover.html",
        user=user,
        picture=picture,
        handover=await services.handover(picture),
        labels=services.mappings.source_labels,
    )


@router.get("/patients/{number}/handover.pdf")
async def handover_pdf(request: Request, services: ServicesDep, user: PageUser, number: str) -> Response:
    nhs_number = valid_nhs_number(number)
    picture = await audited_picture(services, user, nhs_number, "download-handover")
    html = document_html(
        request.app.state.templates.env, await services.handover(picture), services.mappings.source_labels, user
    )
    try:
        pdf = await asyncio.to_thread(pdf_of, html)  # layout is CPU work: keep it off the event loop
    except PdfUnavailable as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="safeguarding-handover-{nhs_number}.pdf"'},
    )
