"""Turn a checklist (Questionnaire + response) into what the form template draws, item by item."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.forms import (
    Issue,
    answer_text,
    coding_key,
    input_value,
    is_help,
    is_hidden,
    label,
    max_occurs,
    option_codings,
    repeat_key,
    walk,
)
from app.forms.answers import DATE_PARTS, TIME_PART, entry_name
from app.forms.readout import in_words
from app.forms.tree import Node

__all__ = ["Field", "form_fields"]

# A date is drawn as the NHS.UK date input (day, month, year; a dateTime adds the time), given the value in the form
# `input_value` writes it (the unit's local time); "text" is the box for a value it cannot show exactly.
CONTROLS = {"date": "date", "dateTime": "datetime-local"}
EXAMPLE = {"date": "2026-11-26", "dateTime": "2026-11-26 14:30"}


@dataclass
class Field:
    path: str
    id: str
    kind: str  # group | display | boolean | choice | open-choice | string | text | integer | decimal | date | dateTime
    label: str
    hint: str
    required: bool
    read_only: bool
    repeats: bool
    enabled: bool
    control: str = "text"  # date or datetime-local (the NHS.UK date input, with `parts`), else text
    legend: str = ""  # a repeating group's entry: whom or what it is about ("Person: Jason Smith (father)")
    parts: dict[str, str] = field(default_factory=dict)  # day, month, year (and time) of a date input
    options: list[dict[str, str]] = field(default_factory=list)
    values: list[str] = field(default_factory=list)
    shown: list[str] = field(default_factory=list)  # the answers as a person reads them
    error: str | None = None
    children: list[Field] = field(default_factory=list)
    instance: int = 0
    repeat_key: str = ""
    last_instance: bool = False  # the last repeat of its group, where "Add another" goes
    can_add: bool = False  # "Add another" is offered after this entry (maxOccurs not reached)


def field_id(path: str) -> str:
    """An HTML id for a path: letters, digits, '-' and '_' only."""
    return "f-" + re.sub(r"[^A-Za-z0-9_-]", "_", path)


def _later_repeat(path: str) -> bool:
    """Inside the second or later repeat of a group: its help was already shown with the first."""
    return any(not segment.endswith("~0") for segment in path.split("/"))


def _help(item: dict[str, Any]) -> str:
    return " ".join(c.get("text", "") for c in item.get("item") or [] if is_help(c))


def _values(item: dict[str, Any], answers: list[dict[str, Any]]) -> list[str]:
    values = []
    for answer in answers:
        if "valueCoding" in answer:
            values.append(coding_key(answer["valueCoding"]))
        elif "valueBoolean" in answer:
            values.append("true" if answer["valueBoolean"] else "false")
        else:
            values.extend(str(v) for k, v in answer.items() if k.startswith("value"))
    return values


def _control(kind: str, values: list[str]) -> tuple[str, list[str], str]:
    """The input type a field is drawn with, its values as that input shows them, and a note for its hint.

    A date or time goes into the browser's own control in the form it takes (the unit's local time for a
    dateTime), since the browser empties one given anything else; a value it cannot show exactly is drawn
    as it is in a text box instead, so nothing entered is lost.
    """
    control = CONTROLS.get(kind)
    if control is None:
        return "text", values, ""
    shown = [input_value(kind, v) for v in values]
    if any(s is None for s in shown):
        return (
            "text",
            values,
            f"The date boxes cannot show this, so it is shown as it is: check it, or type it like {EXAMPLE[kind]}.",
        )
    return control, [s for s in shown if s is not None], ""


def _parts(values: list[str]) -> dict[str, str]:
    """A date input's boxes for the value `_control` gives (2026-07-01T14:30 -> 1, 7, 2026, 14:30): posted
    again, the same value."""
    if not values:
        return {}
    day, _, clock = values[0].partition("T")
    year, month, date = day.split("-")
    return {"day": str(int(date)), "month": str(int(month)), "year": year, **({TIME_PART: clock} if clock else {})}


def _typed_parts(raw: Mapping[str, Sequence[str]], path: str) -> dict[str, str] | None:
    """The date input's boxes exactly as posted, when they were: a date that could not be read comes back as typed."""
    typed = {p: (raw.get(f"{path}:{p}") or [""])[0] for p in (*DATE_PARTS, TIME_PART)}
    return typed if any(typed.values()) else None


