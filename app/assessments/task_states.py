"""What NeoSafe last saw of the Tasks its checklists wrote: each one's status in the write-back source, and when closed.

A person closes a Task in the FHIR record; NeoSafe hears of it only by looking. The watch job looks (app.checkpoints
.task_checking) and keeps here, per Task (keyed by the identifier NeoSafe wrote it with), the status it last saw,
when it first saw it closed and the closure's time (the Task's own `lastModified` where it gave one, else the time
NeoSafe saw it: `closed_from` says which), and when it last checked. The assurance figures read these rows, never the
FHIR server. A Task with no row has not been seen yet: unknown, never open or closed.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlmodel import Field, SQLModel, col, select

from .facts import AssessmentTask
from .models import Assessment

if TYPE_CHECKING:
    from .db import SessionFactory  # db registers these tables: imported only for the type

__all__ = [
    "CLOSED_STATUSES",
    "DONE_STATUSES",
    "NOT_DONE_STATUSES",
    "OPEN_STATUSES",
    "WITHDRAWN_STATUSES",
    "TaskState",
    "TaskSweep",
    "last_sweep",
    "save_task_states",
    "task_states",
    "tasks_written",
]

# FHIR R4 task-status, as NeoSafe reads it. Any other status is not known: never closed, never open.
OPEN_STATUSES = frozenset({"draft", "requested", "received", "accepted", "ready", "in-progress", "on-hold"})
DONE_STATUSES = frozenset({"completed"})
WITHDRAWN_STATUSES = frozenset({"cancelled", "entered-in-error"})  # nothing left to do: nobody was asked to after all
NOT_DONE_STATUSES = frozenset({"rejected", "failed"})  # closed without being done: shown apart, never as done
CLOSED_STATUSES = DONE_STATUSES | WITHDRAWN_STATUSES | NOT_DONE_STATUSES


class TaskState(SQLModel, table=True):
    """One Task NeoSafe wrote, as the watch job last saw it in the write-back source."""

    key: str = Field(primary_key=True)  # the Task's identifier value (system app.fhir_systems.TASK_ID_SYSTEM)
    status: str  # as the source last gave it (even one NeoSafe does not know: then it is read as not known)
    closed_seen_at: datetime | None = None  # when NeoSafe first saw it at its closed status (None: not closed)
    closed_at: datetime | None = None  # its lastModified at that status, or closed_seen_at where it gave none
    closed_from: str | None = None  # "lastModified" | "seen": where closed_at came from
    checked_at: datetime  # the last search that found it, or that found nothing changed since it did


class TaskSweep(SQLModel, table=True):
    """When the Task check last ran in full and last ran without a problem (one row per source)."""

    source: str = Field(primary_key=True)
    since: datetime  # the newest meta.lastUpdated (the server's clock) the last clean search found: ask after it
    full_at: datetime  # the last clean full search (every NeoSafe Task, not only those updated)
    # The last clean search, by NeoSafe's clock: the Tasks checked then are those the next search for changes vouches
    # for. None: not known (a sweep kept before migration 0016), when every kept Task is.
    checked_at: datetime | None = None


async def tasks_written(sessions: SessionFactory) -> dict[str, str]:
    """Each Task key NeoSafe's checklists wrote -> the baby it was written for (their NHS number)."""
    async with sessions() as session:
        rows = await session.exec(
            select(AssessmentTask.key, Assessment.nhs_number).join(
                Assessment, col(Assessment.id) == col(AssessmentTask.assessment_id)
            )
        )
        return dict(rows.all())


async def task_states(sessions: SessionFactory, keys: list[str] | None = None) -> dict[str, TaskState]:
    """The kept state of each Task (of `keys`, or all)."""
    query = select(TaskState)
    if keys is not None:
        query = query.where(col(TaskState.key).in_(keys))
    async with sessions() as session:
        return {s.key: s for s in (await session.exec(query)).all()}


async def last_sweep(sessions: SessionFactory, source: str) -> TaskSweep | None:
    async with sessions() as session:
        return await session.get(TaskSweep, source)


async def save_task_states(
    sessions: SessionFactory, states: list[TaskState], *, checked: list[str], at: datetime, sweep: TaskSweep | None
) -> None:
    """Keep `states`, mark `checked` (keys found unchanged) checked `at`, and the sweep: in one transaction."""
    async with sessions() as session:
        for state in states:
            await session.merge(state)
        if checked:
            for kept in (await session.exec(select(TaskState).where(col(TaskState.key).in_(checked)))).all():
                kept.checked_at = at
                session.add(kept)
        if sweep is not None:
            await session.merge(sweep)
        await session.commit()
