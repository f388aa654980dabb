"""Soak: 1,000 checklists through NeoSafe's API while its write path fails, its FHIR server restarts and it is killed.

    uv run --locked python -m benchmarks.soak [--submissions 1000] [--failure-rate 0.3] [--concurrency 8]

Starts the neonatal sandbox FHIR server, a FaultProxy in front of it that fails `--failure-rate` of the POSTs
(the transactions NeoSafe writes; reads pass) in equal parts as 503 with Retry-After, lost after commit (the
server commits, the connection closes unanswered) and timeout after forward (the server commits, the answer never
comes), and `neosafe serve` as a process of its own with its outbox worker, on a SQLite file. Clients submit a
completed admission checklist for one fresh baby each. A third of the way in the FHIR server is restarted
(`Sandbox.restart`); two thirds in NeoSafe is killed with SIGKILL and started again on the same database.

A submission counts as submitted only when the API answered 201. One whose request was in flight when NeoSafe
died got no answer: it is reported as interrupted, never resubmitted blindly, and checked for duplicates like the
rest. A refusal (404 or 409 while the FHIR server restarts, 422) stores nothing, so the client sends it again.
When every submission is in, the soak waits for the outbox to drain and then reads everything NeoSafe wrote
straight from the FHIR server (not through the proxy) and counts: delivered (the QuestionnaireResponse is there
exactly once), duplicated (write keys on the server more than once) and lost (submitted, not all on the server).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from app.assessments import (
    ASSESSMENT_TAG_SYSTEM,
    WRITE_KEY_SYSTEM,
    Assessment,
    OutboxEntry,
    make_engine,
    outbox_counts,
    reconcile,
    session_factory,
)
from app.config import PROJECT_ROOT, SourceSettings
from app.proxy import Fault, Faults, ThreadedFaultProxy
from app.sandbox import Sandbox, free_port
from app.sources import FhirClient
from app.web import DEMO_USERS, issue_token
from tests.answering import answer_everything
from tests.factories import create, make_patient, new_nhs_number

NEOSAFE = str(Path(sys.executable).with_name("neosafe"))
WRITTEN_TYPES = ("QuestionnaireResponse", "Observation", "Provenance")
WRITE_TIMEOUT_S = 3.0  # the write-back source's timeout_s: what a timeout-after-forward costs one send
LEASE_S = 15.0  # well above one send (metadata + transaction, 3 s each at most)
MAX_REFUSALS = 50  # a submission refused this often is given up (none is, unless something is broken)
START_TIMEOUT_S = 60.0
DRAIN_TIMEOUT_S = 600.0


@dataclass
class Submission:
    """One baby's checklist, as the client saw it."""

    nhs_number: str
    outcome: str = "waiting"  # submitted | interrupted | failed
    assessment_id: str | None = None
    first_state: str | None = None  # write_back.state in the 201: sent at once, or left to the outbox
    refusals: int = 0
    detail: str = ""


class NeoSafe:
    """`neosafe serve` as a process of its own, on one port and one database, however often it is restarted."""

    def __init__(self, work: Path, env: dict[str, str]) -> None:
        self.work, self.env, self.port = work, env, free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.up = asyncio.Event()
        self.starts = 0

    def _launch(self) -> subprocess.Popen:
        self.starts += 1
        with (self.work / f"neosafe-{self.starts}.log").open("wb") as log:
            return subprocess.Popen(
                [NEOSAFE, "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=PROJECT_ROOT,
            )

    async def start(self) -> None:
        """Start it and wait until /healthz answers."""
        self.process = self._launch()
        deadline = time.monotonic() + START_TIMEOUT_S
        async with httpx.AsyncClient(base_url=self.url, timeout=2) as http:
            while True:
                if self.process.poll() is not None:
                    raise RuntimeError(f"neosafe serve exited; see {self.work}/neosafe-{self.starts}.log")
                with contextlib.suppress(httpx.TransportError):
                    if (await http.get("/healthz")).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"neosafe serve did not answer within {START_TIMEOUT_S:g} s")
                await asyncio.sleep(0.1)
        self.up.set()

    def kill(self) -> None:
        """kill -9: no clean-up, no finishing the send in flight."""
        self.up.clear()
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self) -> None:
        """SIGTERM, as a platform stops it: it finishes the send in flight first."""
        self.up.clear()
        if self.process is None:
            return
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Run:
    """The soak's shared state: what is left to submit, and what came back."""

    target: int
    babies: list[str]
    neosafe: NeoSafe
    sandbox: Sandbox
    submissions: list[Submission] = field(default_factory=list)
    posting: set[str] = field(default_factory=set)  # NHS numbers whose POST is on its way
    changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    started: float = field(default_factory=time.perf_counter)

    @property
    def submitted(self) -> int:
        return sum(1 for s in self.submissions if s.outcome == "submitted")

    def note(self, text: str) -> None:
        print(f"{time.perf_counter() - self.started:7.1f} s  {text}", flush=True)

    async def take(self) -> str | None:
        """The next fresh baby, while fewer than `target` submissions are in or on their way."""
        async with self.changed:
            while True:
                busy = sum(1 for s in self.submissions if s.outcome == "waiting")
                if self.submitted >= self.target:
                    return None
                if self.submitted + busy < self.target:
                    if not self.babies:
                        raise RuntimeError("ran out of fresh babies: too many submissions were interrupted")
                    return self.babies.pop()
                await self.changed.wait()

    async def finish(self, submission: Submission, outcome: str, detail: str = "") -> None:
        async with self.changed:
            submission.outcome, submission.detail = outcome, detail
            self.changed.notify_all()


