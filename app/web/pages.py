"""The pages clinicians use: the unit, a baby's safeguarding picture, and the checklists."""

from __future__ import annotations

import copy
import functools
import json
import uuid
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Form, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from itsdangerous import BadSignature, URLSafeSerializer

from app.assessments import (
    amended_by,
    assessment_chain,
    audit,
    deliver,
    get_draft,
    latest_assessments,
    resend,
    unsent_assessments,
)
from app.forms import CHECKPOINTS, REPEAT_COUNT_PREFIX, add_repeats, apply_form, enabled_paths
from app.picture import Picture

from .auth import DEMO_USERS, User, issue_token
from .deps import COOKIE, PageUser, ServicesDep, valid_nhs_number
from .form_view import field_id, form_fields
from .services import AlreadySubmitted, NotWritable, Services
from .submission_keys import valid_submission_key
from .templating import nhs_date

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def render_page(request: Request, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    templates = request.app.state.templates
    return templates.TemplateResponse(request, template, context, status_code=status_code)


def _csrf(services: Services, user: User) -> str:
    return URLSafeSerializer(services.settings.secret_key, salt="neosafe-csrf").dumps(user.id)


def _check_csrf(services: Services, user: User, token: str) -> None:
    try:
        owner = URLSafeSerializer(services.settings.secret_key, salt="neosafe-csrf").loads(token)
    except BadSignature:
        owner = None
    if owner != user.id:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "This form has expired. Go back, reload the page and try again.")


def safe_next(target: str) -> str:
    """Only a path on this site: never a sign-in that sends the user somewhere else."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


async def start_session(request: Request, services: Services, user: User, target: str) -> Response:
    """Signed in: audited, then NeoSafe's own session cookie, whoever vouched for the user. Over HTTPS (as a
    trust's reverse proxy tells uvicorn) the cookie is Secure, so it never travels over plain HTTP."""
    await audit(services.sessions, user_id=user.id, role=user.role.key, action="sign-in")
    response = RedirectResponse(safe_next(target), status.HTTP_303_SEE_OTHER)
    response.set_cookie(
        COOKIE,
        issue_token(user, secret=services.settings.secret_key),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        max_age=int(services.settings.session_hours * 3600),
    )
    return response


@router.get("/sign-in")
async def sign_in_page(request: Request, services: ServicesDep, next: str = "/") -> HTMLResponse:
    return render_page(
        request,
        "sign_in.html",
        demo_users=list(DEMO_USERS.values()) if services.settings.demo_users else [],
        single_sign_on=request.app.state.oidc is not None,
        next=safe_next(next),
    )


@router.post("/sign-in")
async def sign_in(
    request: Request, services: ServicesDep, role: Annotated[str, Form()], next: Annotated[str, Form()] = "/"
) -> Response:
    user = DEMO_USERS.get(role) if services.settings.demo_users else None
    if user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Sign-in with demo users is not enabled here.")
    return await start_session(request, services, user, next)


@router.post("/sign-out")
async def sign_out() -> Response:
    response = RedirectResponse("/sign-in", status.HTTP_303_SEE_OTHER)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
async def unit(request: Request, services: ServicesDep, user: PageUser) -> HTMLResponse:
    error = None
    try:
        stays = await services.census()
    except Exception as exc:  # the list of babies is a convenience; searching by NHS number still works
        stays, error = [], getattr(exc, "reason", "the unit's record could not be reached")
    await audit(services.sessions, user_id=user.id, role=user.role.key, action="view-unit")
    return render_page(request, "unit.html", user=user, stays=stays, census_error=error)


@router.get("/find")
async def find(nhs_number: str = "") -> Response:
    return RedirectResponse(f"/patients/{quote(nhs_number.strip(), safe='')}", status.HTTP_303_SEE_OTHER)


async def audited_picture(services: Services, user: User, nhs_number: str, action: str) -> Picture:
    picture = await services.picture(nhs_number)
    await audit(services.sessions, user_id=user.id, role=user.role.key, action=action, nhs_number=nhs_number)
    return picture


@router.get("/patients/{number}")
async def patient(request: Request, services: ServicesDep, user: PageUser, number: str) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    picture = await audited_picture(services, user, nhs_number, "view-picture")
    assessments = await latest_assessments(services.sessions, nhs_number=nhs_number)
    return render_page(
        request,
        "patient.html",
        user=user,
        picture=picture,
        labels=services.mappings.source_labels,
        checkpoints=CHECKPOINTS,
        available=services.checklists.by_checkpoint,
        assessments=assessments,
    )


