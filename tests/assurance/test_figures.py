"""Each assurance figure computed from a seeded history with known answers, exactly (issue 19), on SQLite or, with
NEOSAFE_TEST_DATABASE_URL, PostgreSQL; and the CSV of them read back whole."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.assessments import make_engine, save_assessment, session_factory, upgrade
from app.assurance import read_csv, to_csv
from app.assurance.answers import RaisedTask
from app.assurance.figures import closure_outcome, compute, owner_key
from app.assurance.history import Closure, read_history
from app.checkpoints import WITHHELD
from app.forms import load_checklists, load_measures
from app.picture import load_mappings
from tests.assurance.seeded import EXPECTED, PERIOD, household, response, seed_history

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 12, 2, tzinfo=UTC)
LABELS = load_mappings(ROOT / "fhir_mappings").source_labels


@pytest.fixture
async def sessions(settings) -> AsyncIterator:
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    factory = session_factory(engine)
    await seed_history(factory)
    yield factory
    await engine.dispose()


async def figures(sessions, *, sees_restricted: bool = True, source_labels: dict[str, str] | None = None):
    checklists = load_checklists(ROOT / "checklists")
    measures = load_measures(ROOT / "fhir_mappings", checklists)
    history = await read_history(sessions, PERIOD.start, PERIOD.end, measures)
    source_labels = LABELS if source_labels is None else source_labels
    titles = {c: c for c in ("admission", "transfer", "discharge", "review-72h", "weekly", "father-day7")}
    return compute(
        history,
        measures,
        PERIOD,
        now=NOW,
        titles=titles,
        source_labels=source_labels,
        sees_restricted=sees_restricted,
    )


def counts(figure) -> dict[tuple[str, str], int]:
    return {(m, o): n for m in figure.months for o, _ in figure.outcomes if (n := figure.count(m, o))}


async def test_every_figure_counts_exactly_what_the_seeded_history_holds(sessions):
    found = {f.key: f for f in await figures(sessions)}
    assert {key: counts(f) for key, f in found.items()} == EXPECTED


async def test_the_babies_behind_a_figure_are_those_it_counts(sessions):
    found = {f.key: f for f in await figures(sessions)}
    late = found["timeliness-admission"].babies[("2026-10", "late")]
    assert [(b.nhs_number, b.assessment_id) for b in late] == [("9990000022", "b-adm-2")]  # the latest version
    assert late[0].note == "30 h after NeoSafe first saw the baby"
    assert [b.nhs_number for b in found["timeliness-admission"].babies[("2026-11", "missing")]] == ["9990000033"]
    override = found["overrides"].babies[("2026-10", "nurse")][0]
    assert override.note == "concern-at-discharge, by Alex Morgan: Consultant reviewed"


async def test_an_override_reason_is_withheld_from_a_role_that_cannot_see_restricted_detail(sessions):
    found = {f.key: f for f in await figures(sessions, sees_restricted=False)}
    assert {b.note for bs in found["overrides"].babies.values() for b in bs} == {WITHHELD}


async def test_the_csv_reads_back_as_every_figure(sessions):
    found = await figures(sessions)
    back = read_csv(to_csv(found))
    assert back == {(f.key, m, o): f.count(m, o) for f in found for m in f.months for o, _ in f.outcomes}
    assert {k: v for k, v in back.items() if v} == {
        (key, m, o): n for key, cells in EXPECTED.items() for (m, o), n in cells.items()
    }


async def test_a_checklist_stored_and_amended_through_the_store_counts_as_its_latest_version(sessions):
    stored = {"nhs_number": "9990000066", "checkpoint": "admission", "questionnaire": "admission|1", "records": []}
    for id_, recorded, amends, day in (("f-adm", "yes", None, 9), ("f-adm-2", "no", "f-adm", 10)):
        await save_assessment(
            sessions,
            assessment_id=id_,
            response=json.loads(response("admission", household(recorded))),
            sources=[{"name": "maternity", "status": "unavailable"}],
            bundle={"entry": []},
            author_id="demo-nurse",
            author_role="nurse",
            now=datetime(2026, 11, day, 12, tzinfo=UTC),
            amends=amends,
            version=2 if amends else 1,
            **stored,
        )

    found = {f.key: f for f in await figures(sessions)}

    assert counts(found["father-recorded"]) == {**EXPECTED["father-recorded"], ("2026-11", "no"): 1}
    assert [b.assessment_id for b in found["father-recorded"].babies[("2026-11", "no")]] == ["f-adm-2"]
    assert counts(found["sources-maternity"]) == {**EXPECTED["sources-maternity"], ("2026-11", "unavailable"): 2}


async def test_the_answered_pictures_are_counted_not_listed(sessions):
    found = {f.key: f for f in await figures(sessions)}
    maternity = found["sources-maternity"]
    assert maternity.count("2026-10", "answered") == 2 and not maternity.listed("answered")
    assert [(b.nhs_number, b.assessment_id) for b in maternity.babies[("2026-10", "unavailable")]] == [
        ("9990000022", "b-adm-2")
    ]
    tasks = found["tasks"]
    assert sorted((b.assessment_id, b.note) for b in tasks.babies[("2026-10", owner_key("Safeguarding team"))]) == [
        ("a-adm", "due 2026-10-03"),
        ("a-adm", "due 2026-10-03"),
        ("a-adm", "due 2026-10-05"),
        ("b-adm-2", ""),
    ]
    assert [b.note for b in tasks.babies[("2026-10", "cancelled")]] == [
        "Named neonatal nurse: withdrawn by an amendment"
    ]


def test_a_task_owner_s_key_is_plain_short_and_stable():
    long = "Named nurse for safeguarding (out of hours: on-call paediatric consultant)"
    assert owner_key(long) == owner_key(long) != owner_key(long + ".")
    assert len(owner_key(long)) <= 60 and re.fullmatch(r"[a-z0-9-]+", owner_key(long))
    assert owner_key("Safeguarding team").startswith("safeguarding-team-")


async def test_a_source_s_figure_is_titled_by_its_name_as_the_pages_give_it_not_its_key(sessions):
    found = {f.key: f for f in await figures(sessions)}
    assert found["sources-maternity"].title == "Pictures where the source was unavailable: Maternity record"
    assert found["sources-police-gp"].title == (
        "Pictures where the source was unavailable: Police and GP safeguarding notices"
    )


async def test_a_source_sources_toml_no_longer_names_is_titled_by_its_key(sessions):
    found = {f.key: f for f in await figures(sessions, source_labels={"maternity": "Maternity record"})}
    assert found["sources-police-gp"].title == "Pictures where the source was unavailable: police-gp"


def notes(figure, month: str, outcome: str) -> list[str]:
    return [b.note for b in figure.babies.get((month, outcome), [])]


async def test_what_became_of_each_task_says_when_it_closed_and_when_it_was_last_checked(sessions):
    found = {f.key: f for f in await figures(sessions)}
    team = found[f"task-closure-{owner_key('Safeguarding team')}"]
    nurse = found[f"task-closure-{owner_key('Named neonatal nurse')}"]
    assert team.title == "Tasks closed on time or overdue: Safeguarding team"
    assert notes(team, "2026-10", "on-time") == [
        "due 2026-10-03; completed 03 October 2026 23:00 (UK time) (by its lastModified)"
    ]
    assert notes(team, "2026-10", "late") == [
        "due 2026-10-03; completed 04 October 2026 00:30 (UK time) (by its lastModified)"
    ]
    assert notes(team, "2026-10", "not-checked") == [
        "no due date; not checked since it was raised 11 October 2026 15:00 (UK time)"
    ]
    assert notes(nurse, "2026-10", "overdue") == [
        "due 2026-10-05; still open when checked 30 November 2026 12:00 (UK time)"
    ]
    assert notes(nurse, "2026-10", "not-checked") == [
        "due 2026-10-05; not checked since 04 October 2026 13:00 (UK time), when it was open",
        "due 2026-10-05; its status 'on-the-way' is not one NeoSafe knows (checked 30 November 2026 12:00 (UK time))",
    ]
    assert notes(nurse, "2026-11", "withdrawn") == [
        "cancelled 20 November 2026 12:00 (UK time) (when NeoSafe first saw it closed) in the record"
    ]
    assert notes(nurse, "2026-11", "not-yet-due") == ["no due date; open when checked 01 December 2026 12:00 (UK time)"]


async def test_a_task_open_when_last_checked_reads_overdue_only_once_a_check_after_its_due_day_found_it_open(sessions):
    """The same open Task, checked the day before it fell due: not checked (never silently overdue) until checked
    again after it fell due; a Task the watch job has never seen is not checked whatever the date."""
    task = RaisedTask("x", 0, "x/t", "Safeguarding team", "2026-11-10", "requested")
    raised = datetime(2026, 11, 9, 9, tzinfo=UTC)
    before = Closure("requested", None, None, datetime(2026, 11, 10, 22, tzinfo=UTC))  # 22:00 on its due day
    after = Closure("requested", None, None, datetime(2026, 11, 11, 0, 30, tzinfo=UTC))
    assert closure_outcome(task, before, raised_at=raised, now=datetime(2026, 11, 10, 23, tzinfo=UTC))[0] == (
        "not-yet-due"
    )
    assert closure_outcome(task, before, raised_at=raised, now=NOW)[0] == "not-checked"
    assert closure_outcome(task, after, raised_at=raised, now=NOW)[0] == "overdue"
    assert closure_outcome(task, None, raised_at=raised, now=NOW)[0] == "not-checked"
