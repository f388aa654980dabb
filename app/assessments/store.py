"""Keep a submitted assessment durable before anyone is told it is saved: answers and outbox, one transaction."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy.exc import IntegrityError
from sqlmodel import select

from .db import SessionFactory
from .facts import answer_rows, source_rows, task_rows
from .models import Assessment, AuditEvent, Draft, HoldOverride, OutboxEntry

__all__ = [
    "DuplicateSubmission",
    "Stored",
    "amended_by",
    "assessment_chain",
    "audit",
    "latest_assessments",
    "outbox_entry",
    "overrides_of",
    "save_assessment",
    "save_override",
    "submitted_with",
    "unsent_assessments",
]


class Stored(NamedTuple):
    """One stored version of a checklist and where it is on its way to the FHIR record."""

    assessment: Assessment
    entry: OutboxEntry


class DuplicateSubmission(Exception):
    """Another request stored a submission under the same key first: this one is the same submission again."""


async def save_assessment(
    sessions: SessionFactory,
    *,
    assessment_id: str,
    nhs_number: str,
    checkpoint: str,
    questionnaire: str,
    response: dict[str, Any],
    sources: list[dict[str, Any]],
    records: list[dict[str, Any]],
    bundle: dict[str, Any],
    author_id: str,
    author_role: str,
    now: datetime,
    amends: str | None = None,
    version: int = 1,
    submission_key: str | None = None,
    submission_digest: str | None = None,
    encounter: str | None = None,
    target: str | None = None,
) -> OutboxEntry:
    """Commit the assessment, what it says in rows (app.assessments.facts), its outbox entry (due at `now`) and
    the audit record together.

    A `submission_key` already stored raises DuplicateSubmission and stores nothing: the database's unique
    index decides between two requests carrying the same submission at the same moment.
    """
    assessment = Assessment(
        id=assessment_id,
        nhs_number=nhs_number,
        checkpoint=checkpoint,
        questionnaire=questionnaire,
        response_json=json.dumps(response),
        sources_json=json.dumps(sources),
        records_json=json.dumps(records),
        author_id=author_id,
        author_role=author_role,
        created_at=now,
        amends=amends,
        version=version,
        status="amended" if amends else "completed",
        submission_key=submission_key,
        submission_digest=submission_digest,
        encounter=encounter,
    )
    entry = OutboxEntry(
        id=str(uuid.uuid4()),
        assessment_id=assessment_id,
        bundle_json=json.dumps(bundle),
        next_attempt_at=now,
        created_at=now,
        target=target,
    )
    try:
        async with sessions() as session:
            draft = await _draft(session, nhs_number, checkpoint)
            if draft is not None:  # the checklist is done: its draft goes in the same transaction
                await session.delete(draft)
            session.add(assessment)
            await session.flush()  # the rows below refer to it; without relationships the flush order is not kept
            # What the assurance figures count, kept with the version it is read from (app.assessments.facts)
            session.add_all(
                [
                    *answer_rows(assessment_id, response),
                    *task_rows(assessment_id, bundle),
                    *source_rows(assessment_id, sources),
                ]
            )
            session.add(entry)
            session.add(
                AuditEvent(
                    user_id=author_id,
                    role=author_role,
                    action=f"submit-{checkpoint}-checklist",
                    nhs_number=nhs_number,
                    detail=f"assessment {assessment_id}" + (f"; encounter {encounter}" if encounter else ""),
                )
            )
            await session.commit()
    except IntegrityError as exc:
        if submission_key is not None and await submitted_with(sessions, submission_key) is not None:
            raise DuplicateSubmission(submission_key) from exc
        raise
    return entry


async def submitted_with(sessions: SessionFactory, submission_key: str) -> Assessment | None:
    """The assessment stored under this submission key, if any."""
    async with sessions() as session:
        return (await session.exec(select(Assessment).where(Assessment.submission_key == submission_key))).first()


async def assessment_chain(sessions: SessionFactory, assessment_id: str) -> list[Stored]:
    """Every version of the checklist ending at `assessment_id`, first version first (empty if unknown)."""
    versions: list[Stored] = []
    async with sessions() as session:
        current: str | None = assessment_id
        while current:
            row = (
                await session.exec(
                    select(Assessment, OutboxEntry)
                    .join(OutboxEntry, OutboxEntry.assessment_id == Assessment.id)
                    .where(Assessment.id == current)
                )
            ).first()
            if row is None:
                return []
            versions.insert(0, Stored(*row))
            current = row[0].amends
    return versions


async def amended_by(sessions: SessionFactory, assessment_id: str) -> str | None:
    """The id of the version that amended this one, if any: only the latest version may be amended."""
    async with sessions() as session:
        return (await session.exec(select(Assessment.id).where(Assessment.amends == assessment_id))).first()


async def latest_assessments(sessions: SessionFactory, *, nhs_number: str) -> list[Stored]:
    """This baby's assessments, newest first, each with its delivery state."""
    async with sessions() as session:
        rows = await session.exec(
            select(Assessment, OutboxEntry)
            .join(OutboxEntry, OutboxEntry.assessment_id == Assessment.id)
            .where(Assessment.nhs_number == nhs_number)
            .order_by(Assessment.created_at.desc())
        )
        return [Stored(*row) for row in rows.all()]


