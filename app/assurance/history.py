"""What the assurance figures are computed from: NeoSafe's own tables, read in SQL that SQLite and PostgreSQL both run.

Never the FHIR servers: the figures are what NeoSafe holds (the stored assessments, the rows of what each says kept
with it (app.assessments.facts), the hold overrides and the audit trail), so the same period gives the same numbers
whichever source is down. Only portable SQL: column comparisons, IN, EXISTS, UNION ALL, MIN and GROUP BY. Which answer
matches which outcome is decided in SQL (app.assurance.answers); the month of a row is placed in Python (the unit's
calendar), and no stored response is parsed.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from app.assessments import Assessment, AuditEvent, HoldOverride, SessionFactory, TaskState, WatchedBaby, as_utc
from app.forms import Measure

from .answers import Picture, RaisedTask, matched_answers, sources_answered, sources_not_answered, tasks_of

__all__ = ["Checklist", "Closure", "Cosignature", "History", "Override", "read_history"]

CHUNK = 500  # NHS numbers per IN (...): well inside every driver's limit on bound parameters
COSIGNED = "cosign"  # the audit action the co-signature use case writes once the new version is stored


@dataclass(frozen=True)
class Checklist:
    """One checklist as first completed (its first version's time), counted with the answers of its latest version."""

    record_id: str  # the first version's id
    latest_id: str
    nhs_number: str
    checkpoint: str
    completed_at: datetime
    versions: tuple[str, ...] = ()  # every version's id, first first


@dataclass(frozen=True)
class Override:
    nhs_number: str
    assessment_id: str
    finding: str
    reason: str
    user_name: str
    role: str
    at: datetime


@dataclass(frozen=True)
class Closure:
    """What the watch job last saw of a Task in the write-back source (app.assessments.task_states)."""

    status: str
    closed_at: datetime | None
    closed_from: str | None  # "lastModified" | "seen"
    checked_at: datetime


@dataclass(frozen=True)
class Cosignature:
    nhs_number: str
    role: str
    at: datetime


@dataclass(frozen=True)
class History:
    checklists: list[Checklist]  # first completed in the period
    first_seen: dict[str, datetime]  # NHS number -> NeoSafe's first sight of the baby (audit trail, watch baseline)
    watched: frozenset[str]  # babies the watch job found on the unit's census
    overrides: list[Override]
    cosignatures: list[Cosignature]
    # measure key -> (latest version's id, outcome key) for each matching answer, in the order the response has them
    answers: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    tasks: list[RaisedTask] = field(default_factory=list)  # written by the versions of the period's checklists
    pictures: list[Picture] = field(default_factory=list)  # each source unavailable (or in part), version by version
    sources_answered: dict[tuple[str, str], int] = field(default_factory=dict)  # (source, month) -> versions answered
    closures: dict[str, Closure] = field(default_factory=dict)  # Task key -> as last seen; none: never seen yet


def _chunks(values: Iterable[str]) -> Iterable[list[str]]:
    values = sorted(set(values))
    for i in range(0, len(values), CHUNK):
        yield values[i : i + CHUNK]


async def read_history(
    sessions: SessionFactory, start: datetime, end: datetime, measures: Iterable[Measure] = ()
) -> History:
    """Everything the figures for [start, end) need, with the answers each of `measures` counts. Amendments come
    after what they amend, so every version of a checklist first completed in the period is created at or after
    `start`; the latest (even after `end`) counts."""
    async with sessions() as session:
        rows = (
            await session.exec(
                select(
                    Assessment.id,
                    Assessment.amends,
                    Assessment.nhs_number,
                    Assessment.checkpoint,
                    Assessment.created_at,
                ).where(col(Assessment.created_at) >= start)
            )
        ).all()
        answers = {m.key: await matched_answers(session, m, start) for m in measures}
        tasks = await tasks_of(session, start)
        not_answered = await sources_not_answered(session, start)
        answered = await sources_answered(session, start, end)
        watched = {
            n: as_utc(t)
            for n, t in (
                await session.exec(
                    select(WatchedBaby.nhs_number, WatchedBaby.taken_at).where(col(WatchedBaby.taken_at) < end)
                )
            ).all()
        }
        numbers = {r.nhs_number for r in rows} | set(watched)
        first_audit: dict[str, datetime] = {}
        for chunk in _chunks(numbers):
            for number, at in (
                await session.exec(
                    select(AuditEvent.nhs_number, func.min(AuditEvent.at))
                    .where(col(AuditEvent.nhs_number).in_(chunk))
                    .group_by(AuditEvent.nhs_number)
                )
            ).all():
                first_audit[number] = as_utc(at)
        overrides = (
            await session.exec(
                select(HoldOverride, Assessment.nhs_number)
                .join(Assessment, col(Assessment.id) == col(HoldOverride.record_id))
                .where(col(HoldOverride.at) >= start)
                .where(col(HoldOverride.at) < end)
                .order_by(col(HoldOverride.at))
            )
        ).all()
        cosigned = (
            await session.exec(
                select(AuditEvent.nhs_number, AuditEvent.role, AuditEvent.at)
                .where(col(AuditEvent.action) == COSIGNED)
                .where(col(AuditEvent.outcome) == "success")
                .where(col(AuditEvent.at) >= start)
                .where(col(AuditEvent.at) < end)
            )
        ).all()
        checklists = _checklists(rows, start, end)
        versions = {v for c in checklists for v in c.versions}
        closures: dict[str, Closure] = {}
        for chunk in _chunks(t.key for t in tasks if t.assessment_id in versions):
            for state in (await session.exec(select(TaskState).where(col(TaskState.key).in_(chunk)))).all():
                closed = as_utc(state.closed_at) if state.closed_at else None
                closures[state.key] = Closure(state.status, closed, state.closed_from, as_utc(state.checked_at))
    first_seen = {n: min(t for t in (first_audit.get(n), watched.get(n)) if t) for n in numbers}
    latest = {c.latest_id for c in checklists}
    return History(
        checklists=checklists,
        first_seen=first_seen,
        watched=frozenset(watched),
        overrides=[
            Override(n, o.assessment_id, o.finding, o.reason, o.user_name, o.role, as_utc(o.at)) for o, n in overrides
        ],
        cosignatures=[Cosignature(n or "", role, as_utc(at)) for n, role, at in cosigned],
        answers={key: [(a, o) for a, o in found if a in latest] for key, found in answers.items()},
        tasks=[t for t in tasks if t.assessment_id in versions],
        pictures=_pictures(rows, not_answered, start, end),
        sources_answered=answered,
        closures=closures,
    )


def _pictures(rows: list[Any], statuses: list[tuple[str, str, str]], start: datetime, end: datetime) -> list[Picture]:
    """Each source not answering (in full) in each version stored in [start, end), in the order they were stored."""
    stored = {r.id: (r.nhs_number, at) for r in rows if start <= (at := as_utc(r.created_at)) < end}
    found = [Picture(id_, *stored[id_], source, status) for id_, source, status in statuses if id_ in stored]
    return sorted(found, key=lambda p: p.at)


def _checklists(rows: list[Any], start: datetime, end: datetime) -> list[Checklist]:
    """Each chain of versions as one checklist: first completed in [start, end), answered as its latest version."""
    by_id = {r.id: r for r in rows}
    latest: dict[str, Any] = {}
    chains: dict[str, list[str]] = {}
    for row in sorted(rows, key=lambda r: as_utc(r.created_at)):
        root = row
        while root.amends is not None and root.amends in by_id:
            root = by_id[root.amends]
        if root.amends is None:  # a chain whose first version is before `start` belongs to an earlier period
            latest[root.id] = row
            chains.setdefault(root.id, []).append(row.id)
    return [
        Checklist(
            record_id=root_id,
            latest_id=last.id,
            nhs_number=root.nhs_number,
            checkpoint=root.checkpoint,
            completed_at=as_utc(root.created_at),
            versions=tuple(chains[root_id]),
        )
        for root_id, last in latest.items()
        if start <= as_utc((root := by_id[root_id]).created_at) < end
    ]
