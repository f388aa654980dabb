"""Turn FHIR resources into dated, sourced safeguarding records using the rules in fhir_mappings/."""

from __future__ import annotations

from datetime import date
from functools import lru_cache
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

from app.fhir_systems import ASSESSMENT_TAG_SYSTEM, CONFIDENTIALITY_SYSTEM, TASK_ID_SYSTEM

from .mappings import Mappings, RecordType
from .models import OpenTask, Person, Record

__all__ = ["RESTRICTED_LABEL", "classify"]

CONFIDENTIALITY = CONFIDENTIALITY_SYSTEM
RESTRICTED = frozenset({(CONFIDENTIALITY, c) for c in ("R", "V")})  # labels that make a record restricted
RESTRICTED_LABEL = {"system": CONFIDENTIALITY, "code": "R", "display": "restricted"}  # on what NeoSafe writes
UNCATEGORISED = "uncategorised-flag"
R4 = models["r4"]


@lru_cache(maxsize=256)
def _compiled(expression: str):
    return fhirpathpy.compile(expression, R4)


def _values(resource: dict[str, Any], expression: str | None) -> list[Any]:
    if not expression:
        return []
    return _compiled(expression)(resource, {})


def _first_text(resource: dict[str, Any], expression: str | None) -> str | None:
    values = [v for v in _values(resource, expression) if v not in (None, "")]
    return str(values[0]) if values else None


def _who(resource: dict[str, Any], expression: str | None, included: dict[str, dict], *, phone: bool) -> str | None:
    """A Reference as a person reads it: its display, else the name (and phone) of what it points to."""
    for value in _values(resource, expression):
        if isinstance(value, str):
            return value
        if not isinstance(value, dict):
            continue
        target = included.get(value.get("reference", ""))
        if value.get("display") and not (phone and target):
            return value["display"]
        if target:
            name = target.get("name")
            if isinstance(name, list):
                name = " ".join([*(name[0].get("given") or []), name[0].get("family", "")]).strip() if name else ""
            numbers = [t["value"] for t in target.get("telecom") or [] if t.get("system") == "phone"]
            return f"{name}, {numbers[0]}" if phone and numbers else (name or None)
    return None


def _codings(resource: dict[str, Any], paths: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(system, code, display) of every coding under the given CodeableConcept paths, in order."""
    found = []
    for path in paths:
        for concept in _values(resource, path):
            if isinstance(concept, dict):
                for coding in concept.get("coding") or []:
                    if coding.get("system") and coding.get("code"):
                        found.append((coding["system"], coding["code"], coding.get("display", "")))
    return found


def _months_before(today: date, months: int) -> date:
    year, month = divmod(today.year * 12 + today.month - 1 - months, 12)
    return date(year, month + 1, min(today.day, 28))


def _is_current(resource: dict[str, Any], rule: RecordType, start: str | None, end: str | None, today: date) -> bool:
    if end and end[:10] < today.isoformat():
        return False
    if rule.current_within_months is not None:
        return bool(start) and start[:10] >= _months_before(today, rule.current_within_months).isoformat()
    return _values(resource, rule.current) == [True]


def classify(
    resource: dict[str, Any],
    *,
    rule: RecordType,
    mappings: Mappings,
    source: str,
    person: Person,
    today: date,
    included: dict[str, dict] | None = None,
) -> Record | None:
    """The safeguarding record this resource is, or None (entered in error, not about safeguarding, or written by
    NeoSafe: its own answers are a previous checklist, never evidence in the picture).

    `included` holds resources the search brought in (Organization/x: {...}) to name organisation and contact.
    """
    if _values(resource, rule.void) == [True] or _written_by_neosafe(resource) is not None:
        return None
    codings = _codings(resource, rule.codes)
    match = mappings.category_of([(system, code) for system, code, _ in codings])
    if match is not None:
        category, (system, code) = match
        key, label, risk, about = category.key, category.label, category.risk, category.about.get((system, code))
        display = next((d for s, c, d in codings if (s, c) == (system, code) and d), category.displays[(system, code)])
    elif rule.uncategorised:
        key, label, risk, about = UNCATEGORISED, "Uncategorised flag", True, None
        system, code, display = codings[0] if codings else ("", "", "")
        display = display or _first_text(resource, "code.text") or "Flag with no recognised code"
    else:
        return None
    start = _first_text(resource, rule.start)
    end = _first_text(resource, rule.end)
    security = _security(resource)
    return Record(
        key=f"{source}/{resource['resourceType']}/{resource.get('id', '')}",
        category=key,
        category_label=label,
        risk=risk,
        code=code,
        system=system,
        display=display,
        current=_is_current(resource, rule, start, end, today),
        status=_first_text(resource, rule.status) or "unknown",
        resource_type=resource["resourceType"],
        source=source,
        person_nhs_number=person.nhs_number,
        person_role=person.role,
        person_name=person.name,
        start=start,
        end=end,
        recorded=_first_text(resource, rule.recorded),
        organisation=_who(resource, rule.organisation, included or {}, phone=False),
        contact=_who(resource, rule.contact, included or {}, phone=True),
        restricted=bool(security & RESTRICTED),
        category_rank=mappings.category_rank(key),
        about=about if about != person.role else None,
    )


def _written_by_neosafe(resource: dict[str, Any]) -> str | None:
    """The checklist (its first version's id) that wrote this resource, if NeoSafe wrote it."""
    tags = (resource.get("meta") or {}).get("tag") or []
    return next((t.get("code") for t in tags if t.get("system") == ASSESSMENT_TAG_SYSTEM), None)


def _security(resource: dict[str, Any]) -> set[tuple[str | None, str | None]]:
    return {(s.get("system"), s.get("code")) for s in (resource.get("meta") or {}).get("security") or []}


CLOSED_TASK = frozenset({"completed", "cancelled", "rejected", "failed", "entered-in-error"})  # R4 task-status


def open_task(task: dict[str, Any], source: str) -> OpenTask | None:
    """The Task as an open task, or None if it is done or withdrawn (requested, accepted, on hold... are open)."""
    if task.get("status") in CLOSED_TASK:
        return None
    raised_by = _written_by_neosafe(task)
    return OpenTask(
        description=task.get("description") or (task.get("code") or {}).get("text") or "Task (no description)",
        owner=(task.get("owner") or {}).get("display") or "not named",
        due=((task.get("restriction") or {}).get("period") or {}).get("end"),
        status=task.get("status") or "unknown",
        source=source,
        restricted=bool(_security(task) & RESTRICTED),
        raised_by=raised_by,
        raised_for=_raising_item(task) if raised_by else None,
    )


def _raising_item(task: dict[str, Any]) -> str | None:
    """The linkId of the answer that raised a NeoSafe task: the last segment of its key, `{checklist}/{path}`."""
    for identifier in task.get("identifier") or []:
        if identifier.get("system") == TASK_ID_SYSTEM and "/" in (identifier.get("value") or ""):
            return identifier["value"].rsplit("/", 1)[1].split("~", 1)[0] or None
    return None
