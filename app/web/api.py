"""The JSON API beside the pages, for EPR integrations and scripts: adapters of app.checkpoints' use cases.

Bearer-token auth; who may do what, what a role sees and the auditing are decided there, once.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated, Any

from fastapi import APIRouter, Header, HTTPException, Path, Query, Security, status
from fastapi.openapi.constants import REF_PREFIX as REF
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBearer

from app.checkpoints import Checkpoints, NotFound, User, seen_by
from app.checkpoints.outcomes import Invalid
from app.forms import CHECKPOINTS
from app.picture import Picture
from app.sources import parse_resource

from .api_models import (
    AssessmentCreated,
    AssessmentOut,
    DraftOut,
    HandoverOut,
    HoldOut,
    NotFoundProblem,
    OperationOutcome,
    OverrideIn,
    PictureOut,
    Problem,
    TakeChanges,
    hold_out,
    operation_outcome,
    picture_out,
    unprocessable,
    write_back_out,
)
from .deps import NHS_NUMBER_AS_WRITTEN, ApiUser, CheckpointsDep, valid_nhs_number
from .submission_keys import HEADER, valid_submission_key

__all__ = ["NHS_NUMBER_PATTERN", "REFERRED", "router"]

# Declares the bearer token in the OpenAPI schema; deps.api_user is what checks it.
BEARER = HTTPBearer(
    scheme_name="bearer",
    auto_error=False,
    description="A NeoSafe token, or with single sign-on an access token its provider issued (e.g. to an EPR).",
)
router = APIRouter(prefix="/api", tags=["api"], dependencies=[Security(BEARER)])

# What the schema says of the NHS number in a path: the rule itself is deps.valid_nhs_number (this pattern, and a
# valid check digit), whose 422 names the number; the pattern is only declared here, never checked a second way.
NHS_NUMBER_PATTERN = f"^{NHS_NUMBER_AS_WRITTEN.pattern}$"
NhsNumber = Annotated[
    str,
    Path(
        description="The baby's NHS number: 10 ASCII digits, as written or in their usual 3 3 4 groups (single "
        "spaces or hyphens), the last a valid check digit. Anything else is 422.",
        json_schema_extra={"pattern": NHS_NUMBER_PATTERN},
        examples=["9990101000", "999 010 1000"],
    ),
]

# Models the schema refers to by hand (a 422's second media type), which FastAPI cannot: docs.py adds them.
REFERRED = (OperationOutcome,)

_WHY = {
    400: "The body could not be read (e.g. it is not UTF-8), or the Idempotency-Key is not 1 to 255 visible ASCII "
    "characters.",
    401: "No bearer token, or one NeoSafe does not accept: forged, expired, its sign-in ended, or a demo user's "
    "where demo users are off.",
    403: "The caller's role may not do this (`detail` says why); with single sign-on, the token's selected role "
    "is not one NeoSafe has.",
    404: "No source holds a baby with this NHS number (`sources` says what each source said: one not checked may "
    "hold the baby), or there is no such checklist, draft or checkpoint for this baby.",
    409: "It would contradict what is stored (`detail` says what).",
    413: "The request is larger than NeoSafe accepts (NEOSAFE_MAX_BODY_BYTES).",
    422: "The NHS number is not a valid one, or a query parameter or the body's JSON is malformed (`detail` says "
    "which).",
    500: "NeoSafe hit an unexpected problem; nothing is saved unless a 201 said so.",
    503: "With single sign-on: the sign-in service could not be reached to check the token.",
}
_BEARER_CHALLENGE = {
    "WWW-Authenticate": {"description": "`Bearer`: send a bearer token", "required": True, "schema": {"type": "string"}}
}


def refusals(*codes: int, fhir: bool = False, why: dict[int, str] | None = None) -> dict[int | str, dict[str, Any]]:
    """The error answers of a route besides those of every route (401, 403, 413, 500, 503), each with its body
    as app/web/errors.py writes it; `fhir`: a 422 may also be an OperationOutcome (application/fhir+json)."""
    why = {**_WHY, **(why or {})}
    answers: dict[int | str, dict[str, Any]] = {}
    for code in sorted({401, 403, 413, 500, 503, *codes}):
        model = NotFoundProblem if code == 404 else Problem
        answers[code] = {"model": model, "description": why[code]}
    answers[401]["headers"] = _BEARER_CHALLENGE
    if fhir:
        answers[422]["description"] += (
            " A QuestionnaireResponse that is not one, names no NeoSafe checklist, or is not complete: an "
            "OperationOutcome (application/fhir+json) with an issue for each item."
        )
        answers[422]["content"] = {"application/fhir+json": {"schema": {"$ref": REF + OperationOutcome.__name__}}}
    return answers


BABY = refusals(404, 422)  # a route on a baby: its NHS number may be invalid, or the baby found nowhere
DRAFT_409 = {
    409: "The draft was begun on a version of the checklist no longer in use: open the checklist to start anew."
}
DRAFT = refusals(404, 409, 422, why=DRAFT_409)


@router.get("/patients/{number}/picture", response_model=PictureOut, responses=BABY)
async def get_picture(
    services: CheckpointsDep,
    user: ApiUser,
    number: NhsNumber,
    checkpoint: str = Query("admission", pattern=f"^({'|'.join(CHECKPOINTS)})$"),
) -> PictureOut:
    """The baby's safeguarding picture now: people, what each source said, every record current or historic.

    A source that could not be checked is `unavailable` (with the reason) or `not-configured`;
    `none-found` means the source was asked and holds nothing. NeoSafe never says "no concerns".
    """
    picture = await services.view_picture(
        user, valid_nhs_number(number), action="api-view-picture", checkpoint=checkpoint
    )
    return picture_out(seen_by(picture, user), checkpoint)


@router.get("/patients/{number}/handover", response_model=HandoverOut, responses=BABY)
async def get_handover(services: CheckpointsDep, user: ApiUser, number: NhsNumber) -> HandoverOut:
    """The handover summary for the community team as data: the picture (restricted detail as the caller's role
    allows), then what the baby's newest checklists recorded, section by section, and the tasks they raised."""
    picture = await services.view_picture(user, valid_nhs_number(number), action="api-view-handover")
    handover = await services.handover(picture, user)
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
        hold=hold_out(handover.hold),
        picture=picture_out(handover.picture, "discharge"),
    )


