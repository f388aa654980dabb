"""Signatures: the author signs by saving; discharge with any safeguarding record needs the lead's co-signature."""

from __future__ import annotations

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.answering import answer_everything
from tests.factories import create_baby

VERIFICATION = "1.2.840.10065.1.12.1.5"


def submit_discharge(api: httpx.Client, baby: str) -> str:
    questionnaire = api.get("/api/checklists/discharge").json()
    response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/discharge").json())
    created = api.post(f"/api/patients/{baby}/assessments", json=response)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def test_discharge_with_a_record_waits_for_the_leads_cosignature(live, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit_discharge(nurse, baby)
        assert nurse.get(f"/api/patients/{baby}/assessments").json()[0]["awaiting"] == ["Verification Signature"]
        # a role that may not co-sign is refused as any role-based refusal is: 403, by the one policy
        assert nurse.post(f"/api/patients/{baby}/assessments/{first}/cosignature").status_code == 403

        signed = lead.post(f"/api/patients/{baby}/assessments/{first}/cosignature")
        assert signed.status_code == 201, signed.text
        assert signed.json()["write_back"]["state"] == "sent"
        assert lead.get(f"/api/patients/{baby}/assessments").json()[0]["awaiting"] == []
        assert lead.post(f"/api/patients/{baby}/assessments/{signed.json()['id']}/cosignature").status_code == 409

    neonatal = fhir["neonatal"]
    written = neonatal.get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}").json()["entry"]
    assert len(written) == 1
    signatures = [e["valueSignature"] for e in written[0]["resource"]["extension"] if e["url"].endswith("-signature")]
    assert [(s["type"][0]["code"], s["who"]["identifier"]["value"]) for s in signatures] == [
        ("1.2.840.10065.1.12.1.1", "demo-nurse"),
        (VERIFICATION, "demo-safeguarding"),
    ]
    provenance = neonatal.get(f"Provenance?_tag={ASSESSMENT_TAG_SYSTEM}|{first}").json()["entry"]
    verifiers = [
        p["resource"] for p in provenance if p["resource"]["agent"][0]["type"]["coding"][0]["code"] == "verifier"
    ]
    assert [v["signature"][0]["who"]["identifier"]["value"] for v in verifiers] == ["demo-safeguarding"]


def test_a_baby_with_no_records_needs_no_cosignature(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        first = submit_discharge(nurse, baby)
        assert nurse.get(f"/api/patients/{baby}/assessments").json()[0]["awaiting"] == []
        assert lead.post(f"/api/patients/{baby}/assessments/{first}/cosignature").status_code == 409


def test_the_safeguarding_lead_never_co_signs_a_checklist_they_wrote(live, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")
    with live.client("safeguarding-lead") as lead:
        first = submit_discharge(lead, baby)
        assert lead.get(f"/api/patients/{baby}/assessments").json()[0]["awaiting"] == ["Verification Signature"]
        refused = lead.post(f"/api/patients/{baby}/assessments/{first}/cosignature")
        assert refused.status_code == 403 and "not the checklist's author" in refused.json()["detail"]
        assert lead.get(f"/api/patients/{baby}/assessments").json()[0]["awaiting"] == ["Verification Signature"]
