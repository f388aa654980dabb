"""Each answer that raises a task writes an owned, dated FHIR Task with its checklist, as the help text promises.

Over HTTP against the sandbox: written in the checklist's transaction, shown on the saved checklist and in the
handover; an amendment that takes the answer away cancels it (never deletes it), and one that leaves it alone
does not reopen a task someone has completed since.
"""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import completed, items_with, submitted, with_a_concern
from tests.factories import create_baby

CONCERN = "A10-concern-now.concern"


def tasks(fhir: dict, assessment_id: str) -> list[dict]:
    found = fhir["neonatal"].get(f"Task?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=100")
    return [e["resource"] for e in found.raise_for_status().json().get("entry") or []]


def submit_admission_with_a_concern(api: httpx.Client, baby: str) -> str:
    return submitted(api, baby, with_a_concern(completed(api, baby), "Bruise on the arm"))


def amend(api: httpx.Client, baby: str, first: str, change) -> None:
    response = change(api.get(f"/api/patients/{baby}/assessments/{first}/versions").json()[-1])
    amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=response)
    assert amended.status_code == 201, amended.text


def test_a_concern_at_admission_writes_a_same_day_task_for_the_safeguarding_nurse(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        first = submit_admission_with_a_concern(api, baby)
        authored = api.get(f"/api/patients/{baby}/assessments/{first}/versions").json()[-1]["authored"]

    [task] = tasks(fhir, first)

    assert (task["status"], task["intent"], task["priority"]) == ("requested", "order", "asap")
    assert [s["code"] for s in task["meta"]["security"]] == ["R"]  # safeguarding detail: restricted
    assert task["for"]["reference"] == f"Patient/nn-test-{baby}"
    assert task["description"] == "Act on the safeguarding concern: advice or referral the same day: Bruise on the arm"
    assert task["owner"]["display"].startswith("Named nurse for safeguarding")
    assert task["restriction"]["period"]["end"] == authored[:10]
    assert task["focus"]["reference"].startswith("QuestionnaireResponse/")
    with live.browser("nurse") as browser:
        saved = browser.get(f"/patients/{baby}/assessments/{first}").text
        handover = browser.get(f"/patients/{baby}/handover").text
    for page in (saved, handover):
        assert 'data-testid="tasks"' in page and "Bruise on the arm" in page


def test_taking_the_answer_away_cancels_the_task_and_never_deletes_it(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        first = submit_admission_with_a_concern(api, baby)
        amend(api, baby, first, lambda response: with_a_concern(response, None))

    [task] = tasks(fhir, first)
    assert task["status"] == "cancelled" and [s["code"] for s in task["meta"]["security"]] == ["R"]


def test_an_amendment_that_leaves_the_task_alone_does_not_reopen_it(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        first = submit_admission_with_a_concern(api, baby)
        [task] = tasks(fhir, first)
        fhir["neonatal"].put(f"Task/{task['id']}", json={**task, "status": "completed"}).raise_for_status()

        def other_change(response: dict) -> dict:
            for item in items_with(response, "A10-concern-now.details"):
                item["answer"] = [{"valueString": "Bruise on the arm"}]  # the same words: the task is unchanged
            return response

        amend(api, baby, first, other_change)

    assert [t["status"] for t in tasks(fhir, first)] == ["completed"]


def test_a_checklist_with_nothing_left_to_do_raises_no_task(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        first = submitted(api, baby, completed(api, baby))

    assert tasks(fhir, first) == []
