"""Durable results: assessments, their delivery to FHIR, and the audit trail."""

from .bundle import ASSESSMENT_ID_SYSTEM, ASSESSMENT_TAG_SYSTEM, WRITE_KEY_SYSTEM, assessment_bundle, fit_to_server
from .db import SessionFactory, create_tables, make_engine, session_factory
from .models import Assessment, AuditEvent, Draft, OutboxEntry
from .outbox import deliver, deliver_due
from .store import audit, latest_assessments, outbox_entry, save_assessment

__all__ = [
    "ASSESSMENT_ID_SYSTEM",
    "ASSESSMENT_TAG_SYSTEM",
    "WRITE_KEY_SYSTEM",
    "Assessment",
    "AuditEvent",
    "Draft",
    "OutboxEntry",
    "SessionFactory",
    "assessment_bundle",
    "audit",
    "create_tables",
    "deliver",
    "deliver_due",
    "fit_to_server",
    "latest_assessments",
    "make_engine",
    "outbox_entry",
    "save_assessment",
    "session_factory",
]
