"""Round trips per source, database queries and wall time of the unit's worklist and of one watch pass, for 20, 60
and 200 babies.

    uv run --locked python -m benchmarks.worklist [--sizes 20 60 200] [--delay-ms 20] [--concurrency 4]

Starts the five sandbox FHIR servers and a FaultProxy in front of each (in a process of its own: benchmarks._proxies)
that delays every answer by `--delay-ms`, so each round trip costs what a near network does. For each size, puts that
many new babies on the unit (a Patient, an in-progress neonatal Encounter and an open Task each, in one
transaction, straight to the server), ends the stays of the size before, and then, through the proxies:

- worklist, cold: `Checkpoints.worklist` (what `GET /` does) with no picture gathered yet;
- watch pass: one pass of the watch job (`Checkpoints.watch_once`), every baby's picture gathered `--concurrency` at a
  time and compared with their baseline: its cost grows linearly with the babies (what the worklist would also cost
  if it gathered the pictures itself on each view);
- worklist, warm: the worklist again, now reading each baby's last picture.

Round trips are the requests each proxy saw (a batch Bundle is one); database queries are the statements the
engine ran (the audit record of the viewing included). The census also lists the sandbox's own families on the
unit, so "babies" is what the census found.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import event

from app.checkpoints import DEMO_USERS, Checkpoints
from app.config import Settings, SourceSettings
from sandbox import Sandbox
from tests.factories import create, make_patient, new_nhs_number

from ._proxies import ProxyProcess

ENCOUNTER_CLASS = {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"}


def stays(number: str) -> list[dict]:
    """A baby on the unit: their Patient, an in-progress stay and one open task."""
    patient = f"nn-bench-{number}"
    return [
        make_patient(patient, number, name=[{"given": ["Bench"], "family": "Baby"}]),
        {
            "resourceType": "Encounter",
            "id": f"{patient}-enc",
            "status": "in-progress",
            "class": ENCOUNTER_CLASS,
            "subject": {"reference": f"Patient/{patient}"},
            "period": {"start": "2026-11-20T08:00:00+00:00"},
        },
        {
            "resourceType": "Task",
            "id": f"{patient}-task",
            "status": "requested",
            "intent": "order",
            "description": "Benchmark task",
            "for": {"reference": f"Patient/{patient}"},
            "owner": {"display": "Safeguarding team"},
            "restriction": {"period": {"end": "2026-11-21"}},
        },
    ]


def admit(fhir_url: str, count: int, leaving: list[str]) -> list[str]:
    """`count` new babies on the unit; the stays of `leaving` ended (finished), in one transaction."""
    numbers = [new_nhs_number() for _ in range(count)]
    ended = [
        {
            "resourceType": "Encounter",
            "id": f"nn-bench-{n}-enc",
            "status": "finished",
            "class": ENCOUNTER_CLASS,
            "subject": {"reference": f"Patient/nn-bench-{n}"},
            "period": {"start": "2026-11-20T08:00:00+00:00", "end": "2026-11-22T08:00:00+00:00"},
        }
        for n in leaving
    ]
    with httpx.Client(base_url=fhir_url + "/", timeout=120) as fhir:
        create(fhir, *(r for n in numbers for r in stays(n)), *ended)
    return numbers


class Queries:
    """Counts the statements an engine runs."""

    def __init__(self, checkpoints: Checkpoints) -> None:
        self.count = 0
        event.listen(checkpoints.engine.sync_engine, "before_cursor_execute", self._seen)

    def _seen(self, *_: object) -> None:
        self.count += 1


async def timed(proxies: ProxyProcess, queries: Queries, work) -> tuple[float, Counter, int]:
    """Wall time, requests per source and database statements of `work()`."""
    proxies.reset()
    before = queries.count
    began = time.perf_counter()
    await work()
    seconds = time.perf_counter() - began
    trips = Counter({name: len(seen) for name, seen in proxies.exchanges().items()})
    return seconds, trips, queries.count - before


async def run(args: argparse.Namespace, work: Path, sandbox: Sandbox, proxies: ProxyProcess) -> list[str]:
    sources = [
        SourceSettings(name=name, base_url=url, timeout_s=60, write_back=name == "neonatal")
        for name, url in proxies.urls.items()
    ]
    settings = Settings(
        database_url=f"sqlite+aiosqlite:///{work / 'neosafe.db'}",
        secret_key="benchmark-" + "x" * 40,
        demo_users=True,
        migrate_on_start=True,
        watch_concurrency=args.concurrency,
    )
    now = [datetime.now(UTC)]
    checkpoints = Checkpoints.wire(settings, sources=sources, clock=lambda: now[0])
    nurse = DEMO_USERS["nurse"]
    names = sorted(proxies.urls)
    lines = [
        f"{'babies':>6}  {'step':<18}{'seconds':>8}  " + "".join(f"{n:>13}" for n in names) + f"{'db queries':>12}",
    ]
    async with checkpoints.running():
        queries = Queries(checkpoints)
        await checkpoints.worklist(nurse)  # capabilities read, connections warm: not what is measured
        previous: list[str] = []
        for size in args.sizes:
            babies = admit(sandbox.urls["neonatal"], size, previous)
            previous = babies
            checkpoints.gathered.clear()
            now[0] += timedelta(seconds=settings.watch_interval_s)  # a new interval: the watch lease is free
            listed: list = []

            async def worklist(listed: list = listed) -> None:
                listed[:] = (await checkpoints.worklist(nurse)).rows

            async def watched(listed: list) -> None:
                listed[:] = [None] * (await checkpoints.watch_once()).babies

            steps = {
                "worklist, cold": worklist,
                "watch pass": lambda listed=listed: watched(listed),
                "worklist, warm": worklist,
            }
            for step, work_of in steps.items():
                seconds, trips, statements = await timed(proxies, queries, work_of)
                shown = len(listed)
                lines.append(
                    f"{shown:>6}  {step:<18}{seconds:>8.2f}  "
                    + "".join(f"{trips[n]:>13}" for n in names)
                    + f"{statements:>12}"
                )
    return lines


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.worklist", description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[20, 60, 200])
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=4, help="pictures gathered at once (watch pass)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="neosafe-worklist-") as folder:
        work = Path(folder)
        with Sandbox(work / "sandbox") as sandbox, ProxyProcess(sandbox.urls, delay_ms=args.delay_ms) as proxies:
            lines = asyncio.run(run(args, work, sandbox, proxies))
    print(f"The unit's worklist: round trips per source, each answer delayed {args.delay_ms:g} ms")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