async def submit_one(run: Run, http: httpx.AsyncClient, questionnaire: dict[str, Any], number: str) -> None:
    """Fetch the pre-filled checklist, complete it, post it; resend only what NeoSafe refused (nothing stored)."""
    submission = Submission(number)
    run.submissions.append(submission)
    while submission.refusals < MAX_REFUSALS:
        await run.neosafe.up.wait()
        try:
            prefilled = await http.get(f"/api/patients/{number}/checklists/admission")
        except httpx.TransportError:  # a read: safe to ask again once NeoSafe is back
            submission.refusals += 1
            continue
        if prefilled.status_code != 200:  # 404 while the record restarts: the baby cannot be found
            submission.refusals += 1
            await asyncio.sleep(min(0.1 * submission.refusals, 2.0))
            continue
        answered = answer_everything(questionnaire, prefilled.json())
        run.posting.add(number)
        try:
            posted = await http.post(f"/api/patients/{number}/assessments", json=answered)
        except httpx.ConnectError:  # NeoSafe is down: the request never left, nothing was stored
            submission.refusals += 1
            continue
        except httpx.TransportError as exc:  # sent, and no answer: stored or not, the client cannot know
            await run.finish(submission, "interrupted", type(exc).__name__)
            return
        finally:
            run.posting.discard(number)
        if posted.status_code == 201:
            body = posted.json()
            submission.assessment_id, submission.first_state = body["id"], body["write_back"]["state"]
            await run.finish(submission, "submitted")
            return
        if posted.status_code in (404, 409, 422):  # refused before anything was stored (the record was away)
            submission.refusals += 1
            await asyncio.sleep(min(0.1 * submission.refusals, 2.0))
            continue
        await run.finish(submission, "failed", f"HTTP {posted.status_code}: {posted.text[:200]}")
        return
    await run.finish(submission, "failed", f"refused {submission.refusals} times")


async def client(run: Run, http: httpx.AsyncClient, questionnaire: dict[str, Any]) -> None:
    while (number := await run.take()) is not None:
        await submit_one(run, http, questionnaire, number)


