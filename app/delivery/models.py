"""The delivery table: one row per recipient and handover version, durable before anything is shown as sent."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel, UniqueConstraint

from app.assessments.models import utcnow

__all__ = ["Delivery"]


class Delivery(SQLModel, table=True):
    """The handover of one checklist version to one recipient, over one channel, and what came back.

    (assessment_id, recipient_key) is unique: a version reaches a recipient once, however many instances or passes
    try. An amendment's row names the row it `replaces`, and its message says so to the recipient.
    """

    __table_args__ = (UniqueConstraint("assessment_id", "recipient_key"),)

    id: str = Field(primary_key=True)
    record_id: str = Field(index=True)  # the checklist's first version: all versions of one handover
    assessment_id: str = Field(foreign_key="assessment.id")
    recipient_key: str  # the Communication's identifier value: the recipient entry of this handover
    recipient: str  # in words, as the handover page shows it
    kind: str  # gp | health-visiting | community-neonatal | other
    ods_code: str | None = None
    channel: str  # mesh | fhir | none (not reachable: send by another means)
    address: str | None = None  # the MESH mailbox id or the FHIR endpoint's base URL
    replaces: str | None = None  # the delivery (of the version before) this one replaces
    state: str = Field(default="queued", index=True)
    # queued | retrying | sent | delivered | acknowledged | failed | not-reachable
    attempts: int = 0
    last_error: str | None = None
    next_attempt_at: datetime = Field(default_factory=utcnow)
    claimed_by: str | None = None
    claimed_until: datetime | None = None
    message_id: str | None = None  # MESH's message id, or the Type/id the FHIR endpoint gave
    sent_at: datetime | None = None
    delivered_at: datetime | None = None
    acknowledged_at: datetime | None = None
    task_written_at: datetime | None = None  # the "send by another means" Task, written once
    created_at: datetime = Field(default_factory=utcnow)
