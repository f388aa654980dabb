"""What a response must be before its answers are looked at (app.checkpoints.responses), one rule for a first
version, a draft and an amendment: a QuestionnaireResponse, on the checkpoint's checklist in use (an amendment: on
the version of the checklist it amends), about this baby."""

from __future__ import annotations

import pytest

from app.checkpoints.responses import not_acceptable
from app.config import PROJECT_ROOT
from app.forms import Issue, canonical, load_checklists

CHECKLISTS = load_checklists(PROJECT_ROOT / "checklists")
BABY = "9990000026"
ADMISSION = canonical(CHECKLISTS.for_checkpoint("admission"))
DISCHARGE = canonical(CHECKLISTS.for_checkpoint("discharge"))
RETIRED_DISCHARGE = "https://neosafe.org.uk/fhir/Questionnaire/discharge|1.0.0"
TRANSFER = canonical(CHECKLISTS.for_checkpoint("transfer"))


def response(questionnaire: str | None, **fields) -> dict:
    named = {"questionnaire": questionnaire} if questionnaire else {}
    return {"resourceType": "QuestionnaireResponse", "status": "completed", **named, **fields}


def about(nhs_number: str) -> dict:
    return {"identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": nhs_number}}


def messages(issues: list[Issue]) -> list[tuple[str, str]]:
    return [(i.link_id, i.message) for i in issues]


def test_the_archived_discharge_version_is_there_to_be_refused():
    assert DISCHARGE != RETIRED_DISCHARGE
    assert CHECKLISTS.for_response({"questionnaire": RETIRED_DISCHARGE})["version"] == "1.0.0"


def test_a_response_on_the_checklist_in_use_about_this_baby_is_acceptable():
    assert not_acceptable(CHECKLISTS, "discharge", BABY, response(DISCHARGE, subject=about(BABY))) == []
    assert not_acceptable(CHECKLISTS, "admission", BABY, response(ADMISSION)) == []  # no subject: it is this baby


def test_a_retired_version_is_refused_for_a_new_checklist_naming_both_versions():
    assert messages(not_acceptable(CHECKLISTS, "discharge", BABY, response(RETIRED_DISCHARGE))) == [
        (
            "questionnaire",
            "this checklist was made on version 1.0.0, which is no longer in use: start a new one on version "
            + CHECKLISTS.for_checkpoint("discharge")["version"],
        )
    ]


def test_another_checkpoints_checklist_is_refused():
    assert messages(not_acceptable(CHECKLISTS, "admission", BABY, response(TRANSFER))) == [
        (
            "questionnaire",
            "this is the transfer checklist, not the admission one: start the admission checklist (version "
            + CHECKLISTS.for_checkpoint("admission")["version"]
            + ")",
        )
    ]


@pytest.mark.parametrize("named", [None, "https://example.org/Questionnaire/other|1.0.0", ADMISSION + ".1"])
def test_a_response_naming_no_checklist_neosafe_has_is_refused(named):
    [issue] = not_acceptable(CHECKLISTS, "admission", BABY, response(named))

    assert issue.link_id == "questionnaire"
    assert issue.message == (
        f"QuestionnaireResponse.questionnaire must name the admission checklist in use, {ADMISSION}, not {named!r}"
    )


def test_an_amendment_keeps_the_version_of_the_checklist_it_amends_even_a_retired_one():
    made_on = RETIRED_DISCHARGE
    assert not_acceptable(CHECKLISTS, "discharge", BABY, response(made_on), made_on=made_on) == []
    assert not_acceptable(CHECKLISTS, "discharge", BABY, response(None), made_on=made_on) == []  # may leave it out
    assert messages(not_acceptable(CHECKLISTS, "discharge", BABY, response(DISCHARGE), made_on=made_on)) == [
        ("questionnaire", f"an amendment keeps the checklist it amends ({made_on}), not {DISCHARGE!r}")
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"resourceType": "Patient", "id": "x"},
        {"resourceType": "Questionnaire", "url": "https://neosafe.org.uk/fhir/Questionnaire/admission"},
        {"questionnaire": ADMISSION},
    ],
)
def test_anything_but_a_questionnaire_response_is_refused(body):
    assert messages(not_acceptable(CHECKLISTS, "admission", BABY, body)) == [
        ("resourceType", "the body must be a QuestionnaireResponse")
    ]


def test_a_response_about_another_baby_is_refused():
    assert messages(
        not_acceptable(CHECKLISTS, "admission", BABY, response(ADMISSION, subject=about("9990000034")))
    ) == [("subject", "the response's subject is a different NHS number from this baby's")]
    # a subject that is not a Reference at all is no NHS number, and never a crash
    assert not_acceptable(CHECKLISTS, "admission", BABY, response(ADMISSION, subject="Patient/x")) == []
