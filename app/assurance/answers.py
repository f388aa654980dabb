"""Which stored answers each measure counts, decided in SQL over the rows kept with each version
(app.assessments.facts), and the Tasks and sources' status those versions recorded: portable SQL only.

A measure's outcome is one SELECT (the item's answers whose value is one of the outcome's, or any for "*"; with a
`where`, only those whose group entry holds a sibling answer it names); its outcomes are joined by UNION ALL, so an
answer matching two outcomes counts in both, as the measure's file says.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from sqlalchemy import ColumnElement, and_, case, exists, func, literal, true, union_all
from sqlalchemy.orm import aliased
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.assessments import Assessment, AssessmentAnswer, AssessmentSource, AssessmentTask
from app.forms import LONDON
from app.forms.measures import ANY, Answer, Measure

__all__ = [
    "Picture",
    "RaisedTask",
    "matched_answers",
    "month_bounds",
    "sources_answered",
    "sources_not_answered",
    "tasks_of",
]


class RaisedTask(NamedTuple):
    """A Task as one version wrote it (raised, changed or withdrawn)."""

    assessment_id: str
    position: int
    key: str
    owner: str
    due: str | None
    status: str


class Picture(NamedTuple):
    """One source's status in the picture one stored version was made against."""

    assessment_id: str
    nhs_number: str
    at: datetime
    source: str
    status: str


def _kept(answer: Answer) -> str:
    """An outcome's answer as app.assessments.facts keeps it."""
    if isinstance(answer, bool):
        return "true" if answer else "false"
    return answer


def _matching(column: ColumnElement, answers: tuple[Answer, ...]) -> ColumnElement[bool]:
    if ANY in answers:
        return true()
    return column.in_([_kept(a) for a in answers])


async def matched_answers(session: AsyncSession, measure: Measure, start: datetime) -> list[tuple[str, str]]:
    """(version id, outcome key) for each answer of `measure.item` in every version of a `measure.checklist`
    checklist stored since `start` that matches an outcome: in the response's order, then the outcomes'. The caller
    keeps those of each checklist's latest version (it knows the chains)."""
    answer, sibling = aliased(AssessmentAnswer), aliased(AssessmentAnswer)
    kept: ColumnElement[bool] = true()
    if measure.where is not None:
        kept = exists().where(
            col(sibling.assessment_id) == col(answer.assessment_id),
            col(sibling.entry) == col(answer.entry),
            col(sibling.link_id) == measure.where.item,
            _matching(col(sibling.value), measure.where.answers),
        )
    per_outcome = [
        select(col(answer.assessment_id), col(answer.position), literal(i).label("outcome"))
        .join(Assessment, col(Assessment.id) == col(answer.assessment_id))
        .where(
            col(answer.link_id) == measure.item,
            _matching(col(answer.value), outcome.answers),
            col(Assessment.created_at) >= start,
            col(Assessment.checkpoint) == measure.checklist,
            kept,
        )
        for i, outcome in enumerate(measure.outcomes)
    ]
    query = union_all(*per_outcome).order_by("assessment_id", "position", "outcome")
    rows = (await session.exec(query)).all()  # type: ignore[call-overload]
    return [(id_, measure.outcomes[i].key) for id_, _, i in rows]


async def tasks_of(session: AsyncSession, start: datetime) -> list[RaisedTask]:
    """Every Task written by a version stored since `start`, in the order each version wrote them."""
    rows = (
        await session.exec(
            select(
                AssessmentTask.assessment_id,
                AssessmentTask.position,
                AssessmentTask.key,
                AssessmentTask.owner,
                AssessmentTask.due,
                AssessmentTask.status,
            )
            .join(Assessment, col(Assessment.id) == col(AssessmentTask.assessment_id))
            .where(col(Assessment.created_at) >= start)
            .order_by(col(AssessmentTask.assessment_id), col(AssessmentTask.position))
        )
    ).all()
    return [RaisedTask(*row) for row in rows]


NOT_ANSWERED = ("unavailable", "partial")  # a source's statuses kept version by version; others are counted
NOT_COUNTED = ("not-configured",)  # no picture expected the source


async def sources_not_answered(session: AsyncSession, start: datetime) -> list[tuple[str, str, str]]:
    """(version id, source, status) for each source unavailable, or answering in part, in a version stored since
    `start`: few, so each is listed with its baby."""
    rows = (
        await session.exec(
            select(AssessmentSource.assessment_id, AssessmentSource.source, AssessmentSource.status)
            .join(Assessment, col(Assessment.id) == col(AssessmentSource.assessment_id))
            .where(col(Assessment.created_at) >= start)
            .where(col(AssessmentSource.status).in_(NOT_ANSWERED))
            .order_by(col(AssessmentSource.assessment_id), col(AssessmentSource.source))
        )
    ).all()
    return [tuple(row) for row in rows]


def month_bounds(start: datetime, end: datetime) -> list[tuple[str, datetime, datetime]]:
    """Each month of the unit's calendar from `start` to `end`, as (YYYY-MM, its first instant, the next's)."""
    bounds, first = [], start.astimezone(LONDON).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    while first.astimezone(UTC) < end:
        after = (first.replace(day=28) + timedelta(days=4)).replace(day=1)  # wall-clock: midnight in London
        bounds.append((f"{first:%Y-%m}", first.astimezone(UTC), after.astimezone(UTC)))
        first = after
    return bounds


async def sources_answered(session: AsyncSession, start: datetime, end: datetime) -> dict[tuple[str, str], int]:
    """(source, month) -> how many versions stored then had the source answer: counted in SQL, month by month
    (a CASE over the months' bounds, which both SQLite and PostgreSQL run)."""
    created = col(Assessment.created_at)
    months = [(label, first, after) for label, first, after in month_bounds(start, end)]
    if not months:
        return {}
    month = case(*((and_(created >= first, created < after), label) for label, first, after in months)).label("month")
    rows = (
        await session.exec(
            select(AssessmentSource.source, month, func.count())
            .join(Assessment, col(Assessment.id) == col(AssessmentSource.assessment_id))
            .where(created >= start, created < end)
            .where(col(AssessmentSource.status).not_in(NOT_ANSWERED + NOT_COUNTED))
            .group_by(col(AssessmentSource.source), month)
        )
    ).all()
    return {(source, label): n for source, label, n in rows if label}
