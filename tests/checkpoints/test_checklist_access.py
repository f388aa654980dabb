"""A checklist to fill in (pre-filled, a draft, an amendment) only for a role that may complete it, refusals audited;
a draft is a QuestionnaireResponse on the checklist in use about this baby, or nothing is kept; a draft begun on a
version since retired is not resumed; an amendment reads its stored versions once."""

from __future__ import annotations

import json
import re
import shutil

import pytest
from sqlmodel import select

from app.assessments import AuditEvent, get_draft
from app.checkpoints import DEMO_USERS, Checkpoints, Conflict, Forbidden
from app.checkpoints.outcomes import Invalid
from app.config import PROJECT_ROOT
from app.forms import canonical
from tests.answering import answer_everything
from tests.factories import create_baby

NURSE, COMMUNITY, COORDINATOR = (DEMO_USERS[r] for r in ("nurse", "community-nurse", "discharge-coordinator"))


async def trail(checkpoints: Checkpoints, nhs_number: str) -> list[tuple[str, str, str]]:
    async with checkpoints.sessions() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.nhs_number == nhs_number))).all()
    return [(e.user_id, e.action, e.outcome) for e in events]


async def test_only_a_role_that_may_complete_the_checklist_is_given_it_pre_filled_or_as_drafted(
    settings, sources, fhir
):
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response, draft, _ = await checkpoints.open_checklist(picture, "admission", NURSE)
        assert draft is None and response["questionnaire"] == canonical(checkpoints.questionnaire("admission"))
        await checkpoints.keep_draft(picture, "admission", NURSE, response)

        for user in (COMMUNITY, COORDINATOR):
            with pytest.raises(Forbidden, match="cannot complete the admission checklist"):
                await checkpoints.open_checklist(picture, "admission", user)
            with pytest.raises(Forbidden, match="cannot complete the admission checklist"):
                await checkpoints.draft(baby, "admission", user)
        assert (await checkpoints.draft(baby, "admission", NURSE)).author_id == NURSE.id
        await checkpoints.open_checklist(picture, "discharge", COORDINATOR)  # theirs to complete

        refusals = [e for e in await trail(checkpoints, baby) if e[2] == "refused"]
    assert refusals == [
        ("demo-community", "complete-admission", "refused"),
        ("demo-community", "complete-admission", "refused"),
        ("demo-discharge", "complete-admission", "refused"),
        ("demo-discharge", "complete-admission", "refused"),
    ]


async def test_an_amendment_is_offered_only_to_a_role_that_may_complete_its_checkpoint(settings, sources, fhir):
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        q = checkpoints.questionnaire("admission")
        stored = await checkpoints.submit(
            picture,
            "admission",
            NURSE,
            answer_everything(q, checkpoints.start_checklist(picture, "admission", NURSE).response),
        )
        latest, _ = await checkpoints.amendment_of(baby, stored.assessment_id, NURSE)
        assert latest.id == stored.assessment_id
        with pytest.raises(Forbidden, match="cannot complete the admission checklist"):
            await checkpoints.amendment_of(baby, stored.assessment_id, COORDINATOR)
        assert ("demo-discharge", "complete-admission", "refused") in await trail(checkpoints, baby)


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        (lambda r, q: {"resourceType": "Patient", "id": "not-a-checklist"}, "the body must be a QuestionnaireResponse"),
        (
            lambda r, q: {**r, "questionnaire": canonical(q["transfer"])},
            "this is the transfer checklist, not the admission one",
        ),
        (
            lambda r, q: {**r, "questionnaire": "https://neosafe.org.uk/fhir/Questionnaire/admission|0.9.0"},
            "must name the admission checklist in use",
        ),
        (lambda r, q: {k: v for k, v in r.items() if k != "questionnaire"}, "must name the admission checklist"),
        (
            lambda r, q: {**r, "subject": {"identifier": {"value": "9990000034"}}},
            "the response's subject is a different NHS number from this baby's",
        ),
    ],
    ids=["not a response", "another checkpoint's", "unknown version", "no checklist named", "another baby"],
)
async def test_a_draft_that_is_not_this_checklist_for_this_baby_is_refused_and_nothing_kept(
    settings, sources, fhir, change, refusal
):
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response = checkpoints.start_checklist(picture, "admission", NURSE).response
        sent = change(response, checkpoints.checklists.by_checkpoint)

        with pytest.raises(Invalid, match=refusal) as refused:
            await checkpoints.keep_draft(picture, "admission", NURSE, sent)

        assert refused.value.issues and all(i.message for i in refused.value.issues)
        assert await get_draft(checkpoints.sessions, nhs_number=baby, checkpoint="admission") is None
        assert ("demo-nurse", "save-admission-draft", "refused") in await trail(checkpoints, baby)


