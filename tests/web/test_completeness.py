"""A checklist is complete only against its Questionnaire, and holds no answer longer than its item allows: an empty
"completed" response, or one with too long an answer, is refused over HTTP."""

from __future__ import annotations

import pytest

from app.forms import CHECKPOINTS, canonical
from tests.answering import completed, with_a_concern
from tests.factories import create_baby


@pytest.mark.parametrize("checkpoint", CHECKPOINTS)
def test_an_empty_completed_checklist_is_refused_naming_its_questions_and_nothing_is_stored(live, fhir, checkpoint):
    baby = create_baby(fhir["neonatal"])  # a baby of its own: nothing stored for it before
    with live.client("nurse") as api:
        questionnaire = api.get(f"/api/checklists/{checkpoint}").raise_for_status().json()
        empty = {
            "resourceType": "QuestionnaireResponse",
            "status": "completed",
            "questionnaire": canonical(questionnaire),
        }

        refused = api.post(f"/api/patients/{baby}/assessments", json=empty)

        assert refused.status_code == 422, refused.text
        outcome = refused.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"]
        required = {i["linkId"] for i in questionnaire["item"] if i.get("required")}
        named = {issue["location"][0].split("/")[0].rsplit("~", 1)[0] for issue in outcome["issue"]}
        assert named and named <= required  # each issue is about a required item of this checklist
        if "signoff" in required:  # the in-stay checks have none: NeoSafe records who completed them
            assert "signoff" in named  # the sign-off always applies
        assert all(
            issue["expression"][0].startswith("QuestionnaireResponse.item.where(linkId=") for issue in outcome["issue"]
        )
        assert all(issue["diagnostics"].startswith(("Select", "Enter", "Answer")) for issue in outcome["issue"])
        assert api.get(f"/api/patients/{baby}/assessments").raise_for_status().json() == []


def test_a_typed_answer_longer_than_its_item_allows_is_refused_saying_both_lengths_and_nothing_is_stored(live, fhir):
    """Free text is bounded per answer (A10's details: maxLength 4000), well inside the 1 MB body limit."""
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        response = with_a_concern(completed(api, baby), "x" * 5000)

        refused = api.post(f"/api/patients/{baby}/assessments", json=response)

        assert refused.status_code == 422, refused.text[:300]
        [issue] = refused.json()["issue"]
        assert issue["location"] == ["A10-concern-now~0/A10-concern-now.details~0"]
        assert issue["diagnostics"] == (
            "Enter at most 4000 characters (this answer has 5000): The concern, who was told and what happens next"
        )
        assert api.get(f"/api/patients/{baby}/assessments").raise_for_status().json() == []

        accepted = api.post(f"/api/patients/{baby}/assessments", json=with_a_concern(response, "x" * 4000))
        assert accepted.status_code == 201, accepted.text[:300]


def test_a_prefilled_checklist_sent_unanswered_names_each_source_by_its_label_not_its_key(live, fhir):
    """Issue 13 item 2: each message inside a source's entry says which source, in the words clinicians read."""
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        prefilled = api.get(f"/api/patients/{baby}/checklists/admission").raise_for_status().json()

        refused = api.post(f"/api/patients/{baby}/assessments", json=prefilled)

    assert refused.status_code == 422, refused.text
    about_sources = [i["diagnostics"] for i in refused.json()["issue"] if "A1-flags-reviewed.source" in str(i)]
    assert any("Children's social care" in d for d in about_sources), about_sources
    assert not any("social-care" in d for d in about_sources), about_sources
