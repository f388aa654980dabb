"""CP-IS (Child Protection - Information Sharing) asked in its own shape: CareTeam by NHS number.

NHS England's CP-IS FHIR API is user-restricted: every request carries the signed-in clinician's NHS CIS2 access
token (never application credentials), a fresh `TraceID` and `IsUnscheduledAccessEvent` (true: CP-IS records the
access in the child's access history and notifies the local authority; false: scheduled care, not recorded).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.fhir_systems import NHS_NUMBER_SYSTEM

from .client import FhirClient, SearchResult

__all__ = ["CpisRequest", "care_teams", "new_cpis_request"]


@dataclass(frozen=True)
class CpisRequest:
    """One request made of CP-IS: its trace id and the IsUnscheduledAccessEvent sent, for NeoSafe's audit."""

    trace_id: str
    unscheduled: bool


def new_cpis_request(*, unscheduled: bool) -> CpisRequest:
    """A request about to be made: a fresh TraceID (a UUID) and the IsUnscheduledAccessEvent to send."""
    return CpisRequest(trace_id=str(uuid.uuid4()), unscheduled=unscheduled)


async def care_teams(client: FhirClient, nhs_number: str, *, token: str, request: CpisRequest) -> SearchResult:
    """`GET CareTeam?patient:identifier=<NHS number system>|<number>` with the user's token and both headers."""
    headers = {
        "Authorization": f"Bearer {token}",
        "TraceID": request.trace_id,
        "IsUnscheduledAccessEvent": "true" if request.unscheduled else "false",
    }
    params = {"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}"}
    return await client.search("CareTeam", params, max_pages=1, headers=headers)
