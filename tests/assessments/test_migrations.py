"""Alembic migrations: an empty database, a database holding data from an earlier revision, and models that agree.

Runs on SQLite, and on PostgreSQL when NEOSAFE_TEST_DATABASE_URL is set (tests/conftest.py).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import SQLModel, select

from app.assessments import (
    Assessment,
    AssessmentAnswer,
    AssessmentSource,
    AssessmentTask,
    AuditEvent,
    Draft,
    HeldAnswers,
    OutboxEntry,
    SchemaNotReady,
    SignIn,
    answer_rows,
    head_revision,
    make_engine,
    prepare,
    session_factory,
    source_rows,
    task_rows,
    upgrade,
)
from app.assessments.db import alembic_config, current_revision
from app.cli import main
from app.main import create_app

TABLES = {
    "assessment",
    "assessmentanswer",
    "assessmentsource",
    "assessmenttask",
    "draft",
    "outboxentry",
    "auditevent",
    "signin",
    "heldanswers",
    "holdoverride",
    "watchedbaby",
    "newinformation",
    "joblease",
    "cdsseenjwt",
    "delivery",
    "watchsubscription",
    "taskstate",
    "tasksweep",
}
SCRIPTS = ScriptDirectory.from_config(alembic_config())
REVISIONS = [script.revision for script in reversed(list(SCRIPTS.walk_revisions()))]  # oldest first
WHEN = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)

# What the stored versions said, as a real database holds it: answers in repeating groups, yes/no and free text,
# the sources' status in the picture, and a Task in the amendment's bundle (revision 0012 turns them into rows).
RESPONSE = {
    "resourceType": "QuestionnaireResponse",
    "status": "completed",
    "item": [
        {"linkId": "A4-household", "item": [
            {"linkId": "A4-household.person", "item": [
                {"linkId": "A4-household.person.role", "answer": [{"valueCoding": {"code": "person-role-father"}}]},
                {"linkId": "A4-household.person.records-checked", "answer": [{"valueBoolean": True}]},
            ]},
            {"linkId": "A4-household.person", "item": [
                {"linkId": "A4-household.person.role", "answer": [{"valueCoding": {"code": "person-role-mother"}}]},
            ]},
        ]},
        {"linkId": "A8-da-enquiry-private", "item": [
            {"linkId": "A8-da-enquiry-private.not-done-reason", "answer": [{"valueString": "partner always present"}]},
        ]},
    ],
}  # fmt: skip
SOURCES = [
    {"name": "maternity", "status": "found", "detail": "2 records", "checked_at": None},
    {"name": "police-gp", "status": "unavailable", "detail": "timed out", "checked_at": None},
]
BUNDLE = {
    "resourceType": "Bundle",
    "type": "transaction",
    "entry": [
        {"resource": {"resourceType": "QuestionnaireResponse"}},
        {"resource": {"resourceType": "Task", "identifier": [{"system": "t", "value": "a-1/task-1"}],
                      "status": "requested", "owner": {"display": "Safeguarding team"},
                      "restriction": {"period": {"end": "2026-03-02"}}}},
    ],
}  # fmt: skip
# The rows revision 0012 keeps of them (and app.assessments.facts writes for a version stored since).
FACTS = {
    "assessmentanswer": [
        {"assessment_id": a, "position": p, "link_id": link, "entry": e, "value": v}
        for a in ("a-1", "a-2")
        for p, (link, e, v) in enumerate(
            [
                ("A4-household.person.role", 2, "person-role-father"),
                ("A4-household.person.records-checked", 2, "true"),
                ("A4-household.person.role", 3, "person-role-mother"),
                ("A8-da-enquiry-private.not-done-reason", 4, ""),  # free text is not copied
            ]
        )
    ],
    "assessmenttask": [
        {
            "assessment_id": "a-2",
            "position": 0,
            "key": "a-1/task-1",
            "owner": "Safeguarding team",
            "due": "2026-03-02",
            "status": "requested",
        },
    ],
    "assessmentsource": [
        {"assessment_id": a, "source": n, "status": s}
        for a in ("a-1", "a-2")
        for n, s in (("maternity", "found"), ("police-gp", "unavailable"))
    ],
}


def _table(name: str, *columns: str) -> sa.TableClause:
    """A table as one revision has it, not as today's models do: datetimes by name, everything else as text."""
    return sa.table(
        name, *(sa.column(c, sa.DateTime(timezone=True) if c.endswith("_at") or c == "at" else None) for c in columns)
    )


