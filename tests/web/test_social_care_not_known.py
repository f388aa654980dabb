"""Over HTTP, on the sandbox FHIR server: A2 *not known* at admission keeps D2 asked at discharge (issue 12 item 4).

In Case V the case closure was never passed on. An admission that could not find out about social care raises a
task for the safeguarding team; while that task is open, discharge asks for the status confirmed with the local
authority (D2), even where no record mentions social care. NeoSafe's own answer is not read back as a record: the
open task is what carries it.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with
from tests.factories import create_baby

ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
A2 = "A2-social-care-involvement.status"
D2 = "D2-social-care-confirmed"


def admitted(api: httpx.Client, baby: str, a2: str) -> str:
    admission = completed(api, baby)
    for item in items_with(admission, A2):
        item["answer"] = [{"valueCoding": {"system": ITEM, "code": a2}}]
    created = api.post(f"/api/patients/{baby}/assessments", json=admission)
    assert created.status_code == 201, created.text
    assert created.json()["write_back"]["state"] == "sent", created.json()["write_back"]
    return created.json()["id"]


def discharged_without_d2(api: httpx.Client, baby: str) -> httpx.Response:
    discharge = completed(api, baby, "discharge")
    discharge["item"] = [i for i in discharge["item"] if i["linkId"] != D2]
    return api.post(f"/api/patients/{baby}/assessments", json=discharge)


def d2_named(refused: httpx.Response) -> bool:
    return any(D2 in e for i in refused.json().get("issue") or [] for e in i.get("expression") or [])


def test_a2_not_known_raises_a_task_and_discharge_asks_d2_while_it_is_open(api, fhir):
    baby = create_baby(fhir["neonatal"])
    assessment_id = admitted(api, baby, "not-known")
    found = fhir["neonatal"].get(f"Task?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=100").raise_for_status()
    [task] = [e["resource"] for e in found.json()["entry"] if "social care" in e["resource"]["description"]]
    assert task["owner"]["display"] == "Safeguarding team"

    refused = discharged_without_d2(api, baby)

    assert refused.status_code == 422, refused.text
    assert d2_named(refused)

    # the safeguarding team found out and closed the task: D2 is no longer asked on that account
    fhir["neonatal"].put(f"Task/{task['id']}", json={**task, "status": "completed"}).raise_for_status()
    again = discharged_without_d2(api, baby)
    assert not (again.status_code == 422 and d2_named(again)), again.text


def test_a2_none_known_raises_no_task_and_does_not_ask_d2(api, fhir):
    baby = create_baby(fhir["neonatal"])
    admitted(api, baby, "social-care-none-known")

    response = discharged_without_d2(api, baby)

    assert not (response.status_code == 422 and d2_named(response)), response.text
