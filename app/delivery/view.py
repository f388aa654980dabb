"""The handover page's view of each recipient's delivery: its status in words and when each step happened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from app.assessments import SessionFactory
from app.checkpoints.schedule import fhir_instant

from .engine import deliveries_of
from .models import Delivery

__all__ = ["Shown", "shown_deliveries", "shown_delivery"]

STATUS = {  # state -> (words, NHS tag colour)
    "queued": ("Waiting to send", "blue"),
    "retrying": ("Not sent yet: retrying", "orange"),
    "sent": ("Sent", "blue"),
    "delivered": ("Delivered", "green"),
    "acknowledged": ("Acknowledged", "green"),
    "failed": ("Not delivered: send by another means", "red"),
    "not-reachable": ("Not reachable: send by another means", "red"),
}
CHANNELS = {"mesh": "MESH mailbox", "fhir": "FHIR endpoint", "none": "no route"}


@dataclass(frozen=True)
class Shown:
    recipient: str
    kind: str
    channel: str
    address: str
    status: str
    colour: str
    sent_at: datetime | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    reason: str | None  # why it is not (yet) delivered
    replacement: bool  # an amended handover, sent in place of the first


def _aware(value: datetime | None) -> datetime | None:
    return fhir_instant(value) if value is not None else None  # SQLite gives UTC back naive


def shown_delivery(row: Delivery) -> Shown:
    words, colour = STATUS.get(row.state, (row.state, "grey"))
    return Shown(
        recipient=row.recipient,
        kind=row.kind.replace("-", " "),
        channel=CHANNELS.get(row.channel, row.channel),
        address=row.address or "",
        status=words,
        colour=colour,
        sent_at=_aware(row.sent_at),
        delivered_at=_aware(row.delivered_at),
        acknowledged_at=_aware(row.acknowledged_at),
        reason=row.last_error if row.state in ("retrying", "failed", "not-reachable") else None,
        replacement=row.replaces is not None,
    )


async def shown_deliveries(sessions: SessionFactory, record_ids: list[str]) -> list[Shown]:
    """Each recipient of these handovers (their newest version's delivery), for templates/_deliveries.html."""
    return [shown_delivery(row) for row in await deliveries_of(sessions, record_ids)]
