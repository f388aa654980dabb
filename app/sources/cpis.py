"""CP-IS (Child Protection - Information Sharing) asked in its own shape: CareTeam and AuditEvent by NHS number.

NHS England's CP-IS FHIR API is user-restricted: every request carries the signed-in clinician's NHS CIS2 access
token (never application credentials), a fresh `TraceID` and `IsUnscheduledAccessEvent` (true or omitted: CP-IS
records the access in the child's access history and notifies the local authority; false: scheduled care, not
recorded). The access history (AuditEvent) is asked for as the consumer guide says, with its `_include` of the
viewer's PractitionerRole, and always as `IsUnscheduledAccessEvent: false`: it is the same access as the CareTeam
request just made, which CP-IS has recorded already if it was unscheduled care, and must not be recorded twice.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from app.fhir_systems import NHS_NUMBER_SYSTEM

from .client import FhirClient, SearchResult

__all__ = ["ACCESS_HISTORY_INCLUDE", "CpisRequest", "access_events", "care_teams", "new_cpis_request"]

# The consumer guide's search-with-includes for the access history: each viewer's PractitionerRole (v3 RoleClass
# ASSIGNED), which names them, their role and their organisation.
ACCESS_HISTORY_INCLUDE = "AuditEvent:entity-type=http://terminology.hl7.org/CodeSystem/v3-RoleClass|ASSIGNED"


@dataclass(frozen=True)
class CpisRequest:
    """One request made of CP-IS: its trace id, the IsUnscheduledAccessEvent sent and what was asked for (CareTeam,
    or AuditEvent: the access history), for NeoSafe's audit."""

    trace_id: str
    unscheduled: bool
    resource: str = "CareTeam"


def new_cpis_request(*, unscheduled: bool, resource: str = "CareTeam") -> CpisRequest:
    """A request about to be made: a fresh TraceID (a UUID) and the IsUnscheduledAccessEvent to send."""
    return CpisRequest(trace_id=str(uuid.uuid4()), unscheduled=unscheduled, resource=resource)


def _headers(token: str, request: CpisRequest) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "TraceID": request.trace_id,
        "IsUnscheduledAccessEvent": "true" if request.unscheduled else "false",
    }


async def care_teams(client: FhirClient, nhs_number: str, *, token: str, request: CpisRequest) -> SearchResult:
    """`GET CareTeam?patient:identifier=<NHS number system>|<number>` with the user's token and both headers."""
    params = {"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}"}
    return await client.search("CareTeam", params, max_pages=1, headers=_headers(token, request))


async def access_events(client: FhirClient, nhs_number: str, *, token: str, request: CpisRequest) -> SearchResult:
    """`GET AuditEvent?patient:identifier=<NHS number system>|<number>&_include=<the viewers' PractitionerRoles>`,
    the access history, with the user's token and both headers (`request` made with unscheduled=False)."""
    params = {"patient:identifier": f"{NHS_NUMBER_SYSTEM}|{nhs_number}", "_include": ACCESS_HISTORY_INCLUDE}
    return await client.search("AuditEvent", params, max_pages=1, headers=_headers(token, request))
