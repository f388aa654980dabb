"""Watching the stay (issue 15 item 2), over HTTP against sandbox sources of this module's own (so a pass watches
only this module's babies) and NeoSafe served on the same database, passes run as the job runs them.

A police notice added to a source during the stay shows on the worklist and the baby's page after one pass, raises
one task for the safeguarding team however many passes follow, and clears only when a nurse acknowledges it.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.checkpoints import DEMO_USERS, Checkpoints
from app.cli import main
from app.config import Settings, SourceSettings
from app.fhir_systems import NEW_INFORMATION_ID_SYSTEM
from app.main import create_app
from sandbox import Sandbox
from tests.conftest import SECRET, make_settings, signed_in_browser, unseeded, write_sources
from tests.factories import create, make_flag, make_patient, on_the_unit
from tests.servers import serving
from tests.web.test_sessions import Clock, audited

POLICE_NOTICE = "895141000000105"  # Police domestic incident report received (domestic-abuse, categories.toml)
ALCOHOL = "15167005"  # Alcohol abuse: a record, but not of a category the watch job raises (watch.toml)
CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)"')
FINDING = re.compile(r'name="finding" value="([^"]+)"')
RESTRICTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"}
ROW = re.compile(r'data-testid="worklist-row" data-nhs-number="(\d{10})".*?</tr>', re.S)


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The unit's record and a police/GP source, unseeded: the unit holds only this module's babies."""
    with unseeded(tmp_path_factory.mktemp("watched"), ("neonatal", "police-gp")) as running:
        yield running


