"""Over HTTP, on the sandbox FHIR server: what NeoSafe writes about the mother names her, never the baby alone.

Issue 12 item 6. The domestic-abuse enquiry is about the mother: its Observations keep the baby as subject (the
baby's checklist) and name her as `focus` by NHS number. A mother with no NHS number cannot be named safely: her
answers are stored in the checklist (the QuestionnaireResponse) but written as no Observation.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with
from tests.factories import NHS, create_family

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
A8 = "A8-da-enquiry-private"


def admitted(api: httpx.Client, fhir: httpx.Client, baby: str) -> tuple[str, list[dict]]:
    admission = completed(api, baby)
    for link_id, code in ((f"{A8}.asked-alone", "da-asked-alone"), (f"{A8}.interpreter", "interpreter-not-needed")):
        for item in items_with(admission, link_id):
            item["answer"] = [{"valueCoding": {"system": ITEM, "code": code}}]
    created = api.post(f"/api/patients/{baby}/assessments", json=admission)
    assert created.status_code == 201, created.text
    assert created.json()["write_back"]["state"] == "sent", created.json()["write_back"]
    assessment_id = created.json()["id"]
    found = fhir.get(f"Observation?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=500").raise_for_status()
    return assessment_id, [e["resource"] for e in found.json().get("entry") or []]


def about_the_enquiry(observations: list[dict]) -> list[dict]:
    return [o for o in observations if f"/{A8}~0/" in o["identifier"][0]["value"]]


def test_the_mothers_enquiry_names_her_as_focus_and_the_baby_as_subject(api, fhir):
    baby, mother = create_family(fhir["neonatal"])

    _, observations = admitted(api, fhir["neonatal"], baby)

    enquiry = about_the_enquiry(observations)
    assert {o["code"]["coding"][0]["code"] for o in enquiry} >= {"da-enquiry-private", "700410005"}
    for o in enquiry:
        assert o["subject"]["identifier"] == {"system": NHS, "value": baby}
        assert [f["identifier"] for f in o["focus"]] == [{"system": NHS, "value": mother}]
        assert o["focus"][0]["display"] == "Test MOTHER (mother)"
        assert any(s["code"] == "R" for s in o["meta"]["security"])  # domestic-abuse content: restricted
    about_the_baby = [o for o in observations if "/A10-concern-now~0/" in o["identifier"][0]["value"]]
    assert about_the_baby and all("focus" not in o for o in about_the_baby)


def test_a_mother_without_an_nhs_number_has_her_answers_kept_in_the_checklist_but_no_observation(api, fhir):
    baby, _ = create_family(fhir["neonatal"], mother_nhs_number=False)

    assessment_id, observations = admitted(api, fhir["neonatal"], baby)

    assert about_the_enquiry(observations) == []
    assert observations  # the rest of the checklist is written as usual
    [stored] = api.get(f"/api/patients/{baby}/assessments/{assessment_id}/versions").raise_for_status().json()
    [asked] = items_with(stored, f"{A8}.asked-alone")
    assert asked["answer"][0]["valueCoding"]["code"] == "da-asked-alone"  # her answers are in the checklist itself
