"""A domestic-abuse enquiry counts only when it was safe (issue 12, item 1), at admission (A8) and discharge (D4).

Done means asked alone, with a professional interpreter or none needed: only then is the outcome asked and extracted
as 700410005 (or 700411009, declined). Any other enquiry is not done, with a required reason, extracted under a NeoSafe
code, raising a task for the safeguarding team; at discharge an open task re-opens the enquiry. What a careless or
hostile client sends (an outcome for an unsafe enquiry, answers left out) never turns an unsafe enquiry into a done one.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from app.forms import (
    enabled_paths,
    extract_observations,
    load_checklists,
    load_task_rules,
    prune,
    raised_tasks,
    with_every_item,
)
from app.forms import validate as validate_response

ROOT = Path(__file__).resolve().parents[2]
CHECKLISTS = load_checklists(ROOT / "checklists")
RULES = load_task_rules(ROOT / "fhir_mappings" / "tasks.toml", CHECKLISTS)
ITEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
SNOMED = "http://snomed.info/sct"
# The date to ask her again may not be in the past (minValue today()): two days from today, on the unit's clock.
RETRY = (datetime.now(ZoneInfo("Europe/London")).date() + timedelta(days=2)).isoformat()
ROUTINE_ENQUIRY, DECLINED = "700410005", "700411009"
GROUPS = {"admission": "A8-da-enquiry-private", "discharge": "D4-da-enquiry-private"}

HISTORIC_DA = {
    "records": [
        {
            "category": "domestic-abuse",
            "current": False,
            "personRole": "mother",
            "personNhsNumber": "9990000034",
            "source": "police-gp",
            "code": "895141000000105",
            "display": "Police domestic incident report received",
            "resourceType": "Flag",
            "restricted": True,
        }
    ],
    "sources": [],
    "people": [],
    "baby": {"gestationWeeks": None, "preterm": None},
    "openTasks": 0,
}
NOTHING_KNOWN = {**HISTORIC_DA, "records": []}

SAFE = [("da-asked-alone", "professional-interpreter-used"), ("da-asked-alone", "interpreter-not-needed")]
UNSAFE = [
    ("da-asked-others-present", "interpreter-not-needed"),
    ("da-asked-others-present", "professional-interpreter-used"),
    ("da-asked-others-present", "family-or-partner-interpreted"),
    ("da-asked-alone", "family-or-partner-interpreted"),  # alone with her partner as the interpreter is not alone
    ("da-enquiry-not-yet-possible", None),
]


def coded(code: str, system: str = ITEM) -> dict:
    return {"valueCoding": {"system": system, "code": code}}


def enquiry(checkpoint: str, asked: str | None, interpreter: str | None, *, outcome: dict | None = None, reason=True):
    """A completed response holding only the enquiry group: the answers a client sent, nothing filled in for it."""
    group = GROUPS[checkpoint]
    answers = {
        "asked-alone": coded(asked) if asked else None,
        "interpreter": coded(interpreter) if interpreter else None,
        "date": {"valueDate": "2026-11-26"} if asked != "da-enquiry-not-yet-possible" else None,
        "outcome": outcome,
        "not-done-reason": {"valueString": "Her partner would not leave the room"} if reason else None,
        "retry-date": {"valueDate": RETRY},
    }
    items = [{"linkId": f"{group}.{name}", "answer": [value]} for name, value in answers.items() if value is not None]
    return {
        "resourceType": "QuestionnaireResponse",
        "status": "completed",
        "subject": {"reference": "Patient/baby"},
        "author": {"display": "Test nurse"},
        "authored": "2026-11-26T10:00:00+00:00",
        "item": [{"linkId": group, "item": items}],
    }


def asked(checkpoint: str, response: dict, picture: dict = HISTORIC_DA) -> set[str]:
    """The enquiry's questions that apply to these answers (linkIds, without the group's prefix)."""
    group = GROUPS[checkpoint]
    questionnaire = CHECKLISTS.for_checkpoint(checkpoint)
    response = with_every_item(questionnaire, response)  # every question there, answered or not, as on the page
    paths = enabled_paths(questionnaire, response, {"picture": picture})
    prefix = f"{group}~0/{group}."
    return {p[len(prefix) :].split("~")[0] for p in paths if p.startswith(prefix) and not p.endswith(".help~0")}


def issues(checkpoint: str, response: dict, picture: dict = HISTORIC_DA) -> dict[str, str]:
    group = GROUPS[checkpoint]
    found = validate_response(CHECKLISTS.for_checkpoint(checkpoint), response, {"picture": picture})
    return {i.link_id.removeprefix(f"{group}."): i.message for i in found if i.path.startswith(f"{group}~0")}


def written(checkpoint: str, response: dict, picture: dict = HISTORIC_DA) -> tuple[list[dict], list]:
    """What NeoSafe would write for the answers: the Observations extracted and the tasks raised, after pruning."""
    questionnaire = CHECKLISTS.for_checkpoint(checkpoint)
    kept = prune(questionnaire, response, {"picture": picture})
    observations = extract_observations(questionnaire, kept, response_reference="urn:uuid:qr", identifier="a-1")
    tasks = raised_tasks(questionnaire, kept, [r for r in RULES if r.checkpoint == checkpoint])
    return observations, tasks


def codes(observations: list[dict]) -> set[str]:
    return {c["code"] for o in observations for c in o["code"]["coding"]}


def values(observations: list[dict]) -> set[str]:
    return {c["code"] for o in observations for c in (o.get("valueCodeableConcept") or {}).get("coding", [])}


@pytest.mark.parametrize("checkpoint", GROUPS)
def test_the_enquiry_opens_with_asked_alone_and_asks_nothing_else_until_answered(checkpoint):
    questionnaire = CHECKLISTS.for_checkpoint(checkpoint)
    group = next(i for i in questionnaire["item"] if i["linkId"] == GROUPS[checkpoint])
    first = next(i for i in group["item"] if i["type"] != "display")
    assert first["linkId"] == f"{GROUPS[checkpoint]}.asked-alone"
    assert first["text"] == "Has she been asked about domestic abuse, alone?"
    assert [o["valueCoding"]["code"] for o in first["answerOption"]] == [
        "da-asked-alone",
        "da-asked-others-present",
        "da-enquiry-not-yet-possible",
    ]
    nothing = enquiry(checkpoint, None, None, reason=False)
    assert asked(checkpoint, nothing) == {"asked-alone"}
    assert set(issues(checkpoint, nothing)) == {"asked-alone"}


@pytest.mark.parametrize("checkpoint", GROUPS)
@pytest.mark.parametrize(("alone", "interpreter"), SAFE)
def test_a_safe_enquiry_asks_the_outcome_and_is_extracted_as_a_routine_enquiry(checkpoint, alone, interpreter):
    response = enquiry(checkpoint, alone, interpreter, outcome=coded("da-enquiry-no-disclosure"), reason=False)

    assert asked(checkpoint, response) == {"asked-alone", "interpreter", "date", "outcome"}
    assert issues(checkpoint, response) == {}
    observations, tasks = written(checkpoint, response)
    assert ROUTINE_ENQUIRY in codes(observations)
    assert "da-enquiry-not-done-reason" not in codes(observations)
    assert tasks == []


@pytest.mark.parametrize("checkpoint", GROUPS)
def test_a_safe_enquiry_still_needs_its_outcome(checkpoint):
    response = enquiry(checkpoint, *SAFE[0], reason=False)
    assert set(issues(checkpoint, response)) == {"outcome"}


@pytest.mark.parametrize("checkpoint", GROUPS)
@pytest.mark.parametrize(("alone", "interpreter"), UNSAFE)
def test_an_unsafe_enquiry_is_not_done_with_a_reason_never_a_routine_enquiry(checkpoint, alone, interpreter):
    response = enquiry(checkpoint, alone, interpreter)

    assert "outcome" not in asked(checkpoint, response)
    assert {"not-done-reason", "retry-date"} <= asked(checkpoint, response)
    assert issues(checkpoint, response) == {}
    observations, tasks = written(checkpoint, response)
    assert ROUTINE_ENQUIRY not in codes(observations) and DECLINED not in values(observations)
    [reason] = [o for o in observations if codes([o]) == {"da-enquiry-not-done-reason"}]
    assert reason["code"]["coding"][0]["system"] == ITEM
    assert reason["valueString"] == "Her partner would not leave the room"
    [task] = tasks
    assert task.owner.startswith("Safeguarding team")
    assert task.rule.description.startswith("Domestic-abuse enquiry not done safely")
    assert task.due == RETRY


@pytest.mark.parametrize("checkpoint", GROUPS)
@pytest.mark.parametrize(("alone", "interpreter"), UNSAFE)
def test_an_unsafe_enquiry_cannot_be_saved_without_its_reason(checkpoint, alone, interpreter):
    assert "not-done-reason" in issues(checkpoint, enquiry(checkpoint, alone, interpreter, reason=False))


@pytest.mark.parametrize("checkpoint", GROUPS)
@pytest.mark.parametrize("outcome", [coded("da-enquiry-no-disclosure"), coded(DECLINED, SNOMED)])
def test_an_outcome_sent_for_an_enquiry_with_the_partner_present_is_dropped_not_extracted(checkpoint, outcome):
    """A hostile or stale client: 'nothing disclosed' (or 'declined') for an enquiry made with the partner there."""
    response = enquiry(checkpoint, "da-asked-others-present", "interpreter-not-needed", outcome=outcome)

    observations, tasks = written(checkpoint, response)

    assert ROUTINE_ENQUIRY not in codes(observations) and DECLINED not in values(observations)
    assert len(tasks) == 1


@pytest.mark.parametrize("checkpoint", GROUPS)
def test_an_outcome_with_asked_alone_left_out_counts_for_nothing(checkpoint):
    response = enquiry(checkpoint, None, "professional-interpreter-used", outcome=coded("da-enquiry-disclosed"))

    assert "asked-alone" in issues(checkpoint, response)
    assert asked(checkpoint, response) == {"asked-alone"}
    observations, _ = written(checkpoint, response)
    assert ROUTINE_ENQUIRY not in codes(observations)


@pytest.mark.parametrize("checkpoint", GROUPS)
def test_asked_alone_with_the_interpreting_left_out_is_not_yet_an_enquiry(checkpoint):
    response = enquiry(checkpoint, "da-asked-alone", None, outcome=coded("da-enquiry-no-disclosure"), reason=False)

    assert "outcome" not in asked(checkpoint, response)
    assert "interpreter" in issues(checkpoint, response)
    observations, _ = written(checkpoint, response)
    assert ROUTINE_ENQUIRY not in codes(observations)


def test_discharge_asks_again_while_the_enquirys_own_task_is_open_even_with_no_domestic_abuse_record():
    """An admission enquiry not done leaves its safeguarding-team task open: at discharge D4 asks again. Another
    open task (a GP registration, say) is not a reason to ask her again."""
    nothing = enquiry("discharge", None, None, reason=False)
    unrelated = {**NOTHING_KNOWN, "openTasks": 1, "openTaskItems": ["D10-handover.gp-plan"]}
    for link_id in ("A8-da-enquiry-private.not-done-reason", "D4-da-enquiry-private.not-done-reason"):
        own = {**NOTHING_KNOWN, "openTasks": 2, "openTaskItems": ["D10-handover.gp-plan", link_id]}
        assert asked("discharge", nothing, own) == {"asked-alone"}
        assert "asked-alone" in issues("discharge", nothing, own)
    assert asked("discharge", nothing, NOTHING_KNOWN) == set()  # no record, no open task: D4 is not asked
    assert asked("discharge", nothing, unrelated) == set()
