"""CDS Hooks 2.0 over HTTP (issue 17): discovery at GET /cds-services, and one POST per service.

Only adapts app.checkpoints.cds to the protocol: the caller's JWT is checked there, the cards are decided there;
here they become the specification's JSON, each with a link that opens NeoSafe on the baby. A refused JWT is a 401
with the reason; a call with no prefetched Patient a 412 (NeoSafe fetches nothing from a URL the request names).
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from app.checkpoints.cds import SERVICES, Card, CdsHooks, NotAuthenticated, PrefetchMissing
from app.config import ConfigError

from .deps import CheckpointsDep

__all__ = ["router"]

router = APIRouter(prefix="/cds-services", include_in_schema=False)  # CDS Hooks is its own contract, not the API's


class HookCall(BaseModel):
    """The parts of a CDS Hooks request NeoSafe reads; the rest (fhirServer, fhirAuthorization) it ignores."""

    model_config = ConfigDict(extra="allow")

    hook: str
    hookInstance: str  # the specification's name
    context: dict[str, Any]
    prefetch: dict[str, Any] | None = None


def cds_hooks(request: Request) -> CdsHooks:
    """The CDS Hooks use cases, wired on first use (its allow-list read then, with its JWK Set clients kept)."""
    state = request.app.state
    if getattr(state, "cds_hooks", None) is None:
        state.cds_hooks = CdsHooks.wire(state.checkpoints)
    return state.cds_hooks


def _card(card: Card, public_url: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": card.summary,
        "indicator": card.indicator,
        "detail": card.detail,
        "source": {"label": "NeoSafe", **({"url": public_url} if public_url else {})},
    }
    if card.nhs_number and public_url:
        answer["links"] = [
            {
                "label": "Open this baby in NeoSafe",
                "url": f"{public_url}/patients/{card.nhs_number}",
                "type": "absolute",
            }
        ]
    return answer


@router.get("")
async def discovery() -> dict[str, Any]:
    return {"services": [s.discovery() for s in SERVICES.values()]}


def _refused(code: int, reason: str, **headers: str) -> JSONResponse:
    """JSON for the EPR, never one of NeoSafe's pages."""
    return JSONResponse({"detail": reason}, code, headers=headers)


@router.post("/{service_id}", response_model=None)
async def call(service_id: str, request: Request, services: CheckpointsDep) -> dict[str, Any] | JSONResponse:
    """A hook call: the JWT first (nothing is read of the body before), then the cards for the prefetched baby."""
    service = SERVICES.get(service_id)
    if service is None:
        return _refused(status.HTTP_404_NOT_FOUND, "there is no such CDS service: see GET /cds-services")
    try:
        hooks = cds_hooks(request)
    except ConfigError as exc:  # said to the EPR's logs, not a page: its users would otherwise see no card, unsaid
        return _refused(status.HTTP_503_SERVICE_UNAVAILABLE, f"NeoSafe's CDS Hooks are misconfigured: {exc}")
    public_url = (services.settings.public_url or "").rstrip("/") or None
    audiences = [f"{public_url}/cds-services/{service.id}", f"{public_url}/cds-services"] if public_url else []
    try:
        user = await hooks.caller(request.headers.get("authorization"), audiences)
    except NotAuthenticated as exc:
        return _refused(status.HTTP_401_UNAUTHORIZED, str(exc), **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
    try:
        body = HookCall.model_validate(json.loads(await request.body()))
    except (ValueError, ValidationError):
        return _refused(status.HTTP_400_BAD_REQUEST, "the body is not a CDS Hooks request")
    if body.hook != service.hook:
        return _refused(status.HTTP_400_BAD_REQUEST, f"this service answers {service.hook}, not {body.hook}")
    try:
        cards = await hooks.cards(user, service, (body.prefetch or {}).get("patient"))
    except PrefetchMissing as exc:
        return _refused(status.HTTP_412_PRECONDITION_FAILED, str(exc))
    return {"cards": [_card(c, public_url) for c in cards]}
