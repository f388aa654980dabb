"""NeoSafe's own tables: submitted assessments, their delivery to FHIR (outbox), and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel

__all__ = ["Assessment", "AuditEvent", "OutboxEntry", "utcnow"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Assessment(SQLModel, table=True):
    """A completed checklist exactly as submitted: the QuestionnaireResponse and what the sources said."""

    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    checkpoint: str
    questionnaire: str  # url|version
    response_json: str
    sources_json: str  # per-source status at the time of submission
    author_id: str
    author_role: str
    created_at: datetime = Field(default_factory=utcnow)


class OutboxEntry(SQLModel, table=True):
    """One FHIR transaction waiting to reach (or having reached) the write-back source."""

    id: str = Field(primary_key=True)
    assessment_id: str = Field(foreign_key="assessment.id", index=True, unique=True)
    bundle_json: str
    state: str = Field(default="queued", index=True)  # queued | sent | retrying | needs-attention
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    sent_at: datetime | None = None
    server_ids_json: str = "[]"
    created_at: datetime = Field(default_factory=utcnow)


class AuditEvent(SQLModel, table=True):
    """Who viewed or changed safeguarding data, when, and with what outcome."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: str
    role: str
    action: str
    nhs_number: str | None = Field(default=None, index=True)
    outcome: str = "success"
    detail: str = ""
