"""NeoSafe's own tables: submitted assessments, their delivery to FHIR (outbox), the audit trail, and sign-ins."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlmodel import Field, SQLModel

__all__ = [
    "Assessment",
    "AuditEvent",
    "Draft",
    "HeldAnswers",
    "HoldOverride",
    "JobLease",
    "NewInformation",
    "OutboxEntry",
    "SignIn",
    "WatchedBaby",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """A time read back from the database, as UTC: SQLite keeps no offset, so every time goes in as UTC and comes
    back naive; PostgreSQL gives it back aware."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


class Assessment(SQLModel, table=True):
    """A completed checklist exactly as submitted: the QuestionnaireResponse and what the sources said."""

    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    checkpoint: str
    questionnaire: str  # url|version
    response_json: str
    sources_json: str  # per-source status at the time of submission
    records_json: str = "[]"  # the records it was made against (key, category, current, status, dates)
    author_id: str
    author_role: str
    status: str = "completed"  # completed | amended (a later version replaced it)
    version: int = 1
    amends: str | None = Field(default=None, foreign_key="assessment.id", index=True)  # the version this one replaces
    # The key the form or API client sent it with: the same submission sent again finds this one, not a twin.
    submission_key: str | None = Field(default=None, index=True, unique=True)
    submission_digest: str | None = None  # of the answers sent, so a key sent again with other answers is refused
    # The stay the EPR launched NeoSafe in for this baby (`<iss>/Encounter/<id>`, checked against the EPR's FHIR
    # server), or for an amendment the one its original was made in; None outside a launch (revision 0015).
    encounter: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class HoldOverride(SQLModel, table=True):
    """A finding that holds a discharge, overridden: by whom, when and why. Never changed or deleted.

    It holds while the checklist's answers are those it was made on (a co-signature keeps them); an amendment that
    changes them asks again, and the override stays here, shown as made on the earlier version.
    """

    id: str = Field(primary_key=True)
    record_id: str = Field(foreign_key="assessment.id", index=True)  # the checklist's first version
    assessment_id: str = Field(foreign_key="assessment.id")  # the version it was made on (the latest then)
    version: int  # that version's number
    finding: str  # a hold's id (fhir_mappings/discharge-holds.toml)
    answers_digest: str  # of that version's answers
    reason: str
    user_id: str
    user_name: str
    role: str
    at: datetime = Field(default_factory=utcnow)


class Draft(SQLModel, table=True):
    """A checklist being filled in, saved so it can be resumed; never re-populated over the user's edits."""

    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    checkpoint: str
    questionnaire: str  # url|version
    response_json: str
    baseline_json: str = "{}"  # the pre-filled response the draft began from
    author_id: str
    author_role: str
    author_name: str = ""  # as the user signed in; "" in a draft kept before revision 0010
    encounter: str | None = None  # the launch's stay (`<iss>/Encounter/<id>`), as Assessment.encounter
    target: str | None = None  # where the checklist will be written, as OutboxEntry.target: as it was begun
    updated_at: datetime = Field(default_factory=utcnow)


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
    claimed_by: str | None = None  # the worker sending it now; others leave it alone until claimed_until
    claimed_until: datetime | None = None
    # Where it is written: None, the unit's write_back source; else the source a SMART launch named (its EPR's FHIR
    # server), fixed when the checklist was first stored: every amendment, retry and reconciliation goes there too.
    target: str | None = Field(default=None, index=True)
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
    exported_at: datetime | None = Field(default=None, index=True)  # sent to the FHIR record as an AuditEvent


class SignIn(SQLModel, table=True):
    """A person's session in the pages: the page cookie names its id; open until signed out, unused too long, or
    too old. The row, not the cookie, decides: an ended one opens nothing, whatever copy of the cookie is shown."""

    id: str = Field(primary_key=True)  # secrets.token_urlsafe: the session id the signed cookie names
    user_id: str
    name: str
    role: str
    created_at: datetime = Field(default_factory=utcnow, index=True)
    last_seen_at: datetime = Field(default_factory=utcnow)
    ended_at: datetime | None = None
    end_reason: str | None = None  # sign-out | idle | expired | replaced (another sign-in on the same browser)
    # An NHS CIS2 sign-in's access token (user-restricted national APIs, CP-IS, are called with it): kept here with
    # the sign-in, never in the cookie, never logged; gone when the sign-in row is cleared away.
    cis2_access_token: str | None = Field(default=None, repr=False)
    cis2_token_expires_at: datetime | None = None
    # A SMART EHR launch (revision 0015): the EPR (`iss`), the baby it opened and the stay (an Encounter id its FHIR
    # server holds for that baby, checked at the launch). Only ever set by the launch callback, never by a request.
    launch_iss: str | None = None
    launch_nhs_number: str | None = None
    launch_encounter: str | None = None
    launch_write_back: str | None = None  # the source the launch's EPR is written to (smart-launch.toml), if named


class HeldAnswers(SQLModel, table=True):
    """A checklist posted just after its author's sign-in ended for being unused: kept for them to finish."""

    id: str = Field(primary_key=True)
    user_id: str
    path: str  # the form's action, e.g. /patients/9990101000/checklists/admission
    fields_json: str  # every posted field, as {name: [values]}
    created_at: datetime = Field(default_factory=utcnow, index=True)


class WatchedBaby(SQLModel, table=True):
    """A baby the watch job has gathered: when last, and (used until their first checklist is saved) the baseline
    it compares with, the records seen at the first pass of the stay."""

    nhs_number: str = Field(primary_key=True)
    records_json: str  # a snapshot, as an assessment keeps it (app.picture.changes.snapshot)
    sources_json: str = "[]"  # the sources that answered then: records of any other join the baseline later
    taken_at: datetime = Field(default_factory=utcnow)  # when the baseline was taken
    watched_at: datetime | None = None  # the last pass that could gather the baby's picture


class NewInformation(SQLModel, table=True):
    """A record that matters (domestic abuse, police, social care, child protection) new or reopened since the
    baby's last checkpoint, found by the watch job: shown until a nurse acknowledges it, with a Task raised for the
    safeguarding team once (its identifier is `task_key`; written by a conditional create)."""

    id: str = Field(primary_key=True)
    nhs_number: str = Field(index=True)
    record_key: str
    change: str  # new | reopened
    category: str
    category_label: str
    display: str
    source: str
    start: str | None = None
    person: str = ""  # whom the record is about, in words ("Mother", "Someone in the household")
    restricted: bool = False  # shown in full only to roles that see restricted records
    found_at: datetime = Field(default_factory=utcnow, index=True)
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    task_key: str  # the Task's identifier value: the same finding never raises a second Task
    task_written_at: datetime | None = None
    task_error: str | None = None  # why the Task could not be written yet (tried again next pass)


class JobLease(SQLModel, table=True):
    """Which instance runs a background job (the watch) until when: one holder at a time across instances."""

    name: str = Field(primary_key=True)
    holder: str
    until: datetime