def _rows_at_0001() -> dict[str, list[dict[str, Any]]]:
    """A baby's admission assessment, its amendment, the amendment's outbox entry, a draft and an audit event."""
    common = {"nhs_number": "9990101000", "checkpoint": "admission", "questionnaire": "q|1", "response_json": "{}"}
    stored = {**common, "response_json": json.dumps(RESPONSE), "sources_json": json.dumps(SOURCES)}
    return {
        "assessment": [
            {**stored, "id": "a-1", "author_id": "n", "author_role": "nurse",
             "status": "amended", "version": 1, "amends": None, "created_at": WHEN},
            {**stored, "id": "a-2", "author_id": "n", "author_role": "nurse",
             "status": "completed", "version": 2, "amends": "a-1", "created_at": WHEN},
        ],
        "outboxentry": [
            {"id": "o-1", "assessment_id": "a-2", "bundle_json": json.dumps(BUNDLE), "state": "retrying", "attempts": 2,
             "last_error": "HTTP 503", "next_attempt_at": WHEN, "sent_at": None, "server_ids_json": "[]",
             "claimed_by": None, "claimed_until": None, "created_at": WHEN},
        ],
        "draft": [
            {**common, "id": "d-1", "checkpoint": "discharge", "author_id": "n", "author_role": "nurse",
             "updated_at": WHEN},
        ],
        "auditevent": [
            {"id": 1, "at": WHEN, "user_id": "n", "role": "nurse", "action": "view-picture",
             "nhs_number": "9990101000", "outcome": "success", "detail": ""},
        ],
    }  # fmt: skip


def _rows_at_0002() -> dict[str, list[dict[str, Any]]]:
    """As at 0001, with the records an assessment saw and the baseline a draft began from."""
    rows = _rows_at_0001()
    for row in rows["assessment"]:
        row["records_json"] = '[{"key": "social-care/EpisodeOfCare/x", "current": false}]'
    rows["draft"][0]["baseline_json"] = '{"resourceType": "QuestionnaireResponse"}'
    return rows


def _rows_at_0003() -> dict[str, list[dict[str, Any]]]:
    """As at 0002, with the key the amendment was submitted with (the first version predates keys)."""
    rows = _rows_at_0002()
    for row in rows["assessment"]:
        row["submission_key"], row["submission_digest"] = (None, None) if row["id"] == "a-1" else ("k-2", "d" * 64)
    return rows


def _rows_at_0004() -> dict[str, list[dict[str, Any]]]:
    """As at 0003, with the audit record already sent to the FHIR record."""
    rows = _rows_at_0003()
    rows["auditevent"][0]["exported_at"] = WHEN
    return rows


def _rows_at_0005() -> dict[str, list[dict[str, Any]]]:
    """As at 0004, with a nurse's sign-in that ended unused and the answers she posted just after."""
    rows = _rows_at_0004()
    rows["signin"] = [
        {"id": "s-1", "user_id": "n", "name": "Alex Morgan", "role": "nurse", "created_at": WHEN,
         "last_seen_at": WHEN, "ended_at": WHEN, "end_reason": "idle"},
    ]  # fmt: skip
    rows["heldanswers"] = [
        {"id": "h-1", "user_id": "n", "path": "/patients/9990101000/checklists/admission",
         "fields_json": '{"csrf": ["t"]}', "created_at": WHEN},
    ]  # fmt: skip
    return rows


