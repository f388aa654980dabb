"""Soak: 1,000 checklists through NeoSafe's API while its write path fails, its FHIR server restarts and it is killed.

    uv run --locked python -m benchmarks.soak [--submissions 1000] [--failure-rate 0.3] [--concurrency 8]

Starts the neonatal sandbox FHIR server, a FaultProxy in front of it that fails `--failure-rate` of the POSTs
(the transactions NeoSafe writes; reads pass) in equal parts as 503 with Retry-After, lost after commit (the
server commits, the connection closes unanswered) and timeout after forward (the server commits, the answer never
comes), and `neosafe serve` as a process of its own with its outbox worker, on a SQLite file. Clients submit a
completed admission checklist for one fresh baby each. A third of the way in the FHIR server is restarted
(`Sandbox.restart`); two thirds in NeoSafe is killed with SIGKILL and started again on the same database.

Each submission carries an Idempotency-Key (a uuid4 of its own), and every resend of it is the same answers
under the same key. It counts as submitted only when the API answered 201. One whose request was in flight when
NeoSafe died got no answer, so the client cannot know whether it was stored: as a real client would, it sends it
again once NeoSafe is back, and NeoSafe returns what the first request stored, or stores it now. What NeoSafe's
database held at the kill tells the two apart. A refusal (404 or 409 while the FHIR server restarts, 422) stores
nothing, and a refused connection never left, so those are sent again too. When every submission is in, the soak
waits for the outbox to drain and then reads everything NeoSafe wrote straight from the FHIR server (not through
the proxy) and counts: delivered (the QuestionnaireResponse is there exactly once), duplicated (write keys on the
server more than once) and lost (submitted, not all on the server); and checks that NeoSafe's database holds one
checklist per baby, the one whose id the API returned, under its key.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import select

from app.assessments import ASSESSMENT_TAG_SYSTEM, WRITE_KEY_SYSTEM, WRITTEN_TYPES, Assessment, OutboxEntry, reconcile
from app.checkpoints import DEMO_USERS
from app.config import SourceSettings
from app.sources import FhirClient
from app.web import issue_token
from benchmarks._neosafe import NeoSafe
from sandbox import Sandbox
from testkit.proxy import Fault, Faults, ThreadedFaultProxy
from tests.answering import answer_everything
from tests.factories import create, make_patient, new_nhs_number

WRITE_TIMEOUT_S = 3.0  # the write-back source's timeout_s: what a timeout-after-forward costs one send
LEASE_S = 15.0  # well above one send (metadata + transaction, 3 s each at most)
MAX_RESENDS = 50  # a submission sent this often without a 201 is given up (none is, unless something is broken)
DRAIN_TIMEOUT_S = 600.0


@dataclass
class Submission:
    """One baby's checklist, as the client saw it."""

    nhs_number: str
    key: str = field(default_factory=lambda: str(uuid.uuid4()))  # its Idempotency-Key, the same on every resend
    outcome: str = "waiting"  # submitted | failed
    assessment_id: str | None = None
    first_state: str | None = None  # write_back.state in the 201: sent at once, or left to the outbox
    refusals: int = 0  # refused (nothing stored) or never sent, and sent again
    unanswered: int = 0  # sent, no answer (NeoSafe killed mid-request), and sent again with the same key
    detail: str = ""


@dataclass
class Run:
    """The soak's shared state: what is left to submit, and what came back."""

    target: int
    babies: list[str]
    neosafe: NeoSafe
    sandbox: Sandbox
    submissions: list[Submission] = field(default_factory=list)
    posting: set[str] = field(default_factory=set)  # NHS numbers whose POST is on its way
    stored_at_kill: dict[str, str] = field(default_factory=dict)  # submission key -> assessment id, as NeoSafe died
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
                        raise RuntimeError("ran out of fresh babies: too many submissions failed")
                    return self.babies.pop()
                await self.changed.wait()

    async def finish(self, submission: Submission, outcome: str, detail: str = "") -> None:
        async with self.changed:
            submission.outcome, submission.detail = outcome, detail
            self.changed.notify_all()


