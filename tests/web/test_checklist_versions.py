"""Over HTTP: a new checklist is made on its checkpoint's checklist in use. One made on a retired version (discharge
1.0.0, in checklists/archive/) is refused with an OperationOutcome naming `questionnaire`, and nothing is stored; on
the version in use it is stored as made on it. A draft that is not a QuestionnaireResponse of this checklist in use
is a 422 OperationOutcome naming why, and nothing is kept."""

from __future__ import annotations

import copy
import json

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.config import PROJECT_ROOT
from app.forms import canonical
from tests.answering import answer_everything, completed
from tests.factories import create_baby

RETIRED = json.loads((PROJECT_ROOT / "checklists" / "archive" / "discharge-1.0.0.json").read_text(encoding="utf-8"))


def made_on_retired_version(api: httpx.Client, baby: str) -> dict:
    """The baby's discharge checklist as a client still holding version 1.0.0 would send it: every question of 1.0.0
    answered, labelled with 1.0.0 (complete against it: only its version is wrong)."""
    prefilled = api.get(f"/api/patients/{baby}/checklists/discharge").raise_for_status().json()
    asked = {item["linkId"] for item in RETIRED["item"]}
    old = {
        **copy.deepcopy(prefilled),
        "questionnaire": canonical(RETIRED),
        "item": [i for i in prefilled["item"] if i["linkId"] in asked],
    }
    return answer_everything(RETIRED, old)


def test_a_checklist_made_on_a_retired_version_is_refused_and_one_on_the_version_in_use_is_stored(api, fhir):
    baby = create_baby(fhir["neonatal"])
    current = api.get("/api/checklists/discharge").raise_for_status().json()
    assert (RETIRED["version"], current["version"]) == ("1.0.0", "1.6.0")

    refused = api.post(f"/api/patients/{baby}/assessments", json=made_on_retired_version(api, baby))

    assert refused.status_code == 422, refused.text[:300]
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert [(i["location"], i["diagnostics"]) for i in outcome["issue"]] == [
        (
            ["questionnaire"],
            "this checklist was made on version 1.0.0, which is no longer in use: start a new one on version 1.6.0",
        )
    ]
    assert api.get(f"/api/patients/{baby}/assessments").raise_for_status().json() == []

    stored = api.post(f"/api/patients/{baby}/assessments", json=completed(api, baby, "discharge"))

    assert stored.status_code == 201, stored.text[:300]
    assessment_id = stored.json()["id"]
    [listed] = api.get(f"/api/patients/{baby}/assessments").raise_for_status().json()
    assert (listed["id"], listed["questionnaire"]) == (assessment_id, canonical(current))
    written = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}").json()
    assert [e["resource"]["questionnaire"] for e in written["entry"]] == [canonical(current)]


def drafts_refused(api: httpx.Client, baby: str) -> dict[str, tuple[str, dict]]:
    """Bodies a draft PUT must refuse: (the checkpoint it is put to, the body)."""
    admission = api.get(f"/api/patients/{baby}/checklists/admission").raise_for_status().json()
    transfer = api.get(f"/api/patients/{baby}/checklists/transfer").raise_for_status().json()
    return {
        "not a response": ("admission", {"resourceType": "Patient", "id": "not-a-checklist"}),
        "another checkpoint's checklist": ("admission", transfer),
        "a retired version": ("discharge", made_on_retired_version(api, baby)),
        "another baby": ("admission", {**admission, "subject": {"identifier": {"value": "9990000034"}}}),
    }


def test_a_draft_that_is_not_this_checklist_in_use_for_this_baby_is_a_422_naming_why_and_nothing_is_kept(api, fhir):
    baby = create_baby(fhir["neonatal"])
    named = {
        "not a response": "resourceType",
        "another checkpoint's checklist": "questionnaire",
        "a retired version": "questionnaire",
        "another baby": "subject",
    }
    for case, (checkpoint, body) in drafts_refused(api, baby).items():
        put = api.put(f"/api/patients/{baby}/checklists/{checkpoint}/draft", json=body)

        assert put.status_code == 422, (case, put.status_code, put.text[:300])
        assert put.json()["resourceType"] == "OperationOutcome", case
        assert [i["location"] for i in put.json()["issue"]] == [[named[case]]], case
        assert api.get(f"/api/patients/{baby}/checklists/{checkpoint}/draft").status_code == 404, case