def _rows_at_0006() -> dict[str, list[dict[str, Any]]]:
    """As at 0005, with the safeguarding lead's override of a finding that held the amended discharge checklist."""
    rows = _rows_at_0005()
    rows["holdoverride"] = [
        {"id": "ho-1", "record_id": "a-1", "assessment_id": "a-2", "version": 2, "finding": "concern-at-discharge",
         "answers_digest": "d" * 64, "reason": "Plan agreed with social care", "user_id": "l", "user_name": "Chris",
         "role": "safeguarding-lead", "at": WHEN},
    ]  # fmt: skip
    return rows


def _rows_at_0007() -> dict[str, list[dict[str, Any]]]:
    """As at 0006, with the watch job's baseline for the baby, a police notice it found new, and its lease."""
    rows = _rows_at_0006()
    rows["watchedbaby"] = [
        {"nhs_number": "9990101000", "records_json": "[]", "sources_json": "[]", "taken_at": WHEN, "watched_at": WHEN}
    ]
    rows["newinformation"] = [
        {"id": "ni-1", "nhs_number": "9990101000", "record_key": "police|Flag/f-1", "change": "new",
         "category": "police", "category_label": "Police", "display": "Police notice", "source": "police-gp",
         "start": "2026-02-28", "person": "Father", "restricted": False, "found_at": WHEN, "acknowledged_at": None,
         "acknowledged_by": None, "task_key": "ni-1", "task_written_at": None, "task_error": None},
    ]  # fmt: skip
    rows["joblease"] = [{"name": "watch", "holder": "host-1", "until": WHEN}]
    return rows


def _rows_at_0008() -> dict[str, list[dict[str, Any]]]:
    """As at 0007, with a JWT id an EPR used for a CDS Hooks call."""
    rows = _rows_at_0007()
    rows["cdsseenjwt"] = [{"issuer": "https://epr.example", "jti": "j-1", "expires_at": WHEN, "seen_at": WHEN}]
    return rows


def _rows_at_0009() -> dict[str, list[dict[str, Any]]]:
    """As at 0008, with the amended discharge handover's delivery to the GP practice over MESH, sent."""
    rows = _rows_at_0008()
    rows["delivery"] = [
        {"id": "dl-1", "record_id": "a-1", "assessment_id": "a-2", "recipient_key": "a-1-recipient-1",
         "recipient": "Riverside Surgery (GP)", "kind": "gp", "ods_code": "Y12345", "channel": "mesh",
         "address": "X26ABC1", "replaces": None, "state": "sent", "attempts": 1, "last_error": None,
         "next_attempt_at": WHEN, "claimed_by": None, "claimed_until": None, "message_id": "m-1", "sent_at": WHEN,
         "delivered_at": None, "acknowledged_at": None, "task_written_at": None, "created_at": WHEN},
    ]  # fmt: skip
    return rows


def _rows_at_0010() -> dict[str, list[dict[str, Any]]]:
    """As at 0009, with the draft's author named."""
    rows = _rows_at_0009()
    rows["draft"][0]["author_name"] = "Alex Morgan"
    return rows


def _rows_at_0011() -> dict[str, list[dict[str, Any]]]:
    """As at 0010, with a Subscription NeoSafe registered on the police source (its secret hashed)."""
    rows = _rows_at_0010()
    rows["watchsubscription"] = [
        {"key": "k-1", "source": "police-gp", "criteria": "Flag?", "secret_sha256": "0" * 64,
         "subscription_id": "s-1", "created_at": WHEN},
    ]  # fmt: skip
    return rows


def _rows_at_0012() -> dict[str, list[dict[str, Any]]]:
    """As at 0011, with what each stored version says kept in rows: its answers, Tasks and sources' status."""
    rows = _rows_at_0011()
    rows.update({name: [dict(row) for row in facts] for name, facts in FACTS.items()})
    return rows


