"""Every failure gets a clear answer: a page for people, JSON (or an OperationOutcome) for the API."""

from __future__ import annotations

import logging
from urllib.parse import quote

from fastapi import FastAPI, HTTPException, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response

from app.checkpoints import Conflict, Forbidden, NotFound, Refused
from app.checkpoints.outcomes import Invalid
from app.picture import BabyNotFound

from .api_models import operation_outcome, unprocessable
from .deps import SignInRequired

__all__ = ["install_error_handlers"]

log = logging.getLogger(__name__)


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


def _page(request: Request, status_code: int, title: str, message: str, **extra) -> Response:
    templates = request.app.state.templates
    context = {"title": title, "message": message, **extra}
    return templates.TemplateResponse(request, "error.html", context, status_code=status_code)


def _sentence(message: str) -> str:
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, exc: SignInRequired) -> Response:
        # Back where they were: the page asked for, or for a form (a GET of its path is no page) the home page.
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        if request.method != "GET":
            target = "/"
        return RedirectResponse(f"/sign-in?next={quote(target, safe='')}", status.HTTP_303_SEE_OTHER)

    @app.exception_handler(BabyNotFound)
    async def _not_found(request: Request, exc: BabyNotFound) -> Response:
        unavailable = [s for s in exc.sources if not s.checked]
        message = "No source holds a baby with this NHS number. Check the number and try again."
        if unavailable:
            message += " Some sources could not be checked, so the baby may be on one of them."
        if _is_api(request):
            sources = [{"name": s.name, "status": s.status, "detail": s.detail} for s in exc.sources]
            return JSONResponse({"detail": message, "sources": sources}, status.HTTP_404_NOT_FOUND)
        return _page(request, 404, "Baby not found", message, sources=exc.sources)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> Response:
        """A use case's refusal, the same status for the pages and the API: the one mapping of outcomes to HTTP."""
        codes = {Forbidden: 403, NotFound: 404, Conflict: 409}
        code = next((c for kind, c in codes.items() if isinstance(exc, kind)), 400)
        message = str(exc) if _is_api(request) else _sentence(str(exc))
        return await _http(request, HTTPException(code, message))

    @app.exception_handler(Invalid)
    async def _not_acceptable(request: Request, exc: Invalid) -> Response:
        """What was sent cannot be taken as it stands: for the API an OperationOutcome with an issue for each
        reason, as a refused submission gets; for a page, the reasons."""
        if _is_api(request):
            return unprocessable(operation_outcome(exc.issues, "invalid"))
        return _page(request, 422, "Check what you entered", _sentence(str(exc)))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> Response:
        if _is_api(request) or exc.status_code == 401:
            return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)
        titles = {
            403: "You cannot do this",
            404: "Page not found",
            409: "Cannot save here",
            422: "Check what you entered",
        }
        return _page(request, exc.status_code, titles.get(exc.status_code, "Something went wrong"), str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        if _is_api(request):
            return JSONResponse({"detail": problems}, status.HTTP_422_UNPROCESSABLE_CONTENT)
        return _page(request, 422, "Check what you entered", problems)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error (%s)", type(exc).__name__)
        message = (
            "NeoSafe hit an unexpected problem. A checklist is saved only once you have seen the saved "
            "confirmation: go back and try again, and tell the IT service desk if it happens again."
        )
        if _is_api(request):
            return JSONResponse({"detail": message}, status.HTTP_500_INTERNAL_SERVER_ERROR)
        return _page(request, 500, "Sorry, there is a problem", message)
