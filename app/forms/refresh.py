"""Refresh a draft from the sources without overwriting the clinician's edits (the SDC re-population problem).

A draft keeps the pre-filled answers it started from (its baseline). Asking the sources again gives a new
pre-fill; where that differs from the baseline the sources have changed, and the clinician is shown the
change and may take it. Where the clinician has edited the answer themselves, their answer is kept unless
they choose the new one. Nothing is replaced silently.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from .answers import answer_text
from .tree import walk

__all__ = ["Change", "changes", "take"]


@dataclass(frozen=True)
class Change:
    path: str
    question: str
    was: list[str]  # what the sources said when the draft began
    now: list[str]  # what the sources say now
    yours: list[str]  # what the draft holds
    edited: bool  # the clinician changed this answer in the draft


def _answers(questionnaire: dict[str, Any], response: dict[str, Any]) -> dict[str, tuple[str, list[dict]]]:
    return {n.path: (n.q.get("text", n.q["linkId"]), n.r.get("answer") or []) for n in walk(questionnaire, response)}


def changes(
    questionnaire: dict[str, Any], *, baseline: dict[str, Any], fresh: dict[str, Any], draft: dict[str, Any]
) -> list[Change]:
    """Every item whose pre-filled answer the sources have changed since the draft began and the draft does
    not already hold, in form order."""
    before, after, mine = (_answers(questionnaire, r) for r in (baseline, fresh, draft))
    found = []
    for path, (question, now) in after.items():
        was = before.get(path, (question, []))[1]
        if now == was:
            continue
        yours = mine.get(path, (question, []))[1]
        if yours == now:
            continue  # the draft already says what the sources say now
        found.append(
            Change(
                path=path,
                question=question,
                was=[answer_text(a) for a in was],
                now=[answer_text(a) for a in now],
                yours=[answer_text(a) for a in yours],
                edited=yours != was,
            )
        )
    return found


def take(
    questionnaire: dict[str, Any], *, draft: dict[str, Any], fresh: dict[str, Any], paths: set[str]
) -> dict[str, Any]:
    """A copy of the draft with the fresh pre-filled answers of the chosen items put in."""
    updated = copy.deepcopy(draft)
    new = {n.path: n.r.get("answer") for n in walk(questionnaire, fresh)}
    for node in walk(questionnaire, updated):
        if node.path in paths and node.path in new:
            if new[node.path]:
                node.r["answer"] = copy.deepcopy(new[node.path])
            else:
                node.r.pop("answer", None)
    return updated
