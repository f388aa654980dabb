"""SMART App Launch 2.x, EHR launch, over HTTP (issue 17): the EPR opens NeoSafe on the baby its user has open.

GET /launch?iss=...&launch=... checks the EPR is allowed and reads its SMART configuration (app.checkpoints.launch
decides both), then sends the browser to the EPR's authorization server: authorization code with PKCE (S256), a
`state` kept in this browser's session (as the CIS2 sign-in keeps its own) and a nonce for the ID token (Authlib).
GET /launch/callback exchanges the code, takes the clinician's NeoSafe role from the verified ID token as the CIS2
sign-in does (identity.user_of), opens NeoSafe's own sign-in (sign_in.start_session) and lands on the baby whose
NHS number the EPR's Patient holds; the sign-in keeps the EPR, that baby and the stay (the token's `encounter`, once
the EPR's FHIR server confirms it is that baby's), so drafts and checklists of that baby record it.
`need_patient_banner: false` is kept in a cookie the banner partial reads, bound to that sign-in.
"""

from __future__ import annotations

import secrets
from dataclasses import asdict
from http.cookies import SimpleCookie
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth, OAuthError
from authlib.jose.errors import JoseError
from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response

from app.checkpoints import Launched
from app.checkpoints.launch import Endpoints, EprUnreachable, LaunchClient, Launches

from .deps import COOKIE, CheckpointsDep
from .identity import SignInRefused, user_of
from .sign_in import start_session

__all__ = ["EPR_BANNER_COOKIE", "router"]

router = APIRouter(include_in_schema=False)

EPR_BANNER_COOKIE = "neosafe_epr_banner"  # set: the EPR shows its own patient banner (templates/_banner.html)
_KEPT = "smart_launch:"  # the session key prefix of a launch under way, by its state


def _launches(request: Request) -> Launches:
    return request.app.state.launches


def _oauth(client: LaunchClient, endpoints: Endpoints) -> Any:
    """Authlib's client for this EPR, with the endpoints its SMART configuration gave: nothing else of it is used."""
    return OAuth().register(
        "smart",
        client_id=client.client_id,
        client_secret=client.client_secret,
        authorize_url=endpoints.authorize,
        access_token_url=endpoints.token,
        jwks_uri=endpoints.jwks,
        **({"issuer": endpoints.issuer} if endpoints.issuer else {}),
        client_kwargs={
            "scope": client.scopes,
            "code_challenge_method": "S256",
            "token_endpoint_auth_method": "client_secret_basic" if client.client_secret else "none",
            "timeout": 10,
        },
    )


def _unreachable(exc: Exception) -> HTTPException:
    return HTTPException(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"NeoSafe could not open from the EPR: {exc}. Try again in a minute; if it goes on, call the IT service desk.",
    )


@router.get("/launch")
async def launch(request: Request, iss: str | None = None, launch: str | None = None) -> Response:
    launches = _launches(request)
    client = await launches.epr(iss, launch)  # first: never a redirect towards a server not on the list
    try:
        endpoints = await launches.discover(client)
    except EprUnreachable as exc:
        raise _unreachable(exc) from exc
    state = secrets.token_urlsafe(32)
    request.session[_KEPT + state] = {"iss": client.iss, "endpoints": asdict(endpoints)}
    redirect = str(request.url_for("smart_callback"))
    try:
        return await _oauth(client, endpoints).authorize_redirect(
            request, redirect, state=state, launch=launch, aud=client.iss
        )
    except httpx.HTTPError as exc:
        raise _unreachable(exc) from exc


NOT_STARTED = "The launch did not complete ({}). Open NeoSafe again from the baby's record in the EPR."


@router.get("/launch/callback", name="smart_callback")
async def callback(request: Request, services: CheckpointsDep, state: str | None = None) -> Response:
    launches = _launches(request)
    kept = request.session.pop(_KEPT + state, None) if state else None
    client = launches.clients.get(kept["iss"]) if isinstance(kept, dict) else None
    if client is None:  # a callback this browser did not start: a forged or replayed one
        raise HTTPException(status.HTTP_400_BAD_REQUEST, NOT_STARTED.format("it did not start in this browser"))
    try:
        token = await _oauth(client, Endpoints(**kept["endpoints"])).authorize_access_token(request)
    except (OAuthError, JoseError) as exc:  # state, PKCE, and the ID token's signature, nonce, issuer and audience
        raise HTTPException(status.HTTP_400_BAD_REQUEST, NOT_STARTED.format(exc.error)) from exc
    except (httpx.HTTPError, ValueError) as exc:
        raise _unreachable(EprUnreachable("the EPR's token answer could not be read")) from exc
    claims = dict(token.get("userinfo") or {})
    if not claims.get("sub") or not claims.get("fhirUser"):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, NOT_STARTED.format("the EPR did not say who you are"))
    try:
        user = user_of(claims, services.settings.oidc_roles)
    except SignInRefused as exc:
        await launches.refused_user(client, str(claims["sub"]), str(exc))
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"You cannot use NeoSafe with this role: {exc}.") from exc
    access_token = str(token.get("access_token", ""))  # sent to the EPR's own FHIR server (iss) only, never kept
    try:
        number = await launches.baby(user, client, token.get("patient"), access_token)
    except EprUnreachable as exc:
        raise _unreachable(exc) from exc
    encounter = await launches.encounter(user, client, token["patient"], token.get("encounter"), access_token)
    await launches.opened(user, client, number, encounter)
    kept = Launched(
        client.iss, number, encounter, client.write_back_source
    )  # with the sign-in, server-side: drafts and checklists use it
    response = await start_session(request, services, user, f"/patients/{number}", launch=kept)
    belongs = _sign_in_part(response) if token.get("need_patient_banner") is False else None
    if belongs:
        response.set_cookie(
            EPR_BANNER_COOKIE,
            belongs,
            httponly=True,
            samesite="lax",
            secure=request.url.scheme == "https",
            max_age=int(services.settings.session_hours * 3600),
        )
    else:
        response.delete_cookie(EPR_BANNER_COOKIE)
    return response


def _sign_in_part(response: Response) -> str | None:
    """The first part of the new sign-in's cookie (its signed token's payload, which names the sign-in and is no
    credential without the signature): the banner cookie holds it, so any other sign-in in this browser, or none,
    has NeoSafe's banner again (templates/_banner.html compares the two)."""
    for header in response.headers.getlist("set-cookie"):
        cookie = SimpleCookie(header)
        if COOKIE in cookie:
            return cookie[COOKIE].value.split(".")[0] or None
    return None