def _checklist_page(
    request: Request,
    services: Services,
    user: User,
    picture: Picture,
    picture_id: str,
    checkpoint: str,
    response: dict[str, Any],
    *,
    issues: list = (),
    raw: dict[str, list[str]] | None = None,
    problems: dict[str, str] | None = None,
    notices: list[str] = (),
    status_code: int = 200,
    amends: str | None = None,
    draft_changes: list | None = None,
) -> HTMLResponse:
    questionnaire = services.checklists.for_response(response)
    enabled = enabled_paths(questionnaire, response, services.env(picture, checkpoint, user))
    fields = form_fields(questionnaire, response, enabled=enabled, issues=issues, raw=raw, parse_problems=problems)
    messages = {**{i.path: i.message for i in issues}, **(problems or {})}
    errors = [(field_id(path), message) for path, message in messages.items()]
    return render_page(
        request,
        "checklist.html",
        status_code=status_code,
        user=user,
        picture=picture,
        picture_id=picture_id,
        labels=services.mappings.source_labels,
        questionnaire=questionnaire,
        checkpoint=checkpoint,
        fields=fields,
        errors=errors,
        notices=notices,
        csrf=_csrf(services, user),
        may_submit=checkpoint in user.role.may_submit,
        action=(
            f"/patients/{picture.baby.nhs_number}/assessments/{amends}/amend"
            if amends
            else f"/patients/{picture.baby.nhs_number}/checklists/{checkpoint}"
        ),
        amending=amends is not None,
        draft_changes=draft_changes or [],
        # One per filled-in form, kept as the page is redrawn: Save pressed again finds the first save.
        submission_key=((raw or {}).get("submission_key") or [""])[0] or str(uuid.uuid4()),
    )


def _checkpoint(checkpoint: str, services: Services) -> str:
    if checkpoint not in services.checklists.by_checkpoint:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"There is no '{checkpoint}' checklist.")
    return checkpoint


