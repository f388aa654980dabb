"""Deliver outbox entries to the write-back source as FHIR transactions, and record what happened.

The seam every write goes through: today one pass after each submission; a retrying worker can call
`deliver_due` on a schedule without anything else changing.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from sqlmodel import col, select

from app.sources import FhirClient, SourceError

from .bundle import fit_to_server
from .db import SessionFactory
from .models import OutboxEntry, utcnow

__all__ = ["deliver", "deliver_due"]

RETRY_BASE = timedelta(seconds=30)
RETRY_MAX = timedelta(minutes=30)


def _server_ids(response: dict) -> list[str]:
    return [(e.get("response") or {}).get("location", "").split("/_history")[0] for e in response.get("entry") or []]


async def deliver(sessions: SessionFactory, client: FhirClient, entry_id: str, *, now: datetime | None = None) -> str:
    """Send one entry if it is not sent yet; returns its state afterwards."""
    async with sessions() as session:
        entry = await session.get(OutboxEntry, entry_id)
        if entry is None or entry.state == "sent":
            return entry.state if entry else "missing"
        bundle = json.loads(entry.bundle_json)
    now = now or utcnow()
    try:
        response = await client.transaction(fit_to_server(bundle, await client.capabilities()))
    except SourceError as exc:
        async with sessions() as session:
            entry = await session.get(OutboxEntry, entry_id)
            entry.attempts += 1
            entry.last_error = exc.reason
            if exc.transient:
                entry.state = "retrying"
                entry.next_attempt_at = now + min(RETRY_BASE * 2 ** (entry.attempts - 1), RETRY_MAX)
            else:
                entry.state = "needs-attention"
            session.add(entry)
            await session.commit()
            return entry.state
    async with sessions() as session:
        entry = await session.get(OutboxEntry, entry_id)
        entry.attempts += 1
        entry.state = "sent"
        entry.sent_at = now
        entry.last_error = None
        entry.server_ids_json = json.dumps(_server_ids(response))
        session.add(entry)
        await session.commit()
        return entry.state


async def deliver_due(sessions: SessionFactory, client: FhirClient, *, now: datetime | None = None) -> int:
    """One pass: send every queued or retrying entry that is due; returns how many were tried."""
    now = now or utcnow()
    async with sessions() as session:
        rows = await session.exec(
            select(OutboxEntry.id)
            .where(col(OutboxEntry.state).in_(("queued", "retrying")))
            .where(OutboxEntry.next_attempt_at <= now)
            .order_by(OutboxEntry.created_at)
        )
        due = list(rows.all())
    for entry_id in due:
        await deliver(sessions, client, entry_id, now=now)
    return len(due)
