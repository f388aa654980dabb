"""Exactly once through the real fault proxy and real process kills: every assessment ends on the record once.

The proxy (testkit/proxy.py) sits in front of the neonatal (write-back) sandbox server and faults only POSTs that
write (not batches of searches), so the picture's reads pass. `neosafe outbox run` is started as a real process
where a process must die.
`reconcile` (what `neosafe reconcile` runs) is the proof: nothing missing, nothing duplicated.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update
from sqlmodel import select

from app.assessments import ASSESSMENT_TAG_SYSTEM, Assessment, OutboxEntry, deliver_due, reconcile
from app.assessments.models import utcnow
from app.checkpoints import DEMO_USERS, Checkpoints
from app.config import PROJECT_ROOT, Settings, SourceSettings
from app.sources import FhirClient
from sandbox import Sandbox
from testkit.proxy import Fault, FaultProxy, Faults
from tests.answering import answer_everything
from tests.assessments.test_outbox import entry, expected, submitted, written
from tests.conftest import SECRET
from tests.factories import create_baby

NURSE = DEMO_USERS["nurse"]
NEOSAFE = str(Path(sys.executable).with_name("neosafe"))
WRITE_TIMEOUT_S = 3.0  # the write-back source's timeout_s in the app under test


@pytest.fixture
async def proxy(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> AsyncIterator[FaultProxy]:
    """The fault proxy in front of the neonatal server, faulting POSTs only; fails the test on asyncio errors."""
    async with FaultProxy(
        sandbox.urls["neonatal"], faults=Faults(methods=frozenset({"POST"}), spare_batches=True)
    ) as running:
        yield running
    records = [*caplog.get_records("call"), *caplog.records]
    assert not [r.getMessage() for r in records if r.name == "asyncio" and r.levelno >= logging.ERROR]


def through(proxy: FaultProxy, sources: list[SourceSettings], *, timeout_s: float) -> list[SourceSettings]:
    """The sources with the write-back one reached through the proxy."""
    return [
        SourceSettings(name=s.name, base_url=proxy.url, timeout_s=timeout_s, write_back=True) if s.write_back else s
        for s in sources
    ]


@pytest.fixture
async def services(settings: Settings, sources, proxy: FaultProxy) -> AsyncIterator[Checkpoints]:
    """NeoSafe writing through the proxy; the tests (or `neosafe outbox run` processes) drive the outbox."""
    settings.outbox_retry_base_s, settings.outbox_lease_s = 0.1, 45.0
    wired = Checkpoints.wire(settings, sources=through(proxy, sources, timeout_s=WRITE_TIMEOUT_S))
    async with wired.running() as checkpoints:
        yield checkpoints


async def until(condition: Callable[[], object], *, what: str, timeout_s: float = 30.0) -> None:
    """Wait, polling, until `condition()` (sync or async) is true; fail after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s:g} s"
        await asyncio.sleep(0.05)


async def proven_once(services: Checkpoints, sandbox: Sandbox, count: int) -> None:
    """`neosafe reconcile`'s check, straight against the server: `count` assessments, none missing or duplicated."""
    direct = SourceSettings(name="neonatal", base_url=sandbox.urls["neonatal"], write_back=True)
    async with FhirClient(direct) as client:
        checked, findings = await reconcile(services.sessions, client)
    assert (checked, [str(f) for f in findings]) == (count, [])


async def held_by_server(sandbox: Sandbox, assessment_id: str | None) -> int:
    """How many QuestionnaireResponses of this assessment the server itself (not through the proxy) holds."""
    if assessment_id is None:
        return 0
    params = {"_tag": f"{ASSESSMENT_TAG_SYSTEM}|{assessment_id}", "_summary": "count"}
    async with httpx.AsyncClient(base_url=sandbox.urls["neonatal"] + "/", timeout=10) as http:
        answer = await http.get("QuestionnaireResponse", params=params, headers={"Prefer": "handling=strict"})
    return answer.raise_for_status().json()["total"]


