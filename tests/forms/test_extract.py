"""SDC observation-based extraction, correct for R4: every answer kept, R4 value types, stable identifiers."""

from __future__ import annotations

import copy

import pytest
from fhir.resources.R4B.observation import Observation

from app.fhir_systems import CONFIDENTIALITY_SYSTEM
from app.forms import OBSERVATION_ID_SYSTEM, extract_observations
from app.forms.extensions import CATEGORY
from tests.forms.builders import (
    SUBJECT,
    answer,
    extract,
    make_coding,
    make_group,
    make_item,
    make_questionnaire,
    make_response,
)

AUTHOR = {"identifier": {"system": "https://neosafe.org.uk/fhir/Id/user", "value": "demo-nurse"}}
AUTHORED = "2026-11-26T09:30:00+00:00"
QR = "urn:uuid:6b0d7c1e-0000-4000-8000-000000000001"
SOCIAL_HISTORY = {
    "coding": [
        {
            "system": "http://terminology.hl7.org/CodeSystem/observation-category",
            "code": "social-history",
            "display": "Social History",
        }
    ]
}


def code(value: str) -> list[dict]:
    return [make_coding(value)]


def completed(q: dict, *answers: tuple) -> dict:
    response = make_response(q)
    for link_id, *values in answers:
        answer(response, link_id, *values)
    response.update({"status": "completed", "author": AUTHOR, "authored": AUTHORED})
    response["encounter"] = {"reference": "Encounter/stay"}
    return response


def observations(q: dict, response: dict, **kwargs) -> list[dict]:
    found = extract_observations(q, response, response_reference=QR, identifier="assessment-1", **kwargs)
    for observation in found:
        Observation.model_validate(observation)  # valid R4(B), or the test fails here
    return found


def one_value(observation: dict) -> dict:
    return {k: v for k, v in observation.items() if k.startswith("value")}


@pytest.mark.parametrize(
    ("kind", "given", "value"),
    [
        ("boolean", {"valueBoolean": False}, {"valueBoolean": False}),
        ("boolean", {"valueBoolean": True}, {"valueBoolean": True}),
        ("integer", {"valueInteger": 0}, {"valueInteger": 0}),
        ("decimal", {"valueDecimal": 2.5}, {"valueQuantity": {"value": 2.5}}),
        ("decimal", {"valueDecimal": 0.0}, {"valueQuantity": {"value": 0.0}}),
        ("date", {"valueDate": "2026-11-20"}, {"valueDateTime": "2026-11-20"}),
        ("dateTime", {"valueDateTime": AUTHORED}, {"valueDateTime": AUTHORED}),
        ("string", {"valueString": "Ward 3"}, {"valueString": "Ward 3"}),
        ("text", {"valueString": "A plan"}, {"valueString": "A plan"}),
        (
            "choice",
            {"valueCoding": make_coding("yes", "Yes")},
            {"valueCodeableConcept": {"coding": [make_coding("yes", "Yes")], "text": "Yes"}},
        ),
        ("open-choice", {"valueString": "Tigrinya"}, {"valueString": "Tigrinya"}),
    ],
)
def test_each_answer_type_becomes_the_r4_observation_value(kind, given, value):
    options = {"options": ["yes"]} if kind == "choice" else {}
    q = make_questionnaire(make_item("q", kind, text="Question", code=code("q-code"), **options), extension=[extract()])

    [observation] = observations(q, completed(q, ("q", given)))

    assert observation == {
        "resourceType": "Observation",
        "identifier": [{"system": OBSERVATION_ID_SYSTEM, "value": "assessment-1/q~0/0"}],
        "meta": {"security": [{"system": CONFIDENTIALITY_SYSTEM, "code": "R", "display": "restricted"}]},
        "status": "final",
        "category": [SOCIAL_HISTORY],
        "code": {"coding": code("q-code"), "text": "Question"},
        "subject": SUBJECT,
        "encounter": {"reference": "Encounter/stay"},
        "effectiveDateTime": AUTHORED,
        "issued": AUTHORED,
        "performer": [AUTHOR],
        "derivedFrom": [{"reference": QR}],
        **value,
    }
    assert one_value(observation) == value


def test_one_observation_per_answer_with_stable_distinct_identifiers():
    q = make_questionnaire(
        make_group(
            "carer",
            make_item("icon", "boolean", code=code("icon-given")),
            make_item("concerns", "choice", code=code("concerns"), options=["a", "b"], repeats=True),
            repeats=True,
        ),
        extension=[extract()],
    )
    response = completed(q, ("icon", {"valueBoolean": False}))
    response["item"].append(copy.deepcopy(response["item"][0]))
    answer(response, "icon", {"valueBoolean": True}, entry=1)
    answer(response, "concerns", {"valueCoding": make_coding("a")}, {"valueCoding": make_coding("b")}, entry=1)

    first = observations(q, response)
    again = observations(q, copy.deepcopy(response))

    assert [o["identifier"][0]["value"] for o in first] == [
        "assessment-1/carer~0/icon~0/0",
        "assessment-1/carer~1/icon~0/0",
        "assessment-1/carer~1/concerns~0/0",
        "assessment-1/carer~1/concerns~0/1",
    ]
    assert first == again  # the same response extracts to the same identifiers: a resend creates nothing new
    assert [one_value(o) for o in first][:2] == [{"valueBoolean": False}, {"valueBoolean": True}]


