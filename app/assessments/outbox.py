"""Deliver outbox entries to the write-back source as FHIR transactions, exactly once in effect.

Each send is preceded by a claim: a conditional UPDATE that only one worker can win, with a lease, so
two NeoSafe processes never send the same entry at once, and an entry whose worker was killed mid-send
is picked up again when the lease runs out. A resend after a lost response creates nothing new on the
server: every entry is a conditional create on a stable key (see bundle.py).

Transient failures (no connection, timeout, 429, 5xx, a garbled answer) are retried with exponential
backoff and jitter, honouring Retry-After; a refusal (other 4xx) stops and needs a person's attention.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlmodel import col, func, select

from app.sources import FhirClient, SourceDataError, SourceError

from .audit_export import export_audit
from .db import SessionFactory
from .fitting import fitted
from .models import Assessment, OutboxEntry, utcnow
from .periodic import every

__all__ = [
    "LEASE",
    "Backoff",
    "OutboxWorker",
    "claim",
    "deliver",
    "deliver_due",
    "due_targets",
    "outbox_counts",
    "resend",
    "targets_written",
]

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=2)
SENDABLE = ("queued", "retrying")


@dataclass(frozen=True)
class Backoff:
    """Waits between tries: `base` doubling per attempt up to `most`, with jitter, never less than Retry-After."""

    base: timedelta = timedelta(seconds=15)
    most: timedelta = timedelta(minutes=30)

    def after(self, attempts: int, retry_after_s: float | None, *, rng: random.Random | None = None) -> timedelta:
        """How long to wait before attempt `attempts + 1`."""
        exponential = min(self.base * 2 ** max(attempts - 1, 0), self.most)
        wait = exponential * (rng or random).uniform(0.5, 1.0)
        if retry_after_s is not None:
            wait = max(wait, timedelta(seconds=retry_after_s))
        return wait


async def claim(
    sessions: SessionFactory, entry_id: str, *, worker: str, now: datetime, lease: timedelta = LEASE
) -> bool:
    """Take the entry for `worker` for `lease` if it is due and nobody holds it; only one claimant can win."""
    async with sessions() as session:
        result = await session.exec(
            update(OutboxEntry)
            .where(col(OutboxEntry.id) == entry_id)
            .where(col(OutboxEntry.state).in_(SENDABLE))
            .where(col(OutboxEntry.next_attempt_at) <= now)
            .where(or_(col(OutboxEntry.claimed_until).is_(None), col(OutboxEntry.claimed_until) < now))
            .values(claimed_by=worker, claimed_until=now + lease)
        )
        await session.commit()
        return result.rowcount == 1


def _server_ids(response: dict) -> list[str]:
    return [(e.get("response") or {}).get("location", "").split("/_history")[0] for e in response.get("entry") or []]


async def _earlier_version_unsent(session, assessment_id: str) -> bool:
    assessment = await session.get(Assessment, assessment_id)
    if assessment is None or assessment.amends is None:
        return False
    earlier = (await session.exec(select(OutboxEntry).where(OutboxEntry.assessment_id == assessment.amends))).first()
    return earlier is not None and earlier.state != "sent"


async def _finish(sessions: SessionFactory, entry_id: str, *, attempts_delta: int = 1, **changes) -> str:
    """Record what happened to a send and let go of the claim."""
    async with sessions() as session:
        entry = await session.get(OutboxEntry, entry_id)
        entry.attempts += attempts_delta
        for key, value in {**changes, "claimed_by": None, "claimed_until": None}.items():
            setattr(entry, key, value)
        session.add(entry)
        await session.commit()
        return entry.state


async def deliver(
    sessions: SessionFactory,
    client: FhirClient,
    entry_id: str,
    *,
    worker: str,
    now: datetime,
    backoff: Backoff,
    lease: timedelta,
) -> str:
    """Claim and send one entry; returns its state afterwards (unchanged if another worker holds it).

    `now`, `backoff` and `lease` have no defaults: every caller passes the configured ones and its own clock.
    """
    if not await claim(sessions, entry_id, worker=worker, now=now, lease=lease):
        async with sessions() as session:
            entry = await session.get(OutboxEntry, entry_id)
            return entry.state if entry else "missing"
    async with sessions() as session:
        entry = await session.get(OutboxEntry, entry_id)
        bundle = json.loads(entry.bundle_json)
        if await _earlier_version_unsent(session, entry.assessment_id):
            # an amendment waits for the version it amends, so the record ends with the latest answers
            return await _finish(
                sessions, entry_id, state=entry.state, next_attempt_at=now + backoff.base, attempts_delta=0
            )
    try:
        response = await client.transaction(await fitted(client, bundle))
    except SourceError as exc:
        retry = exc.transient or isinstance(exc, SourceDataError)  # resending is safe: creates are conditional
        log.warning("outbox entry %s not delivered (%s): %s", entry_id, type(exc).__name__, exc.reason)
        async with sessions() as session:
            attempts = (await session.get(OutboxEntry, entry_id)).attempts + 1
        return await _finish(
            sessions,
            entry_id,
            state="retrying" if retry else "needs-attention",
            last_error=exc.reason,
            next_attempt_at=now + backoff.after(attempts, exc.retry_after_s) if retry else now,
        )
    return await _finish(
        sessions,
        entry_id,
        state="sent",
        sent_at=now,
        last_error=None,
        server_ids_json=json.dumps(_server_ids(response)),
    )


async def deliver_due(
    sessions: SessionFactory,
    client: FhirClient,
    *,
    worker: str,
    now: datetime | None = None,
    limit: int = 100,
    backoff: Backoff = Backoff(),
    lease: timedelta = LEASE,
    target: str | None = None,
) -> int:
    """One pass: try every entry that is due and unclaimed, oldest first; returns how many were tried. Only the
    entries whose target is `target` (None: the write_back source's): `client` must be that source's."""
    now = now or utcnow()
    async with sessions() as session:
        rows = await session.exec(
            select(OutboxEntry.id)
            .where(col(OutboxEntry.state).in_(SENDABLE))
            .where(col(OutboxEntry.target).is_(None) if target is None else col(OutboxEntry.target) == target)
            .where(col(OutboxEntry.next_attempt_at) <= now)
            .where(or_(col(OutboxEntry.claimed_until).is_(None), col(OutboxEntry.claimed_until) < now))
            .order_by(OutboxEntry.created_at)
            .limit(limit)
        )
        due = list(rows.all())
    for entry_id in due:
        await deliver(sessions, client, entry_id, worker=worker, now=now, backoff=backoff, lease=lease)
    return len(due)


async def due_targets(sessions: SessionFactory) -> list[str]:
    """The targets other than the write_back source (a launch's EPR) that have entries waiting to be sent."""
    async with sessions() as session:
        rows = await session.exec(
            select(OutboxEntry.target)
            .where(col(OutboxEntry.state).in_(SENDABLE))
            .where(col(OutboxEntry.target).is_not(None))
            .distinct()
        )
        return sorted(rows.all())


async def targets_written(sessions: SessionFactory) -> list[str]:
    """Every target other than the write_back source that any entry was written to (for reconciliation)."""
    async with sessions() as session:
        rows = await session.exec(select(OutboxEntry.target).where(col(OutboxEntry.target).is_not(None)).distinct())
        return sorted(rows.all())


async def resend(sessions: SessionFactory, entry_id: str, *, now: datetime | None = None) -> bool:
    """Queue an entry that needed attention again, once the cause is fixed; False if it was not waiting."""
    async with sessions() as session:
        result = await session.exec(
            update(OutboxEntry)
            .where(col(OutboxEntry.id) == entry_id)
            .where(col(OutboxEntry.state) == "needs-attention")
            .values(state="queued", next_attempt_at=now or utcnow())
        )
        await session.commit()
        return result.rowcount == 1


async def outbox_counts(sessions: SessionFactory) -> dict[str, int]:
    """How many entries are in each state."""
    async with sessions() as session:
        rows = await session.exec(select(OutboxEntry.state, func.count()).group_by(OutboxEntry.state))
        return {state: count for state, count in rows.all()}


class OutboxWorker:
    """Sends due entries every `interval_s` until stopped; stopping lets the send in flight finish."""

    def __init__(
        self,
        sessions: SessionFactory,
        client: Callable[[], FhirClient],
        *,
        worker: str,
        interval_s: float = 5.0,
        backoff: Backoff = Backoff(),
        lease: timedelta = LEASE,
        clock: Callable[[], datetime] = utcnow,
        audit: bool = False,
        targets: Callable[[str], FhirClient | None] | None = None,
    ) -> None:
        """`client`: the write_back source's; `targets`: a launch-named source's by name (None if it is gone)."""
        self.sessions, self.client, self.worker, self.targets = sessions, client, worker, targets
        self.interval_s, self.backoff, self.lease, self.clock = interval_s, backoff, lease, clock
        self.audit = audit  # also send the audit trail on as AuditEvents, after the assessments
        self.stopping = asyncio.Event()

    async def run_once(self) -> int:
        async with self.client() as client:
            delivered = await self._deliver_due(client, None)
            if self.audit:
                await export_audit(self.sessions, client, now=self.clock())
        for target in await due_targets(self.sessions) if self.targets else []:
            other = self.targets(target)
            if other is None:
                log.warning("outbox entries for %s wait: no such source in the sources file", target)
                continue
            async with other:
                delivered += await self._deliver_due(other, target)
        return delivered

    async def _deliver_due(self, client: FhirClient, target: str | None) -> int:
        """One pass over the entries due for `target` (None: the write_back source), sent with `client`."""
        return await deliver_due(
            self.sessions,
            client,
            worker=self.worker,
            now=self.clock(),
            backoff=self.backoff,
            lease=self.lease,
            target=target,
        )

    async def run(self) -> None:
        await every(self.interval_s, self.stopping, self.run_once, what="outbox pass")

    def stop(self) -> None:
        self.stopping.set()
