"""What a stored checklist says, kept in rows when it is stored, so the assurance figures count in SQL.

Parsing every stored QuestionnaireResponse at view time was what made the assurance page slow for a year of a unit
(issue 19). So, in the same transaction as each stored version of a checklist, NeoSafe keeps each answer (with the
group entry it sits in, for "the role of this person" rules), each Task the version writes and each source's status
in the picture it was made against. Free text is not copied: an answer that is neither a code nor yes/no is kept as
answered, its value "". The response stays the record; these rows are derived from it and never edited.

Migration 0012 fills them for versions stored before it, with its own copy of these rules (a migration must not
import code that may change later): a change here that changes what is kept needs a migration to match.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

__all__ = ["AssessmentAnswer", "AssessmentSource", "AssessmentTask", "answer_rows", "source_rows", "task_rows"]


class AssessmentAnswer(SQLModel, table=True):
    """One answer of one stored version of a checklist."""

    __table_args__ = (Index("ix_assessmentanswer_link_id_value", "link_id", "value", "assessment_id", "entry"),)

    assessment_id: str = Field(foreign_key="assessment.id", primary_key=True)
    position: int = Field(primary_key=True)  # the answer's place in the response, in document order
    link_id: str
    entry: int  # the list of sibling items it is in, numbered within its version: same number, same group entry
    value: str  # a code, "true" / "false" for a yes/no answer, "" for any other type (free text is not copied)


class AssessmentTask(SQLModel, table=True):
    """A Task one stored version writes: raised or changed (requested) or, in a later version, withdrawn
    (cancelled). A Task a later version leaves unchanged is not written again, so it is not repeated here."""

    assessment_id: str = Field(foreign_key="assessment.id", primary_key=True)
    position: int = Field(primary_key=True)  # its place in the version's bundle
    key: str  # the Task's identifier value: the same task across the versions of a checklist
    owner: str
    due: str | None = None  # ISO date
    status: str  # requested | cancelled


class AssessmentSource(SQLModel, table=True):
    """One source's status in the picture a stored version was made against (found, none-found, unavailable...)."""

    assessment_id: str = Field(foreign_key="assessment.id", primary_key=True)
    source: str = Field(primary_key=True)
    status: str


def _value(answer: dict[str, Any]) -> str | None:
    """The answer as kept; None for an answer with no value (a coding without a code, or only nested items)."""
    if "valueCoding" in answer:
        code = (answer["valueCoding"] or {}).get("code")
        return None if code is None else str(code)
    if "valueBoolean" in answer:
        return "true" if answer["valueBoolean"] else "false"
    if any(key.startswith("value") and value is not None for key, value in answer.items()):
        return ""
    return None


def _answers(items: list[dict[str, Any]], counter: Iterator[int]) -> Iterator[tuple[str, int, str]]:
    """(linkId, entry, value) in document order: an item's answers, then its child items, then its answers'."""
    if not items:
        return  # no entry: the numbers stay small and dense
    entry = next(counter)
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("linkId"), str):
            continue
        answers = [a for a in item.get("answer") or [] if isinstance(a, dict)]
        for answer in answers:
            if (value := _value(answer)) is not None:
                yield item["linkId"], entry, value
        yield from _answers(item.get("item") or [], counter)
        for answer in answers:
            yield from _answers(answer.get("item") or [], counter)


def answer_rows(assessment_id: str, response: dict[str, Any]) -> list[AssessmentAnswer]:
    """Every answer of the response, in document order, with its group entry."""
    counter = iter(range(1_000_000_000))
    return [
        AssessmentAnswer(assessment_id=assessment_id, position=i, link_id=link_id, entry=entry, value=value)
        for i, (link_id, entry, value) in enumerate(_answers(response.get("item") or [], counter))
    ]


def task_rows(assessment_id: str, bundle: dict[str, Any]) -> list[AssessmentTask]:
    """The Tasks the version's bundle creates, changes or withdraws (an unchanged one is in an earlier version's)."""
    rows = []
    for entry in bundle.get("entry") or []:
        task = entry.get("resource") or {}
        if task.get("resourceType") != "Task" or not task.get("identifier"):
            continue
        rows.append(
            AssessmentTask(
                assessment_id=assessment_id,
                position=len(rows),
                key=task["identifier"][0]["value"],
                owner=(task.get("owner") or {}).get("display") or "not named",
                due=((task.get("restriction") or {}).get("period") or {}).get("end"),
                status=task.get("status") or "requested",
            )
        )
    return rows


def source_rows(assessment_id: str, sources: list[dict[str, Any]]) -> list[AssessmentSource]:
    """Each source's status as the version recorded it (app.checkpoints' sources_consulted), once per source."""
    kept: dict[str, str] = {}
    for source in sources:
        if isinstance(source, dict) and isinstance(source.get("name"), str):
            kept.setdefault(source["name"], str(source.get("status") or "not-known"))
    return [AssessmentSource(assessment_id=assessment_id, source=name, status=status) for name, status in kept.items()]
