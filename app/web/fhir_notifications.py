"""FHIR R4 rest-hook notifications from the sources' Subscriptions (app/checkpoints/subscriptions.py), to HTTP.

Called by a FHIR source, never by a person: no sign-in, the Subscription's own secret instead (its channel header,
`Authorization: Bearer ...`). A notification with a body POSTs it here; a source that PUTs each resource to
`{endpoint}/{type}/{id}` (as R4 allows) reaches the second route. Either way it only makes the watch job look sooner.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse

from app.checkpoints.outcomes import Invalid
from app.checkpoints.subscriptions import NOTIFICATION_PATH, Unauthorised

__all__ = ["router"]

router = APIRouter(prefix=NOTIFICATION_PATH, include_in_schema=False)  # FHIR's contract, not NeoSafe's API


def _outcome(code: str, text: str, status_code: int, **headers: str) -> JSONResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return JSONResponse(body, status_code, headers=headers, media_type="application/fhir+json")


@router.post("/{key}")
@router.put("/{key}/{resource_type}/{resource_id}")
async def notification(request: Request, key: str) -> Response:
    """A notification: 202 once its secret is checked (the watch job then looks again), 401 without it, 400 if its
    body is not FHIR JSON."""
    try:
        await request.app.state.watcher.notified(key, request.headers.get("authorization"), await request.body())
    except Unauthorised as exc:
        return _outcome("login", str(exc), status.HTTP_401_UNAUTHORIZED, **{"WWW-Authenticate": "Bearer"})
    except Invalid as exc:
        return _outcome("structure", str(exc), status.HTTP_400_BAD_REQUEST)
    return Response(status_code=status.HTTP_202_ACCEPTED)