def test_only_coded_items_under_observation_extract_are_extracted_and_false_overrides():
    q = make_questionnaire(
        make_item("no-code", "string"),
        make_group(
            "private",
            make_item("notes", "text", code=code("notes")),
            extensions=[extract(False)],
        ),
        make_item("kept", "boolean", code=code("kept")),
        make_item("not-flagged", "boolean", code=code("x"), extensions=[extract(False)]),
        extension=[extract()],
    )
    response = completed(
        q,
        ("no-code", {"valueString": "x"}),
        ("notes", {"valueString": "y"}),
        ("kept", {"valueBoolean": False}),
        ("not-flagged", {"valueBoolean": True}),
    )

    assert [o["code"]["coding"][0]["code"] for o in observations(q, response)] == ["kept"]


def test_nothing_is_extracted_without_observation_extract():
    q = make_questionnaire(make_item("q", "boolean", code=code("q")))

    assert observations(q, completed(q, ("q", {"valueBoolean": False}))) == []


def test_observation_extract_on_an_item_code_and_a_lower_category_wins():
    vital = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "survey"}]}
    coded = {**make_coding("q"), "extension": [extract()]}
    q = make_questionnaire(
        make_item("q", "integer", code=[coded], extensions=[{"url": CATEGORY, "valueCodeableConcept": vital}])
    )

    [observation] = observations(q, completed(q, ("q", {"valueInteger": 3})))

    assert observation["category"] == [vital]


def dash_group(mode: str) -> dict:
    return make_questionnaire(
        make_group(
            "dash",
            make_item("date", "date", code=code("dash-date")),
            make_item("score", "integer", code=code("dash-score")),
            make_item("uncoded", "string"),
            text="DASH risk assessment",
            code=code("dash"),
            extensions=[extract(mode)],
        )
    )


def test_coded_children_of_a_component_group_become_components_of_one_observation():
    q = dash_group("component")
    response = completed(q, ("date", {"valueDate": "2026-11-20"}), ("score", {"valueInteger": 0}))

    [observation] = observations(q, response)

    assert observation["identifier"] == [{"system": OBSERVATION_ID_SYSTEM, "value": "assessment-1/dash~0"}]
    assert observation["code"] == {"coding": code("dash"), "text": "DASH risk assessment"}
    assert not one_value(observation)
    assert observation["component"] == [
        {"code": {"coding": code("dash-date"), "text": "Date"}, "valueDateTime": "2026-11-20"},
        {"code": {"coding": code("dash-score"), "text": "Score"}, "valueInteger": 0},
    ]


def test_coded_children_of_a_member_group_are_observations_the_parent_has_as_members():
    q = dash_group("member")
    response = completed(q, ("date", {"valueDate": "2026-11-20"}), ("score", {"valueInteger": 0}))

    parent, date, score = observations(q, response, full_url=lambda key: f"urn:uuid:{key}")

    assert parent["identifier"][0]["value"] == "assessment-1/dash~0"
    assert [one_value(date), one_value(score)] == [{"valueDateTime": "2026-11-20"}, {"valueInteger": 0}]
    assert parent["hasMember"] == [
        {"reference": "urn:uuid:assessment-1/dash~0/date~0/0", "display": "Date"},
        {"reference": "urn:uuid:assessment-1/dash~0/score~0/0", "display": "Score"},
    ]


def test_without_a_full_url_members_are_referred_to_by_identifier():
    q = dash_group("member")

    parent, score = observations(q, completed(q, ("score", {"valueInteger": 7})))

    assert parent["hasMember"] == [{"identifier": score["identifier"][0], "display": "Score"}]


@pytest.mark.parametrize("mode", ["component", "member"])
def test_a_grouping_observation_with_no_answers_is_not_made(mode):
    q = dash_group(mode)

    assert observations(q, completed(q, ("uncoded", {"valueString": "x"}))) == []


def test_each_entry_of_a_repeating_member_group_has_its_own_parent():
    q = make_questionnaire(
        make_group(
            "carer",
            make_item("icon", "boolean", code=code("icon")),
            code=code("carer-advice"),
            repeats=True,
            extensions=[extract("member")],
        )
    )
    response = completed(q, ("icon", {"valueBoolean": False}))
    response["item"].append(copy.deepcopy(response["item"][0]))

    found = observations(q, response)

    parents = [o for o in found if "hasMember" in o]
    assert [p["identifier"][0]["value"] for p in parents] == ["assessment-1/carer~0", "assessment-1/carer~1"]
    assert [p["hasMember"][0]["identifier"]["value"] for p in parents] == [
        "assessment-1/carer~0/icon~0/0",
        "assessment-1/carer~1/icon~0/0",
    ]
