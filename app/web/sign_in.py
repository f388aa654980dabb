"""Signing in with a demo user, NeoSafe's own sign-in once anyone (a demo user, single sign-on) vouched, and
signing out.

A sign-in is a row in the database (app.assessments.sign_ins); the page cookie carries a signed token naming it.
Signing out ends the row, so no copy of the cookie opens anything afterwards; app/web/deps.py ends one unused for
NEOSAFE_SESSION_IDLE_MINUTES or older than NEOSAFE_SESSION_HOURS, and the sign-in page then says why.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.assessments import audit, end_sign_in, find_sign_in, open_sign_in
from app.checkpoints import DEMO_USERS, Checkpoints, Launched, User
from app.checkpoints.policy import home

from .auth import TokenError, issue_session_token, read_session_token
from .deps import COOKIE, CheckpointsDep, PageUser, SignInEnded, signed_in
from .rendering import check_csrf, render_page

__all__ = ["router", "safe_next", "start_session"]

router = APIRouter(include_in_schema=False)


def safe_next(target: str) -> str:
    """Only a path on this site: never a sign-in that sends the user somewhere else."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def _cookie_sign_in_id(request: Request, services: Checkpoints) -> str | None:
    """The id of the sign-in this browser's cookie names, if it carries a valid one."""
    token = request.cookies.get(COOKIE)
    try:
        hours = services.settings.session_hours
        return read_session_token(token, secret=services.settings.secret_key, max_age_s=hours * 3600) if token else None
    except TokenError:
        return None


async def start_session(
    request: Request,
    services: Checkpoints,
    user: User,
    target: str,
    *,
    cis2_token: str | None = None,
    cis2_expires_at: datetime | None = None,
    launch: Launched | None = None,
) -> Response:
    """Signed in: audited, then a new sign-in and its cookie, whoever vouched for the user (a sign-in this browser
    still had open ends), and on to the page asked for, or the user's home (policy.home). Over HTTPS (as a trust's
    reverse proxy tells uvicorn) the cookie is Secure, so it never travels over plain HTTP. An NHS CIS2 sign-in's
    access token is kept with the sign-in in the database (CP-IS is called with it), never in the cookie; so is a
    SMART EHR launch's context (`launch`: the EPR, the baby and the checked encounter), never an access token."""
    await services.audit(user, "sign-in")
    now, hours = services.clock(), services.settings.session_hours
    if (previous := _cookie_sign_in_id(request, services)) is not None:
        await end_sign_in(services.sessions, previous, now=now, reason="replaced")
    sign_in = await open_sign_in(
        services.sessions,
        user_id=user.id,
        name=user.name,
        role=user.role.key,
        now=now,
        keep=timedelta(hours=hours),
        cis2_token=cis2_token,
        cis2_expires_at=cis2_expires_at,
        launch=(launch.iss, launch.nhs_number, launch.encounter, launch.write_back) if launch else None,
    )
    target = safe_next(target)
    response = RedirectResponse(home(user) if target == "/" else target, status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        issue_session_token(sign_in.id, secret=services.settings.secret_key),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(hours * 3600),
    )
    return response


def _count(value: float, unit: str) -> str:
    return f"{value:g} {unit}{'' if value == 1 else 's'}"


async def _why_signed_out(request: Request, services: Checkpoints) -> str | None:
    """What the sign-in page says first: why this browser's sign-in ended, if it did."""
    settings, token = services.settings, request.cookies.get(COOKIE)
    try:
        if token:
            await signed_in(token, services)
    except SignInEnded as ended:
        idle, hours = _count(settings.session_idle_minutes, "minute"), _count(settings.session_hours, "hour")
        return {
            "idle": f"You were signed out because NeoSafe was not used for {idle}.",
            "expired": f"You were signed out because a sign-in lasts {hours} at most.",
            "sign-out": "You have signed out.",
        }.get(ended.sign_in.end_reason or "")
    except TokenError:
        pass
    return None


@router.get("/sign-in")
async def sign_in_page(
    request: Request, services: CheckpointsDep, next: str = "/", signed_out: bool = False
) -> HTMLResponse:
    target = safe_next(next)
    return render_page(
        request,
        "sign_in.html",
        demo_users=list(DEMO_USERS.values()) if services.settings.demo_users else [],
        single_sign_on=request.app.state.oidc is not None,
        next=target,
        why=("You have signed out." if signed_out else None) or await _why_signed_out(request, services),
        answers_held="/resume/" in target,
    )


@router.post("/sign-in")
async def sign_in(
    request: Request, services: CheckpointsDep, role: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    user = DEMO_USERS.get(role) if services.settings.demo_users else None
    if user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Sign-in with demo users is not enabled here.")
    # `neosafe demo` only: the CP-IS sandbox's token, kept with the sign-in as a CIS2 token is (never the cookie).
    return await start_session(request, services, user, next, cis2_token=request.app.state.demo_cis2_token)


@router.post("/sign-out")
async def sign_out(request: Request, services: CheckpointsDep) -> Response:
    """End this browser's sign-in (audited), then forget its cookie: a copy of it opens nothing afterwards."""
    sign_in_id = _cookie_sign_in_id(request, services)
    sign_in = await find_sign_in(services.sessions, sign_in_id) if sign_in_id else None
    now = services.clock()
    if sign_in is not None and await end_sign_in(services.sessions, sign_in.id, now=now, reason="sign-out"):
        await audit(services.sessions, user_id=sign_in.user_id, role=sign_in.role, action="sign-out")
    response = RedirectResponse("/sign-in?signed_out=true", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


@router.post("/session/keep-alive", status_code=status.HTTP_204_NO_CONTENT)
async def keep_alive(request: Request, user: PageUser) -> Response:
    """The checklist page's "Stay signed in": the sign-in was used now (page_user marked it so)."""
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
