"""Single sign-on with OpenID Connect, as NHS CIS2 offers it: the user's selected role decides their NeoSafe role.

CIS2 lists the user's roles in `nhsid_nrbac_roles` (each with `person_roleid`, a `role_code` such as
`S8000:G8000:R8001` and `activity_codes`) and names the one chosen for this session in `selected_roleid`.
The trust maps role-code parts or activity codes to NeoSafe roles (NEOSAFE_OIDC_ROLES). A selected role that
maps to no NeoSafe role, or to more than one, is refused: least privilege, never a guess. Authorization code
flow with PKCE, state and nonce (Authlib); then NeoSafe's own session cookie, as for any sign-in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.jose.errors import JoseError
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from app.assessments import audit
from app.checkpoints import ROLES
from app.config import ConfigError, Settings

from .deps import CheckpointsDep
from .identity import SignInRefused, user_of
from .sign_in import safe_next, start_session

__all__ = ["oidc_client", "router"]

router = APIRouter(include_in_schema=False)


def oidc_client(settings: Settings) -> OAuth | None:
    """The registered OpenID Connect client, or None where single sign-on is not set up."""
    if not settings.oidc_issuer:
        return None
    if not settings.oidc_client_id:
        raise ConfigError("NEOSAFE_OIDC_ISSUER is set: set NEOSAFE_OIDC_CLIENT_ID (and its secret) too")
    unknown = sorted(set(settings.oidc_roles.values()) - set(ROLES))
    if unknown or not settings.oidc_roles:
        raise ConfigError(
            f"NEOSAFE_OIDC_ROLES must map role codes to NeoSafe roles ({', '.join(ROLES)}); unknown: {unknown}"
        )
    oauth = OAuth()
    oauth.register(
        "idp",
        server_metadata_url=settings.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration",
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_client_secret,
        client_kwargs={"scope": settings.oidc_scope, "code_challenge_method": "S256"},
    )
    return oauth


def _provider(request: Request) -> Any:
    oauth: OAuth | None = request.app.state.oidc
    if oauth is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Single sign-on is not set up on this NeoSafe server.")
    return oauth.idp


UNREACHABLE = (
    "The sign-in service could not be reached. Try again in a minute; if it goes on, call the IT service desk."
)


@router.get("/sign-in/oidc")
async def start(request: Request, next: str = "/") -> Response:
    provider = _provider(request)
    request.session["next"] = safe_next(next)
    try:
        return await provider.authorize_redirect(request, str(request.url_for("oidc_callback")))
    except httpx.HTTPError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, UNREACHABLE) from exc


@router.get("/sign-in/callback", name="oidc_callback")
async def callback(request: Request, services: CheckpointsDep) -> Response:
    provider = _provider(request)
    try:
        token = await provider.authorize_access_token(request)  # checks state, nonce and the ID token's signature
        claims = dict(token.get("userinfo") or {})
        more = dict(await provider.userinfo(token=token))
    except (OAuthError, JoseError) as exc:  # JoseError: an ID token whose signature or claims fail their checks
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            f"Sign-in did not complete ({exc.error}). Go back to NeoSafe and sign in again.",
        ) from exc
    except httpx.HTTPError as exc:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, UNREACHABLE) from exc
    if more.get("sub") != claims.get("sub"):  # OpenID Connect Core 5.3.2: UserInfo must be about the same user
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Sign-in did not complete: the identity answers disagree.")
    claims |= more
    try:
        user = user_of(claims, services.settings.oidc_roles)
    except SignInRefused as exc:
        await audit(
            services.sessions,
            user_id=str(claims["sub"]),
            role="none",
            action="sign-in",
            outcome="refused",
            detail=str(exc),
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"You cannot use NeoSafe with this role: {exc}.") from exc
    access_token = token.get("access_token")
    return await start_session(
        request,
        services,
        user,
        request.session.pop("next", "/"),
        cis2_token=access_token if isinstance(access_token, str) and access_token else None,
        cis2_expires_at=_expires_at(token),
    )


def _expires_at(token: dict[str, Any]) -> datetime | None:
    """When the access token stops being good (Authlib's expires_at, from expires_in); None if it does not say."""
    expires_at = token.get("expires_at")
    if isinstance(expires_at, int | float) and not isinstance(expires_at, bool):
        try:
            return datetime.fromtimestamp(expires_at, UTC)
        except (OverflowError, OSError, ValueError):
            return None
    return None