@pytest.fixture(scope="module")
def own_sources(own_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> list[SourceSettings]:
    return write_sources(own_sandbox, tmp_path_factory.mktemp("watched-sources"))


@dataclass
class Unit:
    services: Checkpoints  # the watch job's instance
    url: str  # NeoSafe's pages, on the same database
    settings: Settings
    clock: Clock
    neonatal: httpx.Client
    police: httpx.Client

    async def pass_once(self):
        self.clock.wait(seconds=self.settings.watch_interval_s)  # the next interval: the lease has run out
        return await self.services.watch_once()


@pytest.fixture
async def unit(own_sandbox: Sandbox, own_sources: list[SourceSettings], tmp_path: Path) -> AsyncIterator[Unit]:
    settings = make_settings(tmp_path).model_copy(update={"outbox_worker": False})
    clock = Clock()
    services = Checkpoints.wire(settings, sources=own_sources, clock=clock)
    with (
        httpx.Client(base_url=own_sandbox.urls["neonatal"] + "/", timeout=30) as neonatal,
        httpx.Client(base_url=own_sandbox.urls["police-gp"] + "/", timeout=30) as police,
        serving(create_app(settings, sources=own_sources, clock=clock)) as url,
    ):
        async with services.running():
            yield Unit(services, url, settings, clock, neonatal, police)


def admitted_with_police_record(unit: Unit) -> str:
    """A baby on the unit for an hour, whom the police/GP source holds too (so it is asked about them)."""
    baby = on_the_unit(unit.neonatal, datetime.now(UTC) - timedelta(hours=1))
    create(unit.police, make_patient(f"pg-{baby}", baby))
    return baby


def row_of(page: httpx.Client, baby: str, path: str = "/") -> str:
    html = page.get(path).raise_for_status().text
    return next((m.group(0) for m in ROW.finditer(html) if m.group(1) == baby), "")


def tasks_for(unit: Unit, finding_ids: list[str]) -> list[dict]:
    found = []
    for key in finding_ids:
        bundle = unit.neonatal.get("Task", params={"identifier": f"{NEW_INFORMATION_ID_SYSTEM}|{key}"}).json()
        found += [e["resource"] for e in bundle.get("entry") or []]
    return found


async def test_a_police_notice_added_during_the_stay_shows_after_one_pass_raises_one_task_and_clears_on_acknowledgement(
    unit: Unit,
):
    baby = admitted_with_police_record(unit)
    first = await unit.pass_once()
    assert first.ran and first.found == 0  # the first look is the baseline: nothing is new yet
    with signed_in_browser(unit.url, "nurse") as nurse:
        assert "Nothing new found" in row_of(nurse, baby)

        create(unit.police, make_flag(f"pg-{baby}", POLICE_NOTICE), make_flag(f"pg-{baby}", ALCOHOL))
        found = await unit.pass_once()

        assert (found.found, found.tasks_written) == (1, 1)
        row = row_of(nurse, baby)
        assert "Police domestic incident report received" in row and "Alcohol" not in row
        assert row_of(nurse, baby, "/?show=new")
        page = nurse.get(f"/patients/{baby}").raise_for_status().text
        assert 'data-testid="new-information-item"' in page
        ids = FINDING.findall(page)
        [task] = tasks_for(unit, ids)
        assert task["status"] == "requested" and task["owner"]["display"] == "Safeguarding team"
        assert task["for"]["identifier"]["value"] == baby
        assert task["meta"]["security"][0]["code"] == "R"

        again = await unit.pass_once()  # the same record on the next pass: not new again, no second task
        assert (again.found, again.tasks_written) == (0, 0)
        assert len(tasks_for(unit, ids)) == 1 and "Police domestic incident report received" in row_of(nurse, baby)

        token = CSRF.search(page).group(1)
        acknowledged = nurse.post(
            f"/patients/{baby}/new-information/acknowledge",
            data={"csrf": token, "finding": ids},
            follow_redirects=False,
        )
        assert acknowledged.status_code == 303
        assert "Nothing new found" in row_of(nurse, baby)
        assert not row_of(nurse, baby, "/?show=new")
        assert (await unit.pass_once()).found == 0  # acknowledged: it does not come back
        assert "Nothing new found" in row_of(nurse, baby)
    [event] = await audited(unit.settings.database_url, "acknowledge-new-information")
    assert (event.user_id, event.nhs_number, event.detail) == ("demo-nurse", baby, "1 acknowledged")


async def test_a_closed_record_that_is_current_again_is_reopened_information(unit: Unit):
    baby = admitted_with_police_record(unit)
    notice = make_flag(f"pg-{baby}", POLICE_NOTICE, status="inactive", period={"end": "2025-01-01"})
    create(unit.police, notice)
    assert (await unit.pass_once()).found == 0

    create(unit.police, {**notice, "status": "active", "period": {"start": "2026-11-30"}})
    found = await unit.pass_once()

    assert found.found == 1
    [finding] = (await unit.services.new_information(DEMO_USERS["nurse"], [baby]))[baby]
    assert finding.change == "reopened"


async def test_a_source_that_cannot_be_checked_finds_nothing_new_and_is_shown_not_checked(unit: Unit):
    baby = admitted_with_police_record(unit)
    assert (await unit.pass_once()).found == 0
    create(unit.police, make_flag(f"pg-{baby}", POLICE_NOTICE))
    closed = [
        s.model_copy(update={"base_url": "http://127.0.0.1:9"}) if s.name == "police-gp" else s
        for s in unit.services.sources
    ]
    blind = Checkpoints.wire(unit.settings, sources=closed, clock=unit.clock)
    async with blind.running():
        unit.clock.wait(seconds=unit.settings.watch_interval_s)
        failed = await blind.watch_once()
        assert failed.found == 0
        worklist = await blind.worklist(DEMO_USERS["nurse"])
        [row] = [r for r in worklist.rows if r.nhs_number == baby]
        assert any("police" in line.lower() for line in row.not_checked)
    assert (await unit.pass_once()).found == 1  # once it answers again, the notice is new


async def test_roles_see_new_information_as_they_may_and_only_the_units_staff_acknowledge_it(unit: Unit):
    baby = admitted_with_police_record(unit)
    await unit.pass_once()
    create(unit.police, make_flag(f"pg-{baby}", POLICE_NOTICE, meta={"security": [RESTRICTED]}))
    assert (await unit.pass_once()).found == 1

    with signed_in_browser(unit.url, "community-nurse") as community:
        page = community.get(f"/patients/{baby}").raise_for_status().text
        assert "Restricted record" in page and "Police domestic incident report received" not in page
        assert "I have read this new information" not in page
        refused = community.post(
            f"/patients/{baby}/new-information/acknowledge",
            data={"csrf": CSRF.search(page).group(1), "finding": FINDING.findall(page) or ["x"]},
            follow_redirects=False,
        )
        assert refused.status_code == 403
    with signed_in_browser(unit.url, "safeguarding-lead") as lead:
        assert "Police domestic incident report received" in lead.get(f"/patients/{baby}").text
    assert (await unit.services.new_information(DEMO_USERS["nurse"], [baby]))[baby]  # still open: nobody acknowledged


async def test_two_instances_on_one_database_run_the_job_once_per_interval(unit: Unit):
    other = Checkpoints.wire(unit.settings, sources=unit.services.sources, clock=unit.clock)
    async with other.running():
        unit.clock.wait(seconds=unit.settings.watch_interval_s)
        both = await asyncio.gather(unit.services.watch_once(), other.watch_once())
        assert sorted(p.ran for p in both) == [False, True]
        unit.clock.wait(seconds=unit.settings.watch_interval_s / 2)
        assert not any(p.ran for p in await asyncio.gather(unit.services.watch_once(), other.watch_once()))
        unit.clock.wait(seconds=unit.settings.watch_interval_s / 2)
        assert sorted(p.ran for p in await asyncio.gather(other.watch_once(), unit.services.watch_once())) == [
            False,
            True,
        ]


def test_neosafe_watch_once_runs_one_pass_and_a_second_in_the_same_interval_does_not(
    own_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    on_the_unit_of_its_own = tmp_path / "sources.toml"
    on_the_unit_of_its_own.write_text(own_sandbox.sources_toml(), encoding="utf-8")
    for name, value in {
        "DATABASE_URL": make_settings(tmp_path).database_url,
        "NEOSAFE_SECRET_KEY": SECRET,
        "NEOSAFE_MIGRATE_ON_START": "true",
        "NEOSAFE_LOG_FORMAT": "text",
    }.items():
        monkeypatch.setenv(name, value)

    main(["watch", "--once", "--sources", str(on_the_unit_of_its_own)])
    assert re.search(r"^\d+ babies watched, \d+ new findings$", capsys.readouterr().out, re.M)
    main(["watch", "--once", "--sources", str(on_the_unit_of_its_own)])
    assert "not run: another instance watched within this interval" in capsys.readouterr().out


async def test_a_pass_when_the_units_record_cannot_be_read_watches_nobody_and_says_why(unit: Unit):
    closed = [
        s.model_copy(update={"base_url": "http://127.0.0.1:9"}) if s.write_back else s for s in unit.services.sources
    ]
    blind = Checkpoints.wire(unit.settings, sources=closed, clock=unit.clock)
    async with blind.running():
        unit.clock.wait(seconds=unit.settings.watch_interval_s)
        failed = await blind.watch_once()  # no exception: the serving process's log carries a warning, not a trace
    assert failed.ran and failed.babies == 0 and failed.census_error
