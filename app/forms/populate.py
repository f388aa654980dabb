"""Build an in-progress QuestionnaireResponse, pre-filled from the picture and launch context (SDC $populate).

A failed expression does not stop population: the item is left empty and the failure is listed in
`issues`, so the page can say what could not be pre-filled (SDC users' first complaint: silent failure).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .answers import typed_answer
from .expressions import ExpressionError, evaluate, prepared
from .extensions import INITIAL_EXPRESSION, ITEM_POPULATION_CONTEXT, expression, max_occurs
from .tree import child_definitions

__all__ = ["Populated", "add_repeats", "canonical", "empty_instance", "populate", "repeat_key"]


@dataclass
class Populated:
    response: dict[str, Any]
    issues: list[str] = field(default_factory=list)


def canonical(questionnaire: dict[str, Any]) -> str:
    """The versioned canonical a response must name: url|version."""
    return f"{questionnaire['url']}|{questionnaire['version']}"


def empty_instance(item: dict[str, Any]) -> dict[str, Any]:
    """A response item with no answers (children of groups included)."""
    response_item: dict[str, Any] = {"linkId": item["linkId"], "text": item.get("text", "")}
    if item.get("type") == "group":
        response_item["item"] = [empty_instance(child) for child in child_definitions(item)]
    return response_item


def with_every_item(questionnaire: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    """The response with an item for every question of its checklist, answers kept as they are.

    A stored checklist keeps only the items that applied (prune); to amend it, the follow-up questions a changed
    answer asks for must be there to show. Items the checklist does not define are kept, never dropped.
    """

    def fill(q_items: list[dict[str, Any]], r_items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for q in q_items:
            present = [r for r in r_items if r.get("linkId") == q["linkId"]]
            if not present:
                out.append(empty_instance(q))
            for r in present:
                out.append(
                    {**r, "item": fill(child_definitions(q), r.get("item") or [])} if q.get("type") == "group" else r
                )
        known = {q["linkId"] for q in q_items}
        return out + [r for r in r_items if r.get("linkId") not in known]

    return {**response, "item": fill(child_definitions(questionnaire), response.get("item") or [])}


def _initial_answers(item: dict[str, Any], response: dict[str, Any], env: dict[str, Any], issues: list[str]):
    expr = expression(item, INITIAL_EXPRESSION)
    if expr is None:
        return [dict(i) for i in item.get("initial") or []]
    try:
        values = evaluate(expr["expression"], resource=response, env=env)
    except ExpressionError:
        issues.append(f"Could not pre-fill '{item.get('text', item['linkId'])}': enter it by hand.")
        return []
    answers = [a for a in (typed_answer(item, value) for value in values) if a is not None]
    if values and not answers:
        issues.append(
            f"Could not pre-fill '{item.get('text', item['linkId'])}' (the sources gave an unexpected "
            "value): enter it by hand."
        )
    return answers[: None if item.get("repeats") else 1]


def _populate_items(
    items: list[dict[str, Any]], response: dict[str, Any], env: dict[str, Any], issues: list[str]
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in items:
        if item.get("type") != "group":
            response_item = {"linkId": item["linkId"], "text": item.get("text", "")}
            answers = _initial_answers(item, response, env, issues)
            if answers:
                response_item["answer"] = answers
            out.append(response_item)
            continue
        context = expression(item, ITEM_POPULATION_CONTEXT)
        if context is None:
            out.append(_group(item, response, env, issues))
            continue
        try:
            elements = evaluate(context["expression"], resource=response, env=env)
        except ExpressionError:
            issues.append(f"Could not pre-fill '{item.get('text', item['linkId'])}': add the entries by hand.")
            elements = []
        if not elements:
            out.append(empty_instance(item))
        for element in elements if item.get("repeats") else elements[:1]:
            out.append(_group(item, response, {**env, context.get("name", "context"): element}, issues))
    return out


def _group(item: dict[str, Any], response: dict[str, Any], env: dict[str, Any], issues: list[str]) -> dict[str, Any]:
    return {
        "linkId": item["linkId"],
        "text": item.get("text", ""),
        "item": _populate_items(child_definitions(item), response, env, issues),
    }


def populate(
    questionnaire: dict[str, Any], *, env: dict[str, Any], subject: dict[str, Any], encounter: dict[str, Any] | None
) -> Populated:
    """A new in-progress response to `questionnaire` for `subject`, pre-filled from `env` (%picture etc.)."""
    response: dict[str, Any] = {
        "resourceType": "QuestionnaireResponse",
        "questionnaire": canonical(questionnaire),
        "status": "in-progress",
        "subject": subject,
        "item": [],
    }
    if encounter:
        response["encounter"] = encounter
    issues: list[str] = []
    env = {"questionnaire": questionnaire, **env}
    with prepared():  # nothing evaluated on changes until the items are all built
        response["item"] = _populate_items(child_definitions(questionnaire), response, env, issues)
    return Populated(response=response, issues=issues)


def repeat_key(prefix: str, link_id: str) -> str:
    """Names a set of repeats of one group under one parent: the parent's path and the linkId."""
    return f"{prefix}{link_id}"


def add_repeats(questionnaire: dict[str, Any], response: dict[str, Any], counts: dict[str, int]) -> None:
    """Grow repeating groups to the counts the form asks for (the clinician pressed 'Add another'), up to maxOccurs."""

    def grow(q_items: list[dict[str, Any]], r_items: list[dict[str, Any]], prefix: str) -> None:
        for q in q_items:
            if q.get("type") != "group":
                continue
            instances = [r for r in r_items if r.get("linkId") == q["linkId"]]
            wanted = counts.get(repeat_key(prefix, q["linkId"]), 0) if q.get("repeats") else 0
            wanted = min(wanted, max_occurs(q) or wanted)
            while len(instances) < wanted:
                new = empty_instance(q)
                r_items.insert(r_items.index(instances[-1]) + 1 if instances else len(r_items), new)
                instances.append(new)
            for index, instance in enumerate(instances):
                grow(child_definitions(q), instance.setdefault("item", []), f"{prefix}{q['linkId']}~{index}/")

    grow(child_definitions(questionnaire), response.setdefault("item", []), "")