def _rows_at_0013() -> dict[str, list[dict[str, Any]]]:
    """As at 0012, with a CIS2 sign-in still open, keeping its access token server-side (CP-IS is called with it)."""
    rows = _rows_at_0012()
    rows["signin"] = [
        *({**row, "cis2_access_token": None, "cis2_token_expires_at": None} for row in rows["signin"]),
        {"id": "s-2", "user_id": "555000111", "name": "Priya Shah", "role": "nurse", "created_at": WHEN,
         "last_seen_at": WHEN, "ended_at": None, "end_reason": None, "cis2_access_token": "cis2-token",
         "cis2_token_expires_at": WHEN},
    ]  # fmt: skip
    return rows


def _rows_at_0014() -> dict[str, list[dict[str, Any]]]:
    """As at 0013, with the watch job's view of two Tasks NeoSafe wrote: one open, one completed (its lastModified
    kept), and when it last searched the write-back source for them."""
    rows = _rows_at_0013()
    rows["taskstate"] = [
        {
            "key": "a-1/A1",
            "status": "requested",
            "closed_seen_at": None,
            "closed_at": None,
            "closed_from": None,
            "checked_at": WHEN,
        },
        {
            "key": "a-1/A2",
            "status": "completed",
            "closed_seen_at": WHEN,
            "closed_at": WHEN,
            "closed_from": "lastModified",
            "checked_at": WHEN,
        },
    ]
    rows["tasksweep"] = [{"source": "neonatal", "since": WHEN, "full_at": WHEN}]  # fmt: skip
    return rows


def _rows_at_0015() -> dict[str, list[dict[str, Any]]]:
    """As at 0014, with a sign-in an EPR launched (its baby, stay and write-back source kept), the amendment made
    in that stay and written to the EPR's FHIR server, and a draft made in it."""
    rows = _rows_at_0014()
    launch = {"launch_iss": None, "launch_nhs_number": None, "launch_encounter": None, "launch_write_back": None}
    rows["signin"] = [
        *({**row, **launch} for row in rows["signin"]),
        {"id": "s-3", "user_id": "epr-nurse", "name": "Priya Shah", "role": "nurse", "created_at": WHEN,
         "last_seen_at": WHEN, "ended_at": None, "end_reason": None, "cis2_access_token": None,
         "cis2_token_expires_at": None, "launch_iss": "https://epr.example.nhs.uk/fhir",
         "launch_nhs_number": "9990101000", "launch_encounter": "stay-7", "launch_write_back": "neonatal"},
    ]  # fmt: skip
    stay = "https://epr.example.nhs.uk/fhir/Encounter/stay-7"
    rows["assessment"] = [{**row, "encounter": stay if row["id"] == "a-2" else None} for row in rows["assessment"]]
    rows["draft"] = [{**row, "encounter": stay, "target": "neonatal"} for row in rows["draft"]]
    rows["outboxentry"] = [{**row, "target": "neonatal"} for row in rows["outboxentry"]]
    return rows


def _rows_at_0016() -> dict[str, list[dict[str, Any]]]:
    """As at 0015, with the Task check's last clean search timed by NeoSafe's clock."""
    rows = _rows_at_0015()
    rows["tasksweep"] = [{**row, "checked_at": WHEN} for row in rows["tasksweep"]]
    return rows


# What a database holds at each revision, written with that revision's columns. A new revision adds an entry
# (test_every_revision_has_seed_data insists), and the data of the one before it is then upgraded through it.
SEEDS = {
    "0001": _rows_at_0001,
    "0002": _rows_at_0002,
    "0003": _rows_at_0003,
    "0004": _rows_at_0004,
    "0005": _rows_at_0005,
    "0006": _rows_at_0006,
    "0007": _rows_at_0007,
    "0008": _rows_at_0008,
    "0009": _rows_at_0009,
    "0010": _rows_at_0010,
    "0011": _rows_at_0011,
    "0012": _rows_at_0012,
    "0013": _rows_at_0013,
    "0014": _rows_at_0014,
    "0015": _rows_at_0015,
    "0016": _rows_at_0016,
}