@router.get("/checklists/{checkpoint}", responses=refusals(404, why={404: "NeoSafe has no checklist by this name."}))
async def get_checklist(services: CheckpointsDep, user: ApiUser, checkpoint: str) -> dict[str, Any]:
    """The checklist for a checkpoint, as a FHIR R4 Questionnaire."""
    return services.questionnaire(checkpoint)


@router.get("/patients/{number}/checklists/{checkpoint}", responses=BABY)
async def get_prefilled(services: CheckpointsDep, user: ApiUser, number: NhsNumber, checkpoint: str) -> dict[str, Any]:
    """This baby's checklist to fill in: the saved draft exactly as left (never re-populated over the
    clinician's answers), else a QuestionnaireResponse (in-progress) newly pre-filled from the sources.
    """
    services.questionnaire(checkpoint)
    picture = await services.view_picture(
        user, valid_nhs_number(number), action=f"api-view-{checkpoint}-checklist", checkpoint=checkpoint
    )
    response, _, _ = await services.open_checklist(picture, checkpoint, user)
    return response


async def _draft_out(services: Checkpoints, picture: Picture, checkpoint: str, user: User, draft) -> DraftOut:
    found = services.draft_changes(picture, checkpoint, user, draft)
    return DraftOut(
        saved_at=draft.updated_at,
        saved_by=draft.author_id,
        saved_by_name=draft.author_name,
        changes=[asdict(c) for c in found],
    )