async def saved_for(services: Checkpoints, nhs_number: str) -> str | None:
    """The id of the assessment stored for this baby, once there is one."""
    async with services.sessions() as session:
        return (await session.exec(select(Assessment.id).where(Assessment.nhs_number == nhs_number))).first()


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)  # SQLite hands back naive UTC


# a. Each fault of the proxy, then a resend: one of everything on the server.


@pytest.mark.parametrize(
    ("fault", "committed"),
    [(Fault.DROP, True), (Fault.FAIL, False), (Fault.TIMEOUT, True)],
    ids=["lost-after-commit", "503-retry-after", "timeout-after-forward"],
)
async def test_a_faulted_send_is_resent_and_lands_once(services, proxy, sandbox, fhir, fault, committed):
    proxy.faults.timeout_forwards, proxy.faults.retry_after = True, "1"
    proxy.faults.script.append(fault)

    assessment_id, entry_id = await submitted(services, fhir)

    first = await entry(services, entry_id)
    assert (first.state, first.attempts) == ("retrying", 1)
    on_server = written(fhir["neonatal"], assessment_id)
    assert on_server == (expected(first.bundle_json) if committed else {})  # the server committed, or never saw it
    if fault is Fault.FAIL:
        assert aware(first.next_attempt_at) - aware(first.created_at) >= timedelta(seconds=1)  # Retry-After honoured
    async with services.client(services.write_back) as client:
        later = aware(first.next_attempt_at) + timedelta(seconds=1)
        assert await deliver_due(services.sessions, client, worker="w", now=later) == 1

    assert (await entry(services, entry_id)).state == "sent"
    assert proxy.count("", method="POST", batch=False) == 2
    assert written(fhir["neonatal"], assessment_id) == expected(first.bundle_json)
    await proven_once(services, sandbox, 1)


async def test_a_proxy_restart_during_delivery_after_the_commit_is_resent_once(services, proxy, sandbox, fhir):
    number = create_baby(fhir["neonatal"])
    picture = await services.picture(number)
    response = answer_everything(
        services.checklists.for_checkpoint("admission"), services.start_checklist(picture, "admission", NURSE).response
    )
    proxy.faults.timeout_forwards = True
    proxy.faults.script.append(Fault.TIMEOUT)  # forwarded, committed, then held: the answer is still on its way

    sending = asyncio.create_task(services.submit(picture, "admission", NURSE, response))

    async def committed() -> bool:
        return await held_by_server(sandbox, await saved_for(services, number)) == 1

    await until(committed, what="the server committing the transaction")
    assert not sending.done()
    async with services.sessions() as session:
        claimed = (
            await session.exec(
                select(OutboxEntry).where(OutboxEntry.assessment_id == await saved_for(services, number))
            )
        ).one()
    assert aware(claimed.claimed_until) - aware(claimed.created_at) == timedelta(seconds=45)  # NEOSAFE_OUTBOX_LEASE_S
    await proxy.restart()  # cuts the connection the answer was to come back on
    result = await sending

    assert (result.entry.state, result.entry.attempts) == ("retrying", 1)
    async with services.client(services.write_back) as client:
        later = aware(result.entry.next_attempt_at) + timedelta(seconds=1)
        assert await deliver_due(services.sessions, client, worker="w", now=later) == 1
    assert (await entry(services, result.entry.id)).state == "sent"
    assert proxy.count("", method="POST", batch=False) == 2
    assert await held_by_server(sandbox, result.assessment_id) == 1
    assert written(fhir["neonatal"], result.assessment_id) == expected(result.entry.bundle_json)
    await proven_once(services, sandbox, 1)


# b, c. `neosafe outbox run` as real processes: killed mid-send; two at once.


