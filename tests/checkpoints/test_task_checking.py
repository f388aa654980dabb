"""Whether the Tasks NeoSafe wrote were closed, and when (issue 19): the watch job's check against a real sandbox FHIR
server of this module's own, on a real database (SQLite, or PostgreSQL with NEOSAFE_TEST_DATABASE_URL).

NeoSafe's checklists' Tasks are rows a stored checklist keeps (written here as save_assessment keeps them); the
Tasks themselves are put on the sandbox's unit record, as the outbox would, then closed, reopened or spoiled there
as a person (or a careless system) would.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.assessments import Assessment, TaskState, task_rows, task_states
from app.checkpoints import Checkpoints
from app.checkpoints.task_checking import closure
from app.config import Settings, SourceSettings
from app.fhir_systems import NHS_NUMBER_SYSTEM, TASK_ID_SYSTEM
from sandbox import Sandbox
from tests.conftest import make_settings, unseeded, write_sources
from tests.factories import new_nhs_number
from tests.web.test_sessions import Clock, audited


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The unit's record alone, unseeded: it holds only this module's Tasks."""
    with unseeded(tmp_path_factory.mktemp("task-checking"), ("neonatal",)) as running:
        yield running


@pytest.fixture(scope="module")
def own_sources(own_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> list[SourceSettings]:
    return write_sources(own_sandbox, tmp_path_factory.mktemp("task-checking-sources"))


@dataclass
class Unit:
    services: Checkpoints
    settings: Settings
    clock: Clock
    neonatal: httpx.Client
    record_id: str
    baby: str

    def key(self, name: str) -> str:
        return f"{self.record_id}/{name}"

    def put(self, name: str, status: str, *, baby: str | None = None, key: str | None = None, **extra) -> None:
        """The Task with this key, as the record now holds it (made, or changed in place)."""
        task = {
            "resourceType": "Task",
            "identifier": [{"system": TASK_ID_SYSTEM, "value": key or self.key(name)}],
            "status": status,
            "intent": "order",
            "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": baby or self.baby}},
            "owner": {"display": "Safeguarding team"},
            **extra,
        }
        found = self.neonatal.get("Task", params={"identifier": f"{TASK_ID_SYSTEM}|{key or self.key(name)}"}).json()
        mine = [e["resource"] for e in found.get("entry") or [] if e["resource"]["for"] == task["for"]]
        if mine:
            self.neonatal.put(f"Task/{mine[0]['id']}", json={**task, "id": mine[0]["id"]}).raise_for_status()
        else:
            self.neonatal.post("Task", json=task).raise_for_status()

    async def check(self, *, seconds: float = 60):
        self.clock.wait(seconds=seconds)
        return await self.services.check_tasks(self.clock())

    async def states(self) -> dict[str, TaskState]:
        return {k.split("/", 1)[1]: s for k, s in (await task_states(self.services.sessions)).items()}


async def written(services: Checkpoints, record_id: str, baby: str, names: list[str], at: datetime) -> None:
    """An admission checklist, stored as save_assessment keeps it, that wrote a Task for each of `names`."""
    bundle = {
        "entry": [
            {"resource": {"resourceType": "Task", "status": "requested", "owner": {"display": "Safeguarding team"},
                          "identifier": [{"system": TASK_ID_SYSTEM, "value": f"{record_id}/{n}"}],
                          "restriction": {"period": {"end": "2026-10-03"}}}}
            for n in names
        ]
    }  # fmt: skip
    async with services.sessions() as session:
        session.add(
            Assessment(
                id=record_id, nhs_number=baby, checkpoint="admission", questionnaire="admission|1",
                response_json=json.dumps({"resourceType": "QuestionnaireResponse"}), sources_json="[]",
                author_id="demo-nurse", author_role="nurse", status="completed", version=1, created_at=at,
            )
        )  # fmt: skip
        await session.flush()
        session.add_all(task_rows(record_id, bundle))
        await session.commit()


def build(settings: Settings, sources: list[SourceSettings], clock: Clock, transport=None) -> Checkpoints:
    return Checkpoints.wire(settings, sources=sources, clock=clock, transport=transport)


@pytest.fixture
async def unit(own_sandbox: Sandbox, own_sources: list[SourceSettings], tmp_path: Path) -> AsyncIterator[Unit]:
    settings = make_settings(tmp_path).model_copy(update={"outbox_worker": False})
    clock = Clock()
    services = build(settings, own_sources, clock)
    with httpx.Client(base_url=own_sandbox.urls["neonatal"] + "/", timeout=30) as neonatal:
        async with services.running():
            record_id, baby = str(uuid.uuid4()), new_nhs_number()
            await written(services, record_id, baby, ["open", "done", "done-undated", "odd", "late"], clock())
            yield Unit(services, settings, clock, neonatal, record_id, baby)