@router.put(
    "/patients/{number}/checklists/{checkpoint}/draft",
    response_model=DraftOut,
    responses=refusals(400, 404, 422, fhir=True),
)
async def put_draft(
    services: CheckpointsDep, user: ApiUser, number: NhsNumber, checkpoint: str, body: dict[str, Any]
) -> DraftOut | JSONResponse:
    """Save an unfinished checklist (a QuestionnaireResponse, in-progress) to finish later, by anyone."""
    nhs_number = valid_nhs_number(number)
    services.questionnaire(checkpoint)
    try:
        parse_resource(body)
    except ValueError as exc:
        return unprocessable(operation_outcome([("QuestionnaireResponse", str(exc))], "structure"))
    picture = await services.view_picture(
        user, nhs_number, action=f"api-draft-{checkpoint}-checklist", checkpoint=checkpoint
    )
    draft = await services.keep_draft(picture, checkpoint, user, body)
    return await _draft_out(services, picture, checkpoint, user, draft)


@router.get("/patients/{number}/checklists/{checkpoint}/draft", response_model=DraftOut, responses=DRAFT)
async def get_draft_changes(services: CheckpointsDep, user: ApiUser, number: NhsNumber, checkpoint: str) -> DraftOut:
    """When the draft was saved and by whom, and what the sources now say differently, item by item."""
    nhs_number = valid_nhs_number(number)
    draft = await services.draft(nhs_number, checkpoint, user)
    picture = await services.view_picture(
        user, nhs_number, action=f"api-view-{checkpoint}-draft", checkpoint=checkpoint
    )
    return await _draft_out(services, picture, checkpoint, user, draft)


@router.post(
    "/patients/{number}/checklists/{checkpoint}/draft/refresh",
    response_model=DraftOut,
    responses=refusals(400, 404, 409, 422, fhir=True, why=DRAFT_409),
)
async def refresh_draft(
    services: CheckpointsDep, user: ApiUser, number: NhsNumber, checkpoint: str, body: TakeChanges
) -> DraftOut:
    """Take the sources' new pre-filled answers for the chosen items; every other answer stays as it was."""
    nhs_number = valid_nhs_number(number)
    draft = await services.draft(nhs_number, checkpoint, user)
    picture = await services.view_picture(
        user, nhs_number, action=f"api-refresh-{checkpoint}-draft", checkpoint=checkpoint
    )
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
    services: Checkpoints,
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
        return unprocessable(operation_outcome([("QuestionnaireResponse", str(exc))], "structure"))
    if body.get("resourceType") != "QuestionnaireResponse":
        return unprocessable(
            operation_outcome([("resourceType", "the body must be a QuestionnaireResponse")], "structure")
        )
    try:
        checkpoint = services.checkpoint_of(body)
    except NotFound as exc:
        return unprocessable(operation_outcome([("questionnaire", str(exc))], "invalid"))
    picture = await services.view_picture(
        user, nhs_number, action=f"api-{'amend' if amends else 'submit'}-{checkpoint}-checklist", checkpoint=checkpoint
    )
    saved = await services.save(picture, checkpoint, user, body, amends=amends, submission_key=key)
    if isinstance(saved, list):
        return unprocessable(operation_outcome(saved))
    return AssessmentCreated(id=saved.assessment_id, write_back=write_back_out(saved.entry))


@router.post(
    "/patients/{number}/assessments",
    status_code=201,
    response_model=AssessmentCreated,
    responses=refusals(
        400,
        404,
        409,
        422,
        fhir=True,
        why={
            409: "The Idempotency-Key was used for other answers, another baby or another user; or the baby is "
            "not on the record NeoSafe writes to."
        },
    ),
)
async def post_assessment(
    services: CheckpointsDep,
    user: ApiUser,
    number: NhsNumber,
    body: dict[str, Any],
    idempotency_key: SubmissionKey = None,
) -> AssessmentCreated | JSONResponse:
    """Submit a completed checklist (a QuestionnaireResponse). 201 once stored; 422 with an OperationOutcome.

    The response is stored before this returns; `write_back.state` says whether it has reached the
    FHIR record yet (`sent`) or is queued for another try (`retrying`, `needs-attention`). Send an
    Idempotency-Key, and send it again on a retry: a submission is then stored once however often it arrives.
    """
    return await _accept(services, user, valid_nhs_number(number), body, submission_key=idempotency_key)