async def _seed(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        for name, rows in SEEDS[revision]().items():
            await connection.execute(sa.insert(_table(name, *rows[0])), rows)


async def _check_seed_is_readable(engine: AsyncEngine) -> None:
    """Today's models read back everything SEEDS wrote, whichever revision wrote it."""
    async with session_factory(engine)() as session:
        amended, current = await session.get(Assessment, "a-1"), await session.get(Assessment, "a-2")
        entry, draft, event = (
            await session.get(OutboxEntry, "o-1"),
            await session.get(Draft, "d-1"),
            await session.get(AuditEvent, 1),
        )
        sign_in, held = await session.get(SignIn, "s-1"), await session.get(HeldAnswers, "h-1")
    assert (amended.status, current.amends, current.version, current.created_at) == ("amended", "a-1", 2, WHEN)
    assert (entry.assessment_id, entry.state, entry.attempts, entry.next_attempt_at) == ("a-2", "retrying", 2, WHEN)
    assert (draft.checkpoint, draft.updated_at) == ("discharge", WHEN)
    assert (event.action, event.nhs_number, event.at) == ("view-picture", "9990101000", WHEN)
    if sign_in is not None:  # written from 0005 on
        assert (sign_in.user_id, sign_in.end_reason, held.user_id) == ("n", "idle", "n")
    async with session_factory(engine)() as session:
        cis2 = await session.get(SignIn, "s-2")
        launched = await session.get(SignIn, "s-3")
    if cis2 is not None:  # written from 0013 on
        assert (cis2.cis2_access_token, cis2.ended_at) == ("cis2-token", None)
    if launched is not None:  # written from 0015 on
        assert (launched.launch_encounter, launched.launch_write_back) == ("stay-7", "neonatal")
    await _check_facts(engine)


async def _check_facts(engine: AsyncEngine) -> None:
    """The rows of what each version says are those app.assessments.facts makes of its stored JSON, whether
    revision 0012 filled them from an earlier revision's data or they were written with the version."""
    async with session_factory(engine)() as session:
        found = {
            "assessmentanswer": [r.model_dump() for r in (await session.exec(select(AssessmentAnswer))).all()],
            "assessmenttask": [r.model_dump() for r in (await session.exec(select(AssessmentTask))).all()],
            "assessmentsource": [r.model_dump() for r in (await session.exec(select(AssessmentSource))).all()],
        }
        versions = [await session.get(Assessment, id_) for id_ in ("a-1", "a-2")]
        bundle = json.loads((await session.get(OutboxEntry, "o-1")).bundle_json)
    made = {
        "assessmentanswer": [r.model_dump() for v in versions for r in answer_rows(v.id, json.loads(v.response_json))],
        "assessmenttask": [r.model_dump() for r in task_rows("a-2", bundle)],
        "assessmentsource": [r.model_dump() for v in versions for r in source_rows(v.id, json.loads(v.sources_json))],
    }

    def ordered(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted(rows, key=lambda r: (r["assessment_id"], r.get("position", 0), r.get("source", "")))

    assert {k: ordered(v) for k, v in found.items()} == {k: ordered(v) for k, v in made.items()} == FACTS


async def _downgrade(engine: AsyncEngine, revision: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def _tables(engine: AsyncEngine) -> set[str]:
    async with engine.connect() as connection:
        return set(await connection.run_sync(lambda sync: sa.inspect(sync).get_table_names()))


@pytest.fixture
async def engine(settings) -> AsyncIterator[AsyncEngine]:
    """A new, empty database (SQLite, or PostgreSQL with NEOSAFE_TEST_DATABASE_URL)."""
    engine = make_engine(settings.database_url)
    yield engine
    await engine.dispose()


def test_the_revisions_form_one_line():
    assert SCRIPTS.get_heads() == [head_revision()]
    assert REVISIONS[-1] == head_revision()


def test_every_revision_has_seed_data():
    assert list(SEEDS) == REVISIONS


async def test_upgrade_creates_every_table_in_an_empty_database(engine):
    await upgrade(engine)

    assert await _tables(engine) == TABLES | {"alembic_version"}
    assert await current_revision(engine) == head_revision()


# Each revision upgraded from the one before it, holding that one's data; and head to head, a no-op.
STEPS = [*pairwise(REVISIONS), (REVISIONS[-1], REVISIONS[-1])]


@pytest.mark.parametrize(("before", "after"), STEPS, ids=[f"{b}-to-{a}" for b, a in STEPS])
async def test_data_written_at_a_revision_survives_the_upgrade_from_it(engine, before, after):
    await upgrade(engine, before)
    await _seed(engine, before)

    await upgrade(engine, after)

    assert await current_revision(engine) == after
    if after == head_revision():
        await _check_seed_is_readable(engine)


async def test_downgrade_to_base_and_upgrade_again(engine):
    await upgrade(engine)

    await _downgrade(engine, "base")
    assert await _tables(engine) == {"alembic_version"}
    assert await current_revision(engine) is None

    await upgrade(engine)
    await _seed(engine, head_revision())
    await _check_seed_is_readable(engine)


async def test_models_and_migrations_agree(engine):
    await upgrade(engine)

    async with engine.connect() as connection:
        differences = await connection.run_sync(
            lambda sync: compare_metadata(
                MigrationContext.configure(sync, opts={"compare_type": True}), SQLModel.metadata
            )
        )

    assert differences == []


async def test_instances_upgrading_at_once_take_turns(settings):
    if not settings.database_url.startswith("postgresql"):
        pytest.skip("several instances share a database only on PostgreSQL")
    engines = [make_engine(settings.database_url) for _ in range(3)]
    try:
        await asyncio.gather(*(upgrade(e) for e in engines))
        assert await current_revision(engines[0]) == head_revision()
    finally:
        for e in engines:
            await e.dispose()


async def test_start_up_refuses_a_database_behind_the_migrations_unless_told_to_migrate(settings, sources):
    settings.migrate_on_start = False
    app = create_app(settings, sources=sources)
    with pytest.raises(SchemaNotReady, match="neosafe db upgrade"):
        async with app.router.lifespan_context(app):
            pass
    await app.state.checkpoints.sessions.kw["bind"].dispose()  # a real process would exit here

    settings.migrate_on_start = True
    app = create_app(settings, sources=sources)
    async with app.router.lifespan_context(app):
        pass

    settings.migrate_on_start = False
    app = create_app(settings, sources=sources)
    async with app.router.lifespan_context(app):  # at head now: starts without migrating
        pass


async def test_an_older_instance_carries_on_with_a_schema_migrated_for_a_newer_one(engine, caplog):
    await upgrade(engine)
    async with engine.begin() as connection:
        await connection.execute(sa.text("UPDATE alembic_version SET version_num = 'from-a-newer-neosafe'"))

    await prepare(engine, migrate=False)

    assert "from-a-newer-neosafe is newer than this NeoSafe's" in caplog.text


def test_neosafe_db_upgrade_applies_the_migrations(settings, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("NEOSAFE_LOG_FORMAT", "text")

    main(["db", "upgrade"])

    assert f"is at revision {head_revision()}" in capsys.readouterr().out

    async def revision() -> str | None:
        engine = make_engine(settings.database_url)
        try:
            return await current_revision(engine)
        finally:
            await engine.dispose()

    assert asyncio.run(revision()) == head_revision()
