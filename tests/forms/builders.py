"""Small inline Questionnaires for the engine tests: make_* builds FHIR R4 JSON with safe defaults."""

from __future__ import annotations

import copy
from typing import Any

from app.forms import populate
from app.forms.extensions import (
    ENABLE_WHEN_EXPRESSION,
    HIDDEN,
    INITIAL_EXPRESSION,
    ITEM_CONTROL,
    ITEM_POPULATION_CONTEXT,
    MAX_OCCURS,
    MIN_OCCURS,
    OBSERVATION_EXTRACT,
)

SYSTEM = "https://neosafe.org.uk/fhir/CodeSystem/checklist-item"
SUBJECT = {"reference": "Patient/baby", "display": "Baby TEST"}


def make_coding(code: str, display: str | None = None, system: str = SYSTEM) -> dict[str, Any]:
    return {"system": system, "code": code, "display": display or code.replace("-", " ").capitalize()}


def make_item(link_id: str, kind: str = "string", *children: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """A Questionnaire item; `options` (codes), `extensions`, and any other item field as keywords."""
    item: dict[str, Any] = {"linkId": link_id, "text": fields.pop("text", link_id.replace("-", " ").capitalize())}
    item["type"] = kind
    options = fields.pop("options", None)
    if options:
        item["answerOption"] = [{"valueCoding": make_coding(code)} for code in options]
    extensions = fields.pop("extensions", [])
    if extensions:
        item["extension"] = extensions
    item.update(fields)
    if children:
        item["item"] = list(children)
    return item


def make_group(link_id: str, *children: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return make_item(link_id, "group", *children, **fields)


def make_help(link_id: str, text: str = "Help text") -> dict[str, Any]:
    control = {"coding": [{"system": "http://hl7.org/fhir/questionnaire-item-control", "code": "help"}]}
    return make_item(link_id, "display", text=text, extensions=[{"url": ITEM_CONTROL, "valueCodeableConcept": control}])


def make_questionnaire(*items: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {
        "resourceType": "Questionnaire",
        "url": "https://neosafe.org.uk/fhir/Questionnaire/test",
        "version": "0.0.1",
        "status": "active",
        **fields,
        "item": list(items),
    }


def fhirpath(expression: str, name: str | None = None) -> dict[str, Any]:
    value: dict[str, Any] = {"language": "text/fhirpath", "expression": expression}
    if name:
        value["name"] = name
    return value


def enable_when_expression(expression: str) -> dict[str, Any]:
    return {"url": ENABLE_WHEN_EXPRESSION, "valueExpression": fhirpath(expression)}


def initial_expression(expression: str) -> dict[str, Any]:
    return {"url": INITIAL_EXPRESSION, "valueExpression": fhirpath(expression)}


def population_context(expression: str, name: str) -> dict[str, Any]:
    return {"url": ITEM_POPULATION_CONTEXT, "valueExpression": fhirpath(expression, name)}


def hidden() -> dict[str, Any]:
    return {"url": HIDDEN, "valueBoolean": True}


def min_occurs(n: int) -> dict[str, Any]:
    return {"url": MIN_OCCURS, "valueInteger": n}


def max_occurs(n: int) -> dict[str, Any]:
    return {"url": MAX_OCCURS, "valueInteger": n}


def extract(value: bool | str = True) -> dict[str, Any]:
    key = "valueBoolean" if isinstance(value, bool) else "valueCode"
    return {"url": OBSERVATION_EXTRACT, key: value}


def when(question: str, operator: str, **answer: Any) -> dict[str, Any]:
    """An enableWhen: when("q", "=", answerBoolean=True)."""
    return {"question": question, "operator": operator, **answer}


def make_response(questionnaire: dict[str, Any], env: dict[str, Any] | None = None) -> dict[str, Any]:
    """A new response to `questionnaire`, as NeoSafe starts one (pre-filled from `env`)."""
    return populate(questionnaire, env=env or {}, subject=SUBJECT, encounter=None).response


def items_with(response: dict[str, Any], link_id: str) -> list[dict[str, Any]]:
    """Every response item with this linkId, in document order."""
    found: list[dict[str, Any]] = []

    def visit(items: list[dict[str, Any]]) -> None:
        for item in items:
            if item.get("linkId") == link_id:
                found.append(item)
            visit(item.get("item") or [])

    visit(response.get("item") or [])
    return found


def answer(response: dict[str, Any], link_id: str, *values: dict[str, Any], entry: int = 0) -> dict[str, Any]:
    """Set the answers of the `entry`-th item with this linkId (in place); returns the response."""
    target = items_with(response, link_id)[entry]
    if values:
        target["answer"] = [copy.deepcopy(v) for v in values]
    else:
        target.pop("answer", None)
    return response
