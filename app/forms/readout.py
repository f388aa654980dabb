"""A completed response read back: every answered question in the checklist's own words, for people to read.

Used where a checklist is shown rather than filled in: the saved checklist and the handover summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .answers import answer_text, label, option_codings
from .tree import walk

__all__ = ["STATUS_WORDS", "Line", "answered_lines", "in_words"]

# What NeoSafe's pre-filled source statuses read as: the words the safeguarding picture uses, never the codes.
STATUS_WORDS = {
    "found": "Records found",
    "none-found": "Checked: none found",
    "not-known": "Checked: not everyone known to it",
    "partial": "Partly checked",
    "unavailable": "Not checked: source unavailable",
    "not-configured": "Not connected: not checked",
}


@dataclass(frozen=True)
class Line:
    """One answered question (with its answers), or the heading of the group it sits in (no answers)."""

    depth: int
    text: str
    answers: tuple[str, ...] = ()
    kind: str = "group"  # the item type, so a date reads as a date


def in_words(text: str, names: Mapping[str, str]) -> str:
    """What NeoSafe filled in as a key, in words: a source's key as its label (`names`), a status as STATUS_WORDS."""
    return names.get(text, STATUS_WORDS.get(text, text)) if text else text


def _read(item: dict[str, Any], answer: dict[str, Any]) -> str:
    """The answer's text; a coded answer sent without its display (as an API client may) in the option's words."""
    coding = answer.get("valueCoding")
    if coding and not coding.get("display"):
        for option in option_codings(item):
            if (option.get("system"), option.get("code")) == (coding.get("system"), coding.get("code")):
                return option.get("display") or option["code"]
    return answer_text(answer)


def answered_lines(
    questionnaire: dict[str, Any], response: dict[str, Any], link_id: str, names: Mapping[str, str] | None = None
) -> tuple[Line, ...]:
    """Every answered question under the top-level item, each group heading once before its first answer; what
    NeoSafe filled in as keys in words (`in_words`, `names` the source labels), as the form page shows them."""
    lines: list[Line] = []
    pending: dict[str, Line] = {}  # group headings waiting for an answer inside them
    for node in walk(questionnaire, response):
        if not node.path.startswith(f"{link_id}~"):
            continue
        depth = node.path.count("/")
        if depth == 0:
            continue
        if node.is_group:
            index = int(node.path.rsplit("~", 1)[1])
            text = f"{label(node.q)} {index + 1}" if node.q.get("repeats") else label(node.q)
            pending[node.path] = Line(depth - 1, text)
            continue
        answers = tuple(in_words(t, names or {}) for a in node.r.get("answer") or [] if (t := _read(node.q, a)))
        if not answers:
            continue
        for path in [p for p in pending if node.path.startswith(p + "/")]:
            lines.append(pending.pop(path))
        lines.append(Line(depth - 1, label(node.q), answers, node.q.get("type", "string")))
    return tuple(lines)
