"""Drafts: saved and resumed as left, never re-populated over the clinician's answers; source changes offered."""

from __future__ import annotations

from tests.answering import answer_everything, items_with
from tests.factories import create, create_baby, make_flag

CONCERN = "A10-concern-now.concern"
RECORDS = "A1-flags-reviewed.source.records"


def test_a_draft_is_resumed_as_left_and_offers_what_the_sources_changed(live, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")
    base = f"/api/patients/{baby}/checklists/admission"
    with live.client("nurse") as nurse, live.client("safeguarding-lead") as lead:
        draft = nurse.get(base).json()
        for item in items_with(draft, CONCERN):
            item["answer"] = [{"valueBoolean": True}]
        saved = nurse.put(f"{base}/draft", json=draft)
        assert saved.status_code == 200, saved.text
        assert saved.json()["changes"] == []

        create(fhir["neonatal"], make_flag(f"nn-test-{baby}", "836881000000105"))
        resumed = lead.get(base).json()  # another shift picks it up
        assert [a["valueBoolean"] for i in items_with(resumed, CONCERN) for a in i["answer"]] == [True]

        offered = lead.get(f"{base}/draft").json()["changes"]
        neonatal = next(c for c in offered if RECORDS in c["path"] and c["was"] == ["1"])
        assert (neonatal["now"], neonatal["edited"]) == (["2"], False)
        assert not any(CONCERN in c["path"] for c in offered)

        taken = lead.post(f"{base}/draft/refresh", json={"take": [neonatal["path"]]})
        assert taken.status_code == 200
        assert not any(c["path"] == neonatal["path"] for c in taken.json()["changes"])
        refreshed = lead.get(base).json()
        counts = [a["valueInteger"] for i in items_with(refreshed, RECORDS) for a in i.get("answer", [])]
        assert 2 in counts
        assert [a["valueBoolean"] for i in items_with(refreshed, CONCERN) for a in i["answer"]] == [True]

        questionnaire = lead.get("/api/checklists/admission").json()
        submitted = lead.post(f"/api/patients/{baby}/assessments", json=answer_everything(questionnaire, refreshed))
        assert submitted.status_code == 201, submitted.text
        assert lead.get(f"{base}/draft").status_code == 404  # done: the draft went with the submission


def test_a_role_that_may_not_complete_a_checklist_cannot_write_or_refresh_its_draft(live, fhir):
    """Issue 11 #6: the community team (read-only) and a discharge coordinator (not admissions) rewrote drafts."""
    baby = create_baby(fhir["neonatal"], "1010196001")
    base = f"/api/patients/{baby}/checklists/admission"
    with live.client("nurse") as nurse:
        draft = nurse.get(base).json()
        for item in items_with(draft, CONCERN):
            item["answer"] = [{"valueBoolean": True}]
        assert nurse.put(f"{base}/draft", json=draft).status_code == 200
        kept = nurse.get(base).json()
        paths = [c["path"] for c in nurse.get(f"{base}/draft").json()["changes"]]

    for role in ("community-nurse", "discharge-coordinator"):
        with live.client(role) as other:
            changed = {**draft, "item": []}
            assert other.put(f"{base}/draft", json=changed).status_code == 403, role
            assert other.get(f"{base}/draft").status_code == 403, role  # a draft shows what the sources pre-filled
            assert other.post(f"{base}/draft/refresh", json={"take": paths}).status_code == 403, role
    with live.client("nurse") as nurse:
        assert nurse.get(base).json() == kept  # the draft is as the nurse left it
