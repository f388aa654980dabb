"""What the watch job keeps: each baby's baseline, the new information it found, and who runs it (the lease).

The lease is one row per job, taken by a conditional UPDATE (or the first INSERT) that only one instance can win,
so on SQLite and PostgreSQL alike two NeoSafe processes never both run a pass in the same interval.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from .db import SessionFactory
from .models import JobLease, NewInformation, WatchedBaby

__all__ = [
    "acknowledge_findings",
    "add_findings",
    "findings_of",
    "findings_without_task",
    "save_watched",
    "take_lease",
    "task_tried",
    "watched_babies",
]


async def take_lease(sessions: SessionFactory, name: str, *, holder: str, now: datetime, until: datetime) -> bool:
    """Hold job `name` for `holder` until `until` if nobody holds it now, itself included (so once per interval,
    whoever runs it); only one claimant can win."""
    async with sessions() as session:
        taken = await session.exec(
            update(JobLease)
            .where(col(JobLease.name) == name)
            .where(col(JobLease.until) <= now)
            .values(holder=holder, until=until)
        )
        await session.commit()
        if taken.rowcount == 1:
            return True
        if await session.get(JobLease, name) is not None:
            return False
        session.add(JobLease(name=name, holder=holder, until=until))
        try:
            await session.commit()
        except IntegrityError:  # another instance inserted it first
            return False
        return True


async def watched_babies(sessions: SessionFactory, nhs_numbers: list[str]) -> dict[str, WatchedBaby]:
    async with sessions() as session:
        rows = await session.exec(select(WatchedBaby).where(col(WatchedBaby.nhs_number).in_(nhs_numbers)))
        return {b.nhs_number: b for b in rows.all()}


async def save_watched(sessions: SessionFactory, babies: list[WatchedBaby]) -> None:
    """Keep each baby's watch state (baseline, last watched), in one transaction for a pass."""
    async with sessions() as session:
        for baby in babies:
            await session.merge(baby)
        await session.commit()


async def findings_of(
    sessions: SessionFactory, nhs_numbers: list[str], *, since: datetime | None = None, open_only: bool = True
) -> list[NewInformation]:
    """The babies' findings (not yet acknowledged, unless `open_only` is False), oldest first."""
    query = select(NewInformation).where(col(NewInformation.nhs_number).in_(nhs_numbers))
    if open_only:
        query = query.where(col(NewInformation.acknowledged_at).is_(None))
    if since is not None:
        query = query.where(col(NewInformation.found_at) >= since)
    async with sessions() as session:
        return list((await session.exec(query.order_by(NewInformation.found_at, NewInformation.id))).all())


async def add_findings(sessions: SessionFactory, findings: list[NewInformation]) -> None:
    async with sessions() as session:
        session.add_all(findings)
        await session.commit()


async def findings_without_task(sessions: SessionFactory) -> list[NewInformation]:
    """Findings whose Task has not reached the unit's record yet, oldest first: tried again each pass."""
    async with sessions() as session:
        rows = await session.exec(
            select(NewInformation)
            .where(col(NewInformation.task_written_at).is_(None))
            .order_by(NewInformation.found_at)
        )
        return list(rows.all())


async def task_tried(
    sessions: SessionFactory, finding_id: str, *, written_at: datetime | None, error: str | None
) -> None:
    async with sessions() as session:
        await session.exec(
            update(NewInformation)
            .where(col(NewInformation.id) == finding_id)
            .values(task_written_at=written_at, task_error=error)
        )
        await session.commit()


async def acknowledge_findings(
    sessions: SessionFactory, nhs_number: str, finding_ids: list[str], *, by: str, at: datetime
) -> int:
    """Mark the baby's open findings among `finding_ids` (those the nurse was shown) acknowledged by `by`; how many
    were. One found since the page was drawn stays open: nobody has seen it yet."""
    async with sessions() as session:
        result = await session.exec(
            update(NewInformation)
            .where(col(NewInformation.nhs_number) == nhs_number)
            .where(col(NewInformation.id).in_(finding_ids))
            .where(col(NewInformation.acknowledged_at).is_(None))
            .values(acknowledged_at=at, acknowledged_by=by)
        )
        await session.commit()
        return result.rowcount
