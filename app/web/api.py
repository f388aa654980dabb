"""The JSON API beside the pages, for EPR integrations and scripts. Bearer-token auth; every call audited."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Query, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from app.assessments import audit
from app.forms import Issue
from app.picture import Picture
from app.sources import parse_resource

from .auth import User
from .deps import ApiUser, ServicesDep, valid_nhs_number
from .services import NotWritable, Services

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["api"])


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


class PictureOut(BaseModel):
    checkpoint: str
    baby: PersonOut
    people: list[PersonOut]
    sources: list[SourceOut]
    records: list[RecordOut]
    male_carer_recorded: bool
    gathered_at: datetime


class WriteBackOut(BaseModel):
    state: str
    attempts: int
    server_ids: list[str]
    last_error: str | None


class AssessmentCreated(BaseModel):
    id: str
    write_back: WriteBackOut


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
        display="Restricted record: ask the safeguarding team" if hidden else r.display,
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
    )


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


@router.get("/checklists/{checkpoint}")
async def get_checklist(services: ServicesDep, user: ApiUser, checkpoint: str) -> dict[str, Any]:
    """The checklist for a checkpoint, as a FHIR R4 Questionnaire."""
    return _checkpoint(services, checkpoint)


@router.get("/patients/{number}/checklists/{checkpoint}")
async def get_prefilled(services: ServicesDep, user: ApiUser, number: str, checkpoint: str) -> dict[str, Any]:
    """A QuestionnaireResponse (in-progress) for this baby, pre-filled from the sources."""
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
    return services.start_checklist(picture, checkpoint, user).response


def _checkpoint_of(services: Services, response: dict[str, Any]) -> str:
    canonical = response.get("questionnaire", "")
    for checkpoint, questionnaire in services.checklists.by_checkpoint.items():
        if canonical == f"{questionnaire['url']}|{questionnaire['version']}":
            return checkpoint
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        f"QuestionnaireResponse.questionnaire must name a current checklist as url|version, not {canonical!r}",
    )


def _unprocessable(outcome: dict[str, Any]) -> JSONResponse:
    return JSONResponse(outcome, status.HTTP_422_UNPROCESSABLE_CONTENT, media_type="application/fhir+json")


@router.post("/patients/{number}/assessments", status_code=201, response_model=AssessmentCreated)
async def post_assessment(
    services: ServicesDep, user: ApiUser, number: str, body: dict[str, Any]
) -> AssessmentCreated | JSONResponse:
    """Submit a completed checklist (a QuestionnaireResponse). 201 once stored; 422 with an OperationOutcome.

    The response is stored before this returns; `write_back.state` says whether it has reached the
    FHIR record yet (`sent`) or is queued for another try (`retrying`, `needs-attention`).
    """
    nhs_number = valid_nhs_number(number)
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
    checkpoint = _checkpoint_of(services, body)
    if checkpoint not in user.role.may_submit:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"your role cannot complete the {checkpoint} checklist")
    picture = await services.picture(nhs_number)
    issues = services.check(picture, checkpoint, user, body)
    if issues:
        await audit(
            services.sessions,
            user_id=user.id,
            role=user.role.key,
            action=f"api-submit-{checkpoint}-checklist",
            nhs_number=nhs_number,
            outcome="refused",
            detail=f"{len(issues)} issues",
        )
        return _unprocessable(operation_outcome(issues))
    try:
        submitted = await services.submit(picture, checkpoint, user, body)
    except NotWritable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    entry = submitted.entry
    return AssessmentCreated(
        id=submitted.assessment_id,
        write_back=WriteBackOut(
            state=entry.state,
            attempts=entry.attempts,
            server_ids=json.loads(entry.server_ids_json),
            last_error=entry.last_error,
        ),
    )
