"""neosafe reconcile finds what is missing from the write-back server and what is there twice."""

from __future__ import annotations

import copy

from app.assessments import ASSESSMENT_TAG_SYSTEM, reconcile
from app.checkpoints import DEMO_USERS, Checkpoints
from tests.answering import answer_everything
from tests.factories import create_baby

NURSE = DEMO_USERS["nurse"]


async def test_reconcile_reports_missing_and_duplicated_resources(settings, sources, fhir):
    async with Checkpoints.wire(settings, sources=sources).running() as services:
        ids = []
        for _ in range(3):
            picture = await services.picture(create_baby(fhir["neonatal"]))
            response = answer_everything(
                services.checklists.for_checkpoint("admission"),
                services.start_checklist(picture, "admission", NURSE).response,
            )
            ids.append((await services.submit(picture, "admission", NURSE, response)).assessment_id)
        neonatal = fhir["neonatal"]
        # one Observation of the first goes missing; the second's QuestionnaireResponse is written twice
        lost = neonatal.get(f"Observation?_tag={ASSESSMENT_TAG_SYSTEM}|{ids[0]}").json()["entry"][0]["resource"]
        neonatal.delete(f"Observation/{lost['id']}").raise_for_status()
        twice = neonatal.get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{ids[1]}").json()["entry"][0]
        copy_of = {k: v for k, v in copy.deepcopy(twice["resource"]).items() if k not in ("id", "meta")}
        copy_of["meta"] = {"tag": twice["resource"]["meta"]["tag"]}
        neonatal.post("QuestionnaireResponse", json=copy_of).raise_for_status()

        async with services.client(services.write_back) as client:
            checked, findings = await reconcile(services.sessions, client)

    assert checked == 3
    assert {(f.assessment_id, f.problem, f.resource_type) for f in findings} == {
        (ids[0], "missing", "Observation"),
        (ids[1], "duplicated", "QuestionnaireResponse"),
    }
    missing = next(f for f in findings if f.problem == "missing")
    assert missing.key == lost["identifier"][0]["value"]


async def test_an_amended_checklist_is_found_under_the_tag_its_chain_was_written_with(settings, sources, fhir):
    """Every version of a checklist carries its first version's tag: an amendment is found, and missing when gone."""
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as services:
        picture = await services.picture(baby)
        response = answer_everything(
            services.checklists.for_checkpoint("admission"),
            services.start_checklist(picture, "admission", NURSE).response,
        )
        first = await services.save(picture, "admission", NURSE, response)
        amended = await services.save(picture, "admission", NURSE, response, amends=first.assessment_id)
        async with services.client(services.write_back) as client:
            _, before = await reconcile(services.sessions, client)
            neonatal = fhir["neonatal"]
            (written,) = neonatal.get(
                f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first.assessment_id}"
            ).json()["entry"]
            neonatal.delete(f"QuestionnaireResponse/{written['resource']['id']}").raise_for_status()
            _, after = await reconcile(services.sessions, client)

    ours = {first.assessment_id, amended.assessment_id}
    assert [f for f in before if f.assessment_id in ours] == []
    assert {(f.assessment_id, f.problem, f.resource_type) for f in after if f.assessment_id in ours} == {
        (first.assessment_id, "missing", "QuestionnaireResponse"),
        (amended.assessment_id, "missing", "QuestionnaireResponse"),
    }
