"""A CP-IS sandbox on 127.0.0.1: NHS England's CP-IS FHIR API in its own shape, for the tests.

It answers `GET /CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<n>` from its own synthetic data:
the CP-IS plans of the synthetic families (each family's cpis.json CarePlans, as CP-IS CareTeams with the local
authority's office-hours and out-of-hours telephones). As CP-IS does, it refuses a request without a user's
Bearer token it accepts (401): one of `tokens`, or, given `userinfo_url` (the sign-in provider's UserInfo endpoint,
standing in for NHS CIS2), one that endpoint accepts; and one without a TraceID that is a UUID or without
IsUnscheduledAccessEvent true or false (400). Every CareTeam search it answered is kept in `seen` (trace id, the
header's value, the NHS number), so a test can say what NeoSafe sent. NHS numbers in `malformed` are answered with a
Bundle that is not FHIR's shape.

It answers the access history too, `GET /AuditEvent?patient:identifier=...&_include=AuditEvent:entity-type=
http://terminology.hl7.org/CodeSystem/v3-RoleClass|ASSIGNED` (the consumer guide's search-with-includes; 400 without
that `_include`), checking the same token and headers: its accesses are sandbox/cpis_access.py's (family 04), each
search answered kept in `audit_seen`. NHS numbers in `audit_failing` get a 500, in `audit_malformed` a Bundle that
is not FHIR's shape. As CP-IS does, each request sent as unscheduled care (IsUnscheduledAccessEvent true) is kept in
`recorded`: the accesses CP-IS would add to the child's history and tell the local authority of. `neosafe demo` runs
it as its cpis source, accepting a token made for the run, which NeoSafe gives demo sign-ins only (sandbox/demo.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .cpis_access import ACCESS_HISTORY, access_entries
from .national import (
    FHIR_JSON,
    MALFORMED_BUNDLE,
    NationalSandbox,
    capability_statement,
    is_uuid,
    needs_user_token,
    outcome,
    searchset,
    user_token_check,
)
from .servers import FAMILIES_DIR

__all__ = ["CPIS_TOKEN", "CpisSandbox", "care_teams_of_families", "cpis_app"]

NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
CPIS_TOKEN = "sandbox-cis2-user-token"  # the user token the sandbox accepts unless told others
ACCESS_HISTORY_INCLUDE = "AuditEvent:entity-type=http://terminology.hl7.org/CodeSystem/v3-RoleClass|ASSIGNED"
CARE_TEAM_STATUS = {"active": "active", "completed": "inactive", "revoked": "inactive", "on-hold": "suspended"}


def _nhs_number(patient: dict[str, Any]) -> str | None:
    ids = patient.get("identifier") or []
    return next((i.get("value") for i in ids if i.get("system") == NHS_NUMBER_SYSTEM), None)


def care_teams_of_families(families_dir: Path = FAMILIES_DIR) -> dict[str, list[dict[str, Any]]]:
    """NHS number -> its CP-IS CareTeams: each family's CP-IS CarePlans, in CP-IS's CareTeam shape."""
    teams: dict[str, list[dict[str, Any]]] = {}
    for path in sorted(families_dir.glob("*/cpis.json")):
        resources = [e["resource"] for e in json.loads(path.read_text(encoding="utf-8")).get("entry", [])]
        by_ref = {f"{r['resourceType']}/{r['id']}": r for r in resources if r.get("id")}
        for plan in (r for r in resources if r["resourceType"] == "CarePlan"):
            number = _nhs_number(by_ref.get(plan["subject"]["reference"], {}))
            authority = by_ref.get((plan.get("author") or {}).get("reference", ""), {})
            if not number:
                continue
            team = {
                "resourceType": "CareTeam",
                "id": plan["id"].replace("cpis-", "careteam-", 1),
                "status": CARE_TEAM_STATUS.get(plan.get("status", ""), "inactive"),
                "category": plan["category"],
                "name": plan.get("title", "CP-IS plan"),
                "subject": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": number}},
                "period": plan.get("period", {}),
                "managingOrganization": [{"display": authority.get("name", "Local authority")}],
                "telecom": [t for t in authority.get("telecom", []) if t.get("system") == "phone"],
            }
            teams.setdefault(number, []).append(team)
    return teams


def cpis_app(
    *,
    teams: dict[str, list[dict[str, Any]]],
    tokens: frozenset[str],
    malformed: frozenset[str] = frozenset(),
    userinfo_url: str | None = None,
    metadata_needs_token: bool = False,
    accesses: dict[str, list[tuple[str, str | None, str, str, str]]] | None = None,
    audit_failing: frozenset[str] = frozenset(),
    audit_malformed: frozenset[str] = frozenset(),
) -> Starlette:
    """The CP-IS API as an ASGI app; `app.state.seen` lists each CareTeam search it answered, `audit_seen` each
    AuditEvent search, `recorded` each access it would record. With `metadata_needs_token`, /metadata too refuses a
    request without a token it accepts, as a gateway may."""
    seen: list[dict[str, Any]] = []
    audit_seen: list[dict[str, Any]] = []
    recorded: list[dict[str, Any]] = []
    history = ACCESS_HISTORY if accesses is None else accesses

    accepted = user_token_check(tokens, userinfo_url)

    async def metadata(request: Request) -> JSONResponse:
        if metadata_needs_token and not await accepted(request):
            return needs_user_token()
        return capability_statement("CP-IS", "CareTeam", "search-type")

    async def asked(request: Request) -> dict[str, Any] | JSONResponse:
        """What a CP-IS request carries (its trace id, header and NHS number), or the refusal it is owed."""
        if not await accepted(request):
            return needs_user_token()
        trace_id = request.headers.get("TraceID", "")
        unscheduled = request.headers.get("IsUnscheduledAccessEvent")
        if not is_uuid(trace_id):
            return outcome(400, "required", "TraceID must be a UUID")
        if unscheduled not in ("true", "false"):
            return outcome(400, "required", "IsUnscheduledAccessEvent must be true or false")
        system, bar, number = request.query_params.get("patient:identifier", "").partition("|")
        if system != NHS_NUMBER_SYSTEM or not bar or not number.isdigit():
            return outcome(400, "invalid", "search by patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<n>")
        said = {"trace_id": trace_id, "unscheduled": unscheduled, "nhs_number": number}
        if unscheduled == "true":
            recorded.append({**said, "resource": request.url.path.rsplit("/", 1)[-1]})
        return said

    async def audit_event(request: Request) -> JSONResponse:
        said = await asked(request)
        if isinstance(said, JSONResponse):
            return said
        if request.query_params.getlist("_include") != [ACCESS_HISTORY_INCLUDE]:
            return outcome(400, "invalid", f"the access history is asked for with _include={ACCESS_HISTORY_INCLUDE}")
        audit_seen.append(said)
        number = said["nhs_number"]
        if number in audit_failing:
            return outcome(500, "exception", "CP-IS could not read the access history")
        if number in audit_malformed:
            return JSONResponse(MALFORMED_BUNDLE, media_type=FHIR_JSON)
        return searchset(access_entries(number, history.get(number, []), str(request.base_url)))

    async def care_team(request: Request) -> JSONResponse:
        said = await asked(request)
        if isinstance(said, JSONResponse):
            return said
        seen.append(said)
        number = said["nhs_number"]
        if number in malformed:
            return JSONResponse(MALFORMED_BUNDLE, media_type=FHIR_JSON)
        found = teams.get(number, [])
        return searchset([{"fullUrl": f"{request.base_url}CareTeam/{t['id']}", "resource": t} for t in found])

    routes = [Route("/metadata", metadata), Route("/CareTeam", care_team), Route("/AuditEvent", audit_event)]
    app = Starlette(routes=routes)
    app.state.seen, app.state.audit_seen, app.state.recorded = seen, audit_seen, recorded
    return app


@dataclass
class CpisSandbox(NationalSandbox):
    """Start with `with CpisSandbox() as cpis:`; `cpis.url` is its base URL, `cpis.seen` what it was asked."""

    what: ClassVar[str] = "the CP-IS sandbox"

    tokens: frozenset[str] = frozenset({CPIS_TOKEN})
    malformed: frozenset[str] = frozenset()
    userinfo_url: str | None = None
    metadata_needs_token: bool = False
    families_dir: Path = FAMILIES_DIR
    extra_teams: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # NHS number -> more CareTeams
    accesses: dict[str, list[tuple[str, str | None, str, str, str]]] | None = None  # None: cpis_access.py's
    audit_failing: frozenset[str] = frozenset()
    audit_malformed: frozenset[str] = frozenset()

    @property
    def audit_seen(self) -> list[dict[str, Any]]:
        return self._app.state.audit_seen if self._app is not None else []

    @property
    def recorded(self) -> list[dict[str, Any]]:
        return self._app.state.recorded if self._app is not None else []

    def app(self) -> Starlette:
        return cpis_app(
            teams={**care_teams_of_families(self.families_dir), **self.extra_teams},
            tokens=self.tokens,
            malformed=self.malformed,
            userinfo_url=self.userinfo_url,
            metadata_needs_token=self.metadata_needs_token,
            accesses=self.accesses,
            audit_failing=self.audit_failing,
            audit_malformed=self.audit_malformed,
        )
