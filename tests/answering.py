"""Answer a checklist the way a careful clinician would: every question, with a valid answer for its type."""

from __future__ import annotations

from typing import Any

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