class Runs:
    """`neosafe` processes started by a test, each logging to a file; any still running at the end is killed."""

    def __init__(self, directory: Path, env: dict[str, str]) -> None:
        self.directory, self.env = directory, env
        self.started: list[tuple[subprocess.Popen, Path]] = []

    def start(self, *args: str, **env: str) -> subprocess.Popen:
        log = self.directory / f"neosafe-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [NEOSAFE, *args],
                env={**self.env, "PYTHONFAULTHANDLER": "1", **env},  # SIGABRT: every thread's stack to its log
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )
        self.started.append((process, log))
        return process

    def log(self, process: subprocess.Popen) -> str:
        return next(log for p, log in self.started if p is process).read_text(encoding="utf-8", errors="replace")

    def alive(self, process: subprocess.Popen) -> bool:
        assert process.poll() is None, f"neosafe exited with {process.returncode}:\n{self.log(process)}"
        return True

    async def finished(self, process: subprocess.Popen, timeout_s: float = 60.0) -> int:
        """Its exit code once it exits; one that does not within `timeout_s` fails the test with where it was."""
        try:
            await until(lambda: process.poll() is not None, what="neosafe to finish", timeout_s=timeout_s)
        except AssertionError:
            os.kill(process.pid, signal.SIGABRT)  # faulthandler writes each thread's stack to the log
            process.wait(timeout=10)
            where = self.log(process)[-6000:]
            raise AssertionError(f"neosafe did not finish within {timeout_s:g} s:\n{where}") from None
        return process.returncode

    def kill_all(self) -> None:
        for process, _ in self.started:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def runs(tmp_path: Path, settings: Settings, proxy: FaultProxy) -> Iterator[Runs]:
    """The environment a deployment gives `neosafe outbox run`: the test's database, the write-back source behind
    the proxy (patient enough to be killed mid-send), a short interval and retry base."""
    sources_file = tmp_path / "sources.toml"
    sources_file.write_text(
        f'[sources.neonatal]\nbase_url = "{proxy.url}"\ntimeout_s = 30\nwrite_back = true\n', encoding="utf-8"
    )
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "NEOSAFE_SOURCES": str(sources_file),
        "NEOSAFE_SECRET_KEY": SECRET,
        "NEOSAFE_OUTBOX_INTERVAL_S": "0.1",
        "NEOSAFE_OUTBOX_RETRY_BASE_S": "0.1",
        "NEOSAFE_LOG_FORMAT": "text",
    }
    started = Runs(tmp_path, env)
    try:
        yield started
    finally:
        started.kill_all()


async def test_a_worker_killed_mid_send_is_followed_by_one_that_sends_once(services, proxy, runs, sandbox, fhir):
    proxy.faults.script.append(Fault.FAIL)  # the submit's own try fails: the entry waits in the outbox
    assessment_id, entry_id = await submitted(services, fhir)
    waiting = await entry(services, entry_id)
    assert waiting.state == "retrying"
    proxy.faults.timeout_forwards, proxy.faults.hold_s = True, 60.0
    proxy.faults.script.append(Fault.TIMEOUT)  # the next send commits on the server, its answer is held

    worker = runs.start("outbox", "run", NEOSAFE_OUTBOX_LEASE_S="3")
    await until(
        lambda: runs.alive(worker) and proxy.count("", method="POST", batch=False) == 2, what="the send leaving"
    )
    await until(lambda: held_by_server(sandbox, assessment_id), what="the server committing the transaction")
    assert runs.alive(worker)  # still waiting for the answer
    os.kill(worker.pid, signal.SIGKILL)
    assert await runs.finished(worker) == -signal.SIGKILL

    held = await entry(services, entry_id)
    assert (held.state, held.attempts) == ("retrying", 1)  # the dead worker never recorded the send
    assert held.claimed_by is not None and aware(held.claimed_until) > utcnow()  # and still holds its lease
    await until(lambda: utcnow() > aware(held.claimed_until), what="the lease running out", timeout_s=10)

    again = runs.start("outbox", "run", "--once", NEOSAFE_OUTBOX_LEASE_S="3")
    assert await runs.finished(again) == 0, runs.log(again)

    assert "tried 1 entries" in runs.log(again)
    sent = await entry(services, entry_id)
    assert (sent.state, sent.attempts, sent.claimed_by) == ("sent", 2, None)
    assert proxy.count("", method="POST", batch=False) == 3  # refused, committed-but-unanswered, resent
    assert written(fhir["neonatal"], assessment_id) == expected(waiting.bundle_json)
    await proven_once(services, sandbox, 1)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["Ctrl-C", "SIGTERM"])
