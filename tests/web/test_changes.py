"""Changes since the previous checkpoint: a record that ended, one that appeared, those no longer found."""

from __future__ import annotations

from app.checkpoints import WITHHELD
from tests.answering import completed, submitted
from tests.factories import create, create_baby, make_flag

CONFIDENTIALITY = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"


def test_the_picture_marks_what_changed_since_the_last_checklist(live, fhir):
    neonatal = fhir["neonatal"]
    baby = create_baby(neonatal, "1010196001", "836881000000105")
    with live.client("nurse") as api:
        submitted(api, baby, completed(api, baby))
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


def test_a_record_no_longer_found_is_shown_to_every_role_with_restricted_detail_withheld(live, fhir):
    neonatal = fhir["neonatal"]
    restricted = {"meta": {"security": [{"system": CONFIDENTIALITY, "code": "R"}]}}
    baby = create_baby(neonatal, "1010196001")
    patient_id = f"nn-test-{baby}"
    police = make_flag(patient_id, "836881000000105", **restricted)
    create(neonatal, police)
    with live.client("nurse") as api:
        submitted(api, baby, completed(api, baby))
    for flag in neonatal.get(f"Flag?subject=Patient/{patient_id}").json()["entry"]:
        neonatal.delete(f"Flag/{flag['resource']['id']}").raise_for_status()

    seen, pages = {}, {}
    for role in ("community-nurse", "safeguarding-lead"):
        with live.client(role) as api:
            gone = api.get(f"/api/patients/{baby}/picture").json()["no_longer_found"]
            seen[role] = {(g["category"], g["restricted"], g["display"]) for g in gone}
        with live.browser(role) as browser:
            pages[role] = browser.get(f"/patients/{baby}").text

    lead = {display for _, _, display in seen["safeguarding-lead"]}
    community = {(restricted, display) for _, restricted, display in seen["community-nurse"]}
    assert len(lead) == 2 and WITHHELD not in lead
    assert (True, WITHHELD) in community
    assert {c for c, _, _ in seen["community-nurse"]} == {c for c, _, _ in seen["safeguarding-lead"]}
    assert all(page.count("ask the source whether it was withdrawn or moved") == 2 for page in pages.values())
    assert WITHHELD in pages["community-nurse"]  # the same words on the page as in the API: one redaction
    assert WITHHELD not in pages["safeguarding-lead"]
