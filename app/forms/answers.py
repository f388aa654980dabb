"""Answer values: from expression results and from what a clinician typed, typed by the item's type."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from .tree import walk

__all__ = ["REPEAT_COUNT_PREFIX", "answer_text", "apply_form", "coding_key", "option_codings", "typed_answer"]

LONDON = ZoneInfo("Europe/London")
REPEAT_COUNT_PREFIX = "repeat-count:"

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


def coding_key(coding: Mapping[str, Any]) -> str:
    """How a coded option is named in a form: system|code."""
    return f"{coding.get('system', '')}|{coding.get('code', '')}"


def option_codings(item: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [o["valueCoding"] for o in item.get("answerOption") or [] if "valueCoding" in o]


def typed_answer(item: Mapping[str, Any], value: Any) -> dict[str, Any] | None:
    """An answer for `item` from an expression result, or None if the value does not fit the type."""
    kind = item.get("type")
    if kind in ("choice", "open-choice"):
        if isinstance(value, dict) and value.get("code"):
            return {"valueCoding": {k: value[k] for k in ("system", "code", "display") if k in value}}
        if isinstance(value, str):
            match = next((c for c in option_codings(item) if value in (c.get("code"), c.get("display"))), None)
            if match:
                return {"valueCoding": dict(match)}
            return {"valueString": value} if kind == "open-choice" else None
        return None
    if kind == "boolean":
        return {"valueBoolean": value} if isinstance(value, bool) else None
    if kind in ("string", "text"):
        return {"valueString": str(value)} if value not in (None, "") else None
    if kind == "integer" and isinstance(value, int) and not isinstance(value, bool):
        return {"valueInteger": value}
    if kind == "decimal" and isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return {"valueDecimal": float(value)}
    if kind in ("date", "dateTime") and isinstance(value, str) and value:
        return {VALUE_KEY[kind]: value}
    return None


def _parse(item: Mapping[str, Any], raw: str) -> dict[str, Any]:
    """One typed answer from form text; ValueError with a message for the clinician if it does not fit."""
    kind = item.get("type")
    if kind == "boolean":
        if raw not in ("true", "false"):
            raise ValueError("Select yes or no")
        return {"valueBoolean": raw == "true"}
    if kind in ("choice", "open-choice"):
        match = next((c for c in option_codings(item) if coding_key(c) == raw), None)
        if match is not None:
            return {"valueCoding": dict(match)}
        if kind == "open-choice":
            return {"valueString": raw}
        raise ValueError("Select one of the options")
    if kind == "integer":
        try:
            return {"valueInteger": int(raw)}
        except ValueError:
            raise ValueError("Enter a whole number, like 12") from None
    if kind == "decimal":
        try:
            return {"valueDecimal": float(Decimal(raw))}
        except InvalidOperation:
            raise ValueError("Enter a number, like 12.5") from None
    if kind == "date":
        try:
            return {"valueDate": date.fromisoformat(raw).isoformat()}
        except ValueError:
            raise ValueError("Enter a real date, like 2026-11-26") from None
    if kind == "dateTime":
        try:
            moment = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError("Enter a real date and time, like 2026-11-26 14:30") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=LONDON)
        return {"valueDateTime": moment.isoformat(timespec="seconds")}
    return {"valueString": raw}


def apply_form(
    questionnaire: dict[str, Any], response: dict[str, Any], form: Mapping[str, Sequence[str]]
) -> dict[str, str]:
    """Put the submitted form values into `response` (in place); returns {path: message} for unreadable values.

    Read-only items keep their pre-filled answers: a form cannot overwrite what NeoSafe found.
    """
    problems: dict[str, str] = {}
    for node in walk(questionnaire, response):
        if node.is_group or node.q.get("readOnly"):
            continue
        raws = [v.strip() for v in form.get(node.path, []) if v and v.strip()]
        open_text = [v.strip() for v in form.get(node.path + ":other", []) if v and v.strip()]
        answers = []
        for raw in raws + open_text:
            try:
                answers.append(_parse(node.q, raw))
            except ValueError as exc:
                problems[node.path] = str(exc)
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
