"""The ways a handover reaches a recipient, behind one interface: MESH (mesh-client) and a FHIR endpoint.

A channel sends one message and says what it knows of its arrival. Failures are a `NotSent` (with whether trying
again may help); credentials go only to the channel's own origin and never into a log or an error text.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from mesh_client import MeshClient
from requests import RequestException

from app.config import Settings

from .message import ACK_WORKFLOW, WORKFLOW, acknowledged_message_id

__all__ = ["Arrival", "Channel", "FhirEndpointChannel", "MeshChannel", "NotSent", "Outgoing"]


class NotSent(Exception):
    """The message did not go: `reason` in words (no secrets, no patient data), `transient` if a retry may help."""

    def __init__(self, reason: str, *, transient: bool = True) -> None:
        super().__init__(reason)
        self.reason, self.transient = reason, transient


@dataclass(frozen=True)
class Outgoing:
    """One message for one recipient: the message Bundle (MESH) or the resources to POST (FHIR endpoint)."""

    address: str  # mailbox id or base URL
    delivery_id: str
    subject: str  # MESH subject: no patient identifiers (it is visible to MESH operators)
    message: dict[str, Any]  # the message Bundle
    transaction: dict[str, Any]  # the DocumentReference and Communication, for a FHIR endpoint


@dataclass(frozen=True)
class Arrival:
    """What is known of a sent message: `delivered` (downloaded by the recipient), `acknowledged` (the recipient's
    business acknowledgement, ok or not), `failed` with the reason."""

    state: str  # sent | delivered | acknowledged | failed
    reason: str | None = None


class Channel(Protocol):
    name: str

    async def send(self, outgoing: Outgoing) -> str:
        """Send; returns the channel's id for the message. Raises NotSent."""

    async def arrival(self, message_id: str) -> Arrival:
        """What the channel knows now of the message `message_id`."""

    async def acknowledgements(self) -> dict[str, tuple[str, str | None]]:
        """Business acknowledgements received since the last call: our MessageHeader id -> (code, reason)."""


class MeshChannel:
    """MESH via mesh-client (synchronous: each call in a thread). The unit's mailbox sends; tracking says when the
    recipient downloaded it; acknowledgements arrive in the unit's inbox on the ACK workflow."""

    name = "mesh"

    def __init__(self, settings: Settings) -> None:
        cert = (str(settings.mesh_cert_file), str(settings.mesh_key_file)) if settings.mesh_cert_file else None
        self._open = lambda: MeshClient(
            settings.mesh_url or "",
            settings.mesh_mailbox,
            settings.mesh_password,
            shared_key=settings.mesh_shared_key.encode(),
            cert=cert,
            verify=str(settings.mesh_ca_file) if settings.mesh_ca_file else None,
            max_retries=0,  # the delivery table retries, with its backoff
            timeout=60,
            application_name="NeoSafe",
        )

    async def _call(self, work):
        def run():
            with self._open() as client:
                return work(client)

        try:
            return await asyncio.to_thread(run)
        except RequestException as exc:  # no connection, timeout, 5xx: the text names no secret
            status = getattr(getattr(exc, "response", None), "status_code", None)
            raise NotSent(f"MESH unreachable or refused ({status or type(exc).__name__})") from None
        except Exception as exc:  # mesh_client.MeshError: the MESH error's message, e.g. an unregistered address
            raise NotSent(f"MESH refused the message: {exc.args[0] if exc.args else type(exc).__name__}") from None

    async def send(self, outgoing: Outgoing) -> str:
        body = json.dumps(outgoing.message).encode()
        return await self._call(
            lambda c: c.send_message(
                outgoing.address,
                body,
                workflow_id=WORKFLOW,
                subject=outgoing.subject,
                local_id=outgoing.delivery_id,
                content_type="application/fhir+json",
            )
        )

    async def arrival(self, message_id: str) -> Arrival:
        tracked = await self._call(lambda c: c.track_message(message_id))
        status = (tracked.get("status") or "").lower()
        if status == "acknowledged":
            return Arrival("delivered")
        if status in ("undeliverable", "error", "expired"):
            return Arrival("failed", f"MESH: {status}")
        return Arrival("sent")

    async def acknowledgements(self) -> dict[str, tuple[str, str | None]]:
        def read(client: MeshClient) -> dict[str, tuple[str, str | None]]:
            found = {}
            for message_id in client.list_messages(workflow_filter=ACK_WORKFLOW):
                message = client.retrieve_message(message_id)
                try:
                    answered = acknowledged_message_id(json.loads(message.read()))
                except ValueError:
                    answered = None
                if answered:
                    found[answered[0]] = (answered[1], answered[2])
                message.acknowledge()
            return found

        return await self._call(read)


class FhirEndpointChannel:
    """A recipient's FHIR R4 server: the DocumentReference and Communication POSTed as one transaction; its answer
    is the arrival (a transaction either happened or not), so a 2xx is delivered and acknowledged at once."""

    name = "fhir"

    def __init__(self, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self._transport = transport

    async def send(self, outgoing: Outgoing) -> str:
        async with httpx.AsyncClient(transport=self._transport, timeout=60, follow_redirects=False) as http:
            try:
                response = await http.post(
                    outgoing.address.rstrip("/"),
                    json=outgoing.transaction,
                    headers={"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"},
                )
            except httpx.HTTPError as exc:
                raise NotSent(f"FHIR endpoint unreachable ({type(exc).__name__})") from None
        if response.status_code >= 300:
            transient = response.status_code in (408, 429) or response.status_code >= 500
            raise NotSent(f"FHIR endpoint answered HTTP {response.status_code}", transient=transient)
        entries = response.json().get("entry") or []
        return ((entries[0].get("response") or {}).get("location") or "written") if entries else "written"

    async def arrival(self, message_id: str) -> Arrival:
        return Arrival("acknowledged")

    async def acknowledgements(self) -> dict[str, tuple[str, str | None]]:
        return {}
