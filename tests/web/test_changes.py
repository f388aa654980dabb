"""Changes since the previous checkpoint: a record that ended, one that appeared, one no longer found."""

from __future__ import annotations

from tests.answering import answer_everything
from tests.factories import create, create_baby, make_flag


def test_the_picture_marks_what_changed_since_the_last_checklist(live, fhir):
    neonatal = fhir["neonatal"]
    baby = create_baby(neonatal, "1010196001", "836881000000105")
    with live.client("nurse") as api:
        questionnaire = api.get("/api/checklists/admission").json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/admission").json())
        assert api.post(f"/api/patients/{baby}/assessments", json=response).status_code == 201
        before = api.get(f"/api/patients/{baby}/picture").json()
        flags = {r["code"]: r for r in before["records"] if r["resource_type"] == "Flag"}
        assert {r["change"] for r in flags.values()} == {None}

        patient_id = f"nn-test-{baby}"
        concern = neonatal.get(f"Flag?subject=Patient/{patient_id}&code=http://snomed.info/sct|1010196001").json()
        closed = {**concern["entry"][0]["resource"], "status": "inactive", "period": {"end": "2026-11-25"}}
        create(neonatal, closed, make_flag(patient_id, "707087005"))
        after = api.get(f"/api/patients/{baby}/picture").json()

    changes = {r["code"]: r["change"] for r in after["records"] if r["resource_type"] == "Flag"}
    assert changes == {"1010196001": "ended", "836881000000105": None, "707087005": "new"}
    assert after["changes_since"].startswith("the admission checklist of ")