async def assessments_of(sessions: SessionFactory, nhs_numbers: list[str]) -> list[Stored]:
    """Every assessment of any of these babies, newest first, each with its delivery state: one query for a unit."""
    async with sessions() as session:
        rows = await session.exec(
            select(Assessment, OutboxEntry)
            .join(OutboxEntry, OutboxEntry.assessment_id == Assessment.id)
            .where(Assessment.nhs_number.in_(nhs_numbers))
            .order_by(Assessment.created_at.desc())
        )
        return [Stored(*row) for row in rows.all()]


async def unsent_assessments(sessions: SessionFactory) -> list[Stored]:
    """Every assessment not yet in the FHIR record, those needing a person first, then oldest first."""
    async with sessions() as session:
        rows = await session.exec(
            select(Assessment, OutboxEntry)
            .join(OutboxEntry, OutboxEntry.assessment_id == Assessment.id)
            .where(OutboxEntry.state != "sent")
            .order_by(OutboxEntry.state != "needs-attention", Assessment.created_at)
        )
        return [Stored(*row) for row in rows.all()]


async def save_override(sessions: SessionFactory, override: HoldOverride, *, nhs_number: str) -> HoldOverride:
    """Keep an override and its audit record together: none is ever kept unaudited."""
    async with sessions() as session:
        session.add(override)
        session.add(
            AuditEvent(
                user_id=override.user_id,
                role=override.role,
                action="override-discharge-hold",
                nhs_number=nhs_number,
                detail=f"assessment {override.assessment_id}: {override.finding}",
            )
        )
        await session.commit()
        await session.refresh(override)
        return override


async def overrides_of(sessions: SessionFactory, record_id: str) -> list[HoldOverride]:
    """Every override made on any version of the checklist whose first version is `record_id`, oldest first."""
    async with sessions() as session:
        rows = await session.exec(
            select(HoldOverride).where(HoldOverride.record_id == record_id).order_by(HoldOverride.at)
        )
        return list(rows.all())


async def overrides_for(sessions: SessionFactory, nhs_numbers: list[str]) -> list[tuple[HoldOverride, str]]:
    """Every override made on these babies' checklists, with the baby's NHS number, newest first: one query."""
    async with sessions() as session:
        rows = await session.exec(
            select(HoldOverride, Assessment.nhs_number)
            .join(Assessment, Assessment.id == HoldOverride.record_id)
            .where(Assessment.nhs_number.in_(nhs_numbers))
            .order_by(HoldOverride.at.desc())
        )
        return [(override, nhs_number) for override, nhs_number in rows.all()]


async def audit(
    sessions: SessionFactory,
    *,
    user_id: str,
    role: str,
    action: str,
    nhs_number: str | None = None,
    outcome: str = "success",
    detail: str = "",
) -> None:
    async with sessions() as session:
        session.add(
            AuditEvent(user_id=user_id, role=role, action=action, nhs_number=nhs_number, outcome=outcome, detail=detail)
        )
        await session.commit()


async def _draft(session, nhs_number: str, checkpoint: str) -> Draft | None:
    return (
        await session.exec(select(Draft).where(Draft.nhs_number == nhs_number).where(Draft.checkpoint == checkpoint))
    ).first()


async def get_draft(sessions: SessionFactory, *, nhs_number: str, checkpoint: str) -> Draft | None:
    """The baby's unfinished checklist for this checkpoint, whoever started it (shifts hand over)."""
    async with sessions() as session:
        return await _draft(session, nhs_number, checkpoint)


async def save_draft(
    sessions: SessionFactory,
    *,
    nhs_number: str,
    checkpoint: str,
    questionnaire: str,
    response: dict[str, Any],
    baseline: dict[str, Any],
    author_id: str,
    author_role: str,
    author_name: str,
    now: datetime,
    encounter: str | None = None,
    target: str | None = None,
) -> Draft:
    """Keep an unfinished checklist. The baseline (what it was pre-filled with) and the `target` it will be written
    to are kept from the first save; so is the launch's stay (`encounter`), unless a save from a launch names one."""
    async with sessions() as session:
        draft = await _draft(session, nhs_number, checkpoint) or Draft(
            id=str(uuid.uuid4()),
            nhs_number=nhs_number,
            checkpoint=checkpoint,
            questionnaire=questionnaire,
            baseline_json=json.dumps(baseline),
            response_json="{}",
            author_id=author_id,
            author_role=author_role,
            target=target,
        )
        draft.response_json = json.dumps(response)
        draft.encounter = encounter or draft.encounter
        draft.author_id, draft.author_role, draft.author_name, draft.updated_at = (
            author_id,
            author_role,
            author_name,
            now,
        )
        session.add(draft)
        session.add(
            AuditEvent(user_id=author_id, role=author_role, action=f"save-{checkpoint}-draft", nhs_number=nhs_number)
        )
        await session.commit()
        await session.refresh(draft)
        return draft


async def outbox_entry(sessions: SessionFactory, entry_id: str) -> OutboxEntry | None:
    async with sessions() as session:
        return await session.get(OutboxEntry, entry_id)
