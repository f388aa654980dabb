"""The JSON API beside the pages, for EPR integrations and scripts. Bearer-token auth; every call audited."""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.assessments import assessment_chain, audit, get_draft, latest_assessments
from app.forms import Issue
from app.picture import OpenTask, Picture
from app.sources import parse_resource

from .auth import User
from .deps import ApiUser, ServicesDep, valid_nhs_number
from .services import AlreadySubmitted, NotWritable, Services
from .submission_keys import HEADER, valid_submission_key

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])

WITHHELD = "Restricted record: ask the safeguarding team"  # what other roles see of a restricted record


class PersonOut(BaseModel):
    role: str
    name: str
    nhs_number: str | None
    birth_date: str | None
    relationship: str
    identity_verified: bool
    sources_found_on: list[str]


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
    change: str | None = None  # new | changed | ended since the previous checkpoint


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


class AssessmentOut(BaseModel):
    id: str
    awaiting: list[str]  # signatures it still needs, e.g. "Verification Signature" (co-signature)
    checkpoint: str
    questionnaire: str
    status: str
    version: int
    author_id: str
    author_role: str
    created_at: datetime
    write_back: WriteBackOut


def _write_back(entry) -> WriteBackOut:
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
    )


def _record(r, user: User) -> RecordOut:
    hidden = r.restricted and not user.role.sees_restricted
    return RecordOut(
        category=r.category,
        code="" if hidden else r.code,
        system="" if hidden else r.system,
        display=WITHHELD if hidden else r.display,
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
        change=r.change,
    )


def _gone(record: dict[str, Any], user: User) -> dict[str, Any]:
    """A record seen at the previous checklist and not found now; restricted detail only for those who may see it."""
    if record["restricted"] and not user.role.sees_restricted:
        return {**record, "display": WITHHELD}
    return record


def _open_task(task: OpenTask, user: User) -> dict[str, Any]:
    """A task not yet done; a restricted one's description only for those who may see it."""
    shown = asdict(task)
    if task.restricted and not user.role.sees_restricted:
        shown["description"] = WITHHELD
    return shown


def _picture_out(picture: Picture, checkpoint: str, user: User) -> PictureOut:
    return PictureOut(
        checkpoint=checkpoint,
        baby=_person(picture.baby),
        people=[_person(p) for p in picture.people],
        sources=[
            SourceOut(name=s.name, status=s.status, detail=s.detail, checked_at=s.checked_at) for s in picture.sources
        ],
        records=[_record(r, user) for r in picture.records],
        male_carer_recorded=picture.male_carer_recorded,
        father_recorded=picture.father_recorded,
        changes_since=picture.changes_since,
        no_longer_found=[_gone(g, user) for g in picture.gone],
        open_tasks=[_open_task(t, user) for t in picture.open_tasks],
        gathered_at=picture.gathered_at,
    )


def _checkpoint(services: Services, checkpoint: str) -> dict[str, Any]:
    try:
        return services.checklists.for_checkpoint(checkpoint)
    except LookupError as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc


def operation_outcome(issues: list[Issue] | list[tuple[str, str]], code: str = "required") -> dict[str, Any]:
    """Issues as a FHIR OperationOutcome, each naming the item (linkId) and its path in the response."""
    pairs = [(i.link_id, i.path, i.message) if isinstance(i, Issue) else (i[0], i[0], i[1]) for i in issues]
    return {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": code,
                "diagnostics": message,
                "expression": [f"QuestionnaireResponse.item.where(linkId='{link_id}')"],
                "location": [path],
            }
            for link_id, path, message in pairs
        ],
    }


