"""The pages clinicians use: the unit, a baby's safeguarding picture, and the checklists.

Adapters of app.checkpoints' use cases: who may do what, what a role sees and the auditing are decided there.
A checklist posted just after its author's sign-in ended for being unused is kept for them, not lost: they sign
in again and find it redrawn as they left it (`_hold`, `_resume`).
"""

from __future__ import annotations

import copy
import functools
import uuid
from datetime import timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from app.assessments import held_answers, hold_answers, release_answers
from app.checkpoints import ROLES, Action, Checkpoints, NotFound, User, may, seen_by
from app.checkpoints.policy import landing, offered
from app.checkpoints.schedule import IN_STAY, completions, scheduled_checks
from app.checkpoints.summary import summary_for
from app.checkpoints.worklist import SHOWN, Show
from app.delivery import handovers_to_follow_up
from app.forms import CHECKPOINTS, REPEAT_COUNT_PREFIX, add_repeats, apply_form, enabled_paths
from app.nhs_style import nhs_date
from app.picture import Picture

from .deps import CheckpointsDep, PageUser, SignInEnded, page_user, valid_nhs_number
from .form_view import field_id, form_fields
from .rendering import check_csrf, render_page
from .submission_keys import valid_submission_key

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

RESUMED = "You were signed out before this was saved. Your answers are back: check them and save."


async def checklist_poster(request: Request, services: CheckpointsDep) -> User | None:
    """Who is posting a checklist; None if their sign-in has just ended for being unused (it is then on
    `request.state.sign_in`), so that `_hold` keeps their answers rather than lose them."""
    try:
        return await page_user(request, services)
    except SignInEnded as ended:
        if ended.sign_in.end_reason != "idle":  # signed out, or too old: nothing is kept
            raise
        request.state.sign_in = ended.sign_in
        return None


ChecklistPoster = Annotated[User | None, Depends(checklist_poster)]


@router.get("/")
async def unit(request: Request, services: CheckpointsDep, user: PageUser, show: Show = "all") -> HTMLResponse:
    """The landing page: the unit's worklist, what needs action first (`show` filters it: SHOWN), or the unit's
    babies as handovers for a role that completes no checklist (policy.landing)."""
    mode = landing(user)
    if mode == "handovers":
        error = None
        try:
            stays = await services.census(user)
        except Exception as exc:  # the list of babies is a convenience; searching by NHS number still works
            stays, error = [], getattr(exc, "reason", "the unit's record could not be reached")
        return render_page(request, "unit.html", user=user, stays=stays, census_error=error, mode=mode)
    worklist = await services.worklist(user, show=show)
    return render_page(request, "unit.html", user=user, worklist=worklist, mode=mode, **_worklist_words(services))


def _worklist_words(services: Checkpoints) -> dict[str, Any]:
    return {"titles": {c: services.checklists.short_title(c) for c in CHECKPOINTS}, "shown": SHOWN}


@router.get("/unit/safeguarding")
async def unit_safeguarding(
    request: Request, services: CheckpointsDep, user: PageUser, show: Show = "all"
) -> HTMLResponse:
    """The safeguarding lead's view of the unit (their home): the worklist (`show` filters it), tasks by owner,
    co-signatures, overrides, enquiries not done safely and the sources that failed most."""
    view = await services.lead_view(user, show=show)
    handovers = await handovers_to_follow_up(
        services.sessions,
        user,
        now=services.clock(),
        acknowledge_within=timedelta(hours=services.settings.delivery_acknowledge_within_h),
    )
    return render_page(
        request,
        "unit_safeguarding.html",
        user=user,
        view=view,
        worklist=view.worklist,
        handovers=handovers,
        **_worklist_words(services),
    )


@router.get("/find")
async def find(user: PageUser, nhs_number: str = "") -> Response:  # signed in, as every page
    return RedirectResponse(f"/patients/{quote(nhs_number.strip(), safe='')}", status.HTTP_303_SEE_OTHER)


