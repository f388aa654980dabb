"""Over HTTP, on the sandbox FHIR server: a domestic-abuse enquiry made with the partner present is saved as *not done*.

Issue 12 item 1 (Case V: the booking enquiry was made with the partner present). NeoSafe writes no 700410005 Routine
enquiry Observation for it, writes its reason under NeoSafe's own code, raises a task for the safeguarding team, and,
because that task stays open, asks the enquiry again at discharge even where no record mentions domestic abuse.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with
from tests.factories import create_family

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
A8 = "A8-da-enquiry-private"
D4 = "D4-da-enquiry-private"
REASON = "Her partner stayed in the room throughout"


def unit_today() -> str:
    """Today on the unit's clock: the earliest date to ask her again that NeoSafe takes (minValue today())."""
    return datetime.now(ZoneInfo("Europe/London")).date().isoformat()


def coded(response: dict, link_id: str, code: str) -> None:
    for item in items_with(response, link_id):
        item["answer"] = [{"valueCoding": {"system": ITEM, "code": code}}]


def written(fhir: httpx.Client, kind: str, assessment_id: str) -> list[dict]:
    found = fhir.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=500").raise_for_status().json()
    return [e["resource"] for e in found.get("entry") or []]


def with_the_partner_present(response: dict) -> dict:
    """The admission as a nurse fills it in when the partner would not leave: the outcome questions are not asked."""
    coded(response, f"{A8}.asked-alone", "da-asked-others-present")
    coded(response, f"{A8}.interpreter", "interpreter-not-needed")
    for item in items_with(response, f"{A8}.not-done-reason"):
        item["answer"] = [{"valueString": REASON}]
    for item in items_with(response, f"{A8}.retry-date"):
        item["answer"] = [{"valueDate": unit_today()}]
    return response


def test_an_enquiry_with_the_partner_present_writes_no_routine_enquiry_raises_a_task_and_discharge_asks_again(
    api, fhir
):
    baby, _ = create_family(fhir["neonatal"])  # a mother with an NHS number: her answers can name her
    admission = with_the_partner_present(completed(api, baby))
    # answer_everything answered A8's outcome too ("disclosed"): a careless client sends it, NeoSafe drops it
    assert items_with(admission, f"{A8}.outcome")[0]["answer"]

    created = api.post(f"/api/patients/{baby}/assessments", json=admission)

    assert created.status_code == 201, created.text
    assert created.json()["write_back"]["state"] == "sent", created.json()["write_back"]
    observations = written(fhir["neonatal"], "Observation", created.json()["id"])
    coded_as = {c["code"] for o in observations for c in o["code"]["coding"]}
    assert "700410005" not in coded_as
    [reason] = [o for o in observations if o["code"]["coding"][0]["code"] == "da-enquiry-not-done-reason"]
    assert (reason["code"]["coding"][0]["system"], reason["valueString"]) == (ITEM, REASON)
    tasks = written(fhir["neonatal"], "Task", created.json()["id"])
    [task] = [t for t in tasks if t["description"].startswith("Domestic-abuse enquiry not done safely")]
    assert task["status"] == "requested"
    assert task["owner"]["display"].startswith("Safeguarding team")
    assert REASON in task["description"]

    # At discharge no record mentions domestic abuse (NeoSafe's own answers are not records), but the task is open
    discharge = completed(api, baby, "discharge")
    coded(discharge, "D4-da-indicated.identified", "no")
    discharge["item"] = [i for i in discharge["item"] if i["linkId"] != D4]

    refused = api.post(f"/api/patients/{baby}/assessments", json=discharge)

    assert refused.status_code == 422, refused.text
    named = {i["expression"][0] for i in refused.json()["issue"]}
    assert f"QuestionnaireResponse.item.where(linkId='{D4}.asked-alone')" in named


def test_a_date_to_ask_her_again_in_the_past_is_refused_naming_the_question_and_nothing_is_stored(api, fhir):
    """Issue 13: a retry date in the past was accepted. The bound is the checklist's (SDC minValue, today()), and the
    server enforces it whatever a client sends: 422, an OperationOutcome naming the question, nothing written."""
    baby, _ = create_family(fhir["neonatal"])
    admission = with_the_partner_present(completed(api, baby))
    yesterday = (datetime.now(ZoneInfo("Europe/London")).date() - timedelta(days=1)).isoformat()
    for item in items_with(admission, f"{A8}.retry-date"):
        item["answer"] = [{"valueDate": yesterday}]

    refused = api.post(f"/api/patients/{baby}/assessments", json=admission)

    assert refused.status_code == 422, refused.text
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    [issue] = [i for i in outcome["issue"] if f"{A8}.retry-date" in i["expression"][0]]
    assert issue["diagnostics"] == "Date to ask her again, alone must be today or in the future"
    assert len(outcome["issue"]) == 1, outcome["issue"]  # only the date is wrong
    assert api.get(f"/api/patients/{baby}/assessments").json() == []

    accepted = api.post(f"/api/patients/{baby}/assessments", json=with_the_partner_present(admission))  # today

    assert accepted.status_code == 201, accepted.text
