"""The summary as the FHIR DocumentReference NeoSafe writes with each transfer and discharge checklist.

HTML so any EPR can show it, and PDF to send on or print. It is labelled restricted (it carries
domestic-abuse and social-care detail) and filed under the UK Core record heading "safeguarding". No
SNOMED CT document type is verified for it (codes.md), so its type is text only.
"""

from __future__ import annotations

import base64
from typing import Any

from app.fhir_systems import HANDOVER_ID_SYSTEM
from app.picture import RESTRICTED_LABEL

__all__ = ["HANDOVER_ID_SYSTEM", "SUMMARIES", "handover_document"]


RECORD_HEADINGS = "https://fhir.hl7.org.uk/CodeSystem/UKCore-RecordStandardHeadings"
# Per checkpoint whose checklist writes the summary: its title, and whom it is for.
SUMMARIES = {
    "transfer": (
        "Neonatal safeguarding transfer summary",
        "For the receiving unit: the safeguarding picture and what the baby's checklists recorded, at transfer "
        "(it goes with the baby, T1).",
    ),
    "discharge": (
        "Neonatal safeguarding handover summary",
        "For the health visitor, GP, community neonatal team and midwife: the safeguarding picture and what the "
        "baby's checklists recorded, at discharge from the neonatal unit.",
    ),
}
TITLE = SUMMARIES["discharge"][0]


def _attachment(content_type: str, data: bytes, title: str, created: str) -> dict[str, Any]:
    return {
        "attachment": {
            "contentType": content_type,
            "language": "en-GB",
            "data": base64.b64encode(data).decode("ascii"),
            "title": title,
            "creation": created,
        }
    }


def handover_document(
    response: dict[str, Any], *, checkpoint: str, record_id: str, html: str, pdf: bytes | None
) -> dict[str, Any]:
    """For the transfer or discharge checklist `response` (completed, with subject, author and authored): one per
    checklist, identified by its record id, so an amendment replaces it rather than adding a second."""
    title, description = SUMMARIES[checkpoint]
    created = response["authored"]
    document: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "identifier": [{"system": HANDOVER_ID_SYSTEM, "value": f"{record_id}/handover"}],
        "status": "current",
        "type": {"text": title},
        "category": [{"coding": [{"system": RECORD_HEADINGS, "code": "safeguarding", "display": "Safeguarding"}]}],
        "subject": response["subject"],
        "date": created,
        "author": [response["author"]],
        "description": description,
        "securityLabel": [{"coding": [RESTRICTED_LABEL]}],
        "content": [_attachment("text/html", html.encode("utf-8"), title, created)]
        + ([_attachment("application/pdf", pdf, title, created)] if pdf else []),
    }
    if response.get("encounter"):
        document["context"] = {"encounter": [response["encounter"]]}
    return document
