"""PDS (the Personal Demographics Service) asked in its own shape: the Patient by NHS number, and its RelatedPersons.

NHS England's PDS FHIR API is user-restricted here: every request carries the signed-in clinician's NHS CIS2 access
token (never application credentials), a fresh `X-Request-ID` (a UUID, which PDS requires) and, where the source
names the unit's ODS code, `NHSD-End-User-Organisation-ODS`.
"""

from __future__ import annotations

from fhir.resources.R4B.resource import Resource

from .client import FhirClient, SearchResult

__all__ = ["pds_patient", "pds_related_people"]


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
