"""The shared FHIRPath evaluator: its shared sub-results give exactly what fhirpathpy gives, whoever asks.

The differential tests run every checklist NeoSafe has (in use and archived) through populate, enableWhen,
validate and prune on pictures with everything and with nothing, record every expression evaluated there with
its resource and %variables, and evaluate each again with fhirpathpy alone: same answer, or both fail.
"""

from __future__ import annotations

import copy
import importlib
import json
from pathlib import Path
from typing import Any

import fhirpathpy
import pytest

from app.forms import enabled_paths, load_checklists, populate, prune, validate
from app.forms import expressions as shared
from app.forms.expressions import ExpressionError, evaluate, prepared
from tests.answering import answer_everything
from tests.forms.builders import SUBJECT

CHECKLISTS = load_checklists(Path(__file__).resolve().parents[2] / "checklists")
VERSIONS = sorted(CHECKLISTS.by_canonical)
R4 = fhirpathpy.models.models["r4"]

EVERYTHING = {
    "checkpoint": "admission",
    "baby": {"preterm": True, "gestationWeeks": 26, "gestationDays": 3, "correctedAgeDays": -90},
    "people": [
        {"role": "baby", "name": "Baby B", "nhsNumber": "9990000018", "verified": True, "maleCarer": False},
        {"role": "mother", "name": "Anna B", "nhsNumber": "9990000034", "language": "pl", "interpreterRequired": True},
        {"role": "father", "name": "Piotr B", "nhsNumber": None, "maleCarer": True, "relationship": "father"},
        {"role": "partner", "name": "Tom C", "nhsNumber": "9990000050", "maleCarer": True},
        {"role": "carer", "name": "Gran B", "nhsNumber": "9990000077", "maleCarer": False},
    ],
    "records": [
        dict(zip(("category", "current", "personRole", "personNhsNumber", "source", "code"), row, strict=True))
        for row in [
            ("domestic-abuse", False, "mother", "9990000034", "police-gp", "895141000000105"),
            ("domestic-abuse", True, "father", None, "police-gp", "700411009"),
            ("child-protection", False, "baby", "9990000018", "social-care", None),
            ("looked-after", True, "mother", "9990000034", "cpis", None),
            ("substance-misuse", True, "partner", "9990000050", "maternity", None),
            ("mental-health", False, "mother", "9990000034", "maternity", None),
            ("interpreter", True, "mother", "9990000034", "maternity", None),
        ]
    ],
    "sources": [
        {"name": "neonatal", "status": "found", "detail": None},
        {"name": "maternity", "status": "partial", "detail": "one person could not be checked"},
        {"name": "cpis", "status": "unavailable", "detail": "timeout"},
        {"name": "police-gp", "status": "not-configured", "detail": None},
    ],
    "openTasks": 2,
    "openTaskItems": ["A1-sources", "D4-da-indicated"],
}
NOTHING = {
    "checkpoint": "admission",
    "baby": {"preterm": None, "gestationWeeks": None},
    "people": [{"role": "baby", "name": "Baby N", "nhsNumber": None}],
    "records": [],
    "sources": [{"name": "neonatal", "status": "unavailable", "detail": "connection refused"}],
    "openTasks": 0,
    "openTaskItems": [],
}


def environment(picture: dict[str, Any], findings: list[str]) -> dict[str, Any]:
    return {
        "patient": {"resourceType": "Patient", "id": "baby"},
        "encounter": {},
        "user": {"reference": "Practitioner/nurse"},
        "picture": picture,
        "findings": findings,
    }


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any], dict[str, Any], Any]]:
    """Every evaluation the engine makes, with a copy of what it was given and what it answered."""
    calls: list[tuple[str, dict[str, Any], dict[str, Any], Any]] = []

    def recording(text: str, *, resource: dict[str, Any], env: dict[str, Any]) -> list[Any]:
        given = copy.deepcopy((resource, env))
        try:
            result = evaluate(text, resource=resource, env=env)
        except ExpressionError:
            calls.append((text, *given, ExpressionError))
            raise
        calls.append((text, *given, copy.deepcopy(result)))
        return result

    for module in ("app.forms.populate", "app.forms.enable_when"):
        monkeypatch.setattr(importlib.import_module(module), "evaluate", recording)
    return calls


