"""The handover summary is written to the baby's record with each discharge checklist, in its transaction.

One DocumentReference per discharge checklist (HTML and PDF), replaced by an amendment, never duplicated;
drawn for the community team, so restricted records' detail is withheld; none for the other checkpoints.
"""

from __future__ import annotations

import base64

import httpx

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.handover import HANDOVER_ID_SYSTEM
from tests.answering import completed, items_with, submitted
from tests.factories import create, create_baby, make_flag

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def submit(api: httpx.Client, baby: str, checkpoint: str) -> str:
    return submitted(api, baby, completed(api, baby, checkpoint))


def handovers(fhir: dict, record_id: str) -> list[dict]:
    found = fhir["neonatal"].get(f"DocumentReference?identifier={HANDOVER_ID_SYSTEM}|{record_id}/handover")
    return [e["resource"] for e in found.raise_for_status().json().get("entry") or []]


def content(document: dict, content_type: str) -> bytes:
    attachment = next(c["attachment"] for c in document["content"] if c["attachment"]["contentType"] == content_type)
    return base64.b64decode(attachment["data"])


def test_a_discharge_checklist_writes_one_handover_summary_for_that_baby(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        discharge = submit(api, baby, "discharge")

    [document] = handovers(fhir, discharge)

    assert document["status"] == "current"
    assert document["subject"]["reference"] == f"Patient/nn-test-{baby}"
    assert document["subject"]["identifier"]["value"] == baby
    assert document["securityLabel"][0]["coding"][0]["code"] == "R"
    assert document["category"][0]["coding"][0]["code"] == "safeguarding"
    html = content(document, "text/html").decode("utf-8")
    spaced = f"{baby[:3]} {baby[3:6]} {baby[6:]}"
    assert f"NHS number {spaced}" in html
    assert '<td class="nhsuk-table__cell">Discharge' in html and "(amended" not in html
    assert content(document, "application/pdf").startswith(b"%PDF-")
    provenance = fhir["neonatal"].get(f"Provenance?_tag={ASSESSMENT_TAG_SYSTEM}|{discharge}").json()
    targets = {t["reference"] for t in provenance["entry"][0]["resource"]["target"]}
    assert f"DocumentReference/{document['id']}" in targets


def test_an_amendment_replaces_the_summary_rather_than_adding_one(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        discharge = submit(api, baby, "discharge")
        response = api.get(f"/api/patients/{baby}/assessments/{discharge}/versions").json()[-1]
        for item in items_with(response, "D11-lead-professional.lead-professional"):
            item["answer"] = [{"valueString": "Health visitor named by the amendment"}]
        amended = api.post(f"/api/patients/{baby}/assessments/{discharge}/amendments", json=response)
        assert amended.status_code == 201, amended.text

    [document] = handovers(fhir, discharge)

    html = content(document, "text/html").decode()
    assert "(amended: version 2)" in html and "Health visitor named by the amendment" in html
    assert discharge in html  # the checklist's one reference, kept by the amendment


def test_the_summary_in_the_record_withholds_restricted_detail(live, fhir):
    baby = create_baby(fhir["neonatal"])
    restricted = {"meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}}
    create(fhir["neonatal"], make_flag(f"nn-test-{baby}", "895141000000105", **restricted))
    with live.client("nurse") as api:
        discharge = submit(api, baby, "discharge")

    html = content(handovers(fhir, discharge)[0], "text/html").decode()

    assert "Restricted record: ask the safeguarding team for the detail" in html
    assert "Police domestic incident report received" not in html


def test_a_transfer_writes_the_summary_for_the_receiving_unit_and_an_admission_none(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        admission = submit(api, baby, "admission")
        transfer = submit(api, baby, "transfer")

    assert handovers(fhir, admission) == []
    written = fhir["neonatal"].get(f"DocumentReference?_tag={ASSESSMENT_TAG_SYSTEM}|{admission}").json()
    assert written.get("total", 0) == 0
    [summary] = handovers(fhir, transfer)
    assert summary["type"]["text"] == "Neonatal safeguarding transfer summary"
    assert summary["description"].startswith("For the receiving unit")
    assert "Neonatal safeguarding transfer summary (NeoSafe)" in content(summary, "text/html").decode()
    assert communications(fhir, transfer) == []  # recipients are the discharge checklist's (D10)


def communications(fhir: dict, record_id: str) -> list[dict]:
    found = fhir["neonatal"].get(f"Communication?_tag={ASSESSMENT_TAG_SYSTEM}|{record_id}&_count=50")
    return [e["resource"] for e in found.raise_for_status().json().get("entry") or []]


def test_each_recipient_of_the_summary_is_a_communication_whose_receipt_an_amendment_confirms(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        discharge = submit(api, baby, "discharge")  # every recipient sent, none yet confirmed
        sent = communications(fhir, discharge)
        response = api.get(f"/api/patients/{baby}/assessments/{discharge}/versions").json()[-1]
        first_recipient = next(i for i in items_with(response, "D10-handover.recipient"))
        first_recipient["item"] = [
            i for i in first_recipient["item"] if i["linkId"] != "D10-handover.recipient.chase-plan"
        ]
        for item in first_recipient["item"]:
            if item["linkId"] == "D10-handover.recipient.received":
                item["answer"] = [{"valueBoolean": True}]
        first_recipient["item"] += [
            {"linkId": "D10-handover.recipient.received-by", "answer": [{"valueString": "Jo Bloggs, health visitor"}]},
            {"linkId": "D10-handover.recipient.received-date", "answer": [{"valueDate": "2026-11-27"}]},
        ]
        amended = api.post(f"/api/patients/{baby}/assessments/{discharge}/amendments", json=response)
        assert amended.status_code == 201, amended.text
    after = communications(fhir, discharge)

    assert len(sent) >= 4 and len(after) == len(sent)  # one per recipient, updated, never duplicated
    [document] = handovers(fhir, discharge)
    for communication in sent:
        assert communication["status"] == "completed" and "received" not in communication
        assert communication["subject"]["reference"] == f"Patient/nn-test-{baby}"
        assert communication["payload"][0]["contentReference"]["identifier"] == document["identifier"][0]
    confirmed = [c for c in after if "received" in c]
    assert [(c["received"], c["note"][0]["text"]) for c in confirmed] == [
        ("2026-11-27", "Receipt confirmed by Jo Bloggs, health visitor")
    ]
