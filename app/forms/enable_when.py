"""Which items are enabled: enableWhen (every operator, enableBehavior any/all) and enableWhenExpression.

An item is enabled only if its parent is. Answers are looked up from the item's own group instance
outward, so an item in one repeat of a group depends on its sibling in the same repeat. An answer to a
disabled item counts as no answer (R4: "as though the item is not valued"), so a chain of follow-ups
closes when its first question does, even before the stale answers are pruned.
"""

from __future__ import annotations

import copy
from datetime import date, datetime
from typing import Any

from app.nhs_style import LONDON

from .expressions import ExpressionError, evaluate, prepared
from .extensions import ENABLE_WHEN_EXPRESSION, expression
from .tree import Node, find_answers, walk

__all__ = ["enabled_paths"]

ROUNDS = 10  # enough for any real chain of follow-ups; a cycle of !=/exists rules stops here


def _value(element: dict[str, Any], prefix: str) -> tuple[str, Any] | None:
    for key, value in element.items():
        if key.startswith(prefix):
            return key[len(prefix) :], value
    return None


def _comparable(kind: str, value: Any) -> Any:
    if kind == "Coding":
        return (value.get("system"), value.get("code"))
    if kind == "Date":
        return date.fromisoformat(value[:10])
    if kind == "DateTime":
        if "T" not in value:
            return date.fromisoformat(value)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return moment if moment.tzinfo else moment.replace(tzinfo=LONDON)  # as answers.py reads a typed time
    if kind == "Quantity":
        return value.get("value")
    return value


def _matches(operator: str, answer: tuple[str, Any], expected: tuple[str, Any]) -> bool:
    (a_kind, a_value), (e_kind, e_value) = answer, expected
    if e_kind == "Coding" and a_kind == "Coding":
        same = a_value.get("code") == e_value.get("code") and (
            not e_value.get("system") or a_value.get("system") == e_value.get("system")
        )
        return same if operator == "=" else not same if operator == "!=" else False
    try:
        left, right = _comparable(a_kind, a_value), _comparable(e_kind, e_value)
        return {
            "=": left == right,
            "!=": left != right,
            ">": left > right,
            "<": left < right,
            ">=": left >= right,
            "<=": left <= right,
        }[operator]
    except (TypeError, ValueError, KeyError, AttributeError):
        return False


def _condition(when: dict[str, Any], node: Node, response: dict[str, Any]) -> bool:
    answers = find_answers(when["question"], node, response)
    expected = _value(when, "answer")
    if expected is None:
        return False
    if when["operator"] == "exists":
        return bool(answers) == bool(expected[1])
    values = [v for v in (_value(a, "value") for a in answers) if v is not None]
    if when["operator"] == "!=":
        # R4: true if no answer equals the expected value (including when there is no answer)
        return all(_matches("!=", v, expected) for v in values)
    return any(_matches(when["operator"], v, expected) for v in values)


def _own_rules(node: Node, response: dict[str, Any], env: dict[str, Any]) -> bool:
    conditions = node.q.get("enableWhen") or []
    if conditions:
        results = [_condition(c, node, response) for c in conditions]
        if not (any(results) if node.q.get("enableBehavior") == "any" else all(results)):
            return False
    expr = expression(node.q, ENABLE_WHEN_EXPRESSION)
    if expr is not None:
        try:
            result = evaluate(expr["expression"], resource=response, env={**env, "context": node.r})
        except ExpressionError:
            return True  # a broken trigger must not hide a question: ask it
        return result == [True]
    return True


def _one_round(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> set[str]:
    enabled: set[str] = set()
    for node in walk(questionnaire, response, displays=True):
        parent = node.path.rsplit("/", 1)[0] if "/" in node.path else None
        if parent is not None and parent not in enabled:
            continue
        if _own_rules(node, response, env):
            enabled.add(node.path)
    return enabled


def _without_answers_outside(questionnaire: dict[str, Any], response: dict[str, Any], enabled: set[str]):
    """A copy of `response` in which disabled items hold no answers (paths stay the same)."""
    view = copy.deepcopy(response)
    for node in walk(questionnaire, view):
        if node.path not in enabled:
            node.r.pop("answer", None)
    return view


def enabled_paths(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> set[str]:
    """Paths of the enabled item instances (display text included). An item whose expression fails is enabled.

    The rounds share one `prepared()` block, so what their expressions read of the checklist and the %variables
    is walked once: nothing they evaluate on is changed (each round reads a fresh copy of the response). Where no
    answer sits outside the enabled items (a pre-filled checklist, as a rule), the next round would read the same
    answers and find the same items, so it is not asked (it was half of a checklist page's enablement)."""
    env = {"questionnaire": questionnaire, **env}
    with prepared():
        read = response  # what the last round read
        enabled = _one_round(questionnaire, read, env)
        for _ in range(ROUNDS):
            view = _without_answers_outside(questionnaire, response, enabled)
            if view == read:  # the same answers: the same items would be enabled
                break
            again = _one_round(questionnaire, view, env)
            if again == enabled:
                break
            enabled, read = again, view
        return enabled
