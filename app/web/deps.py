"""Dependencies every route declares: the services, and the signed-in user with their role."""

from __future__ import annotations

from typing import Annotated

import nhs_number
from fastapi import Depends, HTTPException, Request, status

from .auth import DEMO_USERS, TokenError, User, read_token
from .services import Services

__all__ = ["COOKIE", "ApiUser", "PageUser", "ServicesDep", "valid_nhs_number"]

COOKIE = "neosafe_session"
DEMO_USER_IDS = frozenset(u.id for u in DEMO_USERS.values())


class SignInRequired(Exception):
    """A page was asked for without a valid session: send the browser to sign in."""


def get_services(request: Request) -> Services:
    return request.app.state.services


ServicesDep = Annotated[Services, Depends(get_services)]


def _user(token: str, services: Services) -> User:
    user = read_token(token, secret=services.settings.secret_key, max_age_s=services.settings.session_hours * 3600)
    if user.id in DEMO_USER_IDS and not services.settings.demo_users:
        raise TokenError("demo users are not enabled here")
    return user


def api_user(request: Request, services: ServicesDep) -> User:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "a bearer token is required", {"WWW-Authenticate": "Bearer"})
    try:
        return _user(token, services)
    except TokenError as exc:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, str(exc), {"WWW-Authenticate": "Bearer"}) from exc


def page_user(request: Request, services: ServicesDep) -> User:
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
    """The NHS number from the URL, without spaces, or 422 if it is not a valid NHS number."""
    cleaned = number.replace(" ", "").replace("-", "")
    if not (cleaned.isdigit() and len(cleaned) == 10 and nhs_number.is_valid(cleaned)):
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"'{number}' is not a valid NHS number: it must be 10 digits with a correct check digit",
        )
    return cleaned