def fhirpathpy_alone(text: str, resource: dict[str, Any], env: dict[str, Any]) -> Any:
    try:
        return fhirpathpy.evaluate(resource, text, {"resource": resource, **env}, R4)
    except Exception:
        return ExpressionError


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("picture", [EVERYTHING, NOTHING], ids=["everything", "nothing"])
def test_every_checklist_expression_answers_as_fhirpathpy_alone(version, picture, recorded):
    questionnaire = CHECKLISTS.by_canonical[version]
    env = environment(picture, ["da-indicated", "icon-not-given"] if picture is EVERYTHING else [])
    response = populate(questionnaire, env=env, subject=SUBJECT, encounter=None).response
    enabled_paths(questionnaire, response, env)
    answered = answer_everything(questionnaire, copy.deepcopy(response))
    validate(questionnaire, answered, env)
    prune(questionnaire, answered, env)

    assert bool(recorded) == ('"expression"' in json.dumps(questionnaire)), "each expression it has was evaluated"
    for text, resource, given, result in recorded:
        assert result == fhirpathpy_alone(text, resource, given), text


def test_a_checklist_chain_is_computed_once_for_every_group_entry_and_every_request(monkeypatch):
    computed: list[str] = []
    compute = shared._Variables._compute

    def counting(self, chain):
        computed.append(chain.name)
        return compute(self, chain)

    monkeypatch.setattr(shared._Variables, "_compute", counting)
    questionnaire = copy.deepcopy(CHECKLISTS.for_checkpoint("admission"))  # content never seen: nothing kept yet
    questionnaire["title"] += " (a copy)"
    env = environment(EVERYTHING, [])

    populate(questionnaire, env=env, subject=SUBJECT, encounter=None)
    first = list(computed)
    populate(questionnaire, env=env, subject=SUBJECT, encounter=None)
    again = computed[len(first) :]

    walks = [n for n in first if shared._by_name[n].names == ("questionnaire",)]
    assert walks, "the checklist's own chains are shared"
    assert len(walks) == len(set(walks)), "each is computed once for every group entry that asks it"
    assert not set(walks) & set(again), "and kept for the next request"


def test_a_changed_checklist_or_picture_is_read_afresh():
    questionnaire = {"resourceType": "Questionnaire", "item": [{"linkId": "a", "text": "Before", "type": "string"}]}
    picture = {"records": [{"category": "domestic-abuse"}]}
    text = "%questionnaire.repeat(item).where(linkId = 'a').text"
    count = "%picture.records.where(category = 'domestic-abuse').count()"

    assert evaluate(text, resource={}, env={"questionnaire": questionnaire}) == ["Before"]
    assert evaluate(count, resource={}, env={"picture": picture}) == [1]
    questionnaire["item"][0]["text"] = "After"  # the same object, changed in place
    picture["records"].append({"category": "domestic-abuse"})

    assert evaluate(text, resource={}, env={"questionnaire": questionnaire}) == ["After"]
    assert evaluate(count, resource={}, env={"picture": picture}) == [2]
    with prepared():
        assert evaluate(text, resource={}, env={"questionnaire": json.loads(json.dumps(questionnaire))}) == ["After"]


def test_inside_one_block_each_value_has_its_own_results():
    with prepared():
        for n in range(3):
            people = {"people": [{"role": "mother"}] * n}
            assert evaluate("%picture.people.where(role = 'mother').count()", resource={}, env={"picture": people}) == [
                n
            ]


