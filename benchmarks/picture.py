"""How long the Case V analogue's safeguarding picture takes when every source is slow, beside a sequential baseline.

    uv run --locked python -m benchmarks.picture [--delay-ms 150] [--server {full,no-revinclude,no-batch,all}]
                                                 [--long-stay]

Starts the five sandbox FHIR servers, puts a FaultProxy that delays every answer by `--delay-ms` in front of
each (in a process of their own, as a real source is another machine), and times two ways of asking them, with
the same FhirClients: `gather_picture` as NeoSafe runs it (one untimed warm-up, then the median of `--repeat`
runs), and once the obvious sequential loop over the same searches (each person in turn, each source in turn,
each search one after another).

Every figure but the picture time comes from the proxies' request log (one clock, CLOCK_MONOTONIC, for all):
- slowest single query: the longest time from a request arriving at a proxy to its answer leaving it;
- dependent rounds: the requests sorted by arrival are cut into waves; a request belongs to the current wave
  if it arrived before any answer of that wave had left (so it cannot have depended on one), else it starts
  the next wave. Paging, and searches that need an earlier answer, each add a wave; so does a round whose
  requests the client is too busy to send before the first of them is answered (the wave table shows when);
- ratio: picture time / (rounds x slowest single query); 1.00 means no time beyond the dependent rounds'
  floor. Issue 3 asks for at most 3 rounds and a ratio of at most 1.25 for the picture.

`--server` puts each source behind a lesser server (testkit.proxy.SERVER_MODES): `no-revinclude` declares and
answers no `_revinclude` (NeoSafe asks one batch per person per source), `no-batch` neither (chained searches);
`all` measures the three in one run. `--long-stay` then adds 20,000 heart rates to the Case V analogue's baby
and 2,000 to the mother and measures each mode again, beside the small family (issue 14: within 1.25x).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from app.config import PROJECT_ROOT, SourceSettings
from app.picture import Mappings, gather_picture, load_mappings
from app.sources import Capabilities, FhirClient, read_capabilities
from sandbox import Sandbox
from testkit.proxy import SERVER_MODES, Exchange

from ._proxies import ProxyProcess

CASE_V_BABY = "9990101000"
NHS_NUMBER_SYSTEM = "https://fhir.nhs.uk/Id/nhs-number"
PAGE_SIZE = "100"
# As app/picture/gather.py: baby, then parents, then their partners and children; whose relatives are asked for.
MAX_ROUNDS = 3
FAMILY_ROLES = ("baby", "mother", "father", "partner")
TARGET_ROUNDS, TARGET_RATIO, TARGET_LONG_STAY = 3, 1.25, 1.25
# The long stay: heart rates (never evidence) on the Case V analogue's baby and mother, by source and patient id.
LONG_STAY = {"neonatal": ("nn-casev-baby", 20_000), "maternity": ("mat-casev-mother", 2_000)}
HEART_RATE = {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]}
LOAD_CHUNK = 1_000  # Observations per transaction Bundle
VITAL_SIGNS = ("http://terminology.hl7.org/CodeSystem/observation-category", "vital-signs")


@dataclass
class Figures:
    """One way of assembling the picture, as the proxies saw it."""

    label: str
    called: float  # time.perf_counter() when the picture was asked for
    seconds: float
    people: int
    exchanges: list[Exchange]
    round_trips: dict[str, int]

    @property
    def slowest(self) -> float:
        return max(e.finished - e.started for e in self.exchanges if e.finished is not None)

    @property
    def waves(self) -> list[list[Exchange]]:
        return waves(self.exchanges)

    @property
    def ratio(self) -> float:
        return self.seconds / (len(self.waves) * self.slowest)


def waves(exchanges: Sequence[Exchange]) -> list[list[Exchange]]:
    """Cut requests into dependent rounds: a request joins the current wave if it arrived before any answer of it."""
    result: list[list[Exchange]] = []
    first_answer = float("-inf")
    for exchange in sorted(exchanges, key=lambda e: e.started):
        finished = float("inf") if exchange.finished is None else exchange.finished
        if result and exchange.started < first_answer:
            result[-1].append(exchange)
            first_answer = min(first_answer, finished)
        else:
            result.append([exchange])
            first_answer = finished
    return result


async def sequential_picture(
    *, nhs_number: str, clients: Mapping[str, FhirClient], mappings: Mappings, capabilities: Mapping[str, Capabilities]
) -> int:
    """The naive baseline: gather_picture's searches, one at a time; returns how many people were asked about.

    It only fetches (paging included): classifying what came back costs no round trips.
    """
    people = {nhs_number: "baby"}
    frontier = [nhs_number]
    for round_number in range(MAX_ROUNDS):
        found: list[str] = []
        for number in frontier:
            role = people[number]
            identifier = f"{NHS_NUMBER_SYSTEM}|{number}"
            for name, client in clients.items():
                caps = capabilities[name]
                await client.search("Patient", {"identifier": identifier, "_count": PAGE_SIZE})
                for rule in mappings.record_types:
                    if caps.holds(rule.resource_type):
                        params: dict[str, Any] = {f"{rule.search}:Patient.identifier": identifier, "_count": PAGE_SIZE}
                        if rule.include:
                            params["_include"] = list(rule.include)
                        await client.search(rule.resource_type, params)
                if role in FAMILY_ROLES and caps.holds("RelatedPerson"):
                    params = {"patient:Patient.identifier": identifier, "_count": PAGE_SIZE}
                    related = await client.search("RelatedPerson", params)
                    for resource in related.resources:
                        member = _member(resource.model_dump(mode="json"), mappings, of_parent=role != "baby")
                        if member and member[0] not in people:
                            people[member[0]] = member[1]
                            found.append(member[0])
                if round_number == 0:  # the baby's stay, and the tasks raised for the baby
                    for kind, by in (("Encounter", "subject"), ("Task", "patient")):
                        if caps.holds(kind):
                            await client.search(kind, {f"{by}:Patient.identifier": identifier, "_count": PAGE_SIZE})
        frontier = found
    return len(people)


def _member(related: dict[str, Any], mappings: Mappings, *, of_parent: bool) -> tuple[str, str] | None:
    """A RelatedPerson's NHS number and household role, or None if it has no NHS number."""
    number = next(
        (i.get("value") for i in related.get("identifier") or [] if i.get("system") == NHS_NUMBER_SYSTEM), None
    )
    if not number:
        return None
    concepts = related.get("relationship") or []
    codings = [(c.get("system"), c.get("code")) for concept in concepts for c in concept.get("coding") or []]
    role = mappings.role_of(codings, of_parent=of_parent)
    return str(number).replace(" ", ""), role.key if role else "other"


