"""The handover as a FHIR R4 message Bundle, in the shape GP Connect Send Document specifies.

Followed: GP Connect Messaging, Send Document, Generic payload (nhsconnect/gpconnect-messaging,
pages/senddocument/generic/, as published in 2024): an ITK3 message over MESH with workflow ID
GPFED_CONSULT_REPORT (business acknowledgements come back on GPFED_CONSULT_REPORT_ACK), whose payload carries the
patient and the document as a Binary attachment. That specification's resources are STU3 (ITK-Document-Bundle,
CareConnect profiles); NeoSafe writes their R4 counterparts: a Bundle of type message whose first entry is the
MessageHeader (focus: the DocumentReference), then the Patient, the DocumentReference (its PDF content pointing
at the Binary in the Bundle) and the PDF as Binary. An amended handover's message says which it replaces: the
DocumentReference relatesTo `replaces` the first message's document, and the MessageHeader's definition names it.
"""

from __future__ import annotations

import uuid
from typing import Any

__all__ = ["ACK_WORKFLOW", "WORKFLOW", "acknowledged_message_id", "handover_message", "message_id_of"]

WORKFLOW = "GPFED_CONSULT_REPORT"
ACK_WORKFLOW = "GPFED_CONSULT_REPORT_ACK"
# GP Connect Send Document fixes the event: ITK007C "ITK GP Connect Send Document", from ITK-MessageEvent-2 (the
# receiver answers any other event with ITK3 response code 10008). The code system keeps its STU3 URL in R4 use too.
ITK_EVENT = {
    "system": "https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2",
    "code": "ITK007C",
    "display": "ITK GP Connect Send Document",
}
_NAMESPACE = uuid.UUID("0b7c5a0e-3f7e-4f0a-9d55-7d6f2a1f4c21")


def message_id_of(delivery_id: str) -> str:
    """The MessageHeader id for a delivery: stable, so a resend after a lost answer is the same message."""
    return str(uuid.uuid5(_NAMESPACE, delivery_id))


def handover_message(
    *,
    delivery_id: str,
    patient: dict[str, Any],
    document: dict[str, Any],
    sender: dict[str, str],
    recipient: dict[str, str],
    replaces: str | None,
    now: str,
) -> dict[str, Any]:
    """The message for one delivery. `sender` / `recipient`: name and ods_code; `replaces`: the delivery id of the
    message this one replaces (an amendment), or None."""
    header_id = message_id_of(delivery_id)
    urls = {kind: f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{delivery_id}/{kind}')}" for kind in ("pt", "doc", "pdf")}
    pdf = next(c["attachment"] for c in document["content"] if c["attachment"].get("contentType") == "application/pdf")
    doc = {
        **{k: v for k, v in document.items() if k not in ("id", "meta", "content", "subject")},
        "meta": {"security": (document.get("meta") or {}).get("security", [])},
        "subject": {"reference": urls["pt"], "identifier": document["subject"].get("identifier")},
        "custodian": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": sender["ods_code"]}
        },
        "content": [{"attachment": {"contentType": "application/pdf", "url": urls["pdf"], "title": pdf.get("title")}}],
    }
    header: dict[str, Any] = {
        "resourceType": "MessageHeader",
        "id": header_id,
        "eventCoding": ITK_EVENT,
        "destination": [
            {
                "name": recipient["name"],
                "endpoint": f"urn:nhs-uk:addressing:ods:{recipient['ods_code']}",
                "receiver": {
                    "identifier": {
                        "system": "https://fhir.nhs.uk/Id/ods-organization-code",
                        "value": recipient["ods_code"],
                    }
                },
            }
        ],
        "sender": {
            "identifier": {"system": "https://fhir.nhs.uk/Id/ods-organization-code", "value": sender["ods_code"]},
            "display": sender["name"],
        },
        "source": {"name": "NeoSafe", "endpoint": f"urn:nhs-uk:addressing:ods:{sender['ods_code']}"},
        "reason": {"text": "Neonatal safeguarding discharge handover"},
        "focus": [{"reference": urls["doc"]}],
    }
    if replaces:
        replaced = message_id_of(replaces)
        header["definition"] = f"urn:uuid:{replaced}"
        doc["relatesTo"] = [
            {
                "code": "replaces",
                "target": {"identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{replaced}"}},
            }
        ]
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid5(_NAMESPACE, f"{delivery_id}/bundle")),
        "meta": {"security": doc["meta"]["security"]},
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{header_id}"},
        "type": "message",
        "timestamp": now,
        "entry": [
            {"fullUrl": f"urn:uuid:{header_id}", "resource": header},
            {"fullUrl": urls["pt"], "resource": {k: v for k, v in patient.items() if k != "meta"}},
            {"fullUrl": urls["doc"], "resource": doc},
            {
                "fullUrl": urls["pdf"],
                "resource": {"resourceType": "Binary", "contentType": "application/pdf", "data": pdf["data"]},
            },
        ],
    }


def acknowledged_message_id(ack: dict[str, Any]) -> tuple[str, str, str | None] | None:
    """From a business acknowledgement (a message Bundle whose MessageHeader.response answers ours): the message id
    it answers, its code (ok, transient-error, fatal-error) and the reason given; None if it is not one."""
    entries = ack.get("entry") or [] if isinstance(ack, dict) else []
    header = next(
        (e.get("resource") for e in entries if (e.get("resource") or {}).get("resourceType") == "MessageHeader"), None
    )
    response = (header or {}).get("response") or {}
    if not response.get("identifier"):
        return None
    details = (response.get("details") or {}).get("display") if isinstance(response.get("details"), dict) else None
    return response["identifier"], response.get("code") or "ok", details
