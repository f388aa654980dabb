"""The JSON API over HTTP, against a live NeoSafe and the sandbox FHIR sources."""

from __future__ import annotations

import httpx
import pytest
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.questionnaireresponse import QuestionnaireResponse
from itsdangerous import URLSafeTimedSerializer

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.forms import OBSERVATION_ID_SYSTEM
from tests.answering import answer_everything, items_with, without_answer
from tests.conftest import SECRET
from tests.factories import create_baby
from tests.families import (
    BORROWED_BABY,
    BORROWED_FATHER,
    CASE_V_BABY,
    CASE_V_MOTHER,
    NO_CONCERNS_BABY,
    NO_NHS_NUMBER_BABY,
)

DA_ENQUIRY = "A8-da-enquiry-private.outcome"
RISK_FACTORS = "A6-parental-risk-factors.parent.factors"
NO_RISK_FACTOR = {
    "system": "https://neosafe.org.uk/fhir/CodeSystem/checklist-item",
    "code": "no-risk-factors-identified",
}


def search(fhir: httpx.Client, query: str) -> list[dict]:
    bundle = fhir.get(f"{query}&_count=500").raise_for_status().json()
    return [e["resource"] for e in bundle.get("entry") or [] if (e.get("search") or {}).get("mode", "match") == "match"]


def completed_admission(api: httpx.Client, nhs_number: str) -> dict:
    questionnaire = api.get("/api/checklists/admission").raise_for_status().json()
    prefilled = api.get(f"/api/patients/{nhs_number}/checklists/admission").raise_for_status().json()
    # No risk factor chosen by hand: what the picture pre-filled decides whether A8 applies.
    for item in items_with(prefilled, RISK_FACTORS):
        item.setdefault("answer", [{"valueCoding": NO_RISK_FACTOR}])
    return answer_everything(questionnaire, prefilled)


def test_picture_says_none_found_for_the_no_concerns_family_only_where_the_source_knows_everyone(api):
    body = api.get(f"/api/patients/{NO_CONCERNS_BABY}/picture").raise_for_status().json()

    assert body["records"] == []
    assert {s["name"]: s["status"] for s in body["sources"]} == {
        "neonatal": "none-found",
        "maternity": "not-known",  # it holds the mother, not the baby: asked, nothing held, but not none found
        "social-care": "none-found",
        "cpis": "none-found",
        "police-gp": "none-found",
    }
    assert all(s["checked_at"] for s in body["sources"])


def test_the_picture_api_says_per_person_what_each_source_said(api):
    """Not checked, not known and identity mismatch reach an integrator as they reach the page, never none found."""
    no_number = api.get(f"/api/patients/{NO_NHS_NUMBER_BABY}/picture").raise_for_status().json()
    mother = next(p for p in no_number["people"] if p["role"] == "mother")
    assert mother["nhs_number"] is None and mother["checks"]
    assert {c["status"] for c in mother["checks"]} == {"not-checked"}

    borrowed = api.get(f"/api/patients/{BORROWED_BABY}/picture").raise_for_status().json()
    father = next(p for p in borrowed["people"] if p["nhs_number"] == BORROWED_FATHER)
    police = next(c for c in father["checks"] if c["source"] == "police-gp")
    assert police["status"] == "identity-mismatch" and not father["identity_verified"]
    assert not [
        r for r in borrowed["records"] if r["source"] == "police-gp" and r["person_nhs_number"] == BORROWED_FATHER
    ]

    case_v = api.get(f"/api/patients/{CASE_V_BABY}/picture").raise_for_status().json()
    case_v_mother = next(p for p in case_v["people"] if p["nhs_number"] == CASE_V_MOTHER)
    assert case_v_mother["language"] == "Polish" and case_v_mother["interpreter_required"] is True
    assert case_v_mother["birth_date"] == "1994-03-09"


