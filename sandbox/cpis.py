"""A CP-IS sandbox on 127.0.0.1: NHS England's CP-IS FHIR API in its own shape, for the tests.

It answers `GET /CareTeam?patient:identifier=https://fhir.nhs.uk/Id/nhs-number|<n>` from its own synthetic data:
the CP-IS plans of the synthetic families (each family's cpis.json CarePlans, as CP-IS CareTeams with the local
authority's office-hours and out-of-hours telephones). As CP-IS does, it refuses a request without a user's
Bearer token it accepts (401): one of `tokens`, or, given `userinfo_url` (the sign-in provider's UserInfo endpoint,
standing in for NHS CIS2), one that endpoint accepts; and one without a TraceID that is a UUID or without
IsUnscheduledAccessEvent true or false (400). Every request it answered is kept in `seen` (trace id, the header's
value, the NHS number), so a test can say what NeoSafe sent. NHS numbers in `malformed` are answered with a Bundle
that is not FHIR's shape. `neosafe demo` runs it as its cpis source, accepting a token made for the run, which
NeoSafe gives demo sign-ins only (sandbox/demo.py).
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
) -> Starlette:
    """The CP-IS API as an ASGI app; `app.state.seen` lists each CareTeam search it answered. With
    `metadata_needs_token`, /metadata too refuses a request without a token it accepts, as a gateway may."""
    seen: list[dict[str, Any]] = []

    accepted = user_token_check(tokens, userinfo_url)

    async def metadata(request: Request) -> JSONResponse:
        if metadata_needs_token and not await accepted(request):
            return needs_user_token()
        return capability_statement("CP-IS", "CareTeam", "search-type")

    async def care_team(request: Request) -> JSONResponse:
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
        seen.append({"trace_id": trace_id, "unscheduled": unscheduled, "nhs_number": number})
        if number in malformed:
            return JSONResponse(MALFORMED_BUNDLE, media_type=FHIR_JSON)
        found = teams.get(number, [])
        return searchset([{"fullUrl": f"{request.base_url}CareTeam/{t['id']}", "resource": t} for t in found])

    app = Starlette(routes=[Route("/metadata", metadata), Route("/CareTeam", care_team)])
    app.state.seen = seen
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

    def app(self) -> Starlette:
        return cpis_app(
            teams={**care_teams_of_families(self.families_dir), **self.extra_teams},
            tokens=self.tokens,
            malformed=self.malformed,
            userinfo_url=self.userinfo_url,
            metadata_needs_token=self.metadata_needs_token,
        )
