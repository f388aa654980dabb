"""What is found only at discharge (scenarios 11 and 12): an unexplained bruise, domestic abuse disclosed.

Scenario 12: the mother discloses domestic abuse in the private enquiry at discharge; DASH scores 15, so the
MARAC criteria are met: DASH, MARAC and IDVA are asked as at admission, the referral date is required, and the
score reaches the record and the handover. Scenario 11: a bruise no procedure explains, not yet resolved under
the NIM protocol, raises a same-day task for the safeguarding nurse.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with, without_answer
from tests.factories import create_baby, create_family

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
DASH = "D4-da-risk-assessment"


def coded(response: dict, link_id: str, code: str) -> None:
    for item in items_with(response, link_id):
        item["answer"] = [{"valueCoding": {"system": ITEM, "code": code}}]


def discharge_answers(api: httpx.Client, baby: str) -> dict:
    return completed(api, baby, "discharge")


def disclosed_with_dash_15(response: dict) -> dict:
    coded(response, "D4-da-indicated.identified", "yes")
    coded(response, "D4-da-enquiry-private.outcome", "da-enquiry-disclosed")
    coded(response, f"{DASH}.dash-status", "dash-completed")
    for item in items_with(response, f"{DASH}.dash-score"):
        item["answer"] = [{"valueInteger": 15}]
    coded(response, f"{DASH}.marac-criteria", "marac-met-visible-high-risk")
    return response


def search(fhir: dict, kind: str, assessment_id: str) -> list[dict]:
    found = fhir["neonatal"].get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=500").json()
    return [e["resource"] for e in found.get("entry") or []]


def test_abuse_disclosed_at_discharge_asks_dash_marac_and_idva_and_hands_them_over(live, fhir):
    baby, mother = create_family(fhir["neonatal"])  # DASH is about her: its Observations name her (focus)
    with live.client("nurse") as api:
        response = disclosed_with_dash_15(discharge_answers(api, baby))
        refused = api.post(
            f"/api/patients/{baby}/assessments", json=without_answer(response, f"{DASH}.marac-referral-date")
        )
        created = api.post(
            f"/api/patients/{baby}/assessments", json=disclosed_with_dash_15(discharge_answers(api, baby))
        )
    assert refused.status_code == 422
    assert {i["expression"][0] for i in refused.json()["issue"]} == {
        f"QuestionnaireResponse.item.where(linkId='{DASH}.marac-referral-date')"
    }
    assert created.status_code == 201, created.text

    observations = search(fhir, "Observation", created.json()["id"])
    scores = [o["valueInteger"] for o in observations if o["code"]["coding"][0]["code"] == "dash-score"]
    marac = [o for o in observations if o["code"]["coding"][0]["code"] == "978091000000105"]
    assert scores == [15] and len(marac) == 1
    assert marac[0]["focus"][0]["identifier"]["value"] == mother
    with live.browser("community-nurse") as browser:
        handover = browser.get(f"/patients/{baby}/handover").text
    assert "D4b. Domestic abuse disclosed at discharge: DASH, MARAC and IDVA" in handover
    assert "Met: 14 or more" in handover


def test_dash_not_done_at_discharge_raises_a_same_day_task(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        response = disclosed_with_dash_15(discharge_answers(api, baby))
        coded(response, f"{DASH}.dash-status", "dash-not-yet-completed")
        created = api.post(f"/api/patients/{baby}/assessments", json=response)
    assert created.status_code == 201, created.text

    descriptions = [t["description"] for t in search(fhir, "Task", created.json()["id"]) if t["priority"] == "asap"]
    assert any(d.startswith("Complete the DASH risk checklist") for d in descriptions)


def test_an_unexplained_bruise_not_yet_resolved_raises_a_same_day_nim_task(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        response = discharge_answers(api, baby)
        coded(response, "D9-injuries-explained.any", "yes")
        coded(response, "D9-injuries-explained.explanation", "injury-not-resolved")
        for item in items_with(response, "D9-injuries-explained.details"):
            item["answer"] = [{"valueString": "Bruise on the left cheek, day 40, no procedure explains it"}]
        created = api.post(f"/api/patients/{baby}/assessments", json=response)
    assert created.status_code == 201, created.text

    [nim] = [t for t in search(fhir, "Task", created.json()["id"]) if "NIM" in t["description"]]
    assert nim["priority"] == "asap" and nim["description"].endswith("no procedure explains it")
    assert nim["owner"]["display"].startswith("Named nurse for safeguarding")
