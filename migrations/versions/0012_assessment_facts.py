"""What each stored checklist says, in rows the assurance figures count in SQL (issue 19): its answers, the Tasks it
writes and each source's status in its picture; filled for the versions already stored. An index on
assessment.amends, so "is this the latest version?" (one nothing amends) is answered without a scan.

The backfill reads each version's response_json, sources_json and its outbox entry's bundle_json with its own copy
of app.assessments.facts' rules as they are at this revision: a migration never imports code that may change later.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None

PAGE = 500  # versions read per query while filling the rows

ANSWER = sa.table(
    "assessmentanswer",
    sa.column("assessment_id", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("link_id", sa.String()),
    sa.column("entry", sa.Integer()),
    sa.column("value", sa.String()),
)
TASK = sa.table(
    "assessmenttask",
    sa.column("assessment_id", sa.String()),
    sa.column("position", sa.Integer()),
    sa.column("key", sa.String()),
    sa.column("owner", sa.String()),
    sa.column("due", sa.String()),
    sa.column("status", sa.String()),
)
SOURCE = sa.table(
    "assessmentsource",
    sa.column("assessment_id", sa.String()),
    sa.column("source", sa.String()),
    sa.column("status", sa.String()),
)


def upgrade() -> None:
    op.create_table(
        "assessmentanswer",
        sa.Column("assessment_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("link_id", sa.String(), nullable=False),
        sa.Column("entry", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.PrimaryKeyConstraint("assessment_id", "position"),
    )
    op.create_index(
        "ix_assessmentanswer_link_id_value", "assessmentanswer", ["link_id", "value", "assessment_id", "entry"]
    )
    op.create_table(
        "assessmenttask",
        sa.Column("assessment_id", sa.String(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("owner", sa.String(), nullable=False),
        sa.Column("due", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.PrimaryKeyConstraint("assessment_id", "position"),
    )
    op.create_table(
        "assessmentsource",
        sa.Column("assessment_id", sa.String(), nullable=False),
        sa.Column("source", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.ForeignKeyConstraint(["assessment_id"], ["assessment.id"]),
        sa.PrimaryKeyConstraint("assessment_id", "source"),
    )
    op.create_index("ix_assessment_amends", "assessment", ["amends"])
    _fill(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_assessment_amends", "assessment")
    op.drop_table("assessmentsource")
    op.drop_table("assessmenttask")
    op.drop_index("ix_assessmentanswer_link_id_value", "assessmentanswer")
    op.drop_table("assessmentanswer")


def _fill(bind: sa.Connection) -> None:
    """The rows of every version already stored, a page of versions at a time (ordered by id, so none is missed)."""
    last = ""
    while True:
        page = bind.execute(
            sa.text(
                "SELECT a.id, a.response_json, a.sources_json, o.bundle_json FROM assessment a "
                "LEFT JOIN outboxentry o ON o.assessment_id = a.id WHERE a.id > :last ORDER BY a.id LIMIT :page"
            ),
            {"last": last, "page": PAGE},
        ).all()
        if not page:
            return
        answers, tasks, sources = [], [], []
        for id_, response_json, sources_json, bundle_json in page:
            answers += [
                {"assessment_id": id_, "position": i, "link_id": link_id, "entry": entry, "value": value}
                for i, (link_id, entry, value) in enumerate(_answers(_list(response_json, "item"), iter(range(10**9))))
            ]
            tasks += [{"assessment_id": id_, "position": i, **task} for i, task in enumerate(_tasks(bundle_json))]
            sources += [{"assessment_id": id_, "source": n, "status": s} for n, s in _sources(sources_json).items()]
        for table, rows in ((ANSWER, answers), (TASK, tasks), (SOURCE, sources)):
            if rows:
                bind.execute(sa.insert(table), rows)
        last = page[-1][0]


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "null")
    except ValueError:
        return None  # a version whose stored text cannot be read keeps no rows; the version itself is untouched


def _list(text: str | None, key: str) -> list[Any]:
    found = _json(text)
    return (found.get(key) or []) if isinstance(found, dict) else []


def _value(answer: dict[str, Any]) -> str | None:
    if "valueCoding" in answer:
        code = (answer["valueCoding"] or {}).get("code")
        return None if code is None else str(code)
    if "valueBoolean" in answer:
        return "true" if answer["valueBoolean"] else "false"
    if any(key.startswith("value") and value is not None for key, value in answer.items()):
        return ""
    return None


def _answers(items: list[Any], counter: Iterator[int]) -> Iterator[tuple[str, int, str]]:
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


def _tasks(bundle_json: str | None) -> Iterator[dict[str, Any]]:
    for entry in _list(bundle_json, "entry"):
        task = (entry.get("resource") if isinstance(entry, dict) else None) or {}
        if task.get("resourceType") != "Task" or not task.get("identifier"):
            continue
        yield {
            "key": task["identifier"][0]["value"],
            "owner": (task.get("owner") or {}).get("display") or "not named",
            "due": ((task.get("restriction") or {}).get("period") or {}).get("end"),
            "status": task.get("status") or "requested",
        }


def _sources(sources_json: str | None) -> dict[str, str]:
    found = _json(sources_json)
    kept: dict[str, str] = {}
    for source in found if isinstance(found, list) else []:
        if isinstance(source, dict) and isinstance(source.get("name"), str):
            kept.setdefault(source["name"], str(source.get("status") or "not-known"))
    return kept