def test_picture_lists_case_v_history(api):
    body = api.get(f"/api/patients/{CASE_V_BABY}/picture", params={"checkpoint": "admission"}).json()

    closed = [r for r in body["records"] if r["code"] == "135891007"]
    assert closed and closed[0]["current"] is False and closed[0]["end"] == "2025-03-20"
    assert closed[0]["source"] == "social-care"
    assert any(r["category"] == "domestic-abuse" and r["source"] == "police-gp" for r in body["records"])
    assert body["baby"]["name"] == "Zofia BRZOZAK"


def test_restricted_detail_is_hidden_from_roles_without_access(live):
    with live.client("community-nurse") as community:
        body = community.get(f"/api/patients/{CASE_V_BABY}/picture").json()

    restricted = [r for r in body["records"] if r["restricted"]]
    assert restricted
    assert all(r["code"] == "" and "Restricted record" in r["display"] for r in restricted)
    assert {r["category"] for r in restricted} == {"domestic-abuse"}  # the category still shows


def test_submitting_the_admission_checklist_writes_one_response_and_its_observations(api, fhir, saved):
    response = completed_admission(api, CASE_V_BABY)

    created = api.post(f"/api/patients/{CASE_V_BABY}/assessments", json=response)

    assert created.status_code == 201, created.text
    result = created.json()
    saved.append(result["id"])  # the Case V family is shared: what this wrote is deleted afterwards
    assert result["write_back"]["state"] == "sent"
    neonatal = fhir["neonatal"]
    responses = search(neonatal, f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{result['id']}")
    assert len(responses) == 1
    written = QuestionnaireResponse.model_validate(responses[0])
    assert written.status == "completed"
    assert written.questionnaire == "https://neosafe.org.uk/fhir/Questionnaire/admission|1.4.0"
    assert written.subject.reference == "Patient/nn-casev-baby"
    assert written.subject.identifier.value == CASE_V_BABY
    assert "Zofia BRZOZAK" in written.subject.display and "2026-11-20" in written.subject.display
    assert written.encounter.reference == "Encounter/nn-casev-enc"
    assert written.author.identifier.value == "demo-nurse"
    assert not items_with(responses[0], "A3-current-social-care")  # disabled: not in the record

    observations = [
        o
        for o in search(neonatal, "Observation?subject=Patient/nn-casev-baby")
        if any(i["value"].startswith(result["id"] + "/") for i in o.get("identifier", []))
    ]
    assert observations
    for data in observations:
        observation = Observation.model_validate(data)
        assert observation.status == "final"
        assert observation.derivedFrom[0].reference == f"QuestionnaireResponse/{responses[0]['id']}"
        assert observation.encounter.reference == "Encounter/nn-casev-enc"
        assert observation.performer[0].identifier.value == "demo-nurse"
        assert observation.identifier[0].system == OBSERVATION_ID_SYSTEM
    assert len(observations) == len({o["identifier"][0]["value"] for o in observations})
    concern = [o for o in observations if "A10-concern-now.concern" in o["identifier"][0]["value"]]
    assert [o["valueBoolean"] for o in concern] == [False]  # a "no" is extracted, not dropped

    provenance = search(neonatal, f"Provenance?_tag={ASSESSMENT_TAG_SYSTEM}|{result['id']}")
    assert len(provenance) == 1
    Provenance.model_validate(provenance[0])
    assert {e["what"]["display"].split(":")[0] for e in provenance[0]["entity"]} >= {"maternity", "social-care"}


def test_a_missing_required_answer_is_refused_per_item_and_nothing_is_written(api, fhir):
    response = without_answer(completed_admission(api, CASE_V_BABY), "A10-concern-now.concern")
    response = without_answer(response, DA_ENQUIRY)
    before = len(search(fhir["neonatal"], "QuestionnaireResponse?subject=Patient/nn-casev-baby"))

    refused = api.post(f"/api/patients/{CASE_V_BABY}/assessments", json=response)

    assert refused.status_code == 422
    outcome = refused.json()
    assert outcome["resourceType"] == "OperationOutcome"
    named = {issue["expression"][0] for issue in outcome["issue"]}
    assert named == {
        "QuestionnaireResponse.item.where(linkId='A10-concern-now.concern')",
        f"QuestionnaireResponse.item.where(linkId='{DA_ENQUIRY}')",
    }
    assert len(search(fhir["neonatal"], "QuestionnaireResponse?subject=Patient/nn-casev-baby")) == before


def test_the_private_da_enquiry_is_required_only_where_there_is_a_da_record(api, fhir):
    baby = create_baby(fhir["neonatal"])  # a family of its own: submissions here must not colour the seeded ones
    response = without_answer(completed_admission(api, baby), DA_ENQUIRY)

    created = api.post(f"/api/patients/{baby}/assessments", json=response)

    assert created.status_code == 201, created.text


def test_a_response_for_another_baby_is_refused(api):
    response = completed_admission(api, CASE_V_BABY)

    refused = api.post(f"/api/patients/{NO_CONCERNS_BABY}/assessments", json=response)

    assert refused.status_code == 422
    assert "different NHS number" in refused.text


def test_a_body_that_is_not_fhir_gets_a_clear_error(api):
    refused = api.post(f"/api/patients/{CASE_V_BABY}/assessments", json={"resourceType": "Nonsense"})

    assert refused.status_code == 422
    assert refused.json()["resourceType"] == "OperationOutcome"


def test_roles_that_may_not_complete_a_checklist_are_refused(live):
    with live.client("nurse") as nurse:
        response = completed_admission(nurse, CASE_V_BABY)  # the community team is not given one to fill in
    with live.client("community-nurse") as community:
        refused = community.post(f"/api/patients/{CASE_V_BABY}/assessments", json=response)

    assert refused.status_code == 403


def test_requests_without_a_token_are_refused(live):
    with live.client(role=None) as anonymous:
        assert anonymous.get(f"/api/patients/{CASE_V_BABY}/picture").status_code == 401
        assert anonymous.get("/api/checklists/admission", headers={"Authorization": "Bearer forged"}).status_code == 401


def test_an_invalid_nhs_number_gets_a_clear_error(api):
    refused = api.get("/api/patients/1234567890/picture")

    assert refused.status_code == 422
    assert "not a valid NHS number" in refused.json()["detail"]


@pytest.mark.parametrize(
    "written",
    [
        "\u0669\u0669\u0669\u0660\u0661\u0660\u0661\u0660\u0660\u0660",  # Arabic-Indic digits of 999 010 1000
        "\uff19\uff19\uff19\uff10\uff11\uff10\uff11\uff10\uff10\uff10",  # full-width digits
        "-9990101000",
        "999--0101000",
        "9 9 9 0 1 0 1 0 0 0",
    ],
)
def test_an_nhs_number_is_ascii_digits_grouped_as_it_is_read_out_never_anything_else(api, written):
    """Issue 11 #10: other scripts' digits and stray signs were cleaned into a number and sent to every source."""
    refused = api.get(f"/api/patients/{written}/picture")
    assert refused.status_code == 422 and "not a valid NHS number" in refused.json()["detail"]


def test_an_nhs_number_may_be_written_in_its_usual_groups(api):
    for written in ("999 010 1000", "999-010-1000"):
        assert api.get(f"/api/patients/{written}/picture").status_code == 200


@pytest.mark.parametrize(
    "claims",
    [{"name": "Alex", "role": "nurse"}, {"id": "x", "role": "nurse"}, {"id": 7, "name": "Alex", "role": "nurse"}, [1]],
)
def test_a_validly_signed_token_with_missing_or_odd_claims_is_refused_not_a_crash(live, claims):
    """Issue 11 #7: such a token gave 500 on every route."""
    token = URLSafeTimedSerializer(SECRET, salt="neosafe-user").dumps(claims)
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        assert client.get(f"/api/patients/{CASE_V_BABY}/picture").status_code == 401
