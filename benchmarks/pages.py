"""NeoSafe's own time per request, with the sources answering at once: picture, pre-filled checklist, page, submit.

    uv run --locked python -m benchmarks.pages [--requests 200] [--warm-up 10] [--nhs-number 9990101000]

Starts the five sandbox FHIR servers, a FaultProxy in front of each that adds nothing (in a process of its own, as
in benchmarks.picture), and `neosafe serve` in a process of its own on a fresh SQLite database (as the soak does),
pointed at the proxies. One client sends one request at a time, so every request a proxy saw while a NeoSafe
request was open belongs to it. For each kind of request, after `--warm-up` untimed ones, `--requests` timed ones:

- picture: `GET /api/patients/{nhs}/picture` for the Case V analogue;
- populated checklist: `GET /api/patients/{nhs}/checklists/admission` (no draft, so pre-filled afresh each time);
- checklist page: `GET /patients/{nhs}/checklists/admission`, signed in through the sign-in page;
- submit: `POST /api/patients/{nhs}/assessments` of a completed admission checklist (tests/answering.py), each for
  a fresh baby on the unit's record (its pre-filled checklist fetched first, untimed), written to FHIR at once.

For each request: its time at the client; the sources' time, from the proxies' log: the union of the intervals
from a request arriving at a proxy to its answer leaving it, within the NeoSafe request; and NeoSafe's own time,
the difference. It prints p50 and p95 of each, beside issue 14's targets for NeoSafe's own time (p95 <= 50 ms for
the picture, <= 100 ms for the populated admission checklist or its page, on 2 cores), which it never asserts.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

from app.checkpoints import DEMO_USERS
from app.web import issue_token
from sandbox import Sandbox
from testkit.proxy import Exchange
from tests.answering import answer_everything

from ._neosafe import NeoSafe
from ._proxies import ProxyProcess
from .picture import CASE_V_BABY
from .soak import fresh_babies

TARGETS_MS = {"picture": 50.0, "populated checklist": 100.0, "checklist page": 100.0}


@dataclass(frozen=True)
class Timed:
    """One request: its time at the client and the sources' share of it, in seconds."""

    seconds: float
    sources: float

    @property
    def own(self) -> float:
        return self.seconds - self.sources


def busy(exchanges: Sequence[Exchange], start: float, end: float) -> float:
    """How long, between start and end, at least one source was working on a request (the union of intervals)."""
    spans = sorted(
        (max(e.started, start), min(e.finished, end))
        for e in exchanges
        if e.finished is not None and e.started < end and e.finished > start
    )
    total, reach = 0.0, start
    for begin, finish in spans:
        if finish > reach:
            total += finish - max(begin, reach)
            reach = finish
    return total


async def measure(
    proxies: ProxyProcess, send: Callable[[int], Awaitable[httpx.Response]], *, warm_up: int, requests: int
) -> list[Timed]:
    """`warm_up` untimed requests, then `requests` timed ones, one at a time; each answered 2xx or it stops."""
    for n in range(warm_up):
        (await send(n)).raise_for_status()
    windows: list[tuple[float, float]] = []
    proxies.reset()
    for n in range(warm_up, warm_up + requests):
        started = time.perf_counter()
        answer = await send(n)
        windows.append((started, time.perf_counter()))
        answer.raise_for_status()
    exchanges = [e for seen in proxies.exchanges().values() for e in seen]
    return [Timed(end - start, busy(exchanges, start, end)) for start, end in windows]


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def report(results: dict[str, list[Timed]]) -> str:
    header = f"{'request':<22}{'total p50':>11}{'p95':>8}{'sources p50':>13}{'p95':>8}{'NeoSafe p50':>13}{'p95':>8}"
    lines = [header + "   target (NeoSafe p95)"]
    for label, timed in results.items():
        figures = [
            percentile([getattr(t, part) for t in timed], f) * 1000
            for part in ("seconds", "sources", "own")
            for f in (0.5, 0.95)
        ]
        target = TARGETS_MS.get(label)
        verdict = "" if target is None else f"   <= {target:g} ms: " + ("met" if figures[5] <= target else "NOT met")
        cells = "".join(f"{v:>{w}.1f}" for v, w in zip(figures, (11, 8, 13, 8, 13, 8), strict=True))
        lines.append(f"{label:<22}{cells}{verdict}")
    return "\n".join(lines)


async def run(args: argparse.Namespace, work: Path, sandbox: Sandbox, proxies: ProxyProcess) -> dict[str, list[Timed]]:
    neosafe = NeoSafe(work, write_back_url=proxies.urls["neonatal"], timeout_s=10, lease_s=120)
    (work / "sources.toml").write_text(sandbox.sources_toml(overrides=proxies.urls), encoding="utf-8")  # all five
    babies = fresh_babies(sandbox.urls["neonatal"], args.warm_up + args.requests)
    await neosafe.start()
    try:
        nhs = args.nhs_number
        token = {"Authorization": f"Bearer {issue_token(DEMO_USERS['nurse'], secret=neosafe.secret)}"}
        async with (
            httpx.AsyncClient(base_url=neosafe.url, headers=token, timeout=60) as api,
            httpx.AsyncClient(base_url=neosafe.url, timeout=60) as browser,
        ):
            signed_in = await browser.post("/sign-in", data={"role": "nurse"})
            if signed_in.status_code != 303:
                raise RuntimeError(f"sign-in failed: HTTP {signed_in.status_code}")
            questionnaire = (await api.get("/api/checklists/admission")).json()
            completed: dict[int, dict] = {}

            async def submit(n: int) -> httpx.Response:
                return await api.post(
                    f"/api/patients/{babies[n]}/assessments",
                    json=completed[n],
                    headers={"Idempotency-Key": str(uuid.uuid4())},
                )

            async def prepare(n: int) -> httpx.Response:  # untimed: the checklist each submission completes
                prefilled = await api.get(f"/api/patients/{babies[n]}/checklists/admission")
                completed[n] = answer_everything(questionnaire, prefilled.json())
                return prefilled

            kinds: dict[str, Callable[[int], Awaitable[httpx.Response]]] = {
                "picture": lambda _: api.get(f"/api/patients/{nhs}/picture"),
                "populated checklist": lambda _: api.get(f"/api/patients/{nhs}/checklists/admission"),
                "checklist page": lambda _: browser.get(f"/patients/{nhs}/checklists/admission"),
            }
            results = {}
            for label, send in kinds.items():
                results[label] = await measure(proxies, send, warm_up=args.warm_up, requests=args.requests)
                print(f"  {label}: {args.requests} requests timed", flush=True)
            for n in range(args.warm_up + args.requests):
                (await prepare(n)).raise_for_status()
            results["submit"] = await measure(proxies, submit, warm_up=args.warm_up, requests=args.requests)
            print(f"  submit: {args.requests} requests timed", flush=True)
            return results
    finally:
        neosafe.stop()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pages", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="timed requests of each kind")
    parser.add_argument("--warm-up", type=int, default=10, help="untimed requests of each kind first")
    parser.add_argument("--nhs-number", default=CASE_V_BABY, help="the baby of the picture, checklist and page")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neosafe-pages-") as folder, Sandbox(Path(folder) / "sandbox") as sandbox:
        print(f"sandbox up in {time.perf_counter() - started:.1f} s; measuring...", flush=True)
        with ProxyProcess(sandbox.urls, delay_ms=0) as proxies:
            results = asyncio.run(run(args, Path(folder), sandbox, proxies))
    print(f"NeoSafe's own time per request (ms), sources answering at once; {args.requests} requests of each kind")
    print(report(results))
    print(f"total run time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