async def submit_one(run: Run, http: httpx.AsyncClient, questionnaire: dict[str, Any], number: str) -> None:
    """Fetch the pre-filled checklist, complete it, post it with its Idempotency-Key; resend it until answered.

    Every resend is the same submission: the same answers under the same key, so a POST that went unanswered and
    was stored anyway is found by NeoSafe, not stored twice. A refusal or a refused connection stored nothing.
    """
    submission = Submission(number)
    run.submissions.append(submission)
    answered: dict[str, Any] | None = None
    while submission.refusals + submission.unanswered < MAX_RESENDS:
        await run.neosafe.up.wait()
        if answered is None:
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
            posted = await http.post(
                f"/api/patients/{number}/assessments", json=answered, headers={"Idempotency-Key": submission.key}
            )
        except httpx.ConnectError:  # NeoSafe is down: the request never left, nothing was stored
            submission.refusals += 1
            continue
        except httpx.TransportError as exc:  # sent, and no answer: stored or not, the key lets NeoSafe tell
            submission.unanswered += 1
            submission.detail = f"no answer: {type(exc).__name__}"
            continue
        finally:
            run.posting.discard(number)
        if posted.status_code == 201:
            body = posted.json()
            submission.assessment_id, submission.first_state = body["id"], body["write_back"]["state"]
            await run.finish(submission, "submitted")
            return
        if posted.status_code in (404, 409, 422):  # refused before anything was stored (the record was away)
            submission.refusals += 1
            submission.detail = f"HTTP {posted.status_code}: {posted.text[:200]}"
            await asyncio.sleep(min(0.1 * submission.refusals, 2.0))
            continue
        await run.finish(submission, "failed", f"HTTP {posted.status_code}: {posted.text[:200]}")
        return
    await run.finish(
        submission, "failed", f"sent {submission.refusals + submission.unanswered} times; last: {submission.detail}"
    )


async def client(run: Run, http: httpx.AsyncClient, questionnaire: dict[str, Any]) -> None:
    while (number := await run.take()) is not None:
        await submit_one(run, http, questionnaire, number)


async def disrupt(run: Run) -> None:
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
    claimed, run.stored_at_kill = await run.neosafe.at_kill()
    run.note(
        f"{run.submitted} submitted: killed NeoSafe (SIGKILL) with {posting} submissions in flight and "
        f"{claimed} outbox entries claimed by it"
    )
    began = time.perf_counter()
    await run.neosafe.start()
    run.note(f"NeoSafe started again on the same database after {time.perf_counter() - began:.1f} s")


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


