"""Signing in with a demo user, and NeoSafe's own session once anyone (a demo user, single sign-on) vouched."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.checkpoints import DEMO_USERS, Checkpoints, User

from .auth import issue_token
from .deps import COOKIE, CheckpointsDep
from .rendering import render_page

__all__ = ["router", "safe_next", "start_session"]

router = APIRouter(include_in_schema=False)


def safe_next(target: str) -> str:
    """Only a path on this site: never a sign-in that sends the user somewhere else."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def start_session(request: Request, services: Checkpoints, user: User, target: str) -> Response:
    """Signed in: audited, then NeoSafe's own session cookie, whoever vouched for the user. Over HTTPS (as a
    trust's reverse proxy tells uvicorn) the cookie is Secure, so it never travels over plain HTTP."""
    await services.audit(user, "sign-in")
    response = RedirectResponse(safe_next(target), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        issue_token(user, secret=services.settings.secret_key),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(services.settings.session_hours * 3600),
    )
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, services: CheckpointsDep, next: str = "/") -> HTMLResponse:
    return render_page(
        request,
        "sign_in.html",
        demo_users=list(DEMO_USERS.values()) if services.settings.demo_users else [],
        single_sign_on=request.app.state.oidc is not None,
        next=safe_next(next),
    )


@router.post("/sign-in")
async def sign_in(
    request: Request, services: CheckpointsDep, role: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    user = DEMO_USERS.get(role) if services.settings.demo_users else None
    if user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Sign-in with demo users is not enabled here.")
    return await start_session(request, services, user, next)


@router.post("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response