@router.get("/patients/{number}/checklists/{checkpoint}")
async def checklist(
    request: Request, services: ServicesDep, user: PageUser, number: str, checkpoint: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    _checkpoint(checkpoint, services)
    picture = await audited_picture(services, user, nhs_number, f"view-{checkpoint}-checklist")
    picture_id = request.app.state.pictures.put(picture, user_id=user.id)
    response, draft, notices = await services.open_checklist(picture, checkpoint, user)
    changes = []
    if draft is not None:
        notices = [f"You are finishing a draft saved on {nhs_date(draft.updated_at)} by {draft.author_id}."]
        changes = services.draft_changes(picture, checkpoint, user, draft)
    return _checklist_page(
        request, services, user, picture, picture_id, checkpoint, response, notices=notices, draft_changes=changes
    )


async def _posted(
    request: Request,
    services: Services,
    user: User,
    nhs_number: str,
    checkpoint: str,
    base: dict[str, Any] | None = None,
):
    """The picture the form was drawn from, and the response it showed (`base`, else the draft or a new
    pre-fill) with the posted answers put in."""
    form = await request.form()
    values = {key: [str(v) for v in form.getlist(key)] for key in form}
    _check_csrf(services, user, (values.get("csrf") or [""])[0])
    picture_id = (values.get("picture_id") or [""])[0]
    picture = request.app.state.pictures.get(picture_id, user_id=user.id, nhs_number=nhs_number)
    if picture is None:  # expired or from before a restart: ask the sources again
        picture = await services.picture(nhs_number)
        picture_id = request.app.state.pictures.put(picture, user_id=user.id)
    response = (
        copy.deepcopy(base) if base is not None else (await services.open_checklist(picture, checkpoint, user))[0]
    )
    questionnaire = services.checklists.for_response(response)
    counts = {
        key[len(REPEAT_COUNT_PREFIX) :]: int(v[0])
        for key, v in values.items()
        if key.startswith(REPEAT_COUNT_PREFIX) and v and v[0].isdigit()
    }
    added = (values.get("add") or [""])[0]
    if added:
        counts[added] = counts.get(added, 0) + 1
    add_repeats(questionnaire, response, {k: min(v, 50) for k, v in counts.items()})
    problems = apply_form(questionnaire, response, values)
    return picture, picture_id, response, values, problems, bool(added)


@router.post("/patients/{number}/checklists/{checkpoint}/enabled")
async def checklist_enabled(
    request: Request, services: ServicesDep, user: PageUser, number: str, checkpoint: str
) -> dict[str, list[str]]:
    """Which items apply given the answers so far: lets the page show follow-up questions as they apply."""
    nhs_number = valid_nhs_number(number)
    _checkpoint(checkpoint, services)
    picture, _, response, _, _, _ = await _posted(request, services, user, nhs_number, checkpoint)
    questionnaire = services.checklists.for_response(response)
    env = services.env(picture, checkpoint, user)
    return {"enabled": sorted(enabled_paths(questionnaire, response, env))}


async def _complete(
    request: Request,
    services: Services,
    user: User,
    nhs_number: str,
    checkpoint: str,
    *,
    base: dict[str, Any] | None = None,
    amends: str | None = None,
) -> Response:
    """A posted checklist: add a repeat, keep a draft, or check it and save it (a first version or an amendment)."""
    picture, picture_id, response, values, problems, adding = await _posted(
        request, services, user, nhs_number, checkpoint, base
    )
    page = functools.partial(
        _checklist_page, request, services, user, picture, picture_id, checkpoint, response, amends=amends
    )
    if adding:
        return page(raw=values)
    if checkpoint not in user.role.may_submit:
        await audit(
            services.sessions,
            user_id=user.id,
            role=user.role.key,
            action=f"submit-{checkpoint}-checklist",
            nhs_number=nhs_number,
            outcome="refused",
            detail="role may not complete this checklist",
        )
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"Your role cannot complete the {checkpoint} checklist.")
    if (values.get("intent") or [""])[0] == "draft" and not amends:
        draft = await services.keep_draft(picture, checkpoint, user, response)
        return page(
            raw=values, notices=[f"Draft saved on {nhs_date(draft.updated_at)}. Anyone on the unit can finish it."]
        )
    refused = functools.partial(page, raw=values, problems=problems, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    if problems:  # answers that could not be read: say so with every other issue, and save nothing
        return refused(issues=services.check(picture, checkpoint, user, response))
    key = valid_submission_key((values.get("submission_key") or [""])[0])
    try:
        saved = await services.save(picture, checkpoint, user, response, amends=amends, submission_key=key)
    except (AlreadySubmitted, NotWritable) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    if isinstance(saved, list):
        return refused(issues=saved)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{saved.assessment_id}", status.HTTP_303_SEE_OTHER)


@router.post("/patients/{number}/checklists/{checkpoint}")
async def submit_checklist(
    request: Request, services: ServicesDep, user: PageUser, number: str, checkpoint: str
) -> Response:
    nhs_number = valid_nhs_number(number)
    _checkpoint(checkpoint, services)
    return await _complete(request, services, user, nhs_number, checkpoint)


@router.post("/patients/{number}/checklists/{checkpoint}/draft/refresh")
async def refresh_draft(
    request: Request, services: ServicesDep, user: PageUser, number: str, checkpoint: str
) -> Response:
    """Take the sources' new answers for the items the clinician ticked; every other answer stays."""
    nhs_number = valid_nhs_number(number)
    _checkpoint(checkpoint, services)
    form = await request.form()
    _check_csrf(services, user, str(form.get("csrf", "")))
    draft = await get_draft(services.sessions, nhs_number=nhs_number, checkpoint=checkpoint)
    if draft is not None:
        picture = await audited_picture(services, user, nhs_number, f"refresh-{checkpoint}-draft")
        paths = {str(p) for p in form.getlist("take")}
        await services.take_changes(picture, checkpoint, user, draft, paths)
    return RedirectResponse(f"/patients/{nhs_number}/checklists/{checkpoint}", status.HTTP_303_SEE_OTHER)


async def _latest_version(services: Services, nhs_number: str, assessment_id: str):
    versions = await assessment_chain(services.sessions, assessment_id)
    if not versions or versions[0][0].nhs_number != nhs_number:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "There is no such checklist for this baby.")
    if await amended_by(services.sessions, assessment_id):
        raise HTTPException(
            status.HTTP_409_CONFLICT, "This checklist has been amended since: amend the latest version."
        )
    return versions


