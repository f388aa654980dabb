"""Which answer each assurance figure counts: fhir_mappings/assurance.toml, read and checked against the checklists.

The figures are reviewed as data, not Python: a checklist, linkId or answer code the file names that the current
checklist does not have is a ConfigError naming it, so a renamed item stops NeoSafe starting instead of counting
zero. Read once, at wiring (app.checkpoints.wiring), like tasks.toml and observation-focus.toml: it lives here, beside
the checklists it is checked against, so the wiring can read it; app.assurance computes the figures from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from app.config import ConfigError, read_toml

from .load import Checklists

__all__ = ["ANY", "SECTIONS", "Measure", "Outcome", "Where", "load_measures"]

SECTIONS = {  # the assurance page's sections, in order: timeliness, overrides, tasks and sources are computed, the
    # others are measures here
    "timeliness": "Checklists completed on time",
    "fathers": "Fathers and male carers",
    "domestic-abuse": "Domestic-abuse enquiry",
    "interpreters": "Interpreters",
    "overrides": "Overrides and co-signatures",
    "tasks": "Tasks",
    "sources": "Sources unavailable",
}
ANY = "*"  # an outcome answer that matches any answer at all
Answer = str | bool


@dataclass(frozen=True)
class Outcome:
    key: str
    label: str
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Where:
    item: str  # a sibling linkId in the same group entry
    answers: tuple[Answer, ...]


@dataclass(frozen=True)
class Measure:
    key: str
    section: str
    title: str
    checklist: str  # the checkpoint
    item: str
    count: Literal["checklists", "answers"]
    outcomes: tuple[Outcome, ...]
    where: Where | None = None
    zero_expected: str | None = None  # the outcome that should never be counted


def _items(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        found[item["linkId"]] = item
        found.update(_items(item.get("item") or []))
    return found


def _check_answers(where: str, item: dict[str, Any], answers: tuple[Answer, ...]) -> None:
    if item.get("type") == "boolean":
        if not all(isinstance(a, bool) or a == ANY for a in answers):
            raise ConfigError(f"assurance.toml: {where}: {item['linkId']} is yes/no; answers must be true or false")
        return
    codes = {o["valueCoding"].get("code") for o in item.get("answerOption") or [] if "valueCoding" in o}
    if codes and (unknown := {a for a in answers if a != ANY} - codes):
        raise ConfigError(f"assurance.toml: {where}: {item['linkId']} has no answer {sorted(map(str, unknown))}")
    if not codes and any(a != ANY for a in answers):
        raise ConfigError(f'assurance.toml: {where}: {item["linkId"]} has no coded answers; use "*"')


def _measure(entry: dict[str, Any], checklists: Checklists) -> Measure:
    key = entry["key"]
    try:
        questionnaire = checklists.for_checkpoint(entry["checklist"])
    except LookupError:
        raise ConfigError(f"assurance.toml: {key}: there is no {entry['checklist']!r} checklist") from None
    items = _items(questionnaire.get("item") or [])
    if entry["item"] not in items:
        raise ConfigError(f"assurance.toml: {key}: the {entry['checklist']} checklist has no item {entry['item']!r}")
    outcomes = tuple(Outcome(o["key"], o["label"], tuple(o["answers"])) for o in entry["outcome"])
    for outcome in outcomes:
        _check_answers(f"{key}.{outcome.key}", items[entry["item"]], outcome.answers)
    where = None
    if (rule := entry.get("where")) is not None:
        if rule["item"] not in items:
            raise ConfigError(f"assurance.toml: {key}: the {entry['checklist']} checklist has no item {rule['item']!r}")
        where = Where(rule["item"], tuple(rule["answers"]))
        _check_answers(f"{key}.where", items[rule["item"]], where.answers)
    if entry["count"] not in ("checklists", "answers"):
        raise ConfigError(f'assurance.toml: {key}: count must be "checklists" or "answers"')
    if entry["section"] not in SECTIONS:
        raise ConfigError(f"assurance.toml: {key}: section must be one of {', '.join(SECTIONS)}")
    zero = entry.get("zero_expected")
    if zero is not None and zero not in {o.key for o in outcomes}:
        raise ConfigError(f"assurance.toml: {key}: zero_expected names no outcome: {zero!r}")
    return Measure(
        key=key,
        section=entry["section"],
        title=entry["title"],
        checklist=entry["checklist"],
        item=entry["item"],
        count=entry["count"],
        outcomes=outcomes,
        where=where,
        zero_expected=zero,
    )


def load_measures(directory: Path, checklists: Checklists) -> tuple[Measure, ...]:
    """Read assurance.toml from the mappings folder and check every measure against the checklist it names."""
    table = read_toml(directory / "assurance.toml")
    try:
        measures = tuple(_measure(entry, checklists) for entry in table["measure"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"assurance.toml: {exc!r} is missing or not as the file's comments describe") from exc
    keys = [m.key for m in measures]
    if len(set(keys)) != len(keys):
        raise ConfigError("assurance.toml: two measures share a key")
    return measures