@pytest.mark.parametrize(
    "text",
    [
        "%picture.records.where(current = true).union(records)",  # an argument read against fhirpathpy's leftover $this
        "%picture.records.where(current = true).select($this.category)",
        "%picture.records.select(category).where($index > 0)",
        "%picture.records.where(current = true).category | %picture.records.where(current = false).category",
        "%picture.records.where(current = true).exists() and records.exists()",
        "%picture.records.first().category.iif($this = 'x', 1, 2)",
        "-%picture.records.count()",  # fhirpathpy negates the list it is given in place
    ],
)
def test_expressions_that_read_the_focus_answer_as_fhirpathpy_alone(text):
    resource = {"records": [{"category": "outer"}]}
    env = {"picture": EVERYTHING}

    for _ in range(2):  # and again, with whatever the first left shared
        assert evaluate(text, resource=resource, env=env) == fhirpathpy_alone(text, resource, {"picture": EVERYTHING})


@pytest.mark.parametrize(
    "text", ["%nothing.a.where(b = 1)", "%nothing", "%picture.records.nowhere()", "%picture.records.where(", "1 +"]
)
def test_an_undefined_variable_or_broken_expression_is_an_expression_error(text):
    with pytest.raises(ExpressionError):
        evaluate(text, resource={}, env={"picture": EVERYTHING})


LOOKUP = "%resource.repeat(item).where(linkId = 'a').answer.value"
ODD_ITEMS = {
    "nested and repeated": [
        {"linkId": "a", "answer": [{"value": 1}]},
        {"linkId": "g", "item": [{"linkId": "a", "answer": [{"value": 2}]}, {"text": "no linkId"}]},
        {"linkId": "a", "answer": [{"value": 3}]},
    ],
    "a linkId as a list": [{"linkId": ["a"], "answer": [{"value": 1}]}, {"linkId": "a", "answer": [{"value": 2}]}],
    "a linkId as a number": [{"linkId": 7, "answer": [{"value": 1}]}, {"linkId": "a", "answer": [{"value": 2}]}],
    "a _linkId extension": [{"linkId": "a", "_linkId": {"id": "x"}, "answer": [{"value": 1}]}],
    "an item that is text": [{"linkId": "a", "item": ["a"], "answer": [{"value": 1}]}],
    "no match": [{"linkId": "b", "answer": [{"value": 1}]}],
}


@pytest.mark.parametrize("items", list(ODD_ITEMS.values()), ids=list(ODD_ITEMS))
@pytest.mark.parametrize(
    "text",
    [LOOKUP, "%resource.repeat(item).where(linkId = 'a').count()", r"%resource.repeat(item).where(linkId='\u0061')"],
)
def test_a_lookup_by_link_id_answers_as_fhirpathpy_alone(text, items):
    resource = {"resourceType": "QuestionnaireResponse", "item": items}

    with prepared():
        for _ in range(2):  # the second from the index the first built
            assert evaluate(text, resource=resource, env={}) == fhirpathpy_alone(text, resource, {}), text


def test_every_linkid_lookup_of_the_checklists_is_answered_from_the_index():
    """The enableWhenExpression shape is recognised (else the lookups above would test nothing)."""
    texts = {
        found
        for questionnaire in CHECKLISTS.by_canonical.values()
        for found in _expressions(questionnaire)
        if "%resource.repeat(item).where(linkId = " in found
    }
    assert texts
    for text in texts:
        shared._compiled(text)
    lookups = [c for c in shared._by_name.values() if c.lookup and shared._by_name[c.lookup[0]].names == ("resource",)]
    assert {literal for _, literal in (c.lookup for c in lookups)} >= {
        t.split("linkId = '")[1].split("'")[0] for t in texts
    }


def _expressions(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["expression"]] if isinstance(node.get("expression"), str) else []
        return own + [e for value in node.values() for e in _expressions(value)]
    if isinstance(node, list):
        return [e for value in node for e in _expressions(value)]
    return []


def test_no_linkid_is_a_choice_type_in_fhirpathpys_model():
    """The index reads `linkId` straight from each item, as fhirpathpy does unless its model made it `linkId[x]`."""
    assert not [path for path in R4["choiceTypePaths"] if path.rsplit(".", 1)[-1] == "linkId"]