async def measure(nhs_number: str, proxies: ProxyProcess, *, repeat: int, label: str, baseline: bool) -> list[Figures]:
    """Time gather_picture (the median of `repeat` runs), then (`baseline`) the sequential baseline once."""
    mappings = load_mappings(PROJECT_ROOT / "fhir_mappings")
    sources = [
        SourceSettings(name=name, base_url=url, timeout_s=60, write_back=name == "neonatal")
        for name, url in proxies.urls.items()
    ]
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in sources}
        # As the service does: read each CapabilityStatement once and keep it; not part of a picture.
        read = await asyncio.gather(*(read_capabilities(client) for client in clients.values()))
        capabilities = dict(zip(clients, read, strict=True))

        async def gather() -> int:
            picture = await gather_picture(
                nhs_number=nhs_number,
                clients=clients,
                mappings=mappings,
                now=datetime.now(UTC),
                capabilities=capabilities,
            )
            return sum(1 for person in picture.people if person.nhs_number)

        async def sequential() -> int:
            return await sequential_picture(
                nhs_number=nhs_number, clients=clients, mappings=mappings, capabilities=capabilities
            )

        async def timed(label: str, run: Callable[[], Awaitable[int]]) -> Figures:
            proxies.reset()
            started = time.perf_counter()
            people = await run()
            seconds = time.perf_counter() - started
            seen = proxies.exchanges()
            exchanges = [e for source in seen.values() for e in source]
            return Figures(label, started, seconds, people, exchanges, {name: len(s) for name, s in seen.items()})

        await gather()  # warm-up, untimed: connections opened, servers' first-query costs paid
        runs = sorted([await timed(label, gather) for _ in range(repeat)], key=lambda f: f.seconds)
        return [runs[len(runs) // 2], *([await timed("sequential", sequential)] if baseline else [])]


def load_long_stay(sandbox: Sandbox) -> None:
    """Put the long stay's heart rates on the sandbox, a transaction Bundle of LOAD_CHUNK at a time."""
    with httpx.Client(timeout=300) as http:
        for name, (patient, count) in LONG_STAY.items():
            for start in range(0, count, LOAD_CHUNK):
                entries = [_heart_rate(patient, i) for i in range(start, min(count, start + LOAD_CHUNK))]
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
                answer = http.post(sandbox.urls[name], json=bundle, headers={"Content-Type": "application/fhir+json"})
                answer.raise_for_status()
    sandbox.analyze(*LONG_STAY)


def _heart_rate(patient: str, i: int) -> dict[str, Any]:
    taken = datetime(2026, 9, 1, tzinfo=UTC).timestamp() + i * 300  # one every 5 minutes
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": VITAL_SIGNS[0], "code": VITAL_SIGNS[1]}]}],
        "code": HEART_RATE,
        "subject": {"reference": f"Patient/{patient}"},
        "effectiveDateTime": datetime.fromtimestamp(taken, UTC).isoformat(),
        "valueQuantity": {"value": 120 + i % 40, "unit": "/min", "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    return {"resource": resource, "request": {"method": "POST", "url": "Observation"}}


def report(results: list[Figures], *, nhs_number: str, delay_ms: float, small: dict[str, Figures]) -> str:
    """One column per run; a target line for each gather_picture run (`small`: the small family's, by mode)."""
    number = f"{nhs_number[:3]} {nhs_number[3:6]} {nhs_number[6:]}"
    width = max(14, *(len(f.label) for f in results))
    rows: list[tuple[str, list[str]]] = [
        ("picture time (s)", [f"{f.seconds:.2f}" for f in results]),
        ("slowest single query (s)", [f"{f.slowest:.3f}" for f in results]),
        ("dependent rounds", [str(len(f.waves)) for f in results]),
        ("ratio time / (rounds x slowest)", [f"{f.ratio:.2f}" for f in results]),
        ("people asked about", [str(f.people) for f in results]),
        ("round trips, all sources", [str(sum(f.round_trips.values())) for f in results]),
        *((f"  {name}", [str(f.round_trips[name]) for f in results]) for name in results[0].round_trips),
    ]
    label_width = max(len(label) for label, _ in rows)
    lines = [
        f"Safeguarding picture of NHS number {number} (Case V analogue); every source answers {delay_ms:g} ms late",
        "",
        " " * label_width + "".join(f"  {f.label:>{width}}" for f in results),
        *(f"{label:<{label_width}}" + "".join(f"  {v:>{width}}" for v in values) for label, values in rows),
        "",
    ]
    timed = [f for f in results if f.label != "sequential"]
    for figures in timed:
        lines += [f"{figures.label}, wave by wave (ms after the call):", *_wave_table(figures), ""]
    for figures in timed:
        mode = figures.label.removesuffix(LONG_STAY_SUFFIX)
        met = figures.ratio <= TARGET_RATIO and (mode != "full" or len(figures.waves) <= TARGET_ROUNDS)
        rounds = f"at most {TARGET_ROUNDS} rounds and " if mode == "full" else ""
        line = f"{figures.label}: target {rounds}ratio <= {TARGET_RATIO:.2f}: " + ("met" if met else "NOT met")
        if figures.label.endswith(LONG_STAY_SUFFIX) and mode in small:
            times = figures.seconds / small[mode].seconds
            line += f"; long stay / small family = {times:.2f} (target <= {TARGET_LONG_STAY:.2f}): " + (
                "met" if times <= TARGET_LONG_STAY else "NOT met"
            )
        lines.append(line)
    return "\n".join(lines)


def _wave_table(figures: Figures) -> list[str]:
    """When each wave's requests left and its last answer came back: the gaps are the client's own work."""
    rows = [("wave", "requests", "first sent", "last sent", "last answered")]
    for number, wave in enumerate(figures.waves, start=1):
        sent = [e.started - figures.called for e in wave]
        answered = max((e.finished or e.started) - figures.called for e in wave)
        rows.append((str(number), str(len(wave)), *(f"{t * 1000:.0f}" for t in (min(sent), max(sent), answered))))
    rows.append(("end", "", "", "", f"{figures.seconds * 1000:.0f}"))
    widths = [max(len(row[i]) for row in rows) for i in range(5)]
    return ["  " + "  ".join(f"{cell:>{w}}" for cell, w in zip(row, widths, strict=True)) for row in rows]


LONG_STAY_SUFFIX = ", long stay"


def run(sandbox: Sandbox, modes: Sequence[str], *, suffix: str, args: argparse.Namespace) -> list[Figures]:
    """Each mode's gather_picture through its own proxies; the sequential baseline once, on the full server."""
    results = []
    for mode in modes:
        with ProxyProcess(sandbox.urls, delay_ms=args.delay_ms, refuse=SERVER_MODES[mode]) as proxies:
            baseline = mode == "full" and not suffix
            label = mode + suffix
            results += asyncio.run(
                measure(args.nhs_number, proxies, repeat=args.repeat, label=label, baseline=baseline)
            )
    return results


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.picture", description=__doc__.splitlines()[0])
    parser.add_argument("--delay-ms", type=float, default=150.0, help="added to every answer of every source")
    parser.add_argument("--nhs-number", default=CASE_V_BABY, help="the baby whose picture is assembled")
    parser.add_argument("--repeat", type=int, default=3, help="timed gather_picture runs; the median one is shown")
    parser.add_argument(
        "--server", choices=[*SERVER_MODES, "all"], default="full", help="what every source supports; all: each"
    )
    parser.add_argument(
        "--long-stay", action="store_true", help="then 20,000 heart rates on the baby, 2,000 on the mother: again"
    )
    args = parser.parse_args(argv)
    modes = list(SERVER_MODES) if args.server == "all" else [args.server]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="neosafe-bench-") as work, Sandbox(Path(work)) as sandbox:
        print(f"sandbox up in {time.perf_counter() - started:.1f} s; measuring...", flush=True)
        results = run(sandbox, modes, suffix="", args=args)
        if args.long_stay:
            loading = time.perf_counter()
            load_long_stay(sandbox)
            print(f"long stay loaded in {time.perf_counter() - loading:.1f} s; measuring...", flush=True)
            results += run(sandbox, modes, suffix=LONG_STAY_SUFFIX, args=args)
    small = {f.label: f for f in results}
    print(report(results, nhs_number=args.nhs_number, delay_ms=args.delay_ms, small=small))
    print(f"total run time {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main()
