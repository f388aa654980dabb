"""Whom a group's answers are about, when that is not the baby: the person an Observation names as its focus.

The rules are data (fhir_mappings/observation-focus.toml, for clinical review). A person is named only when the
picture identifies them safely: exactly one person matches, with an NHS number no source holds under another name
or date of birth. Otherwise the answers have no safe subject and are not written as Observations (issue 12 item 6).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.config import ConfigError, read_toml
from app.fhir_systems import NHS_NUMBER_SYSTEM

from .load import Checklists
from .tree import Node, definitions

__all__ = ["ENTRY", "Focus", "FocusRule", "focus_finder", "focus_problems", "load_focus_rules"]

ENTRY = "entry"  # the person the group entry names
NAME, ROLE, NHS_NUMBER = "household-member-name", "household-member-role", "household-member-nhs-number"
ROLE_PREFIX = "person-role-"  # the checklists' role answers: person-role-mother ...


@dataclass(frozen=True)
class FocusRule:
    group: str  # a group's linkId
    person: str  # a household role, or ENTRY


@dataclass(frozen=True)
class Focus:
    """For one answer: `reference` for Observation.focus (None: about the baby); `safe` False: write no
    Observation, because NeoSafe cannot name the person it is about."""

    reference: dict[str, Any] | None = None
    safe: bool = True


NOBODY_SAFE = Focus(safe=False)


def _coded(questionnaire: dict[str, Any], code: str) -> set[str]:
    return {d["linkId"] for d in definitions(questionnaire) if any(c.get("code") == code for c in d.get("code") or [])}


def _group_items(questionnaire: dict[str, Any], group: str) -> dict[str, Any] | None:
    return next((d for d in definitions(questionnaire) if d["linkId"] == group and d.get("type") == "group"), None)


def _roles(questionnaire: dict[str, Any]) -> set[str]:
    """The household roles the checklist's role questions offer (person-role-mother -> mother)."""
    offered = (o.get("valueCoding") or {} for d in definitions(questionnaire) for o in d.get("answerOption") or [])
    return {c["code"][len(ROLE_PREFIX) :] for c in offered if str(c.get("code", "")).startswith(ROLE_PREFIX)}


def focus_problems(rule: FocusRule, checklists: dict[str, dict[str, Any]]) -> list[str]:
    """What is wrong with a rule against the checklists in use (by checkpoint): nothing, when it is sound."""
    holders = [q for q in checklists.values() if _group_items(q, rule.group) is not None]
    if not holders:
        return [f"no checklist in use has a group '{rule.group}'"]
    if rule.person != ENTRY:
        roles = set().union(*(_roles(q) for q in checklists.values()))
        if rule.person not in roles:
            return [f"person must be '{ENTRY}' or a household role ({', '.join(sorted(roles))}), not {rule.person!r}"]
        return []
    problems = []
    for questionnaire in holders:
        names = {d["linkId"] for d in definitions(_group_items(questionnaire, rule.group))} & _coded(
            questionnaire, NAME
        )
        if not names:
            problems.append(f"'{rule.group}' has no item coded {NAME} to name its person")
    return problems


def load_focus_rules(path: Path, checklists: Checklists) -> list[FocusRule]:
    """The rules, each checked against the checklists in use: a rule naming a missing group fails at start-up."""
    tables = read_toml(path).get("about") or []
    rules = []
    for number, table in enumerate(tables, start=1):
        try:
            rule = FocusRule(group=table["group"], person=table["person"])
        except KeyError as exc:
            raise ConfigError(f"{path.name}, rule {number}: {exc.args[0]} is required") from None
        problems = focus_problems(rule, checklists.by_checkpoint)
        if problems:
            raise ConfigError(f"{path.name}, rule {number}: {problems[0]}")
        rules.append(rule)
    return rules


def _text(items: list[dict[str, Any]], link_ids: set[str]) -> str | None:
    """The first answer, as text, of an item in `link_ids` anywhere under `items`."""
    for item in items:
        if item.get("linkId") in link_ids:
            for answer in item.get("answer") or []:
                value = answer.get("valueString") or (answer.get("valueCoding") or {}).get("code")
                if isinstance(value, str) and value.strip():
                    return value.strip()
        found = _text(item.get("item") or [], link_ids)
        if found is not None:
            return found
    return None


def _same_name(a: str | None, b: str | None) -> bool:
    return bool(a and b) and " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def _reference(person: dict[str, Any]) -> Focus:
    if not person.get("verified") or not person.get("nhsNumber"):
        return NOBODY_SAFE
    who = person.get("role")
    return Focus(
        {
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": person["nhsNumber"]},
            "display": f"{person['name']} ({who})",
        }
    )


def focus_finder(
    questionnaire: dict[str, Any], rules: list[FocusRule], people: list[dict[str, Any]]
) -> Callable[[Node], Focus]:
    """For each answer's node, whom it is about. `people` as the picture gives them to expressions
    (`%picture.people`): role, name, nhsNumber, verified, relationship."""
    by_group = {r.group: r for r in rules}
    names, roles, numbers = (_coded(questionnaire, c) for c in (NAME, ROLE, NHS_NUMBER))
    adults = [p for p in people if p.get("role") != "baby"]

    def named_by(entry: dict[str, Any]) -> Focus:
        items = entry.get("item") or []
        name, role, number = (_text(items, ids) for ids in (names, roles, numbers))
        matches = [
            p
            for p in adults
            if _same_name(p.get("name"), name)
            and (role is None or ROLE_PREFIX + str(p.get("role")) == role)
            and (number is None or "".join(number.split()) == p.get("nhsNumber"))
        ]
        return _reference(matches[0]) if len(matches) == 1 else NOBODY_SAFE

    def focus(node: Node) -> Focus:
        segments = node.path.split("/")
        for depth in range(len(segments) - 1, -1, -1):
            rule = by_group.get(segments[depth].split("~", 1)[0])
            if rule is None:
                continue
            if rule.person == ENTRY:
                return named_by(node.parents[depth] if depth < len(node.parents) else node.r)
            holders = [p for p in adults if p.get("role") == rule.person]
            return _reference(holders[0]) if len(holders) == 1 else NOBODY_SAFE
        return Focus()

    return focus
