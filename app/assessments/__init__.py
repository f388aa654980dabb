"""Durable results: assessments, their delivery to FHIR, and the audit trail."""

from .audit_export import audit_event, export_audit
from .bundle import (
    ASSESSMENT_ID_SYSTEM,
    ASSESSMENT_TAG_SYSTEM,
    WRITE_KEY_SYSTEM,
    WRITTEN_TYPES,
    assessment_bundle,
    fit_to_server,
)
from .db import SchemaNotReady, SessionFactory, head_revision, make_engine, prepare, session_factory, upgrade
from .models import Assessment, AuditEvent, Draft, OutboxEntry
from .outbox import Backoff, OutboxWorker, claim, deliver, deliver_due, outbox_counts, resend
from .reconcile import Finding, reconcile
from .store import (
    DuplicateSubmission,
    amended_by,
    assessment_chain,
    audit,
    get_draft,
    latest_assessments,
    outbox_entry,
    save_assessment,
    save_draft,
    submitted_with,
    unsent_assessments,
)

__all__ = [
    "ASSESSMENT_ID_SYSTEM",
    "ASSESSMENT_TAG_SYSTEM",
    "WRITE_KEY_SYSTEM",
    "WRITTEN_TYPES",
    "Assessment",
    "AuditEvent",
    "Backoff",
    "Draft",
    "DuplicateSubmission",
    "Finding",
    "OutboxEntry",
    "OutboxWorker",
    "SchemaNotReady",
    "SessionFactory",
    "amended_by",
    "assessment_bundle",
    "assessment_chain",
    "audit",
    "audit_event",
    "claim",
    "deliver",
    "deliver_due",
    "export_audit",
    "fit_to_server",
    "get_draft",
    "head_revision",
    "latest_assessments",
    "make_engine",
    "outbox_counts",
    "outbox_entry",
    "prepare",
    "reconcile",
    "resend",
    "save_assessment",
    "save_draft",
    "session_factory",
    "submitted_with",
    "unsent_assessments",
    "upgrade",
]
