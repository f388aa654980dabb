"""Answers that raise a task: an owned, dated FHIR Task written with the checklist, as its help text promises.

Which answers raise which task is data (fhir_mappings/tasks.toml), for clinical review. Each rule names the
item whose answer raises it; those items are asked only when something is left to do (a source not checked,
an enquiry not yet possible, a concern), so an answer is the trigger, optionally only a given coded answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from app.config import ConfigError, read_toml
from app.fhir_systems import TASK_ID_SYSTEM
from app.picture import RESTRICTED_LABEL

from .answers import answer_text
from .load import Checklists
from .tree import Node, definitions, find_answers, walk

__all__ = ["TASK_ID_SYSTEM", "RaisedTask", "TaskRule", "load_task_rules", "raised_tasks", "task_resource"]

PRIORITIES = ("routine", "urgent", "asap", "stat")  # FHIR R4 request-priority
_DAYS = re.compile(r"P(\d+)D")
_ITEM = "item:"


@dataclass(frozen=True)
class TaskRule:
    checkpoint: str
    item: str  # the linkId whose answer raises the task
    when: str | None  # only for this coded answer (its code); None: any answer
    description: str
    detail: tuple[str, ...]  # linkIds whose answers (from the same group entry) follow the description
    owner: str  # who must do it, or item:<linkId> for an answer naming them
    due: str  # P<n>D after the checklist is completed, or item:<linkId> for a date answer
    priority: str


@dataclass(frozen=True)
class RaisedTask:
    path: str  # of the answer that raised it: the task's key within its checklist
    rule: TaskRule
    detail: str
    owner: str
    due: str | None  # ISO date; None where the date answer was not given


def _check(rule: TaskRule, link_ids: set[str], where: str) -> None:
    named = [rule.item, *rule.detail]
    named += [ref[len(_ITEM) :] for ref in (rule.owner, rule.due) if ref.startswith(_ITEM)]
    for link_id in named:
        if link_id not in link_ids:
            raise ConfigError(f"{where}: the {rule.checkpoint} checklist has no item '{link_id}'")
    if not rule.due.startswith(_ITEM) and not _DAYS.fullmatch(rule.due):
        raise ConfigError(f"{where}: due must be P<n>D (days after completion) or item:<linkId>, not {rule.due!r}")
    if rule.priority not in PRIORITIES:
        raise ConfigError(f"{where}: priority must be one of {', '.join(PRIORITIES)}, not {rule.priority!r}")


def load_task_rules(path: Path, checklists: Checklists) -> list[TaskRule]:
    """The rules, each checked against its checklist: a rule naming a missing item fails at start-up."""
    tables = read_toml(path).get("tasks") or []
    rules = []
    for number, table in enumerate(tables, start=1):
        where = f"{path.name}, task {number}"
        try:
            rule = TaskRule(
                checkpoint=table["checkpoint"],
                item=table["item"],
                when=table.get("when"),
                description=table["description"],
                detail=tuple(table.get("detail") or ()),
                owner=table["owner"],
                due=table["due"],
                priority=table.get("priority", "routine"),
            )
        except KeyError as exc:
            raise ConfigError(f"{where}: {exc.args[0]} is required") from None
        questionnaire = checklists.by_checkpoint.get(rule.checkpoint)
        if questionnaire is None:
            raise ConfigError(f"{where}: no checklist '{rule.checkpoint}'")
        _check(rule, {d["linkId"] for d in definitions(questionnaire)}, where)
        rules.append(rule)
    return rules


def _texts(link_id: str, node: Node, response: dict[str, Any]) -> list[str]:
    return [t for a in find_answers(link_id, node, response) if (t := answer_text(a))]


def _raises(rule: TaskRule, node: Node) -> bool:
    answers = node.r.get("answer") or []
    if rule.when is None:
        return any(answer_text(a) for a in answers)
    return any((a.get("valueCoding") or {}).get("code") == rule.when for a in answers)


def raised_tasks(questionnaire: dict[str, Any], response: dict[str, Any], rules: list[TaskRule]) -> list[RaisedTask]:
    """The tasks a completed, pruned response raises under `rules` (those of its checkpoint), in form order.
    Due dates in days count from the day it was authored."""
    completed = date.fromisoformat(response["authored"][:10])
    by_item: dict[str, list[TaskRule]] = {}
    for rule in rules:
        by_item.setdefault(rule.item, []).append(rule)
    raised = []
    for node in walk(questionnaire, response):
        for rule in by_item.get(node.q["linkId"], []):
            if not _raises(rule, node):
                continue
            detail = "; ".join(t for link_id in rule.detail for t in _texts(link_id, node, response))
            owner = (
                ", ".join(_texts(rule.owner[len(_ITEM) :], node, response))
                if rule.owner.startswith(_ITEM)
                else rule.owner
            )
            if rule.due.startswith(_ITEM):
                due = next(
                    (a["valueDate"] for a in find_answers(rule.due[len(_ITEM) :], node, response) if "valueDate" in a),
                    None,
                )
            else:
                due = (completed + timedelta(days=int(_DAYS.fullmatch(rule.due).group(1)))).isoformat()
            raised.append(RaisedTask(node.path, rule, detail, owner or "not named", due))
    return raised


def task_resource(
    task: RaisedTask, response: dict[str, Any], *, response_reference: str, identifier: str
) -> dict[str, Any]:
    """The R4 Task: requested of its owner, for the baby, due by its date, from this checklist; restricted."""
    resource: dict[str, Any] = {
        "resourceType": "Task",
        "meta": {"security": [RESTRICTED_LABEL]},  # its detail is safeguarding information
        "identifier": [{"system": TASK_ID_SYSTEM, "value": f"{identifier}/{task.path}"}],
        "status": "requested",
        "intent": "order",
        "priority": task.rule.priority,
        "code": {"text": task.rule.description},
        "description": f"{task.rule.description}: {task.detail}" if task.detail else task.rule.description,
        "focus": {"reference": response_reference},
        "for": response["subject"],
        "authoredOn": response["authored"],
        "requester": response["author"],
        "owner": {"display": task.owner},
    }
    if response.get("encounter"):
        resource["encounter"] = response["encounter"]
    if task.due:
        resource["restriction"] = {"period": {"end": task.due}}
    return resource
