"""Keep a submitted assessment durable before anyone is told it is saved: answers and outbox, one transaction."""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlmodel import select

from .db import SessionFactory
from .models import Assessment, AuditEvent, OutboxEntry

__all__ = ["audit", "latest_assessments", "outbox_entry", "save_assessment"]


async def save_assessment(
    sessions: SessionFactory,
    *,
    assessment_id: str,
    nhs_number: str,
    checkpoint: str,
    questionnaire: str,
    response: dict[str, Any],
    sources: list[dict[str, Any]],
    bundle: dict[str, Any],
    author_id: str,
    author_role: str,
) -> OutboxEntry:
    """Commit the assessment, its outbox entry and the audit record together; returns the outbox entry."""
    assessment = Assessment(
        id=assessment_id,
        nhs_number=nhs_number,
        checkpoint=checkpoint,
        questionnaire=questionnaire,
        response_json=json.dumps(response),
        sources_json=json.dumps(sources),
        author_id=author_id,
        author_role=author_role,
    )
    entry = OutboxEntry(id=str(uuid.uuid4()), assessment_id=assessment_id, bundle_json=json.dumps(bundle))
    async with sessions() as session:
        session.add(assessment)
        session.add(entry)
        session.add(
            AuditEvent(
                user_id=author_id,
                role=author_role,
                action=f"submit-{checkpoint}-checklist",
                nhs_number=nhs_number,
                detail=f"assessment {assessment_id}",
            )
        )
        await session.commit()
    return entry


async def latest_assessments(sessions: SessionFactory, *, nhs_number: str) -> list[tuple[Assessment, OutboxEntry]]:
    """This baby's assessments, newest first, each with its delivery state."""
    async with sessions() as session:
        rows = await session.exec(
            select(Assessment, OutboxEntry)
            .join(OutboxEntry, OutboxEntry.assessment_id == Assessment.id)
            .where(Assessment.nhs_number == nhs_number)
            .order_by(Assessment.created_at.desc())
        )
        return list(rows.all())


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


async def outbox_entry(sessions: SessionFactory, entry_id: str) -> OutboxEntry | None:
    async with sessions() as session:
        return await session.get(OutboxEntry, entry_id)