async def verify(run: Run, fhir_url: str, *, with_reconcile: bool) -> tuple[list[str], bool]:
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
    async with run.neosafe.database() as sessions:
        async with sessions() as session:
            entries = {e.assessment_id: e for e in (await session.exec(select(OutboxEntry))).all()}
            stored: dict[str, list[str]] = {}  # NHS number -> assessment ids
            key_of: dict[str, str | None] = {}  # assessment id -> the submission key it was stored under
            for assessment in (await session.exec(select(Assessment))).all():
                stored.setdefault(assessment.nhs_number, []).append(assessment.id)
                key_of[assessment.id] = assessment.submission_key
        reconciled, began = None, time.perf_counter()
        if with_reconcile:
            direct = SourceSettings(name="neonatal", base_url=fhir_url, timeout_s=60, write_back=True)
            async with FhirClient(direct) as fhir:
                reconciled = await reconcile(sessions, fhir)
        reconcile_s = time.perf_counter() - began

    def on_record_once(assessment_id: str | None) -> bool:
        """Its QuestionnaireResponse once, and every resource of its transaction there."""
        if assessment_id not in entries or per_assessment[assessment_id] != 1:
            return False
        bundle = json.loads(entries[assessment_id].bundle_json)
        return all(keys[_tag(e["resource"], WRITE_KEY_SYSTEM)] >= 1 for e in bundle["entry"])

    def stored_as_answered(s: Submission) -> bool:
        """NeoSafe's database holds one checklist for the baby: the id the API returned, under the client's key."""
        return stored.get(s.nhs_number) == [s.assessment_id] and key_of[s.assessment_id] == s.key

    submitted = [s for s in run.submissions if s.outcome == "submitted"]
    delivered = sum(1 for s in submitted if per_assessment[s.assessment_id] == 1)
    duplicated = sum(1 for count in keys.values() if count > 1)
    lost = sum(1 for s in submitted if not on_record_once(s.assessment_id) and per_assessment[s.assessment_id] < 2)
    unmatched = [s for s in submitted if not stored_as_answered(s)]
    resent = [s for s in submitted if s.unanswered and stored_as_answered(s)]
    already = [s for s in resent if run.stored_at_kill.get(s.key) == s.assessment_id]  # stored by the first send
    by_resend = [s for s in resent if s.key not in run.stored_at_kill]
    failed = [s for s in run.submissions if s.outcome == "failed"]
    twice = [s for s in run.submissions if per_baby[s.nhs_number] > 1 or len(stored.get(s.nhs_number, [])) > 1]
    unsent = Counter(e.state for e in entries.values() if e.state != "sent")
    lines = [
        f"read back from the FHIR server in {read_s:.1f} s: "
        + ", ".join(f"{len(found)} {kind}" for kind, found in on_server.items())
        + " carrying a NeoSafe write key",
        f"resent after no answer, with the same Idempotency-Key: {sum(1 for s in run.submissions if s.unanswered)}; "
        f"found already stored (the id NeoSafe's database held under their key at the kill): {len(already)}; "
        f"stored by the resend: {len(by_resend)}",
        f"babies with more than one checklist, on the server or in NeoSafe's database: {len(twice)}; submissions "
        f"whose 201 named another id than the baby's one checklist in the database, or another key: {len(unmatched)}",
        f"refused while the record was away, and sent again: {sum(1 for s in run.submissions if s.refusals)} "
        f"submissions ({sum(s.refusals for s in run.submissions)} refusals); failed outright: {len(failed)}"
        + "".join(f"\n  {s.nhs_number}: {s.detail}" for s in failed[:5]),
        f"outbox: {len(entries)} entries, {len(entries) - sum(unsent.values())} sent"
        + (f", not sent: {dict(unsent)}" if unsent else ""),
    ]
    ok = (
        len(submitted) == run.target == delivered == len(run.submissions) == len(entries)
        and duplicated == lost == len(twice) == len(unmatched) == len(failed) == sum(unsent.values()) == 0
        and len(already) + len(by_resend) == sum(1 for s in run.submissions if s.unanswered)
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
    sandbox.analyze("neonatal")  # statistics with the babies in, taken up when the server restarts
    print(f"{len(babies)} fresh babies created on the neonatal record in {time.perf_counter() - began:.1f} s")
    neosafe = NeoSafe(work, write_back_url=proxy.url, timeout_s=WRITE_TIMEOUT_S, lease_s=LEASE_S)
    run = Run(target=args.submissions, babies=babies, neosafe=neosafe, sandbox=sandbox)
    try:
        await neosafe.start()
        run.note(f"NeoSafe serving on {neosafe.url}; submitting with {args.concurrency} clients")
        token = issue_token(DEMO_USERS["nurse"], secret=neosafe.secret)
        async with httpx.AsyncClient(
            base_url=neosafe.url, headers={"Authorization": f"Bearer {token}"}, timeout=120
        ) as http:
            questionnaire = (await http.get("/api/checklists/admission")).raise_for_status().json()
            disruptions = asyncio.create_task(disrupt(run))
            await asyncio.gather(*(client(run, http, questionnaire) for _ in range(args.concurrency)))
            await disruptions
        submitting = time.perf_counter() - run.started
        run.note(f"{run.submitted} submitted in {submitting:.1f} s ({run.submitted / submitting:.1f} a second)")
        first = Counter(s.first_state for s in run.submissions if s.outcome == "submitted")
        print(f"  written at once: {first['sent']}; left to the outbox: {sum(first.values()) - first['sent']}")
        counts = await neosafe.drain(DRAIN_TIMEOUT_S)
        drained = "drained" if not counts.get("queued") and not counts.get("retrying") else "not drained in time"
        run.note(f"outbox {drained}: {dict(sorted(counts.items()))}")
    finally:
        neosafe.stop()
    print(fault_summary(proxy))
    lines, ok = await verify(run, fhir_url, with_reconcile=args.reconcile)
    for line in lines:
        print(line)
    return ok


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000, help="how many the API must accept (201)")
    parser.add_argument("--failure-rate", type=float, default=0.3, help="fraction of write POSTs faulted")
    parser.add_argument("--concurrency", type=int, default=8, help="clients submitting at once")
    parser.add_argument("--spare", type=int, default=50, help="extra fresh babies, for failed submissions")
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
        spare_batches=True,  # a batch of searches is a read: the soak faults the write-back
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
