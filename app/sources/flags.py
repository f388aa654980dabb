"""NHS England's Patient Flags API asked in its own shape: Flag by bare NHS number.

The API is user-restricted: every request carries the signed-in clinician's NHS CIS2 access token (never application
credentials) and a fresh `X-Request-ID` (a UUID), kept so that a request can be traced with NHS England.
"""

from __future__ import annotations

from .client import FhirClient, SearchResult

__all__ = ["flags"]


async def flags(
    client: FhirClient, nhs_number: str, *, token: str, request_id: str, codes: tuple[str, ...] = ()
) -> SearchResult:
    """`GET Flag?patient=<bare NHS number>` (and `code=` when `codes` names any), with the user's token."""
    headers = {"Authorization": f"Bearer {token}", "X-Request-ID": request_id}
    params: dict[str, str | list[str]] = {"patient": nhs_number}
    if codes:
        params["code"] = ",".join(codes)
    return await client.search("Flag", params, max_pages=1, headers=headers)
