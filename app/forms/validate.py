"""Check a response before it is accepted: required items answered, minOccurs/maxOccurs, answers of the right kind,
typed answers no longer than the item's maxLength.

Issues name the item's path so pages can put the message beside the field, and the API can return
them as an OperationOutcome. Messages say what to do, in NHS.UK style ("Select…", "Enter…").

Completeness is judged against the Questionnaire, not against what the response happens to hold: an item the
response leaves out is treated as there and unanswered (its path is where it would be, index ~0), so an empty
or cut-down response is never accepted as complete. An item the checklist does not define at that place, and a
non-repeating item or group given more than once, are issues too: they are never dropped silently.

A group entry nobody answered is not there (it is pruned), so its required questions are only asked for when
the group itself must be answered: a required group with no answered entry at all. An empty extra entry of a
repeating group ("Add another", then nothing typed) never blocks a submission.
"""

from __future__ import annotations

import copy
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from .answers import label, option_codings
from .enable_when import enabled_paths
from .extensions import is_hidden, max_occurs, min_occurs
from .populate import with_every_item
from .tree import Node, child_definitions, walk

__all__ = ["DEFAULT_MAX_LENGTH", "Issue", "prune", "required_message", "validate"]

# The longest typed answer (characters) NeoSafe takes for an item whose checklist declares no maxLength, e.g. an
# archived version from before checklists declared one. Each item of a checklist in use declares its own (lint).
DEFAULT_MAX_LENGTH = 4000

ACCEPTED = {
    "boolean": ("valueBoolean",),
    "decimal": ("valueDecimal",),
    "integer": ("valueInteger",),
    "date": ("valueDate",),
    "dateTime": ("valueDateTime",),
    "time": ("valueTime",),
    "string": ("valueString",),
    "text": ("valueString",),
    "url": ("valueUri",),
    "choice": ("valueCoding",),
    "open-choice": ("valueCoding", "valueString"),
    "attachment": ("valueAttachment",),
    "reference": ("valueReference",),
    "quantity": ("valueQuantity",),
}


@dataclass(frozen=True)
class Issue:
    path: str
    link_id: str
    message: str


def _lower_first(text: str) -> str:
    """'Date told' -> 'date told', but 'GP practice' and 'DASH score' keep their capitals."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def required_message(item: dict[str, Any]) -> str:
    """What to do about an unanswered required item, naming it."""
    text, kind = label(item), item.get("type")
    if kind == "group":
        return f"Answer at least one question in: {text}"
    if kind == "boolean":
        return f"Select yes or no: {text}"
    if kind in ("choice", "open-choice"):
        if item.get("repeats"):
            return f"Select at least one option: {text}"
        return f"Select an answer: {text}" if text.endswith("?") else f"Select {_lower_first(text)}"
    return f"Enter an answer: {text}" if text.endswith("?") else f"Enter {_lower_first(text)}"


def _too_few(item: dict[str, Any], needed: int) -> str:
    if item.get("type") == "group":
        return f"Enter at least {needed} entries for: {label(item)}"
    verb = "Select" if item.get("type") in ("choice", "open-choice") else "Enter"
    return f"{verb} at least {needed} answers: {label(item)}"


def _too_many(item: dict[str, Any], most: int) -> str:
    if item.get("type") == "group":
        return f"Leave no more than {most} entries filled in for: {label(item)}"
    verb = "Select" if item.get("type") in ("choice", "open-choice") else "Enter"
    return f"{verb} no more than {most} answers: {label(item)}"


def _answer_problem(item: dict[str, Any], answer: dict[str, Any]) -> str | None:
    kind = item.get("type", "")
    keys = [k for k in answer if k.startswith("value")]
    accepted = ACCEPTED.get(kind)
    if accepted is not None and (len(keys) != 1 or keys[0] not in accepted):
        return f"Give a {kind} answer: {label(item)}"
    if "valueCoding" in answer and option_codings(item):
        coding = answer["valueCoding"]
        allowed = {(c.get("system"), c.get("code")) for c in option_codings(item)}
        if (coding.get("system"), coding.get("code")) not in allowed:
            return f"Select one of the options ('{coding.get('code')}' is not one): {label(item)}"
    return None


def _too_long(item: dict[str, Any], answer: dict[str, Any]) -> str | None:
    """A typed answer longer than the item's maxLength (or DEFAULT_MAX_LENGTH where it declares none)."""
    text = answer.get("valueString")
    most = item.get("maxLength") or DEFAULT_MAX_LENGTH
    if isinstance(text, str) and len(text) > most:
        return f"Enter at most {most} characters (this answer has {len(text)}): {label(item)}"
    return None


def _ancestors(path: str) -> list[str]:
    parts = path.split("/")
    return ["/".join(parts[:i]) for i in range(1, len(parts))]


