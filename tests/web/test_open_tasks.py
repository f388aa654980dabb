"""Tasks not yet done hold up discharge: the picture reads them back, and D13 asks why discharge cannot wait.

A concern at admission raises a task (fhir_mappings/tasks.toml). Until it is closed in the baby's record, the
picture lists it and the discharge checklist cannot be signed without the override's reason; once it is
closed, D13 does not apply.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.checkpoints import WITHHELD
from tests.answering import completed, submitted, with_a_concern, without_answer
from tests.factories import create_baby

OVERRIDE = "D13-open-tasks.override"


def admission_with_a_concern(api: httpx.Client, baby: str) -> str:
    return submitted(api, baby, with_a_concern(completed(api, baby), "Bruise on the arm"))


def discharge(api: httpx.Client, baby: str, *, override: bool) -> httpx.Response:
    response = completed(api, baby, "discharge")
    return api.post(
        f"/api/patients/{baby}/assessments", json=response if override else without_answer(response, OVERRIDE)
    )


def test_an_open_task_is_in_the_picture_for_every_role_with_its_detail_for_some(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as nurse, live.client("community-nurse") as community:
        admission_with_a_concern(nurse, baby)
        seen = {
            role: client.get(f"/api/patients/{baby}/picture").json()["open_tasks"]
            for role, client in (("nurse", nurse), ("community-nurse", community))
        }

    [task] = seen["nurse"]
    assert task["description"].endswith("Bruise on the arm")
    assert (task["status"], task["source"], task["restricted"]) == ("requested", "neonatal", True)
    assert [t["description"] for t in seen["community-nurse"]] == [WITHHELD]


def test_discharge_with_a_task_open_needs_the_reason_and_who_owns_it(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        admission_with_a_concern(api, baby)
        refused = discharge(api, baby, override=False)
        accepted = discharge(api, baby, override=True)

    assert refused.status_code == 422
    assert [i["expression"][0] for i in refused.json()["issue"]] == [
        f"QuestionnaireResponse.item.where(linkId='{OVERRIDE}')"
    ]
    assert accepted.status_code == 201, accepted.text


def test_once_the_task_is_closed_in_the_record_discharge_does_not_ask(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        admission = admission_with_a_concern(api, baby)
        neonatal = fhir["neonatal"]
        [entry] = neonatal.get(f"Task?_tag={ASSESSMENT_TAG_SYSTEM}|{admission}").json()["entry"]
        neonatal.put(f"Task/{entry['resource']['id']}", json={**entry["resource"], "status": "completed"})
        picture = api.get(f"/api/patients/{baby}/picture").json()
        accepted = discharge(api, baby, override=False)

    assert picture["open_tasks"] == []
    assert accepted.status_code == 201, accepted.text
