"""What a stored checklist says, kept in rows with it (app.assessments.facts, issue 19): written in the same
transaction as the version, never without it; malformed or empty answers keep nothing rather than failing.

Runs on SQLite, and on PostgreSQL when NEOSAFE_TEST_DATABASE_URL is set (tests/conftest.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlmodel import select

from app.assessments import (
    AssessmentAnswer,
    AssessmentSource,
    AssessmentTask,
    DuplicateSubmission,
    answer_rows,
    make_engine,
    save_assessment,
    session_factory,
    source_rows,
    task_rows,
    upgrade,
)

WHEN = datetime(2026, 11, 2, 9, 0, tzinfo=UTC)
RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "item": [
        {"linkId": "A4-household", "item": [
            {"linkId": "A4-household.person", "item": [
                {"linkId": "A4-household.person.role", "answer": [{"valueCoding": {"code": "person-role-father"}}]},
                {"linkId": "A4-household.person.records-checked", "answer": [{"valueBoolean": False}]},
            ]},
            {"linkId": "A4-household.father-recorded", "answer": [{"valueCoding": {"code": "yes"}}]},
        ]},
        {"linkId": "A6-notes", "answer": [{"valueString": "Father works nights"}]},
    ],
}  # fmt: skip
SOURCES = [
    {"name": "maternity", "status": "found", "detail": "", "checked_at": None},
    {"name": "police-gp", "status": "unavailable", "detail": "timed out", "checked_at": None},
]
BUNDLE = {
    "resourceType": "Bundle",
    "entry": [
        {"resource": {"resourceType": "QuestionnaireResponse"}},
        {"resource": {"resourceType": "Observation", "status": "final"}},
        {"resource": {"resourceType": "Task", "identifier": [{"value": "r-1/t-1"}], "status": "requested",
                      "owner": {"display": "Safeguarding team"}, "restriction": {"period": {"end": "2026-11-03"}}}},
    ],
}  # fmt: skip


@pytest.fixture
async def sessions(settings) -> AsyncIterator:
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    yield session_factory(engine)
    await engine.dispose()


async def _save(sessions, assessment_id: str, *, submission_key: str | None = None) -> None:
    await save_assessment(
        sessions,
        assessment_id=assessment_id,
        nhs_number="9990000011",
        checkpoint="admission",
        questionnaire="https://neosafe.org.uk/fhir/Questionnaire/admission|1",
        response=RESPONSE,
        sources=SOURCES,
        records=[],
        bundle=BUNDLE,
        author_id="demo-nurse",
        author_role="nurse",
        now=WHEN,
        submission_key=submission_key,
    )


async def _kept(sessions) -> dict[str, list[dict[str, Any]]]:
    async with sessions() as session:
        return {
            table.__tablename__: [r.model_dump() for r in (await session.exec(select(table))).all()]
            for table in (AssessmentAnswer, AssessmentTask, AssessmentSource)
        }


async def test_a_stored_version_keeps_its_answers_tasks_and_sources_in_rows(sessions):
    await _save(sessions, "r-1")

    kept = await _kept(sessions)
    assert sorted(kept["assessmentanswer"], key=lambda r: r["position"]) == [
        {"assessment_id": "r-1", "position": 0, "link_id": "A4-household.person.role", "entry": 2,
         "value": "person-role-father"},
        {"assessment_id": "r-1", "position": 1, "link_id": "A4-household.person.records-checked", "entry": 2,
         "value": "false"},
        {"assessment_id": "r-1", "position": 2, "link_id": "A4-household.father-recorded", "entry": 1, "value": "yes"},
        {"assessment_id": "r-1", "position": 3, "link_id": "A6-notes", "entry": 0, "value": ""},  # text not copied
    ]  # fmt: skip
    assert kept["assessmenttask"] == [
        {"assessment_id": "r-1", "position": 0, "key": "r-1/t-1", "owner": "Safeguarding team", "due": "2026-11-03",
         "status": "requested"},
    ]  # fmt: skip
    assert sorted(kept["assessmentsource"], key=lambda r: r["source"]) == [
        {"assessment_id": "r-1", "source": "maternity", "status": "found"},
        {"assessment_id": "r-1", "source": "police-gp", "status": "unavailable"},
    ]


async def test_a_submission_stored_twice_keeps_its_rows_once(sessions):
    await _save(sessions, "r-1", submission_key="k-1")
    before = await _kept(sessions)

    with pytest.raises(DuplicateSubmission):
        await _save(sessions, "r-2", submission_key="k-1")  # the version is refused: so are its rows

    assert await _kept(sessions) == before


def test_malformed_answers_keep_what_can_be_read_and_never_fail():
    response = {
        "item": [
            {"answer": [{"valueCoding": {"code": "no-link-id"}}]},  # no linkId: not an answer NeoSafe can name
            "not an item",
            {"linkId": "coded-without-code", "answer": [{"valueCoding": {"display": "Yes"}}]},
            {"linkId": "nothing", "answer": [{}, "not an answer", {"valueString": None}]},
            {"linkId": "yes-no", "answer": [{"valueBoolean": True}], "item": None},
            {"linkId": "group", "answer": [{"valueCoding": {"code": "c"}, "item": [
                {"linkId": "nested", "answer": [{"valueInteger": 3}]},
            ]}]},
        ]
    }  # fmt: skip
    rows = [(r.link_id, r.entry, r.value) for r in answer_rows("x", response)]
    assert rows == [("yes-no", 0, "true"), ("group", 0, "c"), ("nested", 1, "")]
    assert answer_rows("x", {}) == [] and answer_rows("x", {"item": []}) == []


def test_tasks_and_sources_without_what_names_them_are_not_kept():
    bundle = {"entry": [{"resource": {"resourceType": "Task", "status": "requested"}}, {}, {"resource": None}]}
    assert task_rows("x", bundle) == [] and task_rows("x", {}) == []
    unnamed = task_rows("x", {"entry": [{"resource": {"resourceType": "Task", "identifier": [{"value": "k"}]}}]})
    assert [(t.key, t.owner, t.due, t.status) for t in unnamed] == [("k", "not named", None, "requested")]
    sources = [{"status": "found"}, "maternity", {"name": "police-gp"}, {"name": "police-gp", "status": "found"}]
    assert [(s.source, s.status) for s in source_rows("x", sources)] == [("police-gp", "not-known")]
