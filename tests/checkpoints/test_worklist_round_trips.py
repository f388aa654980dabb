"""No N+1 (issue 15 item 4): the worklist of 60 babies asks the unit's source for the census and one Task search,
never the other sources, reads the saved checklists in one query, and gathers no picture of its own."""

from __future__ import annotations

import re
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx
from sqlalchemy import event

from app.checkpoints import DEMO_USERS, Checkpoints
from tests.factories import create, make_patient, new_nhs_number

PAGE = 100  # the census's page size (Pictures.census)


class Counting(httpx.AsyncBaseTransport):
    """Every request, counted by the port it went to, then sent for real."""

    def __init__(self) -> None:
        self.sent: Counter[int] = Counter()
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.sent[request.url.port] += 1
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


def sixty_on_the_unit(neonatal: httpx.Client) -> list[str]:
    numbers = [new_nhs_number() for _ in range(60)]
    admitted = (datetime.now(UTC) - timedelta(hours=30)).isoformat(timespec="seconds")
    resources = []
    for n in numbers:
        patient = f"nn-test-{n}"
        resources += [
            make_patient(patient, n),
            {
                "resourceType": "Encounter",
                "id": f"{patient}-enc",
                "status": "in-progress",
                "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
                "subject": {"reference": f"Patient/{patient}"},
                "period": {"start": admitted},
            },
            {
                "resourceType": "Task",
                "id": f"{patient}-task",
                "status": "requested",
                "intent": "order",
                "for": {"reference": f"Patient/{patient}"},
                "restriction": {"period": {"end": "2026-01-01"}},
            },
        ]
    create(neonatal, *resources)
    return numbers


async def test_sixty_babies_cost_the_census_one_task_search_and_one_query_per_table(settings, sources, fhir):
    babies = sixty_on_the_unit(fhir["neonatal"])
    counting = Counting()
    checkpoints = Checkpoints.wire(settings, sources=sources, transport=counting)
    async with checkpoints.running():
        await checkpoints.worklist(DEMO_USERS["nurse"])  # what a started service has read once (capabilities)
        counting.sent.clear()
        statements: list[str] = []
        event.listen(checkpoints.engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        worklist = await checkpoints.worklist(DEMO_USERS["nurse"])

    ports = {s.name: httpx.URL(str(s.base_url)).port for s in sources}
    rows = {r.nhs_number: r for r in worklist.rows}
    assert set(babies) <= set(rows)
    assert all(len(rows[b].overdue_tasks) == 1 and rows[b].summary is None for b in babies)  # nothing gathered
    census_pages = -(-len(rows) // PAGE)
    assert counting.sent[ports["neonatal"]] == census_pages + 1  # at most 2 for a unit of up to 100 babies
    assert all(counting.sent[port] == 0 for name, port in ports.items() if name != "neonatal")
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    tables = [re.search(r"\bFROM (\w+)", s).group(1).lower() for s in reads]  # the unit's, in one query each
    assert sorted(tables) == ["assessment", "newinformation", "watchedbaby"]


class TasksDown(httpx.AsyncBaseTransport):
    """The unit's source answers everything but its Task searches, which it answers 503."""

    def __init__(self) -> None:
        self._real = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if "Task" in request.url.path or (request.method == "POST" and b"Task?" in request.content):
            return httpx.Response(503, json={"resourceType": "OperationOutcome", "issue": []})
        return await self._real.handle_async_request(request)

    async def aclose(self) -> None:
        await self._real.aclose()


async def test_tasks_that_cannot_be_read_are_not_checked_never_none(settings, sources, fhir):
    baby = sixty_on_the_unit(fhir["neonatal"])[0]
    async with Checkpoints.wire(settings, sources=sources, transport=TasksDown()).running() as checkpoints:
        worklist = await checkpoints.worklist(DEMO_USERS["nurse"])

    [row] = [r for r in worklist.rows if r.nhs_number == baby]
    assert worklist.tasks_error and row.tasks is None and row.overdue_tasks == []
