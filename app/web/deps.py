"""Dependencies every route declares: the application layer, and the signed-in user with their role."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
import nhs_number
from fastapi import Depends, HTTPException, Request, status

from app.checkpoints import DEMO_USERS, Checkpoints, User

from .auth import TokenError, read_token
from .identity import SignInRefused, user_of

__all__ = ["COOKIE", "ApiUser", "CheckpointsDep", "PageUser", "valid_nhs_number"]

COOKIE = "neosafe_session"
NHS_NUMBER_AS_WRITTEN = re.compile(r"[0-9]{3}[ -]?[0-9]{3}[ -]?[0-9]{4}", re.ASCII)
DEMO_USER_IDS = frozenset(u.id for u in DEMO_USERS.values())


class SignInRequired(Exception):
    """A page was asked for without a valid session: send the browser to sign in."""


def get_services(request: Request) -> Checkpoints:
    return request.app.state.checkpoints


CheckpointsDep = Annotated[Checkpoints, Depends(get_services)]


def _user(token: str, services: Checkpoints) -> User:
    user = read_token(token, secret=services.settings.secret_key, max_age_s=services.settings.session_hours * 3600)
    if user.id in DEMO_USER_IDS and not services.settings.demo_users:
        raise TokenError("demo users are not enabled here")
    return user


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
        if request.app.state.oidc is None:
            raise _unauthorised(str(exc)) from exc
    return await _vouched_for(request, token, services)


def page_user(request: Request, services: CheckpointsDep) -> User:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInRequired()
    try:
        return _user(token, services)
    except TokenError as exc:
        raise SignInRequired() from exc


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