def _legend(node: Node, names: Mapping[str, str]) -> str:
    """A repeating group's entry as its legend: the group and whom it is about ("Person: Jason Smith (father)"),
    else the group and its number ("Open case 2")."""
    about, text = entry_name(node, names), label(node.q)
    return about if about == f"{text} {int(node.path.rpartition('~')[2]) + 1}" else f"{text}: {about}"


def form_fields(
    questionnaire: dict[str, Any],
    response: dict[str, Any],
    *,
    enabled: set[str],
    issues: Sequence[Issue] = (),
    raw: Mapping[str, Sequence[str]] | None = None,
    parse_problems: Mapping[str, str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[Field]:
    """The form as a tree of fields, with each field's current value and its error message, if any.

    `names` gives words for what NeoSafe filled in as keys (a source's key: its label; see readout.in_words).
    """
    names = names or {}
    errors = {i.path: i.message for i in issues}
    errors.update(parse_problems or {})
    roots: list[Field] = []
    by_path: dict[str, Field] = {}
    hidden: set[str] = set()
    for node in walk(questionnaire, response, displays=True):
        parent_path, _, segment = node.path.rpartition("/")
        if is_hidden(node.q) or parent_path in hidden:
            hidden.add(node.path)  # kept in the response, never drawn
            continue
        link_id, _, index = segment.rpartition("~")
        kind = node.q.get("type", "string")
        values = _values(node.q, node.r.get("answer") or [])
        typed = _typed_parts(raw, node.path) if raw is not None and node.path in (parse_problems or {}) else None
        if raw is not None and node.path in (parse_problems or {}) and typed is None:
            values = list(raw.get(node.path, []))
        control, values, note = _control(kind, values)
        if typed is not None:
            control = CONTROLS[kind]
        hint = " ".join(filter(None, ["" if _later_repeat(node.path) else _help(node.q), note]))
        entry = Field(
            path=node.path,
            id=field_id(node.path),
            kind=kind,
            label=node.q.get("text", link_id),
            hint=hint,
            required=bool(node.q.get("required")),
            read_only=bool(node.q.get("readOnly")),
            repeats=bool(node.q.get("repeats")),
            enabled=node.path in enabled,
            control=control,
            legend=_legend(node, names) if node.is_group and node.q.get("repeats") else "",
            parts=(typed or _parts(values)) if control in CONTROLS.values() else {},
            options=[
                {"value": coding_key(c), "text": c.get("display", c.get("code", ""))} for c in option_codings(node.q)
            ],
            values=values,
            shown=[in_words(answer_text(a), names) for a in node.r.get("answer") or []],
            error=errors.get(node.path),
            instance=int(index),
            repeat_key=repeat_key(f"{parent_path}/" if parent_path else "", link_id),
        )
        by_path[node.path] = entry
        (by_path[parent_path].children if parent_path else roots).append(entry)
    _mark_last_instances(roots, {q["linkId"]: q for q in _definitions(questionnaire)})
    return roots


def _definitions(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = []
    for item in element.get("item") or []:
        found += [item, *_definitions(item)]
    return found


def _mark_last_instances(fields: list[Field], definitions: dict[str, dict[str, Any]]) -> None:
    last: dict[str, Field] = {}
    for f in fields:
        if f.repeats and f.kind == "group":
            last[f.repeat_key] = f
        _mark_last_instances(f.children, definitions)
    for f in last.values():
        # Repeats NeoSafe fills from the sources (their first item is read-only) are not added by hand.
        f.last_instance = not (f.children and f.children[0].read_only)
        most = max_occurs(definitions.get(f.repeat_key.rpartition("/")[2], {"repeats": True}))
        f.can_add = f.last_instance and (most is None or f.instance + 1 < most)
