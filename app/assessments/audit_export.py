"""The audit trail in the FHIR record: each local audit record sent once as an R4 AuditEvent.

NeoSafe writes its audit trail locally first (every view and change, in the same place as the data), then
sends it on in batches, so the trust's EPR and its security monitoring see who looked at which baby's
safeguarding data. Each AuditEvent is a conditional create on the local record's key (R4 AuditEvent has no
identifier, so the key is a tag), so a batch sent twice after a lost answer creates nothing twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import update
from sqlmodel import col, select

from app.fhir_systems import AUDIT_ACTION_SYSTEM, NHS_NUMBER_SYSTEM, SDS_USER_ID_SYSTEM, SECURITY_SOURCE_TYPE_SYSTEM
from app.picture import RESTRICTED_LABEL
from app.sources import FhirClient

from .bundle import WRITE_KEY_SYSTEM, full_url
from .db import SessionFactory
from .fitting import fitted
from .models import AuditEvent

__all__ = ["audit_event", "export_audit"]

DICOM = "http://dicom.nema.org/resources/ontology/DCM"
READS = ("view", "download", "api-view", "api-list")


def audit_event(event: AuditEvent) -> dict[str, Any]:
    """The R4 AuditEvent for one local record: who, what, about which baby (by NHS number), and how it ended."""
    signing_in = event.action == "sign-in"
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "meta": {
            "security": [RESTRICTED_LABEL],
            "tag": [{"system": WRITE_KEY_SYSTEM, "code": f"audit/{event.id}"}],
        },
        "type": {"system": DICOM, "code": "110114", "display": "User Authentication"}
        if signing_in
        else {"system": DICOM, "code": "110110", "display": "Patient Record"},
        "subtype": [{"system": AUDIT_ACTION_SYSTEM, "code": event.action}],
        "action": "R" if event.action.startswith(READS) else "E",
        "recorded": event.at.isoformat(),
        "outcome": "0" if event.outcome == "success" else "4",
        "agent": [
            {
                "who": {"identifier": {"system": SDS_USER_ID_SYSTEM, "value": event.user_id}},
                "role": [{"text": event.role}],
                "requestor": True,
            }
        ],
        "source": {
            "observer": {"display": "NeoSafe"},
            "type": [{"system": SECURITY_SOURCE_TYPE_SYSTEM, "code": "4"}],
        },
    }
    if event.outcome != "success" and event.detail:
        resource["outcomeDesc"] = event.detail
    if event.nhs_number:
        resource["entity"] = [{"what": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": event.nhs_number}}}]
    return resource


def _entry(event: AuditEvent) -> dict[str, Any]:
    key = f"audit/{event.id}"
    return {
        "fullUrl": full_url(key),
        "resource": audit_event(event),
        "request": {"method": "POST", "url": "AuditEvent", "ifNoneExist": f"_tag={WRITE_KEY_SYSTEM}|{key}"},
    }


async def export_audit(sessions: SessionFactory, client: FhirClient, *, now: datetime, batch: int = 200) -> int:
    """Send the oldest records not yet sent, one transaction per batch; returns how many were sent. A failure
    raises (SourceError) and leaves them to be sent next time."""
    sent = 0
    while True:
        async with sessions() as session:
            events = list(
                (
                    await session.exec(
                        select(AuditEvent)
                        .where(col(AuditEvent.exported_at).is_(None))
                        .order_by(AuditEvent.id)
                        .limit(batch)
                    )
                ).all()
            )
        if not events:
            return sent
        bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [_entry(e) for e in events]}
        await client.transaction(await fitted(client, bundle))
        async with sessions() as session:
            ids = [e.id for e in events]
            await session.exec(update(AuditEvent).where(col(AuditEvent.id).in_(ids)).values(exported_at=now))
            await session.commit()
        sent += len(events)
