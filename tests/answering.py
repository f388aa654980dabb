"""Answer a checklist the way a careful clinician would: every question, with a valid answer for its type."""

from __future__ import annotations

from typing import Any

import httpx

from app.forms import option_codings, walk

ANSWERS_BY_TYPE = {
    "boolean": {"valueBoolean": False},
    "string": {"valueString": "Recorded by the test"},
    "text": {"valueString": "Recorded by the test"},
    "integer": {"valueInteger": 0},
    "decimal": {"valueDecimal": 1.5},
    "date": {"valueDate": "2026-11-25"},
    "dateTime": {"valueDateTime": "2026-11-25T10:00:00+00:00"},
}


def answer_everything(questionnaire: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """Fill each unanswered, editable question (enabled or not: disabled answers are pruned on submit)."""
    for node in walk(questionnaire, response):
        if node.is_group or node.q.get("readOnly") or node.r.get("answer"):
            continue
        kind = node.q["type"]
        if kind in ("choice", "open-choice"):
            node.r["answer"] = [{"valueCoding": option_codings(node.q)[0]}]
        else:
            node.r["answer"] = [dict(ANSWERS_BY_TYPE[kind])]
    return response


def items_with(response: dict[str, Any], link_id: str) -> list[dict[str, Any]]:
    found = []
    stack = list(response.get("item") or [])
    while stack:
        item = stack.pop()
        if item.get("linkId") == link_id:
            found.append(item)
        stack.extend(item.get("item") or [])
    return found


def without_answer(response: dict[str, Any], link_id: str) -> dict[str, Any]:
    for item in items_with(response, link_id):
        item.pop("answer", None)
    return response


def completed(api: httpx.Client, baby: str, checkpoint: str = "admission") -> dict[str, Any]:
    """The baby's checklist as NeoSafe pre-fills it (over the API), with every question answered."""
    questionnaire = api.get(f"/api/checklists/{checkpoint}").raise_for_status().json()
    prefilled = api.get(f"/api/patients/{baby}/checklists/{checkpoint}").raise_for_status().json()
    return answer_everything(questionnaire, prefilled)


def submitted(api: httpx.Client, baby: str, response: dict[str, Any]) -> str:
    """Submit the response over the API; it must be stored (201). Returns NeoSafe's id for it."""
    created = api.post(f"/api/patients/{baby}/assessments", json=response)
    assert created.status_code == 201, created.text
    return created.json()["id"]


def with_a_concern(response: dict[str, Any], details: str | None) -> dict[str, Any]:
    """The admission response with A10 answered: Yes with the concern's `details`, or No (`details` None)."""
    for item in items_with(response, "A10-concern-now.concern"):
        item["answer"] = [{"valueBoolean": details is not None}]
    parent = next(i for i in response["item"] if i["linkId"] == "A10-concern-now")
    parent["item"] = [i for i in parent.get("item") or [] if i["linkId"] != "A10-concern-now.details"]
    if details is not None:
        parent["item"].append({"linkId": "A10-concern-now.details", "answer": [{"valueString": details}]})
    return response
