"""What the national API sandboxes (CP-IS, the Patient Flags API, PDS) share: their errors, the user-token check,
and running on 127.0.0.1 in a thread of the test's process (uvicorn, like tests/servers.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from testkit.ports import free_port

__all__ = [
    "FHIR_JSON",
    "MALFORMED_BUNDLE",
    "NationalSandbox",
    "capability_statement",
    "is_uuid",
    "needs_user_token",
    "outcome",
    "outcome_with_code",
    "searchset",
    "user_token_check",
]

FHIR_JSON = "application/fhir+json"


def outcome(status: int, code: str, text: str) -> JSONResponse:
    body = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": code, "diagnostics": text}]}
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


def outcome_with_code(status: int, code: str, spine_code: str) -> JSONResponse:
    """An OperationOutcome carrying a Spine error code in its details, as NHS England's APIs send them."""
    coding = {"system": "https://fhir.nhs.uk/R4/CodeSystem/Spine-ErrorOrWarningCode", "code": spine_code}
    issue = {"severity": "error", "code": code, "details": {"coding": [coding]}}
    return JSONResponse(
        {"resourceType": "OperationOutcome", "issue": [issue]}, status_code=status, media_type=FHIR_JSON
    )


def needs_user_token() -> JSONResponse:
    """The answer to a request without a user token the service accepts."""
    return outcome(401, "login", "a CIS2 user-restricted access token is required")


MALFORMED_BUNDLE = {"resourceType": "Bundle", "type": "searchset", "entry": "x"}  # for the NHS numbers set to break


def capability_statement(service: str, resource_type: str, interaction: str) -> JSONResponse:
    """The service's /metadata: one resource type and the one interaction NeoSafe uses of it."""
    statement = {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "kind": "instance",
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json"],
        "software": {"name": f"NeoSafe sandbox: {service}"},
        "rest": [{"mode": "server", "resource": [{"type": resource_type, "interaction": [{"code": interaction}]}]}],
    }
    return JSONResponse(statement, media_type=FHIR_JSON)


def searchset(entries: list[dict[str, Any]]) -> JSONResponse:
    """A searchset Bundle of `entries` (each with its fullUrl and resource)."""
    bundle = {"resourceType": "Bundle", "type": "searchset", "total": len(entries), "entry": entries}
    return JSONResponse(bundle, media_type=FHIR_JSON)


def is_uuid(value: str) -> bool:
    try:
        return str(uuid.UUID(value)) == value.lower()
    except ValueError:
        return False


def user_token_check(tokens: frozenset[str], userinfo_url: str | None) -> Callable[[Request], Awaitable[bool]]:
    """Whether a request carries a Bearer token the service accepts: one of `tokens`, or, given `userinfo_url` (the
    sign-in provider's UserInfo endpoint, standing in for CIS2), one that the provider vouches for."""

    async def accepted(request: Request) -> bool:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return False
        if token in tokens:
            return True
        if userinfo_url is None:
            return False
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.get(userinfo_url, headers={"Authorization": f"Bearer {token}"})
        return answer.status_code == 200

    return accepted


@dataclass
class NationalSandbox:
    """Start with `with Sandbox() as running:`; `running.url` is its base URL, `running.seen` what it was asked.
    A subclass says what it is (`what`) and builds its app (`app()`, keeping what it saw in `app.state.seen`)."""

    what: ClassVar[str] = "the sandbox"
    port: int = field(default_factory=free_port, kw_only=True)
    _server: uvicorn.Server | None = field(default=None, init=False, repr=False)
    _thread: threading.Thread | None = field(default=None, init=False, repr=False)
    _app: Starlette | None = field(default=None, init=False, repr=False)

    def app(self) -> Starlette:
        raise NotImplementedError

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def seen(self) -> list[dict[str, Any]]:
        return self._app.state.seen if self._app is not None else []

    def __enter__(self) -> Any:
        self._app = self.app()
        config = uvicorn.Config(self._app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"{self.what} did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
