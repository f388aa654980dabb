"""`neosafe mesh inbox <mailbox>`: what a MESH mailbox has received, read without acknowledging (nothing is taken).

The unit's own mailbox uses NEOSAFE_MESH_PASSWORD; another (a demo recipient's) the password in the environment
variable the caller names. Passwords and the shared key go to the MESH URL only and are never printed.
"""

from __future__ import annotations

import asyncio
import json

from mesh_client import MeshClient

from app.checkpoints.pictures import nhs_number_of
from app.config import Settings

__all__ = ["inbox_lines"]


def _describe(body: bytes) -> str:
    try:
        bundle = json.loads(body)
        resources = {e["resource"]["resourceType"]: e["resource"] for e in bundle.get("entry") or []}
    except (ValueError, KeyError, TypeError, AttributeError):
        return f"{len(body)} bytes, not a FHIR message"
    patient = resources.get("Patient") or {}
    number = nhs_number_of(patient) or "?"
    document = resources.get("DocumentReference") or {}
    replaces = " (replacement)" if document.get("relatesTo") else ""
    pdf = len((resources.get("Binary") or {}).get("data") or "") * 3 // 4
    return f"NHS number {number}: {document.get('description') or 'a FHIR message'}{replaces}; PDF {pdf} bytes"


async def inbox_lines(settings: Settings, mailbox: str, password: str) -> list[str]:
    """One line per message in `mailbox`: its id, workflow, sender and what it carries."""

    def read() -> list[str]:
        with MeshClient(
            settings.mesh_url or "",
            mailbox,
            password,
            shared_key=settings.mesh_shared_key.encode(),
            cert=(str(settings.mesh_cert_file), str(settings.mesh_key_file)) if settings.mesh_cert_file else None,
            verify=str(settings.mesh_ca_file) if settings.mesh_ca_file else None,
            max_retries=0,
        ) as client:
            lines = []
            for message_id in client.list_messages():
                message = client.retrieve_message(message_id)  # not acknowledged: it stays in the inbox
                headers = dict(message.mex_headers())
                lines.append(
                    f"{message_id}  {headers.get('workflowid', '')}  from {headers.get('from', '?')}  "
                    f"{_describe(message.read())}"
                )
            return lines or [f"{mailbox}: no messages"]

    return await asyncio.to_thread(read)
