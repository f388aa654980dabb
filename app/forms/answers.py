"""Answer values: from expression results and from what a clinician typed, typed by the item's type."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from app.nhs_style import LONDON

from .extensions import is_hidden
from .tree import Node, walk

__all__ = [
    "DATE_PARTS",
    "REPEAT_COUNT_PREFIX",
    "TIME_PART",
    "VALUE_KEY",
    "answer_text",
    "apply_form",
    "coding_key",
    "entry_name",
    "entry_of",
    "input_value",
    "label",
    "lower_first",
    "option_codings",
    "subject",
    "typed_answer",
]

REPEAT_COUNT_PREFIX = "repeat-count:"
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # FHIR integer is 32-bit
FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # what a date control holds; FHIR also allows 2026-11 and 2026
FULL_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")
# The NHS.UK date input posts a date as three fields, `{path}:day`, `:month` and `:year`; a date and time adds
# `{path}:time` (24-hour, 14:30; seconds kept if given). The whole value at `{path}` is read too (the text box a
# value no date input can show is drawn in, and API-like posts).
DATE_PARTS = ("day", "month", "year")
TIME_PART = "time"
TIME = re.compile(r"([01]?\d|2[0-3])[:.]([0-5]\d)(?::([0-5]\d)(\.\d{1,3})?)?")

VALUE_KEY = {
    "boolean": "valueBoolean",
    "string": "valueString",
    "text": "valueString",
    "integer": "valueInteger",
    "decimal": "valueDecimal",
    "date": "valueDate",
    "dateTime": "valueDateTime",
    "choice": "valueCoding",
}


def label(item: Mapping[str, Any]) -> str:
    """The item's text as it starts a sentence in a message."""
    return str(item.get("text") or item.get("linkId", "This answer"))