@router.get("/patients/{number}")
async def patient(request: Request, services: CheckpointsDep, user: PageUser, number: str) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    picture = await services.view_picture(user, nhs_number, action="view-picture")
    assessments = await services.saved(nhs_number)
    done = completions(stored.assessment for stored in assessments)
    seen = seen_by(picture, user)
    in_use = [c for c in CHECKPOINTS if c in services.checklists.by_checkpoint]
    new_information = (await services.new_information(user, [nhs_number])).get(nhs_number, [])
    return render_page(
        request,
        "patient.html",
        user=user,
        picture=seen,
        new_information=new_information,
        watched_at=(await services.last_watched([nhs_number])).get(nhs_number),
        may_acknowledge=may(user, Action.ACKNOWLEDGE),
        summary=summary_for(services, seen),
        labels=services.mappings.source_labels,
        startable=offered(user, [c for c in in_use if c not in IN_STAY]),
        in_stay_startable=offered(user, [c for c in in_use if c in IN_STAY]),
        scheduled=scheduled_checks(picture.encounter, done, now=services.clock()),
        titles={c: services.checklists.short_title(c) for c in CHECKPOINTS},
        assessments=assessments,
        role_labels={key: role.label for key, role in ROLES.items()},
    )


def _checklist_page(
    request: Request,
    services: Checkpoints,
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
    enabled = enabled_paths(questionnaire, response, services.env(picture, checkpoint, user, response))
    action = (
        f"/patients/{picture.baby.nhs_number}/assessments/{amends}/amend"
        if amends
        else f"/patients/{picture.baby.nhs_number}/checklists/{checkpoint}"
    )
    fields = form_fields(
        questionnaire,
        response,
        enabled=enabled,
        issues=issues,
        raw=raw,
        parse_problems=problems,
        names=services.mappings.source_labels,
    )
    messages = {**{i.path: i.message for i in issues}, **(problems or {})}
    errors = [(field_id(path), message) for path, message in messages.items()]
    seen = seen_by(picture, user)
    return render_page(
        request,
        "checklist.html",
        status_code=status_code,
        user=user,
        picture=seen,
        summary=summary_for(services, seen),
        picture_id=picture_id,
        labels=services.mappings.source_labels,
        questionnaire=questionnaire,
        checkpoint=checkpoint,
        fields=fields,
        errors=errors,
        notices=notices,
        idle_seconds=int(services.settings.session_idle_minutes * 60),  # checklist.js warns before the sign-out
        may_submit=may(user, Action.COMPLETE, checkpoint=checkpoint),
        action=action,  # the page asks `{action}/enabled` which follow-up questions apply as the answers change
        amending=amends is not None,
        draft_changes=draft_changes or [],
        # One per filled-in form, kept as the page is redrawn: Save pressed again finds the first save.
        submission_key=((raw or {}).get("submission_key") or [""])[0] or str(uuid.uuid4()),
    )


@router.get("/patients/{number}/checklists/{checkpoint}")
async def checklist(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, checkpoint: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    services.questionnaire(checkpoint)
    picture = await services.view_picture(
        user, nhs_number, action=f"view-{checkpoint}-checklist", checkpoint=checkpoint
    )
    picture_id = request.app.state.pictures.put(picture, user_id=user.id)
    response, draft, notices = await services.open_checklist(picture, checkpoint, user)
    changes = []
    if draft is not None:
        notices = [f"You are finishing a draft saved on {nhs_date(draft.updated_at)} by {_draft_author(draft)}."]
        changes = services.draft_changes(picture, checkpoint, user, draft)
    return _checklist_page(
        request, services, user, picture, picture_id, checkpoint, response, notices=notices, draft_changes=changes
    )


def _draft_author(draft) -> str:
    """Who saved the draft, as a person and their role ("Alex Morgan (Neonatal nurse)"); a draft kept before names
    were kept gives the user id."""
    role = ROLES.get(draft.author_role)
    name = draft.author_name or draft.author_id
    return f"{name} ({role.label})" if role else name


async def _form(request: Request) -> dict[str, list[str]]:
    """The posted form, each field's values as text, once its CSRF token is found to be this sign-in's."""
    form = await request.form()
    values = {key: [str(v) for v in form.getlist(key)] for key in form}
    check_csrf(request, (values.get("csrf") or [""])[0])
    return values


async def _posted(
    request: Request,
    services: Checkpoints,
    user: User,
    nhs_number: str,
    checkpoint: str,
    values: dict[str, list[str]],
    base: dict[str, Any] | None = None,
):
    """The picture the form was drawn from, and the response it showed (`base`, else the draft or a new
    pre-fill) with the form's `values` put in."""
    picture_id = (values.get("picture_id") or [""])[0]
    picture = request.app.state.pictures.get(picture_id, user_id=user.id, nhs_number=nhs_number)
    if picture is None:  # expired or from before a restart: ask the sources again
        picture = await services.picture(nhs_number, user=user, checkpoint=checkpoint)
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


def _enabled(
    services: Checkpoints, user: User, picture: Picture, checkpoint: str, response: dict[str, Any]
) -> dict[str, list[str]]:
    questionnaire = services.checklists.for_response(response)
    env = services.env(picture, checkpoint, user, response)
    return {"enabled": sorted(enabled_paths(questionnaire, response, env))}


@router.post("/patients/{number}/checklists/{checkpoint}/enabled")
async def checklist_enabled(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, checkpoint: str
) -> dict[str, list[str]]:
    """Which items apply given the answers so far: lets the page show follow-up questions as they apply."""
    nhs_number = valid_nhs_number(number)
    services.questionnaire(checkpoint)
    picture, _, response, _, _, _ = await _posted(request, services, user, nhs_number, checkpoint, await _form(request))
    return _enabled(services, user, picture, checkpoint, response)


async def _complete(
    request: Request,
    services: Checkpoints,
    user: User,
    nhs_number: str,
    checkpoint: str,
    *,
    base: dict[str, Any] | None = None,
    amends: str | None = None,
) -> Response:
    """A posted checklist: add a repeat, keep a draft, or check it and save it (a first version or an amendment)."""
    picture, picture_id, response, values, problems, adding = await _posted(
        request, services, user, nhs_number, checkpoint, await _form(request), base
    )
    if amends:
        picture = await services.amending(picture, nhs_number, amends)
    page = functools.partial(
        _checklist_page, request, services, user, picture, picture_id, checkpoint, response, amends=amends
    )
    if adding:
        return page(raw=values)
    if (values.get("intent") or [""])[0] == "draft" and not amends:
        draft = await services.keep_draft(picture, checkpoint, user, response)
        notice = f"Draft saved on {nhs_date(draft.updated_at)}. Anyone on the unit can finish it."
        if problems:  # never a silent drop: what could not be read is not in the draft, and the page says which
            unread = (
                "1 answer could not be read and is"
                if len(problems) == 1
                else f"{len(problems)} answers could not be read and are"
            )
            notice += (
                f" {unread} not in the draft: correct {'it' if len(problems) == 1 else 'them'} below and save again."
            )
        return page(raw=values, problems=problems, notices=[notice])
    refused = functools.partial(page, raw=values, problems=problems, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)
    key = valid_submission_key((values.get("submission_key") or [""])[0])
    if problems:  # answers that could not be read: say so with every other issue, and save nothing
        await services.authorise(user, Action.COMPLETE, nhs_number, checkpoint=checkpoint)
        made_on = base["questionnaire"] if amends and base else None
        return refused(issues=services.check(picture, checkpoint, user, response, made_on=made_on))
    saved = await services.save(picture, checkpoint, user, response, amends=amends, submission_key=key)
    if isinstance(saved, list):
        return refused(issues=saved)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{saved.assessment_id}", status.HTTP_303_SEE_OTHER)


async def _hold(request: Request, services: Checkpoints) -> Response:
    """The author's sign-in ended for being unused before they pressed Save: keep what they posted (their own form:
    its CSRF token is the ended sign-in's), for them alone, and send them to sign in again and back to it."""
    values = await _form(request)
    held_id = await hold_answers(
        services.sessions,
        user_id=request.state.sign_in.user_id,
        path=request.url.path,
        fields=values,
        now=services.clock(),
        keep=timedelta(hours=services.settings.session_hours),
    )
    resume = quote(f"{request.url.path}/resume/{held_id}", safe="")
    return RedirectResponse(f"/sign-in?next={resume}", status.HTTP_303_SEE_OTHER)


async def _resume(
    request: Request,
    services: Checkpoints,
    user: User,
    nhs_number: str,
    checkpoint: str,
    held_id: str,
    *,
    base: dict[str, Any] | None = None,
    amends: str | None = None,
) -> HTMLResponse:
    """The checklist `_hold` kept, redrawn for its author with their answers in, to check and save: nothing is
    saved or sent until they press Save. 404 for anyone else, and once resumed."""
    await services.authorise(user, Action.COMPLETE, nhs_number, checkpoint=checkpoint)
    keep = timedelta(hours=services.settings.session_hours)
    form_path = request.url.path.rsplit("/resume/", 1)[0]
    values = await held_answers(
        services.sessions, held_id, user_id=user.id, path=form_path, now=services.clock(), keep=keep
    )
    if values is None:
        raise NotFound("there are no answers kept for you at this address: they may have been resumed already")
    picture, picture_id, response, values, problems, _ = await _posted(
        request, services, user, nhs_number, checkpoint, values, base
    )
    if amends:
        picture = await services.amending(picture, nhs_number, amends)
    await services.audit(user, f"resume-{checkpoint}-checklist", nhs_number)
    page = _checklist_page(
        request,
        services,
        user,
        picture,
        picture_id,
        checkpoint,
        response,
        raw=values,
        problems=problems,
        notices=[RESUMED],
        amends=amends,
    )
    await release_answers(services.sessions, held_id)
    return page


@router.post("/patients/{number}/checklists/{checkpoint}")
async def submit_checklist(
    request: Request, services: CheckpointsDep, user: ChecklistPoster, number: str, checkpoint: str
) -> Response:
    nhs_number = valid_nhs_number(number)
    services.questionnaire(checkpoint)
    if user is None:
        return await _hold(request, services)
    return await _complete(request, services, user, nhs_number, checkpoint)


@router.get("/patients/{number}/checklists/{checkpoint}/resume/{held_id}")
async def resume_checklist(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, checkpoint: str, held_id: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    services.questionnaire(checkpoint)
    return await _resume(request, services, user, nhs_number, checkpoint, held_id)


@router.post("/patients/{number}/checklists/{checkpoint}/draft/refresh")
async def refresh_draft(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, checkpoint: str
) -> Response:
    """Take the sources' new answers for the items the clinician ticked; every other answer stays."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    try:
        draft = await services.draft(nhs_number, checkpoint, user)
    except NotFound:
        draft = None  # finished or discarded meanwhile: the checklist page says what there is
    if draft is not None:
        picture = await services.view_picture(
            user, nhs_number, action=f"refresh-{checkpoint}-draft", checkpoint=checkpoint
        )
        await services.take_changes(picture, checkpoint, user, draft, {str(p) for p in form.getlist("take")})
    return RedirectResponse(f"/patients/{nhs_number}/checklists/{checkpoint}", status.HTTP_303_SEE_OTHER)


@router.get("/patients/{number}/assessments/{assessment_id}/amend")
async def amend_page(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> HTMLResponse:
    """The latest version's answers, to change; saving makes a new version."""
    nhs_number = valid_nhs_number(number)
    latest, response = await services.amendment_of(nhs_number, assessment_id, user)
    picture = await services.view_picture(
        user, nhs_number, action=f"view-{latest.checkpoint}-amendment", checkpoint=latest.checkpoint
    )
    picture_id = request.app.state.pictures.put(picture, user_id=user.id)
    picture = await services.amending(picture, nhs_number, assessment_id)
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
        response,
        notices=[notice],
        amends=assessment_id,
    )


@router.post("/patients/{number}/assessments/{assessment_id}/amend/enabled")
async def amend_enabled(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> dict[str, list[str]]:
    """As /enabled for a first version: which items apply to the amendment given the answers so far."""
    nhs_number = valid_nhs_number(number)
    latest, base = await services.amendment_of(nhs_number, assessment_id, user)
    values = await _form(request)
    picture, _, response, _, _, _ = await _posted(request, services, user, nhs_number, latest.checkpoint, values, base)
    picture = await services.amending(picture, nhs_number, assessment_id)
    return _enabled(services, user, picture, latest.checkpoint, response)


@router.post("/patients/{number}/assessments/{assessment_id}/amend")
async def amend(
    request: Request, services: CheckpointsDep, user: ChecklistPoster, number: str, assessment_id: str
) -> Response:
    nhs_number = valid_nhs_number(number)
    if user is None:
        return await _hold(request, services)
    latest, base = await services.amendment_of(nhs_number, assessment_id, user)
    return await _complete(request, services, user, nhs_number, latest.checkpoint, base=base, amends=assessment_id)


@router.get("/patients/{number}/assessments/{assessment_id}/amend/resume/{held_id}")
async def resume_amendment(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str, held_id: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    latest, base = await services.amendment_of(nhs_number, assessment_id, user)
    return await _resume(
        request, services, user, nhs_number, latest.checkpoint, held_id, base=base, amends=assessment_id
    )


@router.get("/patients/{number}/assessments/{assessment_id}")
async def assessment(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> HTMLResponse:
    nhs_number = valid_nhs_number(number)
    versions = await services.chain(nhs_number, assessment_id)
    found = versions[-1]
    picture = await services.view_picture(user, nhs_number, action="view-assessment")
    return render_page(
        request,
        "assessment.html",
        versions=[v.assessment for v in versions],
        latest=await services.is_latest(assessment_id),
        awaiting=services.signatures_missing(picture, found.assessment, user),
        hold=await services.hold_of(found.assessment),
        overriders={r.finding.id: r.override_roles for r in services.hold_rules},
        task_rows=[(task, None) for task in services.tasks_raised(found.assessment)],
        answers=services.answers_of(found.assessment),
        user=user,
        picture=seen_by(picture, user),
        labels=services.mappings.source_labels,
        assessment=found.assessment,
        answered_by=services.answered_by(found.assessment),
        entry=found.entry,
    )


@router.post("/patients/{number}/new-information/acknowledge")
async def acknowledge_new_information(
    request: Request, services: CheckpointsDep, user: PageUser, number: str
) -> Response:
    """A nurse has read the new information the baby's page showed them (the findings it lists): it leaves the
    worklist. Anything found since the page was drawn stays, to be read."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    await services.acknowledge(user, nhs_number, [str(f) for f in form.getlist("finding")])
    return RedirectResponse(f"/patients/{nhs_number}#new-information", status.HTTP_303_SEE_OTHER)


@router.post("/patients/{number}/assessments/{assessment_id}/resend")
async def resend_assessment(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> Response:
    """The safeguarding lead sends again an assessment the server refused, once the cause is fixed."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    await services.resend(user, nhs_number, assessment_id)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{assessment_id}", status.HTTP_303_SEE_OTHER)


@router.post("/patients/{number}/assessments/{assessment_id}/overrides")
async def override_hold(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> Response:
    """A role the hold names overrides one finding that holds a discharge, with the reason (app.checkpoints
    decides who may); the saved checklist then shows it."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    finding, reason = str(form.get("finding", "")), str(form.get("reason", ""))
    await services.override_hold(user, nhs_number, assessment_id, finding, reason)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{assessment_id}", status.HTTP_303_SEE_OTHER)


@router.post("/patients/{number}/assessments/{assessment_id}/cosign")
async def cosign(
    request: Request, services: CheckpointsDep, user: PageUser, number: str, assessment_id: str
) -> Response:
    """The safeguarding lead co-signs a checklist that asks for it; a new version carries the signature."""
    nhs_number = valid_nhs_number(number)
    form = await request.form()
    check_csrf(request, str(form.get("csrf", "")))
    picture = await services.view_picture(user, nhs_number, action="cosign-assessment")
    signed = await services.cosign(picture, assessment_id, user)
    return RedirectResponse(f"/patients/{nhs_number}/assessments/{signed.assessment_id}", status.HTTP_303_SEE_OTHER)


@router.get("/outbox")
async def outbox(request: Request, services: CheckpointsDep, user: PageUser) -> HTMLResponse:
    """Checklists saved in NeoSafe but not yet in a baby's record, for the safeguarding lead to follow up."""
    return render_page(request, "outbox.html", user=user, rows=await services.unsent(user))
