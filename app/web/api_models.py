"""What the JSON API answers: the shapes of its bodies (they make its OpenAPI), and how each is filled in."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Any, Literal

from fastapi import status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from app.forms import Issue
from app.handover import DischargeHold
from app.picture import CheckStatus, Picture

__all__ = [
    "AssessmentCreated",
    "AssessmentOut",
    "DraftOut",
    "HandoverOut",
    "NotFoundProblem",
    "OperationOutcome",
    "PictureOut",
    "Problem",
    "TakeChanges",
    "WriteBackOut",
    "operation_outcome",
    "picture_out",
    "unprocessable",
    "write_back_out",
]


class PersonCheckOut(BaseModel):
    """What one source said about this person. `none-found` only where the source holds them."""

    source: str
    status: CheckStatus
    detail: str


class PersonOut(BaseModel):
    role: str
    name: str
    nhs_number: str | None
    birth_date: str | None
    relationship: str
    identity_verified: bool
    sources_found_on: list[str]
    checks: list[PersonCheckOut]
    language: str | None  # the preferred language a source records, in words; None if none says
    interpreter_required: bool | None  # None: no source says
    nhs_number_status: str | None = None  # what PDS said of the NHS number, in words; None: no PDS source asked


class SourceOut(BaseModel):
    name: str
    status: str
    detail: str
    checked_at: datetime | None


class RecordOut(BaseModel):
    category: str
    code: str
    system: str
    display: str
    current: bool
    status: str
    resource_type: str
    source: str
    person_nhs_number: str | None
    person_role: str
    start: str | None
    end: str | None
    recorded: str | None
    organisation: str | None
    contact: str | None
    restricted: bool
    about: str | None = None  # the household role the code says it is about, when not the person it is filed under
    held_by: str | None = None  # whose record holds it, when that is not whom it is about
    change: str | None = None  # new | changed | ended since the previous checkpoint
    office_hours: str | None = None  # a CP-IS plan: the responsible local authority's office-hours telephone
    out_of_hours: str | None = None  # ... and its out-of-hours (emergency duty team) telephone


class AccessOut(BaseModel):
    recorded: str  # when CP-IS recorded the access (an instant)
    organisation: str | None  # the setting it was made from, e.g. an emergency department
    viewer: str | None  # who looked, and their role: null for a role that may not see restricted detail
    role: str | None


class AccessHistoryOut(BaseModel):
    """A CP-IS access history (unscheduled-care accesses to a child's CP-IS record), newest first. `checked` false:
    it could not be read (`error` says why): other accesses may exist, never "none"."""

    source: str
    person_role: str
    person_nhs_number: str
    checked: bool
    error: str | None
    accesses: list[AccessOut]
    problems: list[str]  # entries CP-IS sent that were left out


class PictureOut(BaseModel):
    checkpoint: str
    baby: PersonOut
    people: list[PersonOut]
    sources: list[SourceOut]
    records: list[RecordOut]
    male_carer_recorded: bool
    father_recorded: bool
    changes_since: str | None
    no_longer_found: list[dict[str, Any]]
    open_tasks: list[dict[str, Any]]  # tasks for the baby not yet done; restricted ones' detail only for some roles
    gathered_at: datetime
    access_history: list[AccessHistoryOut] = []  # CP-IS's, for each person it holds a plan for


class WriteBackOut(BaseModel):
    """Where a saved assessment is on its way to the FHIR record."""

    state: str  # queued | sent | retrying | needs-attention
    attempts: int
    next_attempt_at: datetime | None = None
    server_ids: list[str]
    last_error: str | None


class AssessmentCreated(BaseModel):
    id: str
    write_back: WriteBackOut


class FindingOut(BaseModel):
    id: str  # what an override names (fhir_mappings/discharge-holds.toml)
    words: str
    open: bool  # neither resolved nor overridden on these answers: it holds the baby


class OverrideOut(BaseModel):
    finding: str
    words: str
    by: str  # who overrode it, with their role
    at: datetime
    reason: str
    version: int  # of the checklist it was made on
    current: bool  # False: made on an earlier version whose answers have changed since, so it no longer holds


class HoldOut(BaseModel):
    """What holds a discharge checklist: its own findings, and every override made on it."""

    outcome: Literal["held: not ready for discharge", "ready for discharge"]
    findings: list[FindingOut]
    overrides: list[OverrideOut]


class OverrideIn(BaseModel):
    finding: str = Field(description="The id of a finding the checklist raised (`hold.findings[].id`).")
    reason: str = Field(description="Why the baby may go home with it: required, at most 4000 characters.")


def hold_out(hold: DischargeHold | None) -> HoldOut | None:
    """A DischargeHold as the API gives it; None for a checklist no finding can hold (not a discharge)."""
    if hold is None:
        return None
    still = {f.id for f in hold.open}
    return HoldOut(
        outcome="held: not ready for discharge" if hold.held else "ready for discharge",
        findings=[FindingOut(id=f.id, words=f.words, open=f.id in still) for f in hold.findings],
        overrides=[
            OverrideOut(
                finding=o.finding.id,
                words=o.finding.words,
                by=o.by,
                at=o.at,
                reason=o.reason,
                version=o.version,
                current=o.current,
            )
            for o in hold.overrides
        ],
    )


class AssessmentOut(BaseModel):
    id: str
    awaiting: list[str]  # signatures it still needs, e.g. "Verification Signature" (co-signature)
    hold: HoldOut | None  # at discharge: held until each finding is resolved or overridden; null at other checkpoints
    checkpoint: str
    questionnaire: str
    status: str
    version: int
    author_id: str
    author_role: str
    created_at: datetime
    write_back: WriteBackOut


def write_back_out(entry) -> WriteBackOut:
    return WriteBackOut(
        state=entry.state,
        attempts=entry.attempts,
        next_attempt_at=entry.next_attempt_at if entry.state == "retrying" else None,
        server_ids=json.loads(entry.server_ids_json),
        last_error=entry.last_error,
    )


def _person(p) -> PersonOut:
    return PersonOut(
        role=p.role,
        name=p.name,
        nhs_number=p.nhs_number,
        birth_date=p.birth_date.isoformat() if p.birth_date else None,
        relationship=p.relationship or p.role_label,
        identity_verified=p.verified,
        sources_found_on=sorted(p.found_on),
        checks=[PersonCheckOut(source=s, status=c.status, detail=c.detail) for s, c in p.checks.items()],
        language=p.language,
        interpreter_required=p.interpreter_required,
        nhs_number_status=p.nhs_number_status,
    )


def _record(r) -> RecordOut:
    return RecordOut(
        category=r.category,
        code=r.code,
        system=r.system,
        display=r.display,
        current=r.current,
        status=r.status,
        resource_type=r.resource_type,
        source=r.source,
        person_nhs_number=r.person_nhs_number,
        person_role=r.person_role,
        start=r.start,
        end=r.end,
        recorded=r.recorded,
        organisation=r.organisation,
        contact=r.contact,
        restricted=r.restricted,
        about=r.about,
        held_by=r.held_by,
        change=r.change,
        office_hours=r.office_hours,
        out_of_hours=r.out_of_hours,
    )


def picture_out(picture: Picture, checkpoint: str) -> PictureOut:
    """The picture as drawn for its reader: pass it through app.checkpoints.seen_by first."""
    return PictureOut(
        checkpoint=checkpoint,
        baby=_person(picture.baby),
        people=[_person(p) for p in picture.people],
        sources=[
            SourceOut(name=s.name, status=s.status, detail=s.detail, checked_at=s.checked_at) for s in picture.sources
        ],
        records=[_record(r) for r in picture.records],
        male_carer_recorded=picture.male_carer_recorded,
        father_recorded=picture.father_recorded,
        changes_since=picture.changes_since,
        no_longer_found=picture.gone,
        open_tasks=[asdict(t) for t in picture.open_tasks],
        gathered_at=picture.gathered_at,
        access_history=[
            AccessHistoryOut(
                source=h.source,
                person_role=h.person_role,
                person_nhs_number=h.person_nhs_number,
                checked=h.checked,
                error=h.error,
                accesses=[AccessOut(**asdict(a)) for a in h.accesses],
                problems=h.problems,
            )
            for h in picture.access_history
        ],
    )


class Problem(BaseModel):
    """Why a request was refused or failed (app/web/errors.py): in words a clinician or an integrator can act on."""

    detail: str


class SourceChecked(BaseModel):
    name: str
    status: str  # found | none-found | not-known | partial | unavailable | not-configured
    detail: str


class NotFoundProblem(Problem):
    """No such baby, checklist, draft or checkpoint. For a baby no source holds, what each source said: one that
    could not be checked may hold the baby."""

    sources: list[SourceChecked] | None = Field(
        None, description="Only when no source holds a baby with this NHS number: what each source said"
    )


IssueCode = Literal["required", "structure", "invalid"]


class OperationOutcomeIssue(BaseModel):
    severity: Literal["error"]
    code: IssueCode  # required: an answer is missing; structure: not a QuestionnaireResponse; invalid: a wrong one
    diagnostics: str
    expression: list[str]  # FHIRPath to the item, e.g. QuestionnaireResponse.item.where(linkId='A1')
    location: list[str]  # the item's path in the response


class OperationOutcome(BaseModel):
    """A QuestionnaireResponse refused (FHIR R4 OperationOutcome, application/fhir+json): one issue per item."""

    resourceType: Literal["OperationOutcome"]  # FHIR's own name for it
    issue: list[OperationOutcomeIssue]


def operation_outcome(issues: list[Issue] | list[tuple[str, str]], code: IssueCode = "required") -> dict[str, Any]:
    """Issues as a FHIR OperationOutcome, each naming the item (linkId) and its path in the response."""
    pairs = [(i.link_id, i.path, i.message) if isinstance(i, Issue) else (i[0], i[0], i[1]) for i in issues]
    outcome = OperationOutcome(
        resourceType="OperationOutcome",
        issue=[
            OperationOutcomeIssue(
                severity="error",
                code=code,
                diagnostics=message,
                expression=[f"QuestionnaireResponse.item.where(linkId='{link_id}')"],
                location=[path],
            )
            for link_id, path, message in pairs
        ],
    )
    return outcome.model_dump()


def unprocessable(outcome: dict[str, Any]) -> JSONResponse:
    return JSONResponse(outcome, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/fhir+json")


class HandoverOut(BaseModel):
    made_at: datetime
    not_yet_recorded: list[str]  # checkpoints whose checklist has not been completed: unknown, not "none"
    checklists: list[dict[str, Any]]  # the newest of each kind it draws on
    sections: list[dict[str, Any]]  # each: title, parts (checkpoint, title, recorded or null, lines)
    tasks: list[dict[str, Any]]  # what those checklists asked to be done, by whom, by when
    hold: HoldOut | None  # what holds the newest discharge checklist; null before there is one
    picture: PictureOut


class DraftOut(BaseModel):
    saved_at: datetime
    saved_by: str  # the user id
    saved_by_name: str  # as they signed in ("" for a draft kept before names were kept)
    changes: list[dict[str, Any]]  # what the sources now say differently from when the draft began


class TakeChanges(BaseModel):
    take: list[str]  # paths (as in `changes`) whose new pre-filled answers to take
