"""PDS (the Personal Demographics Service) asked in its own shape: the Patient by NHS number, its RelatedPersons, and
a search by demographics (a trace).

NHS England's PDS FHIR API is user-restricted here: every request carries the signed-in clinician's NHS CIS2 access
token (never application credentials), a fresh `X-Request-ID` (a UUID, which PDS requires) and, where the source
names the unit's ODS code, `NHSD-End-User-Organisation-ODS`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fhir.resources.R4B.resource import Resource

from .client import FhirClient, SearchResult, off_the_loop, parse_resource

__all__ = ["PdsTrace", "pds_patient", "pds_related_people", "pds_search"]


@dataclass
class PdsTrace:
    """A PDS search's answer: each Patient found (JSON) with its `search.score` as sent (not checked here), or
    `too_many`: PDS answered TOO_MANY_MATCHES (an OperationOutcome, with HTTP 200)."""

    matches: list[tuple[dict[str, Any], Any]] = field(default_factory=list)
    too_many: bool = False


def _headers(client: FhirClient, token: str, request_id: str) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
    if client.source.end_user_ods:
        headers["NHSD-End-User-Organisation-ODS"] = client.source.end_user_ods
    return headers


async def pds_patient(client: FhirClient, nhs_number: str, *, token: str, request_id: str) -> Resource:
    """`GET Patient/<NHS number>` with the user's token and PDS's headers (404: PDS holds no such patient)."""
    return await client.read("Patient", nhs_number, headers=_headers(client, token, request_id))


async def pds_related_people(client: FhirClient, nhs_number: str, *, token: str, request_id: str) -> SearchResult:
    """`GET Patient/<NHS number>/RelatedPerson` (a restricted patient's answer is an empty Bundle)."""
    return await client.search(
        f"Patient/{nhs_number}/RelatedPerson", {}, max_pages=1, headers=_headers(client, token, request_id)
    )


def _issue_codes(outcome: dict[str, Any]) -> set[str]:
    issues = outcome.get("issue") if isinstance(outcome.get("issue"), list) else []
    return {
        str(coding.get("code"))
        for issue in issues
        if isinstance(issue, dict) and isinstance(issue.get("details"), dict)
        for coding in issue["details"].get("coding") or []
        if isinstance(coding, dict)
    }


def _read_trace(body: dict[str, Any]) -> PdsTrace:
    """The search answer read whole (CPU work: off the loop); ValueError if any of it is not the shape PDS sends."""
    if body.get("resourceType") == "OperationOutcome" and "TOO_MANY_MATCHES" in _issue_codes(body):
        return PdsTrace(too_many=True)
    entries = body.get("entry", [])
    if body.get("resourceType") != "Bundle" or not isinstance(entries, list):
        raise ValueError("PDS search answered with something that is not a searchset Bundle")
    trace = PdsTrace()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("search", {}), dict):
            raise ValueError("PDS search answered with an entry that is not an object")
        resource = parse_resource(entry.get("resource"))
        if resource.get_resource_type() != "Patient":
            raise ValueError("PDS search answered with an entry that is not a Patient")
        trace.matches.append((resource.model_dump(mode="json"), (entry.get("search") or {}).get("score")))
    return trace


async def pds_search(client: FhirClient, params: dict[str, str], *, token: str, request_id: str) -> PdsTrace:
    """`GET Patient?<params>` (a trace by demographics) with the user's token and PDS's headers; a SourceDataError
    if the answer is not one NeoSafe can read whole (an unreadable entry is never skipped: it might be the match)."""
    body = await client._request("GET", "Patient", params=params, headers=_headers(client, token, request_id))
    try:
        return await off_the_loop(_read_trace, body)
    except ValueError as exc:  # its message may carry what PDS sent: not passed on
        raise client._data_error("search answered in a shape NeoSafe could not read", "Patient") from exc
