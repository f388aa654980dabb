"""Amending a submitted checklist: a new version that updates the FHIR record and never duplicates it."""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, submitted, with_a_concern
from tests.factories import create_baby

CONCERN = "A10-concern-now.concern"
DETAILS = "A10-concern-now.details"


def search(fhir: httpx.Client, query: str) -> list[dict]:
    bundle = fhir.get(f"{query}&_count=500").raise_for_status().json()
    return [e["resource"] for e in bundle.get("entry") or []]


def submit(api: httpx.Client, baby: str) -> str:
    return submitted(api, baby, completed(api, baby))


def latest_response(api: httpx.Client, baby: str, assessment_id: str) -> dict:
    return api.get(f"/api/patients/{baby}/assessments/{assessment_id}/versions").raise_for_status().json()[-1]


def test_an_amendment_updates_the_record_in_place(api, fhir):
    baby = create_baby(fhir["neonatal"])
    first = submit(api, baby)
    response = with_a_concern(latest_response(api, baby, first), "Bruise seen on the left arm")

    amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response)

    assert amended.status_code == 201, amended.text
    assert amended.json()["write_back"]["state"] == "sent"
    neonatal = fhir["neonatal"]
    responses = search(neonatal, f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")
    assert [r["status"] for r in responses] == ["amended"]
    observations = search(neonatal, f"Observation?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")
    keys = [o["identifier"][0]["value"] for o in observations]
    assert len(keys) == len(set(keys))  # updated, never duplicated
    concern = [o for o in observations if CONCERN in o["identifier"][0]["value"]]
    assert [(o["status"], o["valueBoolean"]) for o in concern] == [("amended", True)]
    details = [o for o in observations if DETAILS in o["identifier"][0]["value"]]
    assert [(o["status"], o["valueString"]) for o in details] == [("final", "Bruise seen on the left arm")]
    assert all(o["derivedFrom"][0]["reference"] == f"QuestionnaireResponse/{responses[0]['id']}" for o in details)

    versions = api.get(f"/api/patients/{baby}/assessments/{amended.json()['id']}/versions").json()
    assert [v["status"] for v in versions] == ["completed", "amended"]
    assert all(v["identifier"]["value"] == first for v in versions)


def test_only_the_latest_version_can_be_amended(api, fhir):
    baby = create_baby(fhir["neonatal"])
    first = submit(api, baby)
    response = latest_response(api, baby, first)
    assert api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response).status_code == 201

    again = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response)

    assert again.status_code == 409
    assert "latest version" in again.json()["detail"]


def test_the_clinician_signs_what_they_submit(api, fhir):
    baby = create_baby(fhir["neonatal"])
    first = submit(api, baby)

    written = search(fhir["neonatal"], f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")[0]
    signature = next(
        e["valueSignature"] for e in written["extension"] if e["url"].endswith("questionnaireresponse-signature")
    )
    assert signature["who"]["identifier"]["value"] == "demo-nurse"
    assert signature["when"] == written["authored"]
    provenance = search(fhir["neonatal"], f"Provenance?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")[0]
    assert provenance["signature"][0]["who"]["identifier"]["value"] == "demo-nurse"


def test_each_saved_version_shows_its_own_answers(live, api, fhir):
    baby = create_baby(fhir["neonatal"])
    first = submit(api, baby)
    response = with_a_concern(latest_response(api, baby, first), "Bruise seen on the left arm")
    second = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response).json()["id"]

    with live.browser("nurse") as browser:
        pages = [browser.get(f"/patients/{baby}/assessments/{a}").text for a in (first, second)]

    assert "Answers in version 1" in pages[0] and "Answers in version 2" in pages[1]
    assert "A10. Any concern now that needs advice or a referral" in pages[0]
    assert "Bruise seen on the left arm" not in pages[0] and "Bruise seen on the left arm" in pages[1]


def test_an_amendment_takes_its_checkpoint_version_and_role_check_from_the_checklist_it_amends(live, api, fhir):
    """Issue 11 #3: a discharge coordinator replaced an admission checklist with a discharge body (201)."""
    baby = create_baby(fhir["neonatal"])
    admission = submit(api, baby)
    with live.client("discharge-coordinator") as coordinator:
        discharge = completed(coordinator, baby, "discharge")
        refused = coordinator.post(f"/api/patients/{baby}/assessments/{admission}/amendments", json=discharge)
    assert refused.status_code == 403  # they may not complete an admission checklist, whatever the body says

    mismatched = api.post(f"/api/patients/{baby}/assessments/{admission}/amendments", json=discharge)
    assert mismatched.status_code == 422
    assert "an amendment keeps the checklist it amends" in mismatched.text
    stored = api.get(f"/api/patients/{baby}/assessments").json()
    assert [(a["id"], a["checkpoint"], a["version"]) for a in stored] == [(admission, "admission", 1)]  # untouched