async def disrupt(run: Run, db_url: str) -> None:
    """Restart the FHIR server a third of the way in, and kill -9 NeoSafe two thirds in, with requests in flight."""
    async with run.changed:
        await run.changed.wait_for(lambda: run.submitted >= run.target // 3)
    run.note(f"{run.submitted} submitted: restarting the neonatal FHIR server")
    began = time.perf_counter()
    await asyncio.to_thread(run.sandbox.restart, "neonatal")  # clients carry on: their requests meet it
    run.note(f"neonatal FHIR server back after {time.perf_counter() - began:.1f} s (same port, same data)")

    async with run.changed:  # as a submission comes back, the other clients' are on their way
        await run.changed.wait_for(lambda: run.submitted >= 2 * run.target // 3 and run.posting)
    posting = len(run.posting)
    run.neosafe.kill()
    claimed = await _claimed(db_url)
    run.note(
        f"{run.submitted} submitted: killed NeoSafe (SIGKILL) with {posting} submissions in flight and "
        f"{claimed} outbox entries claimed by it"
    )
    began = time.perf_counter()
    await run.neosafe.start()
    run.note(f"NeoSafe started again on the same database after {time.perf_counter() - began:.1f} s")


async def _claimed(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        async with session_factory(engine)() as session:
            rows = await session.exec(select(OutboxEntry.id).where(OutboxEntry.claimed_by.is_not(None)))
            return len(rows.all())
    finally:
        await engine.dispose()


async def drain(run: Run, db_url: str) -> dict[str, int]:
    """Wait until nothing is queued or retrying; returns the outbox's counts."""
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        while True:
            counts = await outbox_counts(sessions)
            if not counts.get("queued") and not counts.get("retrying"):
                return counts
            if time.monotonic() > deadline:
                run.note(f"outbox not drained within {DRAIN_TIMEOUT_S:g} s: {counts}")
                return counts
            await asyncio.sleep(0.25)
    finally:
        await engine.dispose()


async def read_back(fhir_url: str) -> dict[str, list[dict[str, Any]]]:
    """Every resource of the types NeoSafe writes that carries a NeoSafe write key, straight from the server.

    Sorted by id, which the server's primary key gives in order: its default order needs a sort of every match
    for every page.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    async with httpx.AsyncClient(timeout=120) as http:
        for resource_type in WRITTEN_TYPES:
            url: str | None = f"{fhir_url}/{resource_type}?_count=1000&_elements=meta,subject&_sort=_id"
            found[resource_type] = []
            while url:
                bundle = (await http.get(url)).raise_for_status().json()
                found[resource_type] += [
                    e["resource"] for e in bundle.get("entry") or [] if _tag(e["resource"], WRITE_KEY_SYSTEM)
                ]
                url = next((link["url"] for link in bundle.get("link") or [] if link["relation"] == "next"), None)
    return found


def _tag(resource: dict[str, Any], system: str) -> str | None:
    return next((t["code"] for t in (resource.get("meta") or {}).get("tag") or [] if t.get("system") == system), None)


async def verify(run: Run, db_url: str, fhir_url: str, *, with_reconcile: bool) -> tuple[list[str], bool]:
    """The figures, computed from the client's record, NeoSafe's database and the FHIR server."""
    began = time.perf_counter()
    on_server = await read_back(fhir_url)
    read_s = time.perf_counter() - began
    keys = Counter(_tag(r, WRITE_KEY_SYSTEM) for resources in on_server.values() for r in resources)
    responses = on_server["QuestionnaireResponse"]
    per_assessment = Counter(_tag(r, ASSESSMENT_TAG_SYSTEM) for r in responses)
    per_baby = Counter(
        (r.get("subject") or {}).get("reference", "").removeprefix("Patient/nn-soak-") for r in responses
    )
    engine = make_engine(db_url)
    sessions = session_factory(engine)
    try:
        async with sessions() as session:
            entries = {e.assessment_id: e for e in (await session.exec(select(OutboxEntry))).all()}
            stored: dict[str, list[str]] = {}
            for assessment in (await session.exec(select(Assessment))).all():
                stored.setdefault(assessment.nhs_number, []).append(assessment.id)
        reconciled, began = None, time.perf_counter()
        if with_reconcile:
            direct = SourceSettings(name="neonatal", base_url=fhir_url, timeout_s=60, write_back=True)
            async with FhirClient(direct) as fhir:
                reconciled = await reconcile(sessions, fhir)
        reconcile_s = time.perf_counter() - began
    finally:
        await engine.dispose()

    def on_record_once(assessment_id: str | None) -> bool:
        """Its QuestionnaireResponse once, and every resource of its transaction there."""
        if assessment_id not in entries or per_assessment[assessment_id] != 1:
            return False
        bundle = json.loads(entries[assessment_id].bundle_json)
        return all(keys[_tag(e["resource"], WRITE_KEY_SYSTEM)] >= 1 for e in bundle["entry"])

    submitted = [s for s in run.submissions if s.outcome == "submitted"]
    delivered = sum(1 for s in submitted if per_assessment[s.assessment_id] == 1)
    duplicated = sum(1 for count in keys.values() if count > 1)
    lost = sum(1 for s in submitted if not on_record_once(s.assessment_id) and per_assessment[s.assessment_id] < 2)
    interrupted = [s for s in run.submissions if s.outcome == "interrupted"]
    saved = [s for s in interrupted if stored.get(s.nhs_number)]
    saved_once = [s for s in saved if all(on_record_once(i) for i in stored[s.nhs_number])]
    failed = [s for s in run.submissions if s.outcome == "failed"]
    twice = [s for s in run.submissions if per_baby[s.nhs_number] > 1 or len(stored.get(s.nhs_number, [])) > 1]
    unsent = Counter(e.state for e in entries.values() if e.state != "sent")
    lines = [
        f"read back from the FHIR server in {read_s:.1f} s: "
        + ", ".join(f"{len(found)} {kind}" for kind, found in on_server.items())
        + " carrying a NeoSafe write key",
        f"interrupted by the kill (no answer, so not resubmitted): {len(interrupted)}; {len(saved)} of them had been "
        f"saved, {len(saved_once)} of those are on the record once; {len(interrupted) - len(saved)} never reached "
        "the database",
        f"babies with more than one checklist, on the server or in NeoSafe's database: {len(twice)}",
        f"refused while the record was away, and sent again: {sum(1 for s in run.submissions if s.refusals)} "
        f"submissions ({sum(s.refusals for s in run.submissions)} refusals); failed outright: {len(failed)}"
        + "".join(f"\n  {s.nhs_number}: {s.detail}" for s in failed[:5]),
        f"outbox: {len(entries)} entries, {len(entries) - sum(unsent.values())} sent"
        + (f", not sent: {dict(unsent)}" if unsent else ""),
    ]
    ok = (
        len(submitted) == run.target == delivered
        and duplicated == lost == len(twice) == len(failed) == sum(unsent.values()) == 0
        and len(saved_once) == len(saved)
    )
    if reconciled is not None:
        checked, findings = reconciled
        problems = [f for f in findings if f.problem != "not-sent"]
        lines.append(
            f"neosafe reconcile's check: {checked} assessments, {len(problems)} missing or duplicated, "
            f"{len(findings) - len(problems)} not sent ({reconcile_s:.1f} s)"
        )
        ok = ok and not findings and checked == len(entries)
    lines.append(f"{len(submitted)} submitted, {delivered} delivered, {duplicated} duplicated, {lost} lost")
    return lines, ok


def fresh_babies(fhir_url: str, count: int) -> list[str]:
    """`count` new babies on the neonatal record, in one transaction; NHS numbers no seeded family uses."""
    with httpx.Client(base_url=fhir_url + "/", timeout=120) as fhir:
        seeded = fhir.get("Patient", params={"_count": "1000", "_elements": "identifier"}).json()
        taken = {i["value"] for e in seeded.get("entry") or [] for i in e["resource"].get("identifier") or []}
        numbers: list[str] = []
        while len(numbers) < count:
            number = new_nhs_number()
            if number not in taken:
                taken.add(number)
                numbers.append(number)
        create(fhir, *(make_patient(f"nn-soak-{n}", n, name=[{"given": ["Soak"], "family": "Baby"}]) for n in numbers))
    return numbers


def analyze(sandbox: Sandbox, name: str) -> None:
    """Give the sandbox server's SQLite query planner statistics (ANALYZE), as a database administrator would.

    Without them SQLite answers `_revinclude=Observation:subject` (in every picture's first search) by walking
    the index rows of every Observation on the server, so each picture would cost more with each checklist
    written (76 Observations each) and the soak would measure sekmet's planner rather than NeoSafe. The
    statistics live in the database file, so they survive `Sandbox.restart`.
    """
    database = sqlite3.connect(sandbox.work_dir / name / "data" / "sekmet.db")
    try:
        database.execute("ANALYZE")
        database.commit()
    finally:
        database.close()


def fault_summary(proxy: ThreadedFaultProxy) -> str:
    posts = [e for e in list(proxy.exchanges) if e.method == "POST"]
    faults = Counter(e.fault for e in posts)
    faulted = sum(n for fault, n in faults.items() if fault is not None)
    return (
        f"transaction POSTs through the proxy: {len(posts)}, {faulted} faulted ({faulted / max(len(posts), 1):.1%}): "
        f"{faults[Fault.FAIL]} answered 503 (Retry-After 1), {faults[Fault.DROP]} lost after commit, "
        f"{faults[Fault.TIMEOUT]} timed out after commit"
    )


async def soak(args: argparse.Namespace, work: Path, sandbox: Sandbox, proxy: ThreadedFaultProxy) -> bool:
    fhir_url = sandbox.urls["neonatal"]
    began = time.perf_counter()
    babies = fresh_babies(fhir_url, args.submissions + args.spare)
    analyze(sandbox, "neonatal")
    print(f"{len(babies)} fresh babies created on the neonatal record in {time.perf_counter() - began:.1f} s")
    sources = work / "sources.toml"
    sources.write_text(
        f'[sources.neonatal]\nbase_url = "{proxy.url}"\ntimeout_s = {WRITE_TIMEOUT_S}\nwrite_back = true\n',
        encoding="utf-8",
    )
    db_url = f"sqlite+aiosqlite:///{work / 'neosafe.db'}"
    secret = secrets.token_urlsafe(48)
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "NEOSAFE_SOURCES": str(sources),
        "NEOSAFE_SECRET_KEY": secret,
        "NEOSAFE_DEMO_USERS": "true",
        "NEOSAFE_MIGRATE_ON_START": "true",
        "NEOSAFE_LOG_FORMAT": "json",
        "NEOSAFE_OUTBOX_INTERVAL_S": "0.5",
        "NEOSAFE_OUTBOX_RETRY_BASE_S": "0.5",
        "NEOSAFE_OUTBOX_RETRY_MAX_S": "5",
        "NEOSAFE_OUTBOX_LEASE_S": str(LEASE_S),
    }
    neosafe = NeoSafe(work, env)
    run = Run(target=args.submissions, babies=babies, neosafe=neosafe, sandbox=sandbox)
    try:
        await neosafe.start()
        run.note(f"NeoSafe serving on {neosafe.url}; submitting with {args.concurrency} clients")
        token = issue_token(DEMO_USERS["nurse"], secret=secret)
        async with httpx.AsyncClient(
            base_url=neosafe.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as http:
            questionnaire = (await http.get("/api/checklists/admission")).raise_for_status().json()
            disruptions = asyncio.create_task(disrupt(run, db_url))
            await asyncio.gather(*(client(run, http, questionnaire) for _ in range(args.concurrency)))
            await disruptions
        submitting = time.perf_counter() - run.started
        run.note(f"{run.submitted} submitted in {submitting:.1f} s ({run.submitted / submitting:.1f} a second)")
        first = Counter(s.first_state for s in run.submissions if s.outcome == "submitted")
        print(f"  written at once: {first['sent']}; left to the outbox: {sum(first.values()) - first['sent']}")
        counts = await drain(run, db_url)
        run.note(f"outbox drained: {dict(sorted(counts.items()))}")
    finally:
        neosafe.stop()
    print(fault_summary(proxy))
    lines, ok = await verify(run, db_url, fhir_url, with_reconcile=args.reconcile)
    for line in lines:
        print(line)
    return ok


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000, help="how many the API must accept (201)")
    parser.add_argument("--failure-rate", type=float, default=0.3, help="fraction of write POSTs faulted")
    parser.add_argument("--concurrency", type=int, default=8, help="clients submitting at once")
    parser.add_argument("--spare", type=int, default=50, help="extra fresh babies, for interrupted submissions")
    parser.add_argument("--seed", type=int, default=1, help="seeds the proxy's choice of faults")
    parser.add_argument(
        "--no-reconcile",
        dest="reconcile",
        action="store_false",
        help="skip neosafe reconcile's check, a second witness (about 1.5 minutes: three searches an assessment)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, database) afterwards")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    share = args.failure_rate / 3
    faults = Faults(
        fail_rate=share,
        retry_after="1",
        drop_rate=share,
        timeout_rate=share,
        timeout_forwards=True,
        methods=frozenset({"POST"}),
        seed=args.seed,
    )
    with contextlib.ExitStack() as stack:
        work = Path(
            tempfile.mkdtemp(prefix="neosafe-soak-")
            if args.keep
            else stack.enter_context(tempfile.TemporaryDirectory(prefix="neosafe-soak-"))
        )
        sandbox = stack.enter_context(Sandbox(work / "sources", kinds=("neonatal",)))
        print(f"neonatal sandbox FHIR server up in {time.perf_counter() - started:.1f} s; work folder {work}")
        proxy = stack.enter_context(ThreadedFaultProxy(sandbox.urls["neonatal"], faults=faults))
        ok = asyncio.run(soak(args, work, sandbox, proxy))
    print(f"total run time {time.perf_counter() - started:.1f} s")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