def lower_first(text: str) -> str:
    """'Date told' -> 'date told', but 'GP practice' and 'DASH score' keep their capitals."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def entry_of(path: str, nodes: Mapping[str, Node]) -> Node | None:
    """The entry of a repeating group that `path` is (or sits in), nearest first: what a message is about."""
    parts = path.split("/")
    for end in range(len(parts), 0, -1):
        node = nodes.get("/".join(parts[:end]))
        if node is not None and node.is_group and node.q.get("repeats"):
            return node
    return None


def entry_name(entry: Node, names: Mapping[str, str] | None = None) -> str:
    """Whom or what one entry of a repeating group is about, as a person reads it, so that "Lives with the baby?"
    asked three times says whose answer is missing: its `name` answer with its `role` ("Jason Smith (father)"),
    else the group's label and number ("Open case 2"). `names` gives words for a name NeoSafe filled in as a key
    (a source's key, "cpis", is its label)."""
    own = {str(r.get("linkId", "")).removeprefix(entry.q["linkId"] + "."): r for r in entry.r.get("item") or []}
    texts = {key: next((answer_text(a) for a in r.get("answer") or []), "") for key, r in own.items()}
    name = texts.get("name", "").strip()
    if not name:
        return f"{label(entry.q)} {int(entry.path.rpartition('~')[2]) + 1}"
    name = (names or {}).get(name, name)
    role = texts.get("role", "").strip()
    return f"{name} ({lower_first(role)})" if role and role.lower() not in name.lower() else name


def subject(item: Mapping[str, Any], about: str | None) -> str:
    """The item's label, with the entry it is about when it sits in one: "Date seen for Jason Smith (father)"."""
    return f"{label(item)} for {about}" if about else label(item)


def coding_key(coding: Mapping[str, Any]) -> str:
    """How a coded option is named in a form: system|code."""
    return f"{coding.get('system', '')}|{coding.get('code', '')}"


def option_codings(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [o["valueCoding"] for o in item.get("answerOption") or [] if "valueCoding" in o]


def typed_answer(item: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """An answer for `item` from an expression result, or None if the value does not fit the type."""
    kind = item.get("type")
    if kind in ("choice", "open-choice"):
        options = option_codings(item)
        if isinstance(value, dict) and value.get("code"):
            key = (value.get("system"), value.get("code"))
            match = next((c for c in options if (c.get("system"), c.get("code")) == key), None)
            if match is None and not options:
                match = {k: value[k] for k in ("system", "code", "display") if k in value}
            if match is not None:
                return {"valueCoding": dict(match)}
            return {"valueString": value.get("display") or value["code"]} if kind == "open-choice" else None
        if isinstance(value, str):
            match = next((c for c in options if value in (c.get("code"), c.get("display"))), None)
            if match:
                return {"valueCoding": dict(match)}
            return {"valueString": value} if kind == "open-choice" else None
        return None
    if kind == "boolean":
        return {"valueBoolean": value} if isinstance(value, bool) else None
    if kind in ("string", "text"):
        if isinstance(value, dict | list) or value in (None, ""):
            return None
        return {"valueString": str(value)}
    if isinstance(value, bool):
        return None
    if kind == "integer" and isinstance(value, int | Decimal) and value == int(value):
        return {"valueInteger": int(value)}
    if kind == "decimal" and isinstance(value, int | float | Decimal):
        return {"valueDecimal": float(value)}
    if kind in ("date", "dateTime") and type(value).__name__ in ("FP_DateTime", "FP_Date"):
        value = str(value)  # a FHIRPath date literal such as @2026-11-20
    if kind == "date" and isinstance(value, str) and value:
        return {"valueDate": value[:10]}
    if kind == "dateTime" and isinstance(value, str) and value:
        return {"valueDateTime": value}
    return None


def _parse(item: Mapping[str, Any], raw: str, what: str) -> dict[str, Any]:
    """One typed answer from form text; ValueError with a message for the clinician, naming `what` (the item and
    the entry it is about), if it does not fit."""
    kind = item.get("type")
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"Select yes or no: {what}")
        return {"valueBoolean": raw == "true"}
    if kind in ("choice", "open-choice"):
        match = next((c for c in option_codings(item) if coding_key(c) == raw), None)
        if match is not None:
            return {"valueCoding": dict(match)}
        if kind == "open-choice":
            return {"valueString": raw}
        raise ValueError(f"Select one of the options: {what}")
    if kind == "integer":
        try:
            number = int(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"{what} must be a whole number, like 12") from None
        if not INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]:
            raise ValueError(f"{what} must be a whole number below 2,147,483,648")
        return {"valueInteger": number}
    if kind == "decimal":
        try:
            number = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(f"{what} must be a number, like 12.5")
        return {"valueDecimal": float(number)}
    if kind == "date":
        try:
            return {"valueDate": date.fromisoformat(raw).isoformat()}
        except ValueError:
            raise ValueError(f"{what} must be a real date, like 26 11 2026") from None
    if kind == "dateTime":
        try:
            return {"valueDateTime": _typed_date_time(raw)}
        except ValueError:
            raise ValueError(f"{what} must be a real date and time, like 26 11 2026 at 14:30") from None
    return {"valueString": raw}


def _moment(text: str) -> datetime:
    """A date and time; without an offset it is the unit's wall-clock time. ValueError if it is not one."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        # A time in the hour skipped when the clocks go forward is the instant the clocks showed an hour later.
        moment = moment.replace(tzinfo=LONDON).astimezone(UTC).astimezone(LONDON)
    return moment


def _typed_date_time(raw: str) -> str:
    """The valueDateTime for a date and time typed into the form, to the second (to the millisecond if given)."""
    moment = _moment(raw)
    return moment.isoformat(timespec="milliseconds" if moment.microsecond else "seconds")


def input_value(kind: str, value: str) -> str | None:
    """What a browser's own control shows for a stored date (`date`) or dateTime (`datetime-local`); None if it
    cannot show exactly that value.

    A `datetime-local` control holds a wall-clock time with no offset (YYYY-MM-DDTHH:MM, seconds if any) and
    discards anything else, so the stored instant is shown in the unit's local time, the zone the form reads a
    typed time in: posted again, it is the same valueDateTime. None for what would not come back as the same
    instant: a date with no time, a partial date, finer than a millisecond, or the second 01:30 of the night the
    clocks go back. A `date` control holds YYYY-MM-DD only (not a partial date such as 2026-11).
    """
    pattern = {"date": FULL_DATE, "dateTime": FULL_DATE_TIME}.get(kind)
    if pattern is None or not isinstance(value, str) or not pattern.fullmatch(value):
        return None
    try:
        if kind == "date":
            return date.fromisoformat(value).isoformat()
        moment = _moment(value)
    except ValueError:
        return None
    local = moment.astimezone(LONDON).replace(tzinfo=None)
    shown = local.isoformat(timespec="milliseconds" if local.microsecond else "seconds" if local.second else "minutes")
    return shown if _moment(shown).astimezone(UTC) == moment.astimezone(UTC) else None


def _from_parts(kind: str, parts: Mapping[str, str], what: str) -> str:
    """The ISO date (a dateTime: date and time, no offset) typed into the NHS.UK date input's fields; ValueError
    naming what is missing or not real, never a guess: 31 2 2026 is not 3 March."""
    wanted = [*DATE_PARTS, TIME_PART] if kind == "dateTime" else list(DATE_PARTS)
    missing = [p for p in wanted if not parts.get(p)]
    if missing:
        raise ValueError(f"{what} must include a {' and '.join(missing)}")
    day, month, year = (parts[p] for p in DATE_PARTS)
    if not (day.isdigit() and month.isdigit() and re.fullmatch(r"\d{4}", year)):
        raise ValueError(f"{what} must be a real date, like 26 11 2026")
    try:
        typed = date(int(year), int(month), int(day)).isoformat()
    except ValueError:
        raise ValueError(f"{what} must be a real date, like 26 11 2026") from None
    if kind != "dateTime":
        return typed
    clock = TIME.fullmatch(parts[TIME_PART])
    if clock is None:
        raise ValueError(f"{what} must include a real time on the 24-hour clock, like 14:30")
    hour, minute, second, fraction = clock.groups()
    return f"{typed}T{int(hour):02d}:{minute}" + (f":{second}{fraction or ''}" if second else "")


def _raws(node: Node, form: Mapping[str, Sequence[str]], what: str) -> list[str]:
    """What was posted for one item, each value stripped; a date's fields joined into one ISO value."""
    if node.q.get("type") in ("date", "dateTime"):
        parts = {p: (form.get(f"{node.path}:{p}") or [""])[0].strip() for p in (*DATE_PARTS, TIME_PART)}
        if any(parts.values()):
            return [_from_parts(node.q["type"], parts, what)]
    return [v.strip() for v in form.get(node.path, []) if v and v.strip()]


def apply_form(
    questionnaire: dict[str, Any], response: dict[str, Any], form: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Put the submitted form values into `response` (in place); returns {path: message} for unreadable values.

    Read-only and hidden items keep their pre-filled answers: a form cannot overwrite what NeoSafe found, and
    a hidden item is not on the page at all.
    """
    problems: dict[str, str] = {}
    hidden: set[str] = set()
    seen: dict[str, Node] = {}
    for node in walk(questionnaire, response):
        seen[node.path] = node
        parent = node.path.rpartition("/")[0]
        if is_hidden(node.q) or parent in hidden:
            hidden.add(node.path)
            continue
        if node.is_group or node.q.get("readOnly"):
            continue
        # Named once the answers before it are in: a person's name typed in this same post names their entry.
        entry = entry_of(node.path, seen)
        what = subject(node.q, entry_name(entry) if entry else None)
        try:
            raws = _raws(node, form, what)
        except ValueError as exc:
            raws, problems[node.path] = [], str(exc)
        open_text = [v.strip() for v in form.get(node.path + ":other", []) if v and v.strip()]
        if raws and open_text and not node.q.get("repeats"):
            problems[node.path] = f"Select an option or type another answer, not both: {what}"
        answers = []
        for raw in raws:
            try:
                answers.append(_parse(node.q, raw, what))
            except ValueError as exc:
                problems[node.path] = str(exc)
        if node.q.get("type") == "open-choice":
            answers += [{"valueString": text} for text in open_text]
        if not node.q.get("repeats"):
            answers = answers[:1]
        if answers:
            node.r["answer"] = answers
        else:
            node.r.pop("answer", None)
    return problems


def answer_text(answer: Mapping[str, Any]) -> str:
    """An answer as a person reads it."""
    for key, value in answer.items():
        if not key.startswith("value"):
            continue
        if key == "valueCoding":
            return value.get("display") or value.get("code", "")
        if key == "valueBoolean":
            return "Yes" if value else "No"
        return str(value)
    return ""
