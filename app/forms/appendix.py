"""The checklists README's appendix, every question of every checklist in use, drawn from the Questionnaires.

A clinical-safety lead reviews the checklists from this list; drawing it from the JSON means it cannot drift from
what NeoSafe asks (`neosafe checklists appendix --check` fails when it has).
"""

from __future__ import annotations

from typing import Any

from .extensions import ENABLE_WHEN_EXPRESSION, INITIAL_EXPRESSION, expression, is_help
from .load import CHECKPOINTS, Checklists

__all__ = ["HEADING", "appendix", "with_appendix"]

HEADING = "## Appendix: every question"

_INTRO = (
    'Drawn from the JSON by `uv run neosafe checklists appendix`; the JSON is authoritative. "Pre-filled" marks '
    "an initial answer from the safeguarding picture. A trigger written as FHIRPath is given in words where the "
    "checklist says them (the Expression's description), otherwise as the expression."
)


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _option(option: dict[str, Any]) -> str:
    coding = option.get("valueCoding")
    if coding:
        return coding.get("display") or coding.get("code", "")
    return next((str(v) for k, v in option.items() if k.startswith("value")), "")


def _answer(item: dict[str, Any]) -> str:
    options = item.get("answerOption") or []
    if not options:
        return item["type"]
    listed = " / ".join(_option(o) for o in options)
    return f"any of: {listed}" if item.get("repeats") else listed


def _answer_of(condition: dict[str, Any], question: dict[str, Any] | None) -> str:
    """The condition's answer as the question offers it (its option's display), Yes/No for a boolean."""
    coding = condition.get("answerCoding")
    if coding and question:
        offered = [o["valueCoding"] for o in question.get("answerOption") or [] if "valueCoding" in o]
        coding = next((o for o in offered if o.get("code") == coding.get("code")), coding)
        return _option({"valueCoding": coding})
    value = next((_option({k.replace("answer", "value"): v}) for k, v in condition.items() if k.startswith("answer")))
    return {"True": "Yes", "False": "No"}.get(value, value)


def _conditions(conditions: list[dict[str, Any]], joiner: str, questions: dict[str, dict[str, Any]]) -> str:
    """enableWhen in words; with "or", one question's answers in a row are listed once: 'Q' = a or b."""
    said: list[tuple[str, str, list[str]]] = []
    for condition in conditions:
        question, operator = condition["question"], condition["operator"]
        answer = _answer_of(condition, questions.get(question))
        if joiner == " or " and operator != "exists" and said and said[-1][:2] == (question, operator):
            said[-1][2].append(answer)
        else:
            said.append((question, operator, [answer]))
    words = []
    for question, operator, answers in said:
        text = questions[question].get("text", question) if question in questions else question
        if operator == "exists":
            words.append(f"'{text}' is {'answered' if answers[0] == 'Yes' else 'not answered'}")
        else:
            words.append(f"'{text}' {operator} {' or '.join(answers)}")
    return joiner.join(words)


def _shown_when(item: dict[str, Any], questions: dict[str, dict[str, Any]]) -> str:
    conditions = item.get("enableWhen") or []
    if conditions:
        return _conditions(conditions, " and " if item.get("enableBehavior") == "all" else " or ", questions)
    trigger = expression(item, ENABLE_WHEN_EXPRESSION)
    if trigger:
        return trigger.get("description") or f"`{trigger['expression']}`"
    return ""


def _rows(items: list[dict[str, Any]], questions: dict[str, dict[str, Any]]) -> list[str]:
    rows = []
    for item in items:
        if item["type"] == "display":
            continue
        text = item.get("text") or item["linkId"]
        required = "Yes" if item.get("required") else "No"
        shown = _cell(_shown_when(item, questions))
        if item["type"] == "group":
            repeats = " (repeats)" if item.get("repeats") else ""
            rows.append(f"| **{_cell(text)}**{repeats} | | {required} | {shown} |")
            rows.extend(_rows(item.get("item") or [], questions))
            continue
        filled = " (pre-filled)" if expression(item, INITIAL_EXPRESSION) else ""
        rows.append(f"| {_cell(text)}{filled} | {_cell(_answer(item))} | {required} | {shown} |")
    return rows


def _questions(items: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Every item a trigger may name, by linkId."""
    found: dict[str, dict[str, Any]] = {}
    for item in items:
        if not is_help(item):
            found[item["linkId"]] = item
        found.update(_questions(item.get("item") or []))
    return found


def appendix(checklists: Checklists) -> str:
    """The appendix, from its heading to its end, for every checkpoint's checklist in use."""
    parts = [HEADING, "", _INTRO]
    for checkpoint in CHECKPOINTS:
        questionnaire = checklists.by_checkpoint.get(checkpoint)
        if questionnaire is None:
            continue
        parts += [
            "",
            f"### {checkpoint} (`{checkpoint}.json`, version {questionnaire['version']})",
            "",
            "| Question | Answer | Required | Shown when |",
            "|---|---|---|---|",
            *_rows(questionnaire.get("item") or [], _questions(questionnaire.get("item") or [])),
        ]
    return "\n".join(parts) + "\n"


def with_appendix(readme: str, checklists: Checklists) -> str:
    """The README with its appendix (from HEADING to the end) drawn again; appended if it has none."""
    before = readme.split(HEADING, 1)[0] if HEADING in readme else readme.rstrip("\n") + "\n\n"
    return before + appendix(checklists)
