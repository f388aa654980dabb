"""Answer values: from expression results and from what a clinician typed, typed by the item's type."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .extensions import is_hidden
from .tree import walk

__all__ = [
    "REPEAT_COUNT_PREFIX",
    "VALUE_KEY",
    "answer_text",
    "apply_form",
    "coding_key",
    "input_value",
    "label",
    "option_codings",
    "typed_answer",
]

LONDON = ZoneInfo("Europe/London")  # the unit's wall clock: a date and time typed without an offset is read in it
REPEAT_COUNT_PREFIX = "repeat-count:"
INTEGER_RANGE = (-(2**31), 2**31 - 1)  # FHIR integer is 32-bit
FULL_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # what a date control holds; FHIR also allows 2026-11 and 2026
FULL_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?")

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


def _parse(item: Mapping[str, Any], raw: str) -> dict[str, Any]:
    """One typed answer from form text; ValueError with a message for the clinician if it does not fit."""
    kind = item.get("type")
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError(f"Select yes or no: {label(item)}")
        return {"valueBoolean": raw == "true"}
    if kind in ("choice", "open-choice"):
        match = next((c for c in option_codings(item) if coding_key(c) == raw), None)
        if match is not None:
            return {"valueCoding": dict(match)}
        if kind == "open-choice":
            return {"valueString": raw}
        raise ValueError(f"Select one of the options: {label(item)}")
    if kind == "integer":
        try:
            number = int(raw.replace(",", ""))
        except ValueError:
            raise ValueError(f"{label(item)} must be a whole number, like 12") from None
        if not INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]:
            raise ValueError(f"{label(item)} must be a whole number below 2,147,483,648")
        return {"valueInteger": number}
    if kind == "decimal":
        try:
            number = Decimal(raw.replace(",", ""))
        except InvalidOperation:
            number = None
        if number is None or not number.is_finite():
            raise ValueError(f"{label(item)} must be a number, like 12.5")
        return {"valueDecimal": float(number)}
    if kind == "date":
        try:
            return {"valueDate": date.fromisoformat(raw).isoformat()}
        except ValueError:
            raise ValueError(f"{label(item)} must be a real date, like 2026-11-26") from None
    if kind == "dateTime":
        try:
            return {"valueDateTime": _typed_date_time(raw)}
        except ValueError:
            raise ValueError(f"{label(item)} must be a real date and time, like 2026-11-26 14:30") from None
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


def apply_form(
    questionnaire: dict[str, Any], response: dict[str, Any], form: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Put the submitted form values into `response` (in place); returns {path: message} for unreadable values.

    Read-only and hidden items keep their pre-filled answers: a form cannot overwrite what NeoSafe found, and
    a hidden item is not on the page at all.
    """
    problems: dict[str, str] = {}
    hidden: set[str] = set()
    for node in walk(questionnaire, response):
        parent = node.path.rpartition("/")[0]
        if is_hidden(node.q) or parent in hidden:
            hidden.add(node.path)
            continue
        if node.is_group or node.q.get("readOnly"):
            continue
        raws = [v.strip() for v in form.get(node.path, []) if v and v.strip()]
        open_text = [v.strip() for v in form.get(node.path + ":other", []) if v and v.strip()]
        if raws and open_text and not node.q.get("repeats"):
            problems[node.path] = f"Select an option or type another answer, not both: {label(node.q)}"
        answers = []
        for raw in raws:
            try:
                answers.append(_parse(node.q, raw))
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