async def test_a_check_keeps_each_task_s_status_and_when_it_was_closed(unit: Unit):
    unit.put("open", "requested")
    unit.put("done", "completed", lastModified="2026-10-02T09:15:00+01:00")
    unit.put("done-undated", "completed", lastModified="2026-10")  # a partial date: not an instant to time it by
    unit.put("odd", "on-the-way")  # a status NeoSafe does not know: kept as given, never read as closed

    done = await unit.check()

    assert (done.searched, done.seen, done.closed) == ("full", 4, 2)
    states = await unit.states()
    now = unit.clock()
    assert {n: (s.status, s.closed_from) for n, s in states.items()} == {
        "open": ("requested", None),
        "done": ("completed", "lastModified"),
        "done-undated": ("completed", "seen"),
        "odd": ("on-the-way", None),
    }
    assert _utc(states["done"].closed_at) == datetime(2026, 10, 2, 8, 15, tzinfo=UTC)
    assert _utc(states["done-undated"].closed_at) == now  # when NeoSafe first saw it closed
    assert "late" not in states  # not on the server yet (not delivered): not checked, never "open"
    [event] = await audited(unit.settings.database_url, "task-check")
    assert (event.user_id, event.nhs_number, event.detail) == ("neosafe-watch", None, "full: 4 seen, 2 closed")


async def test_a_closure_is_timed_once_and_a_reopened_task_is_open_again(unit: Unit):
    unit.put("late", "completed")
    await unit.check()
    first = (await unit.states())["late"]

    later = await unit.check(seconds=3600)  # still completed an hour later: its closure stays when first seen

    assert later.searched == "updated" and later.closed == 0  # the sandbox declares _lastUpdated: only changes
    again = (await unit.states())["late"]
    assert _utc(again.closed_at) == _utc(first.closed_at) and _utc(again.checked_at) == unit.clock()

    unit.put("late", "in-progress")  # reopened in the record
    await unit.check()
    reopened = (await unit.states())["late"]
    assert (reopened.status, reopened.closed_at, reopened.closed_from) == ("in-progress", None, None)


async def test_tasks_about_another_baby_or_not_neosafe_s_are_left_out(unit: Unit):
    unit.put("open", "completed", baby=new_nhs_number())  # NeoSafe's key, but for a baby it did not write it for
    unit.put("stranger", "completed", key=f"{uuid.uuid4()}/x")  # a key NeoSafe never wrote

    done = await unit.check()

    assert done.seen == 0 and done.ignored >= 2
    assert await unit.states() == {}


async def test_a_failing_server_changes_nothing_and_logs_no_patient_data(unit: Unit, caplog):
    unit.put("open", "requested")
    await unit.check()
    before = await unit.states()
    closed = [s.model_copy(update={"base_url": "http://127.0.0.1:9"}) for s in unit.services.sources]
    blind = build(unit.settings, closed, unit.clock)
    async with blind.running():
        unit.clock.wait(seconds=60)
        done = await blind.check_tasks(unit.clock())

    assert done.searched == "not-run" and done.error
    assert await unit.states() == before  # last known state, last checked as before
    assert "task check: the write-back source could not be searched (SourceUnavailable)" in caplog.text
    assert unit.baby not in caplog.text and unit.record_id not in caplog.text
    events = await audited(unit.settings.database_url, "task-check")
    assert events[-1].detail == "not run: SourceUnavailable"