@router.get("/patients/{number}/assessments/{assessment_id}/amend")
async def amend_page(
    request: Request, services: ServicesDep, user: PageUser, number: str, assessment_id: str
) -> HTMLResponse:
    """The latest version's answers, to change; saving makes a new version."""
    nhs_number = valid_nhs_number(number)
    versions = await _latest_version(services, nhs_number, assessment_id)
    latest = versions[-1][0]
    picture = await audited_picture(services, user, nhs_number, f"view-{latest.checkpoint}-amendment")
    picture_id = request.app.state.pictures.put(picture, user_id=user.id)
    notice = (
        f"You are amending version {latest.version} of this checklist. Saving it makes version {latest.version + 1}."
    )
    return _checklist_page(
        request,
        services,
        user,
        picture,
        picture_id,
        latest.checkpoint,
        json.loads(latest.response_json),
        notices=[notice],
        amends=assessment_id,
    )


@router.post("/patients/{number}/assessments/{assessment_id}/amend")
async def amend(request: Request, services: ServicesDep, user: PageUser, number: str, assessment_id: str) -> Response:
    nhs_number = valid_nhs_number(number)
    latest = (await _latest_version(services, nhs_number, assessment_id))[-1][0]
    return await _complete(
        request,
        services,
        user,
        nhs_number,
        latest.checkpoint,
        base=json.loads(latest.response_json),
        amends=assessment_id,
    )


@router.get("/patients/{number}/assessments/{assessment_id}")
async def assessment(
    request: Request, services: ServicesDep, user: PageUser, number: str, assessment_id: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    rows = await latest_assessments(services.sessions, nhs_number=nhs_number)
    found = next(((a, e) for a, e in rows if a.id == assessment_id), None)
    if found is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "There is no such checklist for this baby.")
    picture = await audited_picture(services, user, nhs_number, "view-assessment")
    versions = await assessment_chain(services.sessions, assessment_id)
    return render_page(
        request,
        "assessment.html",
        versions=[a for a, _ in versions],
        latest=not await amended_by(services.sessions, assessment_id),
        awaiting=services.signatures_missing(picture, found[0], user),
        task_rows=[(task, None) for task in services.tasks_raised(found[0])],
        answers=services.answers_of(found[0]),
        user=user,
        picture=picture,
        labels=services.mappings.source_labels,
        assessment=found[0],
        entry=found[1],
        csrf=_csrf(services, user),
    )


@router.post("/patients/{number}/assessments/{assessment_id}/resend")
async def resend_assessment(
    request: Request, services: ServicesDep, user: PageUser, number: str, assessment_id: str
) -> Response:
    """The safeguarding lead sends again an assessment the server refused, once the cause is fixed."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    _check_csrf(services, user, str(form.get("csrf", "")))
    if not user.role.may_resend:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Only the safeguarding lead can send a checklist again.")
    rows = await latest_assessments(services.sessions, nhs_number=nhs_number)
    entry = next((e for a, e in rows if a.id == assessment_id), None)
    if entry is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "There is no such checklist for this baby.")
    await resend(services.sessions, entry.id)
    await audit(
        services.sessions,
        user_id=user.id,
        role=user.role.key,
        action="resend-assessment",
        nhs_number=nhs_number,
        detail=f"assessment {assessment_id}",
    )
    async with services.client(services.write_back) as client:
        await deliver(services.sessions, client, entry.id, worker=services.worker_id)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{assessment_id}", status.HTTP_303_SEE_OTHER)


@router.post("/patients/{number}/assessments/{assessment_id}/cosign")
async def cosign(request: Request, services: ServicesDep, user: PageUser, number: str, assessment_id: str) -> Response:
    """The safeguarding lead co-signs a checklist that asks for it; a new version carries the signature."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    _check_csrf(services, user, str(form.get("csrf", "")))
    picture = await audited_picture(services, user, nhs_number, "cosign-assessment")
    try:
        signed = await services.cosign(picture, assessment_id, user)
    except NotWritable as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{signed.assessment_id}", status.HTTP_303_SEE_OTHER)


@router.get("/outbox")
async def outbox(request: Request, services: ServicesDep, user: PageUser) -> HTMLResponse:
    """Checklists saved in NeoSafe but not yet in a baby's record, for the safeguarding lead to follow up."""
    if not user.role.may_resend:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, "Only the safeguarding lead can see the checklists waiting to be sent."
        )
    await audit(services.sessions, user_id=user.id, role=user.role.key, action="view-outbox")
    return render_page(request, "outbox.html", user=user, rows=await unsent_assessments(services.sessions))