async def test_a_draft_begun_on_a_version_since_retired_is_not_resumed_and_cannot_be_kept(
    settings, sources, fhir, tmp_path
):
    """A new admission checklist version goes into use while a draft on the one before waits: opening the checklist
    starts one on the new version and says why; the old draft is neither refreshed nor kept as if it were on it."""
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as before:
        picture = await before.picture(baby)
        old = before.start_checklist(picture, "admission", NURSE).response
        await before.keep_draft(picture, "admission", NURSE, old)

    folder = tmp_path / "checklists"
    shutil.copytree(PROJECT_ROOT / "checklists", folder)
    admission = json.loads((folder / "admission.json").read_text())
    was, new = admission["version"], "99.0.0"
    (folder / "archive" / f"admission-{was}.json").write_text(json.dumps(admission))
    (folder / "admission.json").write_text(json.dumps({**admission, "version": new}))
    changed = settings.model_copy(update={"checklists_dir": folder, "migrate_on_start": False})
    async with Checkpoints.wire(changed, sources=sources).running() as after:
        picture = await after.picture(baby)
        response, draft, notices = await after.open_checklist(picture, "admission", NURSE)
        assert draft is None
        assert response["questionnaire"].endswith(f"admission|{new}")
        assert any(f"was begun on version {was}, which is no longer in use" in n for n in notices)
        assert any(f"This is a new checklist on version {new}" in n for n in notices)
        with pytest.raises(
            Conflict, match=re.escape(f"no longer in use: open the checklist to start a new one on version {new}")
        ):
            await after.draft(baby, "admission", NURSE)
        with pytest.raises(Invalid, match=re.escape(f"made on version {was}, which is no longer in use")):
            await after.keep_draft(picture, "admission", NURSE, old)
        submitted = await after.save(
            picture, "admission", NURSE, answer_everything(after.questionnaire("admission"), old)
        )
        assert [(i.link_id, i.message) for i in submitted] == [
            (
                "questionnaire",
                f"this checklist was made on version {was}, which is no longer in use: "
                f"start a new one on version {new}",
            )
        ]
        kept = await after.keep_draft(picture, "admission", NURSE, response)  # the new one replaces it
        assert json.loads(kept.response_json)["questionnaire"].endswith(f"admission|{new}")
        assert (await after.draft(baby, "admission", NURSE)).id == kept.id


async def test_an_amendment_reads_the_versions_it_amends_once(settings, sources, fhir, monkeypatch):
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        q = checkpoints.questionnaire("admission")
        response = answer_everything(q, checkpoints.start_checklist(picture, "admission", NURSE).response)
        first = await checkpoints.save(picture, "admission", NURSE, response)
        reads = []
        chain = checkpoints.chain

        async def counted(nhs_number, assessment_id):
            reads.append(assessment_id)
            return await chain(nhs_number, assessment_id)

        monkeypatch.setattr(checkpoints, "chain", counted)
        amended = await checkpoints.save(picture, "admission", NURSE, response, amends=first.assessment_id)

        assert amended.assessment_id != first.assessment_id
        assert reads == [first.assessment_id]
        with pytest.raises(Conflict, match="amended since"):  # still asked, from the versions read once
            await checkpoints.save(picture, "admission", NURSE, response, amends=first.assessment_id)