async def test_an_unreadable_entry_leaves_every_task_unseen_as_last_known_and_not_marked_checked(
    unit: Unit, own_sources
):
    unit.put("open", "requested")
    await unit.check()
    async with unit.services.sessions() as session:  # seen before, and not changed since: not in a search of changes
        session.add(TaskState(key=unit.key("late"), status="requested", checked_at=unit.clock()))
        await session.commit()
    checked_before = (await unit.states())["late"].checked_at

    async def spoiled(request: httpx.Request) -> httpx.Response:
        """The real server's answer, with one Task in it that is not FHIR (as a careless server might send)."""
        async with httpx.AsyncClient() as real:
            answer = await real.send(request)
        body = answer.json()
        if request.url.path.endswith("/Task") and body.get("resourceType") == "Bundle":
            body.setdefault("entry", []).append({"resource": {"resourceType": "Task", "status": 7, "for": "x"}})
        return httpx.Response(answer.status_code, json=body)

    careless = build(unit.settings, own_sources, unit.clock, transport=httpx.MockTransport(spoiled))
    unit.put("open", "completed", lastModified="2026-10-02T09:00:00Z")
    async with careless.running():
        unit.clock.wait(seconds=60)
        done = await careless.check_tasks(unit.clock())

    assert (done.searched, done.problems, done.closed) == ("updated", 1, 1)  # the readable changed Task is kept...
    states = await unit.states()
    assert states["open"].status == "completed"
    assert _utc(states["late"].checked_at) == _utc(checked_before)  # ...the others are not vouched for
    clean = await unit.check()  # the next check asks again from the last clean one, and vouches for them
    assert clean.searched == "updated" and _utc((await unit.states())["late"].checked_at) == unit.clock()


async def test_the_watch_pass_runs_the_check(unit: Unit):
    unit.put("open", "requested")
    unit.clock.wait(seconds=unit.settings.watch_interval_s)

    done = await unit.services.watch_once()

    assert done.task_check is not None and done.task_check.seen == 1


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


async def test_every_page_of_the_search_is_followed(unit: Unit):
    """More of NeoSafe's Tasks than one page holds (100 a page): all are kept."""
    names = [f"many-{i}" for i in range(130)]
    await written(unit.services, f"{unit.record_id}-many", unit.baby, names, unit.clock())
    entries = [
        {
            "resource": {
                "resourceType": "Task",
                "identifier": [{"system": TASK_ID_SYSTEM, "value": f"{unit.record_id}-many/{n}"}],
                "status": "completed",
                "intent": "order",
                "for": {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": unit.baby}},
            },
            "request": {"method": "POST", "url": "Task"},
        }
        for n in names
    ]
    unit.neonatal.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries}).raise_for_status()

    done = await unit.check()

    assert (done.seen, done.closed, done.problems) == (130, 130, 0)


def test_a_lastmodified_from_before_a_check_found_the_task_open_does_not_time_its_closure():
    """Task.lastModified is written by whoever updates the Task: one left from before it closed is not its time."""
    seen_open = TaskState(key="k", status="requested", checked_at=datetime(2026, 10, 5, 12, tzinfo=UTC))
    now = datetime(2026, 10, 6, tzinfo=UTC)
    stale = closure(seen_open, "completed", "2026-10-02T09:00:00Z", key="k", now=now)
    assert (stale.closed_at, stale.closed_from) == (now, "seen")
    fresh = closure(seen_open, "completed", "2026-10-05T18:00:00Z", key="k", now=now)
    assert (fresh.closed_at, fresh.closed_from) == (datetime(2026, 10, 5, 18, tzinfo=UTC), "lastModified")


async def test_a_task_of_neosafe_s_now_about_another_baby_is_not_marked_checked_by_a_search_for_changes(unit: Unit):
    unit.put("open", "requested")
    await unit.check()
    first = (await unit.states())["open"].checked_at
    found = unit.neonatal.get("Task", params={"identifier": f"{TASK_ID_SYSTEM}|{unit.key('open')}"}).json()
    task = found["entry"][0]["resource"]
    task["for"] = {"identifier": {"system": NHS_NUMBER_SYSTEM, "value": new_nhs_number()}}
    unit.neonatal.put(f"Task/{task['id']}", json=task).raise_for_status()

    done = await unit.check()

    assert done.searched == "updated" and done.ignored >= 1
    assert (await unit.states())["open"].checked_at == first  # left out: as last known, and not checked since


async def test_a_task_gone_from_the_record_is_not_marked_checked_again_once_a_full_search_has_not_found_it(
    unit: Unit,
):
    unit.put("open", "requested")
    unit.put("done", "completed")  # another Task stays in the record
    await unit.check()
    found = unit.neonatal.get("Task", params={"identifier": f"{TASK_ID_SYSTEM}|{unit.key('open')}"}).json()
    unit.neonatal.delete(f"Task/{found['entry'][0]['resource']['id']}").raise_for_status()
    assert (await unit.check(seconds=25 * 3600)).searched == "full"  # the daily full search does not find it
    after_full = (await unit.states())["open"].checked_at

    later = await unit.check()  # a search for changes: nothing changed

    assert later.searched == "updated"
    states = await unit.states()
    assert states["open"].checked_at == after_full  # not vouched for again: "not checked since"
    assert _utc(states["done"].checked_at) == unit.clock()  # one the full search found still is