class _Form:
    """The response as validation sees it: enabled items, answered entries, entries that are not there."""

    def __init__(self, questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> None:
        self.enabled = enabled_paths(questionnaire, response, env)
        self.nodes = [n for n in walk(questionnaire, response) if n.path in self.enabled]
        self.answered: set[str] = set()
        for node in self.nodes:
            if not node.is_group and node.r.get("answer"):
                self.answered.update([node.path, *_ancestors(node.path)])
        self.siblings: dict[tuple[str, str], list[Node]] = defaultdict(list)
        for node in self.nodes:
            self.siblings[(node.path.rpartition("/")[0], node.q["linkId"])].append(node)
        self.absent = {n.path for n in self.nodes if n.is_group and self._absent(n)}

    def _absent(self, node: Node) -> bool:
        if node.path in self.answered:
            return False
        if not node.q.get("required"):
            return True
        entries = self.siblings[(node.path.rpartition("/")[0], node.q["linkId"])]
        if any(e.path in self.answered for e in entries):
            return True
        return entries[0] is not node  # none answered: ask for the first entry only

    def considered(self) -> list[Node]:
        """Enabled items that are there: not inside an absent group entry."""
        return [n for n in self.nodes if not any(a in self.absent for a in _ancestors(n.path))]


def _occurrences(form: _Form, considered: list[Node]) -> list[Issue]:
    issues = []
    paths = {n.path for n in considered}
    for entries in form.siblings.values():
        first = entries[0]
        if not (first.is_group and first.q.get("repeats")) or first.path not in paths:
            continue
        filled = [e for e in entries if e.path in form.answered]
        # None filled: the first entry's questions are asked for, and a minimum above one is said as well.
        least = min_occurs(first.q)
        if first.q.get("required") and len(filled) < least and (filled or least > 1):
            issues.append(Issue(first.path, first.q["linkId"], _too_few(first.q, min_occurs(first.q))))
        most = max_occurs(first.q)
        if most is not None and len(filled) > most:
            issues.append(Issue(filled[-1].path, first.q["linkId"], _too_many(first.q, most)))
    return issues


def _not_in_checklist(link_id: str) -> str:
    return f"Remove '{link_id}': it is not a question of this checklist"


def _given_twice(item: dict[str, Any]) -> str:
    if item.get("type") == "group":
        return f"Give one entry only: {label(item)}"
    return f"Give this question once only: {label(item)}"


def _strays(questionnaire: dict[str, Any], response: dict[str, Any]) -> list[Issue]:
    """Items the checklist does not define where they are, and extra instances of non-repeating items."""
    issues: list[Issue] = []

    def visit(q_items: list[dict[str, Any]], r_items: list[dict[str, Any]], prefix: str) -> None:
        defined = {q["linkId"]: q for q in child_definitions({"item": q_items})}
        counts: dict[str, int] = {}
        for r in r_items:
            link_id = str(r.get("linkId", ""))
            index = counts.get(link_id, 0)
            counts[link_id] = index + 1
            path = f"{prefix}{link_id}~{index}"
            q = defined.get(link_id)
            if q is None:
                issues.append(Issue(path, link_id, _not_in_checklist(link_id)))
                continue
            if index > 0 and not q.get("repeats"):
                issues.append(Issue(path, link_id, _given_twice(q)))
            # Only a group has items of its own in a response (a question's children are help text).
            visit(q.get("item") or [] if q.get("type") == "group" else [], r.get("item") or [], path + "/")

    visit(questionnaire.get("item") or [], response.get("item") or [], "")
    return issues


def _position(order: dict[str, int], path: str) -> tuple[int, int]:
    """Where an issue goes in form order: at its item, or (an item not in the checklist) after its parent's."""
    if path in order:
        return order[path], 0
    parents = [p for p in reversed(_ancestors(path)) if p in order]
    return (order[parents[0]], 1) if parents else (len(order), 1)


def validate(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> list[Issue]:
    """Every reason the response cannot be completed yet, in form order.

    Checked against the Questionnaire: every enabled required item must be answered whether or not the response
    holds it, and nothing may be there that the checklist does not ask (or asks once only) at that place.
    """
    strays = _strays(questionnaire, response)
    # Items left out are there, unanswered: enableWhen and required then see the whole checklist. Paths of the
    # items that are there stay the same (linkId~index among siblings of one linkId).
    form = _Form(questionnaire, with_every_item(questionnaire, response), env)
    considered = form.considered()
    hidden: set[str] = set()
    issues: list[Issue] = []
    for node in considered:
        q, link_id = node.q, node.q["linkId"]
        if is_hidden(q) or node.path.rpartition("/")[0] in hidden:
            hidden.add(node.path)
        answers = [] if node.is_group else node.r.get("answer") or []
        can_answer = not q.get("readOnly") and node.path not in hidden
        if q.get("required") and can_answer and node.path not in form.answered and node.path not in form.absent:
            issues.append(Issue(node.path, link_id, required_message(q)))
        if node.is_group:
            continue
        if answers and q.get("required") and can_answer and len(answers) < min_occurs(q):
            issues.append(Issue(node.path, link_id, _too_few(q, min_occurs(q))))
        most = max_occurs(q)
        if most == 1 and len(answers) > 1:
            issues.append(Issue(node.path, link_id, f"Give one answer only: {label(q)}"))
        elif most is not None and len(answers) > most:
            issues.append(Issue(node.path, link_id, _too_many(q, most)))
        for answer in answers:
            # What the clinician cannot change (read-only or hidden: NeoSafe pre-filled it, e.g. a source's own
            # error text) never blocks the checklist; everything they type is held to the limit.
            problem = _answer_problem(q, answer) or (_too_long(q, answer) if can_answer else None)
            if problem:
                issues.append(Issue(node.path, link_id, problem))
                break
    issues += _occurrences(form, considered) + strays
    order = {n.path: i for i, n in enumerate(form.nodes)}
    issues.sort(key=lambda i: _position(order, i.path))
    # A group's "answer this" adds nothing when a question inside it already says what is missing.
    return [
        i
        for i in issues
        if not (i.message.startswith("Answer at least one") and any(o.path.startswith(i.path + "/") for o in issues))
    ]


def prune(questionnaire: dict[str, Any], response: dict[str, Any], env: dict[str, Any]) -> dict[str, Any]:
    """A copy without disabled items (their earlier answers go too) and without empty items.

    Hidden items stay: they are part of the response even though the form never shows them.
    """
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
