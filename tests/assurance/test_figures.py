"""Each assurance figure computed from a seeded history with known answers, exactly (issue 19), on SQLite or, with
NEOSAFE_TEST_DATABASE_URL, PostgreSQL; and the CSV of them read back whole."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.assessments import make_engine, session_factory, upgrade
from app.assurance import load_measures, read_csv, to_csv
from app.assurance.figures import compute
from app.assurance.history import read_history
from app.checkpoints import WITHHELD
from app.forms import load_checklists
from tests.assurance.seeded import EXPECTED, PERIOD, seed_history

ROOT = Path(__file__).parents[2]
NOW = datetime(2026, 12, 2, tzinfo=UTC)


@pytest.fixture
async def sessions(settings) -> AsyncIterator:
    engine = make_engine(settings.database_url)
    await upgrade(engine)
    factory = session_factory(engine)
    await seed_history(factory)
    yield factory
    await engine.dispose()


async def figures(sessions, *, sees_restricted: bool = True):
    checklists = load_checklists(ROOT / "checklists")
    history = await read_history(sessions, PERIOD.start, PERIOD.end)
    measures = load_measures(ROOT / "fhir_mappings", checklists)
    titles = {c: c for c in ("admission", "transfer", "discharge", "review-72h", "weekly", "father-day7")}
    return compute(history, measures, PERIOD, now=NOW, titles=titles, sees_restricted=sees_restricted)


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