def _unprocessable(outcome: dict[str, Any]) -> JSONResponse:
    return JSONResponse(outcome, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/fhir+json")


@router.get("/patients/{number}/picture", response_model=PictureOut)
async def get_picture(
    services: ServicesDep,
    user: ApiUser,
    number: str,
    checkpoint: str = Query("admission", pattern="^(admission|transfer|discharge)$"),
) -> PictureOut:
    """The baby's safeguarding picture now: people, what each source said, every record current or historic.

    A source that could not be checked is `unavailable` (with the reason) or `not-configured`;
    `none-found` means the source was asked and holds nothing. NeoSafe never says "no concerns".
    """
    nhs_number = valid_nhs_number(number)
    picture = await services.picture(nhs_number)
    await audit(
        services.sessions, user_id=user.id, role=user.role.key, action="api-view-picture", nhs_number=nhs_number
    )
    return _picture_out(picture, checkpoint, user)


class HandoverOut(BaseModel):
    made_at: datetime
    not_yet_recorded: list[str]  # checkpoints whose checklist has not been completed: unknown, not "none"
    checklists: list[dict[str, Any]]  # the newest of each kind it draws on
    sections: list[dict[str, Any]]  # each: title, parts (checkpoint, title, recorded or null, lines)
    tasks: list[dict[str, Any]]  # what those checklists asked to be done, by whom, by when
    picture: PictureOut


@router.get("/patients/{number}/handover", response_model=HandoverOut)
async def get_handover(services: ServicesDep, user: ApiUser, number: str) -> HandoverOut:
    """The handover summary for the community team as data: the picture (restricted detail as the caller's role
    allows), then what the baby's newest checklists recorded, section by section, and the tasks they raised."""
    nhs_number = valid_nhs_number(number)
    picture = await services.picture(nhs_number)
    await audit(
        services.sessions, user_id=user.id, role=user.role.key, action="api-view-handover", nhs_number=nhs_number
    )
    handover = await services.handover(picture)
    return HandoverOut(
        made_at=handover.made_at,
        not_yet_recorded=handover.missing,
        checklists=[asdict(r) for r in handover.recorded],
        sections=[
            {
                "title": title,
                "parts": [
                    {
                        "checkpoint": p.checkpoint,
                        "title": p.title,
                        "recorded": p.recorded.assessment_id if p.recorded else None,
                        "lines": [asdict(line) for line in p.lines] if p.recorded else None,
                    }
                    for p in parts
                ],
            }
            for title, parts in handover.sections
        ],
        tasks=[
            {
                "checklist": r.assessment_id,
                "description": t.rule.description,
                "detail": t.detail,
                "owner": t.owner,
                "due": t.due,
                "priority": t.rule.priority,
            }
            for r, t in handover.tasks
        ],
        picture=_picture_out(picture, "discharge", user),
    )


@router.get("/checklists/{checkpoint}")
async def get_checklist(services: ServicesDep, user: ApiUser, checkpoint: str) -> dict[str, Any]:
    """The checklist for a checkpoint, as a FHIR R4 Questionnaire."""
    return _checkpoint(services, checkpoint)


@router.get("/patients/{number}/checklists/{checkpoint}")
async def get_prefilled(services: ServicesDep, user: ApiUser, number: str, checkpoint: str) -> dict[str, Any]:
    """This baby's checklist to fill in: the saved draft exactly as left (never re-populated over the
    clinician's answers), else a QuestionnaireResponse (in-progress) newly pre-filled from the sources.
    """
    nhs_number = valid_nhs_number(number)
    _checkpoint(services, checkpoint)
    picture = await services.picture(nhs_number)
    await audit(
        services.sessions,
        user_id=user.id,
        role=user.role.key,
        action=f"api-view-{checkpoint}-checklist",
        nhs_number=nhs_number,
    )
    response, _, _ = await services.open_checklist(picture, checkpoint, user)
    return response


class DraftOut(BaseModel):
    saved_at: datetime
    saved_by: str
    changes: list[dict[str, Any]]  # what the sources now say differently from when the draft began


class TakeChanges(BaseModel):
    take: list[str]  # paths (as in `changes`) whose new pre-filled answers to take


async def _existing_draft(services: Services, nhs_number: str, checkpoint: str):
    _checkpoint(services, checkpoint)
    draft = await get_draft(services.sessions, nhs_number=nhs_number, checkpoint=checkpoint)
    if draft is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no draft of this checklist for this baby")
    return draft


async def _draft_out(services: Services, picture: Picture, checkpoint: str, user: User, draft) -> DraftOut:
    found = services.draft_changes(picture, checkpoint, user, draft)
    return DraftOut(saved_at=draft.updated_at, saved_by=draft.author_id, changes=[asdict(c) for c in found])


@router.put("/patients/{number}/checklists/{checkpoint}/draft", response_model=DraftOut)
async def put_draft(
    services: ServicesDep, user: ApiUser, number: str, checkpoint: str, body: dict[str, Any]
) -> DraftOut | JSONResponse:
    """Save an unfinished checklist (a QuestionnaireResponse, in-progress) to finish later, by anyone."""
    nhs_number = valid_nhs_number(number)
    _checkpoint(services, checkpoint)
    if checkpoint not in user.role.may_submit:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role cannot complete the {checkpoint} checklist")
    try:
        parse_resource(body)
    except ValueError as exc:
        return _unprocessable(operation_outcome([("QuestionnaireResponse", str(exc))], "structure"))
    picture = await services.picture(nhs_number)
    draft = await services.keep_draft(picture, checkpoint, user, body)
    return await _draft_out(services, picture, checkpoint, user, draft)


@router.get("/patients/{number}/checklists/{checkpoint}/draft", response_model=DraftOut)
async def get_draft_changes(services: ServicesDep, user: ApiUser, number: str, checkpoint: str) -> DraftOut:
    """When the draft was saved and by whom, and what the sources now say differently, item by item."""
    nhs_number = valid_nhs_number(number)
    draft = await _existing_draft(services, nhs_number, checkpoint)
    picture = await services.picture(nhs_number)
    return await _draft_out(services, picture, checkpoint, user, draft)


@router.post("/patients/{number}/checklists/{checkpoint}/draft/refresh", response_model=DraftOut)
async def refresh_draft(
    services: ServicesDep, user: ApiUser, number: str, checkpoint: str, body: TakeChanges
) -> DraftOut:
    """Take the sources' new pre-filled answers for the chosen items; every other answer stays as it was."""
    nhs_number = valid_nhs_number(number)
    draft = await _existing_draft(services, nhs_number, checkpoint)
    picture = await services.picture(nhs_number)
    draft = await services.take_changes(picture, checkpoint, user, draft, set(body.take))
    return await _draft_out(services, picture, checkpoint, user, draft)


SubmissionKey = Annotated[
    str | None,
    Header(
        alias=HEADER,
        description="One per submission (a UUID). Sent again with the same answers, the first result is returned "
        "and nothing is stored twice; sent with other answers, 409.",
    ),
]


async def _accept(
    services: Services,
    user: User,
    nhs_number: str,
    body: dict[str, Any],
    *,
    amends: str | None = None,
    submission_key: str | None = None,
) -> AssessmentCreated | JSONResponse:
    """Check a posted QuestionnaireResponse for this baby and, if it is complete, store and send it.

    With a submission key already stored for these answers, what was stored is returned instead.
    """
    key = valid_submission_key(submission_key)
    try:
        parse_resource(body)
    except ValueError as exc:
        return _unprocessable(operation_outcome([("QuestionnaireResponse", str(exc))], "structure"))
    if body.get("resourceType") != "QuestionnaireResponse":
        return _unprocessable(
            operation_outcome([("resourceType", "the body must be a QuestionnaireResponse")], "structure")
        )
    subject_number = ((body.get("subject") or {}).get("identifier") or {}).get("value")
    if subject_number and subject_number != nhs_number:
        return _unprocessable(
            operation_outcome([("subject", "the response's subject is a different NHS number from the URL")], "invalid")
        )
    try:
        checkpoint = services.checklists.checkpoint_of(services.checklists.for_response(body))
    except LookupError:
        return _unprocessable(
            operation_outcome(
                [
                    (
                        "questionnaire",
                        f"QuestionnaireResponse.questionnaire must name a NeoSafe checklist as url|version, "
                        f"not {body.get('questionnaire')!r}",
                    )
                ],
                "invalid",
            )
        )
    if checkpoint not in user.role.may_submit:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role cannot complete the {checkpoint} checklist")
    picture = await services.picture(nhs_number)
    try:
        saved = await services.save(picture, checkpoint, user, body, amends=amends, submission_key=key)
    except (AlreadySubmitted, NotWritable) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if isinstance(saved, list):
        await audit(
            services.sessions,
            user_id=user.id,
            role=user.role.key,
            action=f"api-{'amend' if amends else 'submit'}-{checkpoint}-checklist",
            nhs_number=nhs_number,
            outcome="refused",
            detail=f"{len(saved)} issues",
        )
        return _unprocessable(operation_outcome(saved))
    return AssessmentCreated(id=saved.assessment_id, write_back=_write_back(saved.entry))


@router.post("/patients/{number}/assessments", status_code=201, response_model=AssessmentCreated)
async def post_assessment(
    services: ServicesDep, user: ApiUser, number: str, body: dict[str, Any], idempotency_key: SubmissionKey = None
) -> AssessmentCreated | JSONResponse:
    """Submit a completed checklist (a QuestionnaireResponse). 201 once stored; 422 with an OperationOutcome.

    The response is stored before this returns; `write_back.state` says whether it has reached the
    FHIR record yet (`sent`) or is queued for another try (`retrying`, `needs-attention`). Send an
    Idempotency-Key, and send it again on a retry: a submission is then stored once however often it arrives.
    """
    return await _accept(services, user, valid_nhs_number(number), body, submission_key=idempotency_key)


@router.post(
    "/patients/{number}/assessments/{assessment_id}/amendments", status_code=201, response_model=AssessmentCreated
)
async def post_amendment(
    services: ServicesDep,
    user: ApiUser,
    number: str,
    assessment_id: str,
    body: dict[str, Any],
    idempotency_key: SubmissionKey = None,
) -> AssessmentCreated | JSONResponse:
    """Amend the latest version of a checklist: a new version (status amended), checked against the checklist
    version the first was made on; the FHIR record is updated, never duplicated. 409 if it is not the latest,
    unless this is the same amendment sent again with its Idempotency-Key.
    """
    return await _accept(
        services, user, valid_nhs_number(number), body, amends=assessment_id, submission_key=idempotency_key
    )


@router.post(
    "/patients/{number}/assessments/{assessment_id}/cosignature", status_code=201, response_model=AssessmentCreated
)
async def post_cosignature(services: ServicesDep, user: ApiUser, number: str, assessment_id: str) -> AssessmentCreated:
    """Co-sign the latest version of a checklist that asks for it (e.g. discharge with any safeguarding record):
    the safeguarding lead's signature is added (QuestionnaireResponse signature, Provenance verifier) as a new
    version. 409 if it needs none, has one, is not the latest, or the caller wrote it.
    """
    nhs_number = valid_nhs_number(number)
    picture = await services.picture(nhs_number)
    try:
        signed = await services.cosign(picture, assessment_id, user)
    except NotWritable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    await audit(
        services.sessions,
        user_id=user.id,
        role=user.role.key,
        action="api-cosign",
        nhs_number=nhs_number,
        detail=f"assessment {assessment_id}",
    )
    return AssessmentCreated(id=signed.assessment_id, write_back=_write_back(signed.entry))


@router.get("/patients/{number}/assessments/{assessment_id}/versions")
async def get_versions(services: ServicesDep, user: ApiUser, number: str, assessment_id: str) -> list[dict[str, Any]]:
    """Every version of a checklist up to this one, first first, each the QuestionnaireResponse as written."""
    nhs_number = valid_nhs_number(number)
    versions = await assessment_chain(services.sessions, assessment_id)
    if not versions or versions[0][0].nhs_number != nhs_number:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no such checklist for this baby")
    await audit(
        services.sessions, user_id=user.id, role=user.role.key, action="api-view-versions", nhs_number=nhs_number
    )
    return [json.loads(a.response_json) for a, _ in versions]


@router.get("/patients/{number}/assessments", response_model=list[AssessmentOut])
async def list_assessments(services: ServicesDep, user: ApiUser, number: str) -> list[AssessmentOut]:
    """This baby's saved assessments, newest first, each with where it is on its way to the FHIR record."""
    nhs_number = valid_nhs_number(number)
    rows = await latest_assessments(services.sessions, nhs_number=nhs_number)
    picture = await services.picture(nhs_number) if rows else None
    await audit(
        services.sessions, user_id=user.id, role=user.role.key, action="api-list-assessments", nhs_number=nhs_number
    )
    return [
        AssessmentOut(
            id=a.id,
            awaiting=[s.get("display", s.get("code", "")) for s in services.signatures_missing(picture, a, user)],
            checkpoint=a.checkpoint,
            questionnaire=a.questionnaire,
            status=a.status,
            version=a.version,
            author_id=a.author_id,
            author_role=a.author_role,
            created_at=a.created_at,
            write_back=_write_back(e),
        )
        for a, e in rows
    ]
