"""Dependencies every route declares: the application layer, and the signed-in user with their role.

A page is opened by a sign-in kept in the database, which the page cookie names: it ends when the user signs out,
when it has not been used for NEOSAFE_SESSION_IDLE_MINUTES, or NEOSAFE_SESSION_HOURS after it began, and an ended
one opens nothing, whichever copy of the cookie is shown, as a cookie or as an API bearer token.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Annotated

import httpx
import nhs_number
from fastapi import Depends, HTTPException, Request, status

from app.assessments import SignIn, audit, end_sign_in, find_sign_in, seen
from app.checkpoints import DEMO_USERS, ROLES, Checkpoints, Launched, User

from .auth import TokenError, read_session_token, read_token
from .identity import SignInRefused, user_of

__all__ = [
    "COOKIE",
    "ApiUser",
    "CheckpointsDep",
    "PageUser",
    "SignInEnded",
    "SignInRequired",
    "page_user",
    "signed_in",
    "valid_nhs_number",
]

COOKIE = "neosafe_session"
NHS_NUMBER_AS_WRITTEN = re.compile(r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}", re.ASCII)
DEMO_USER_IDS = frozenset(u.id for u in DEMO_USERS.values())


class SignInRequired(Exception):
    """A page was asked for without an open sign-in: send the browser to sign in."""


class SignInEnded(SignInRequired):
    """The cookie names a real sign-in that has ended: `sign_in.end_reason` says why (sign-out, idle, expired)."""

    def __init__(self, sign_in: SignIn) -> None:
        super().__init__(sign_in.end_reason)
        self.sign_in = sign_in


def get_services(request: Request) -> Checkpoints:
    return request.app.state.checkpoints


CheckpointsDep = Annotated[Checkpoints, Depends(get_services)]


def _allowed(user: User, services: Checkpoints) -> User:
    if user.id in DEMO_USER_IDS and not services.settings.demo_users:
        raise TokenError("demo users are not enabled here")
    return user


def _user(token: str, services: Checkpoints) -> User:
    """The user an API token (`issue_token`) names."""
    return _allowed(
        read_token(token, secret=services.settings.secret_key, max_age_s=services.settings.session_hours * 3600),
        services,
    )


def _why_over(sign_in: SignIn, now: datetime, services: Checkpoints) -> str | None:
    """Why an open sign-in should end now, if it should: too old however busy, or unused too long."""
    if now - sign_in.created_at > timedelta(hours=services.settings.session_hours):
        return "expired"
    if now - sign_in.last_seen_at > timedelta(minutes=services.settings.session_idle_minutes):
        return "idle"
    return None


def _seen_every(services: Checkpoints) -> timedelta:
    """How stale last_seen_at may get before a request writes it again: one write a half-minute at most, and
    always well inside the idle timeout."""
    return min(timedelta(seconds=30), timedelta(minutes=services.settings.session_idle_minutes) / 10)


async def signed_in(token: str, services: Checkpoints) -> tuple[User, SignIn]:
    """The user of the open sign-in a page cookie's token names, and that sign-in, now marked used. TokenError for
    a token that names none; SignInEnded for one that has ended, or ends now (too old, or unused too long)."""
    secret, hours = services.settings.secret_key, services.settings.session_hours
    sign_in = await find_sign_in(services.sessions, read_session_token(token, secret=secret, max_age_s=hours * 3600))
    role = ROLES.get(sign_in.role) if sign_in is not None else None
    if sign_in is None or role is None:
        raise TokenError("no such sign-in")
    now = services.clock()
    cis2 = _cis2_token(sign_in, now)
    launch = (
        Launched(sign_in.launch_iss, sign_in.launch_nhs_number, sign_in.launch_encounter, sign_in.launch_write_back)
        if sign_in.launch_iss and sign_in.launch_nhs_number
        else None
    )
    user = _allowed(User(id=sign_in.user_id, name=sign_in.name, role=role, cis2_token=cis2, launch=launch), services)
    if sign_in.ended_at is None and (reason := _why_over(sign_in, now, services)) is not None:
        if await end_sign_in(services.sessions, sign_in.id, now=now, reason=reason):
            await audit(services.sessions, user_id=user.id, role=role.key, action="sign-in-ended", detail=reason)
        sign_in = await find_sign_in(services.sessions, sign_in.id) or sign_in
    if sign_in.ended_at is not None:
        raise SignInEnded(sign_in)
    if now - sign_in.last_seen_at >= _seen_every(services):
        await seen(services.sessions, sign_in.id, now=now)
    return user, sign_in


def _cis2_token(sign_in: SignIn, now: datetime) -> str | None:
    """The sign-in's NHS CIS2 access token while it is good (CP-IS is called with it); None once it has expired."""
    expires = sign_in.cis2_token_expires_at
    if not sign_in.cis2_access_token or (expires is not None and expires <= now):
        return None
    return sign_in.cis2_access_token


def _unauthorised(message: str) -> HTTPException:
    return HTTPException(status.HTTP_401_UNAUTHORIZED, message, {"WWW-Authenticate": "Bearer"})


async def _vouched_for(request: Request, token: str, services: Checkpoints) -> User:
    """An access token from the single sign-on provider: its UserInfo says who, and their selected role."""
    known = request.app.state.vouched.get(token)
    if known is not None:
        return known
    try:
        claims = dict(await request.app.state.oidc.idp.userinfo(token={"access_token": token, "token_type": "Bearer"}))
    except httpx.HTTPStatusError as exc:
        raise _unauthorised("the sign-in service does not recognise this token") from exc
    except httpx.HTTPError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "the sign-in service could not be reached") from exc
    try:
        user = user_of(claims, services.settings.oidc_roles)
    except SignInRefused as exc:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"this token's role cannot use NeoSafe: {exc}") from exc
    request.app.state.vouched.put(token, user)
    return user


async def api_user(request: Request, services: CheckpointsDep) -> User:
    """A NeoSafe token, or (with single sign-on) an access token the provider issued, e.g. to an EPR integration."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorised("a bearer token is required")
    try:
        return _user(token, services)
    except TokenError as exc:
        refused = exc
    try:  # a page cookie's token, sent as a bearer token: only while its sign-in is open
        return (await signed_in(token, services))[0]
    except SignInEnded as exc:
        raise _unauthorised("this sign-in has ended: sign in again") from exc
    except TokenError:
        pass
    if request.app.state.oidc is None:
        raise _unauthorised(str(refused))
    return await _vouched_for(request, token, services)


async def page_user(request: Request, services: CheckpointsDep) -> User:
    """The user of the open sign-in the page cookie names; the sign-in is kept on `request.state.sign_in` for the
    CSRF token of the page's forms (app/web/rendering.py)."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired()
    try:
        user, request.state.sign_in = await signed_in(token, services)
    except TokenError as exc:
        raise SignInRequired() from exc
    return user


ApiUser = Annotated[User, Depends(api_user)]
PageUser = Annotated[User, Depends(page_user)]


def valid_nhs_number(number: str) -> str:
    """The NHS number from the URL, without spaces, or 422 if it is not a valid NHS number.

    ASCII digits only, grouped 3-3-4 by single spaces or hyphens at most: what a source is asked for is exactly
    what a person could read out, never another script's digits or a stray sign.
    """
    cleaned = number.replace(" ", "").replace("-", "")
    if not (NHS_NUMBER_AS_WRITTEN.fullmatch(number) and nhs_number.is_valid(cleaned)):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"'{number}' is not a valid NHS number: it must be 10 digits with a correct check digit",
        )
    return cleaned
