"""Check a response before it is accepted: required items answered, answers of the right kind.

Issues name the item's path so pages can put the message beside the field, and the API can return
them as an OperationOutcome.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .answers import option_codings
from .enable_when import enabled_paths
from .tree import Node, walk

__all__ = ["Issue", "prune", "validate"]

CHOOSE = ("boolean", "choice", "open-choice")


@dataclass(frozen=True)
class Issue:
    path: str
    link_id: str
    message: str


def _has_answer(node: Node, nodes: list[Node], enabled: set[str]) -> bool:
    if not node.is_group:
        return bool(node.r.get("answer"))
    prefix = node.path + "/"
    return any(n.r.get("answer") for n in nodes if n.path.startswith(prefix) and n.path in enabled)


def _required_message(item: dict[str, Any]) -> str:
    text = item.get("text") or item["linkId"]
    verb = "Select an answer" if item.get("type") in CHOOSE else "Enter an answer"
    return f"{verb}: {text}"


def _answer_problem(item: dict[str, Any], answer: dict[str, Any]) -> str | None:
    if item.get("type") == "choice" and "valueCoding" in answer:
        coding = answer["valueCoding"]
        allowed = {(c.get("system"), c.get("code")) for c in option_codings(item)}
        if allowed and (coding.get("system"), coding.get("code")) not in allowed:
            return f"'{coding.get('code')}' is not one of the options for: {item.get('text', item['linkId'])}"
    return None


def validate(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> list[Issue]:
    """Every reason the response cannot be completed yet, in form order."""
    enabled = enabled_paths(questionnaire, response, env)
    issues: list[Issue] = []
    nodes = list(walk(questionnaire, response))
    for node in nodes:
        if node.path not in enabled:
            continue
        answers = node.r.get("answer") or []
        if node.q.get("required") and not node.q.get("readOnly") and not _has_answer(node, nodes, enabled):
            issues.append(Issue(node.path, node.q["linkId"], _required_message(node.q)))
        if len(answers) > 1 and not node.q.get("repeats"):
            issues.append(Issue(node.path, node.q["linkId"], f"Give one answer only: {node.q.get('text', '')}"))
        for answer in answers:
            problem = _answer_problem(node.q, answer)
            if problem:
                issues.append(Issue(node.path, node.q["linkId"], problem))
    # A group's "answer this" adds nothing when a question inside it already says what is missing.
    return [i for i in issues if not any(other.path.startswith(i.path + "/") for other in issues)]


def prune(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    """A copy without disabled items (their earlier answers go too) and without empty items."""
    enabled = enabled_paths(questionnaire, response, env)
    pruned = copy.deepcopy(response)
    keep = {id(n.r) for n in walk(questionnaire, pruned) if n.path in enabled}

    def clean(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = []
        for item in items:
            if id(item) not in keep:
                continue
            if "item" in item:
                item["item"] = clean(item["item"])
                if not item["item"]:
                    del item["item"]
            if item.get("answer") or item.get("item"):
                kept.append(item)
        return kept

    pruned["item"] = clean(pruned.get("item") or [])
    return pruned