@router.post(
    "/patients/{number}/assessments/{assessment_id}/amendments",
    status_code=201,
    response_model=AssessmentCreated,
    responses=refusals(
        400,
        404,
        409,
        422,
        fhir=True,
        why={
            409: "The checklist has been amended since (amend the latest version), or the Idempotency-Key was "
            "used for other answers, another baby or another user."
        },
    ),
)
async def post_amendment(
    services: CheckpointsDep,
    user: ApiUser,
    number: NhsNumber,
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
    "/patients/{number}/assessments/{assessment_id}/cosignature",
    status_code=201,
    response_model=AssessmentCreated,
    responses=refusals(
        404,
        409,
        422,
        why={409: "The checklist needs no co-signature, has one already, or has been amended since."},
    ),
)
async def post_cosignature(
    services: CheckpointsDep, user: ApiUser, number: NhsNumber, assessment_id: str
) -> AssessmentCreated:
    """Co-sign the latest version of a checklist that asks for it (e.g. discharge with any safeguarding record):
    the safeguarding lead's signature is added (QuestionnaireResponse signature, Provenance verifier) as a new
    version. 403 if the caller's role may not co-sign or the caller wrote it; 409 if it needs none, has one, or
    is not the latest.
    """
    picture = await services.view_picture(user, valid_nhs_number(number), action="api-cosign")
    signed = await services.cosign(picture, assessment_id, user)
    return AssessmentCreated(id=signed.assessment_id, write_back=write_back_out(signed.entry))


@router.post(
    "/patients/{number}/assessments/{assessment_id}/overrides",
    status_code=201,
    response_model=HoldOut,
    responses=refusals(
        400,
        404,
        409,
        422,
        why={
            409: "The checklist has been amended since, or is not held by that finding (not raised, or already "
            "overridden).",
            422: "The NHS number is not a valid one, the body is malformed, the finding is not one NeoSafe has, or the "
            "reason is empty or longer than 4000 characters (`detail` says which).",
        },
    ),
)
async def post_override(
    services: CheckpointsDep, user: ApiUser, number: NhsNumber, assessment_id: str, body: OverrideIn
) -> HoldOut:
    """Override one finding that holds the latest version of a discharge checklist, with the reason: only a role
    fhir_mappings/discharge-holds.toml names for that finding (403 otherwise). Audited and kept; answers what then
    holds the checklist. 422 for a finding NeoSafe does not have or an empty reason.
    """
    try:
        hold = await services.override_hold(user, valid_nhs_number(number), assessment_id, body.finding, body.reason)
    except Invalid as exc:  # not a QuestionnaireResponse refused: a Problem, as any other malformed request
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    return hold_out(hold)


@router.get("/patients/{number}/assessments/{assessment_id}/versions", responses=BABY)
async def get_versions(
    services: CheckpointsDep, user: ApiUser, number: NhsNumber, assessment_id: str
) -> list[dict[str, Any]]:
    """Every version of a checklist up to this one, first first, each the QuestionnaireResponse as written."""
    versions = await services.versions(user, valid_nhs_number(number), assessment_id)
    return [json.loads(v.assessment.response_json) for v in versions]


@router.get("/patients/{number}/assessments", response_model=list[AssessmentOut], responses=BABY)
async def list_assessments(services: CheckpointsDep, user: ApiUser, number: NhsNumber) -> list[AssessmentOut]:
    """This baby's saved assessments, newest first, each with where it is on its way to the FHIR record."""
    nhs_number = valid_nhs_number(number)
    rows = await services.saved(nhs_number)
    await services.audit(user, "api-list-assessments", nhs_number)
    picture = await services.picture(nhs_number) if rows else None  # what each checklist still needs, now
    return [
        AssessmentOut(
            id=a.id,
            awaiting=[s.get("display", s.get("code", "")) for s in services.signatures_missing(picture, a, user)],
            hold=hold_out(await services.hold_of(a)),
            checkpoint=a.checkpoint,
            questionnaire=a.questionnaire,
            status=a.status,
            version=a.version,
            author_id=a.author_id,
            author_role=a.author_role,
            created_at=a.created_at,
            write_back=write_back_out(e),
        )
        for a, e in rows
    ]