async def test_ctrl_c_or_sigterm_stops_the_worker_after_the_send_in_flight_which_is_recorded(
    services, proxy, runs, sandbox, fhir, sig
):
    """As `neosafe outbox run` says: the send in flight finishes and is recorded, then the worker exits 0. Not the
    main task cancelled (Python's default), which cuts the send off, or is lost in a wait and never stops it."""
    proxy.faults.script.append(Fault.FAIL)
    assessment_id, entry_id = await submitted(services, fhir)
    proxy.faults.delay_ms = 2000  # the next send is still in flight when the signal comes
    before = proxy.count("", method="POST", batch=False)

    worker = runs.start("outbox", "run")
    await until(
        lambda: runs.alive(worker) and proxy.count("", method="POST", batch=False) > before, what="the send leaving"
    )
    os.kill(worker.pid, sig)
    assert await runs.finished(worker, timeout_s=30) == 0, runs.log(worker)

    sent = await entry(services, entry_id)
    assert (sent.state, sent.claimed_by) == ("sent", None)
    assert proxy.count("", method="POST", batch=False) == before + 1
    assert written(fhir["neonatal"], assessment_id) == expected(sent.bundle_json)


async def test_the_watch_job_stops_on_sigterm(services, runs):
    watcher = runs.start("watch")
    await until(lambda: runs.alive(watcher) and "Watching the babies" in runs.log(watcher), what="the watch job up")
    os.kill(watcher.pid, signal.SIGTERM)
    assert await runs.finished(watcher, timeout_s=30) == 0, runs.log(watcher)


async def test_two_worker_processes_on_one_database_send_each_entry_once(services, proxy, runs, sandbox, fhir):
    entries = 6
    proxy.faults.retry_after = "3600"  # the record asks for an hour's peace: nothing falls due on its own
    proxy.faults.script.extend([Fault.FAIL] * entries)
    ids = [await submitted(services, fhir) for _ in range(entries)]
    assert {(await entry(services, entry_id)).state for _, entry_id in ids} == {"retrying"}
    proxy.faults.delay_ms = 300  # a slow record: each send is still in flight when the other worker looks
    before = proxy.count("", method="POST", batch=False)

    workers = [runs.start("outbox", "run"), runs.start("outbox", "run")]  # the default lease: 2 minutes
    await until(lambda: all(runs.alive(w) and "Sending queued" in runs.log(w) for w in workers), what="both workers up")
    assert proxy.count("", method="POST", batch=False) == before
    async with services.sessions() as session:  # every entry falls due at once, with both workers polling
        await session.exec(update(OutboxEntry).values(next_attempt_at=utcnow()))
        await session.commit()

    claimants: set[int] = set()  # the process ids seen holding a claim: both workers really took part

    async def all_sent() -> bool:
        rows = [await entry(services, entry_id) for _, entry_id in ids]
        claimants.update(int(e.claimed_by.split("-")[-2]) for e in rows if e.claimed_by)
        return all(runs.alive(w) for w in workers) and {e.state for e in rows} == {"sent"}

    await until(all_sent, what="every entry sent", timeout_s=45)
    assert claimants == {w.pid for w in workers}
    for worker in workers:
        os.kill(worker.pid, signal.SIGINT)  # Ctrl-C: stops after the send in flight
    assert [await runs.finished(w, timeout_s=15) for w in workers] == [0, 0]

    assert proxy.count("", method="POST", batch=False) - before == entries
    for assessment_id, entry_id in ids:
        assert written(fhir["neonatal"], assessment_id) == expected((await entry(services, entry_id)).bundle_json)
    await proven_once(services, sandbox, entries)
