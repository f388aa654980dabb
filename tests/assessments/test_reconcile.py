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
