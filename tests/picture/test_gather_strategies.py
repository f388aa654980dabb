"""Every way of asking a source (issue 14) gives the same picture: batch, _revinclude, chained or by reference,
code-filtered or fetched whole, for every sandbox family and for the hidden-code traps."""

from __future__ import annotations

import dataclasses
import json
import uuid
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest

from app.config import SourceSettings
from app.fhir_systems import ASSESSMENT_TAG_SYSTEM
from app.picture import Picture, gather_picture
from app.sources import Capabilities, FhirClient, read_capabilities
from tests import families
from tests.factories import SNOMED, create, make_flag, make_patient, new_nhs_number
from tests.picture.test_gather import MAPPINGS, NOW

BABIES = sorted({v for k, v in vars(families).items() if k.endswith("_BABY") or k.startswith("TWIN_")})
LOINC = "http://loinc.org"
HEART_RATE = {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}]}


def strategies(read: Capabilities) -> dict[str, Capabilities]:
    """The ways NeoSafe may ask the sandbox, from what it declares (`read`): the first is the old way, everything
    fetched whole through _revinclude, which the others must match."""
    whole = Capabilities(revincludes=read.revincludes, known=True)  # types not said: nothing filtered
    return {
        "revinclude, whole": whole,
        "revinclude and batch, filtered": dataclasses.replace(read),
        "batch, filtered": dataclasses.replace(read, revincludes=frozenset()),
        "batch, whole": dataclasses.replace(whole, revincludes=frozenset(), batch=True),
        "chained, filtered": dataclasses.replace(read, revincludes=frozenset(), batch=False),
        "by reference, filtered": dataclasses.replace(read, revincludes=frozenset(), batch=False, chaining=False),
        "by reference in a batch, filtered": dataclasses.replace(read, revincludes=frozenset(), chaining=False),
    }


class Wire(httpx.AsyncBaseTransport):
    """Passes requests to the real servers and keeps every answer's JSON; `fail` rewrites a batch entry or search."""

    def __init__(self, real: httpx.AsyncBaseTransport, fail: str | None = None, at: str = "") -> None:
        self.real, self.fail, self.at, self.sent, self.answers = real, fail, at, [], []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.sent.append((request.method, str(request.url), body))
        failing = self.fail and str(request.url).startswith(self.at)
        if failing and f"/{self.fail}?" in str(request.url):
            return httpx.Response(500, json=outcome("the Observation index is rebuilding"))
        response = await self.real.handle_async_request(request)
        content = await response.aread()
        answer = json.loads(content) if content else None
        if failing and body and body.get("type") == "batch":
            for asked, entry in zip(body["entry"], answer["entry"], strict=True):
                if asked["request"]["url"].startswith(f"{self.fail}?"):
                    entry.clear()
                    entry["response"] = {
                        "status": "500 Internal Server Error",
                        "outcome": outcome("the Observation index is rebuilding"),
                    }
            content = json.dumps(answer).encode()
        self.answers.append(answer)
        return httpx.Response(response.status_code, headers={"Content-Type": "application/fhir+json"}, content=content)


def outcome(text: str) -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "exception", "diagnostics": text}],
    }


async def capabilities_of(sources: list[SourceSettings]) -> dict[str, Capabilities]:
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in sources}
        return {name: await read_capabilities(client) for name, client in clients.items()}


async def picture_by(
    nhs_number: str,
    sources: list[SourceSettings],
    caps: Capabilities,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Picture:
    """The picture with every source asked as `caps` say (a copy each: a strategy a server refuses is switched off)."""
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s, transport=transport)) for s in sources}
        return await gather_picture(
            nhs_number=nhs_number,
            clients=clients,
            mappings=MAPPINGS,
            now=NOW,
            capabilities={name: dataclasses.replace(caps) for name in clients},
        )


def seen(picture: Picture) -> dict[str, Any]:
    """Everything the picture says, in a form two pictures compare by."""
    return {
        "records": sorted(json.dumps(dataclasses.asdict(r), sort_keys=True, default=str) for r in picture.records),
        "sources": [(s.name, s.status, s.detail, s.records) for s in picture.sources],
        "people": [json.dumps(dataclasses.asdict(p), sort_keys=True, default=str) for p in picture.people],
        "open_tasks": sorted(
            json.dumps(dataclasses.asdict(t), sort_keys=True, default=str) for t in picture.open_tasks
        ),
        "encounter": picture.encounter,
        "gestation_days": picture.gestation_days,
    }


@pytest.fixture
async def read(sources: list[SourceSettings]) -> Capabilities:
    caps = await capabilities_of(sources)
    assert all(c.batch and c.revincludes and c.types for c in caps.values())  # the sandbox declares them all
    return caps["neonatal"]


@pytest.mark.parametrize("baby", BABIES)
async def test_every_strategy_gives_the_same_picture_for_every_family(baby, sources, read):
    ways = strategies(read)
    expected = seen(await picture_by(baby, sources, ways.pop("revinclude, whole")))
    assert expected["records"] or expected["sources"]
    for name, caps in ways.items():
        assert seen(await picture_by(baby, sources, caps)) == expected, name


@pytest.fixture
def traps(fhir) -> str:
    """A new baby whose records hide their codes where only an exact reading finds them, beside 40 vital signs
    and a NeoSafe-written Observation (its own answer, never evidence)."""
    number = new_nhs_number()
    pid = f"nn-traps-{number}"

    def observation(**fields: Any) -> dict[str, Any]:
        base = {"resourceType": "Observation", "id": f"obs-{uuid.uuid4().hex[:12]}", "status": "final"}
        return {
            **base,
            "subject": {"reference": f"Patient/{pid}"},
            "effectiveDateTime": "2026-11-25T10:00:00Z",
            **fields,
        }

    create(
        fhir["neonatal"],
        make_patient(pid, number),
        make_flag(pid, "999999999999"),  # a code NeoSafe does not know: still an uncategorised flag
        {
            "resourceType": "Condition",
            "id": f"cond-{uuid.uuid4().hex[:12]}",
            "subject": {"reference": f"Patient/{pid}"},
            "code": {  # the SNOMED code as the second coding
                "coding": [
                    {"system": "https://example.nhs.uk/local", "code": "CP-1"},
                    {"system": SNOMED, "code": "224353004"},
                ]
            },
            "clinicalStatus": {"coding": [{"code": "active"}]},
        },
        observation(  # the code in the value: routine enquiry about domestic abuse declined
            code={"coding": [{"system": LOINC, "code": "76499-3"}]},
            valueCodeableConcept={"coding": [{"system": SNOMED, "code": "700411009"}]},
        ),
        observation(
            code={"coding": [{"system": SNOMED, "code": "412726003"}]},
            valueQuantity={"value": 31, "unit": "wk", "system": "http://unitsofmeasure.org", "code": "wk"},
        ),
        observation(
            code={"coding": [{"system": SNOMED, "code": "371772001"}]},
            meta={"tag": [{"system": ASSESSMENT_TAG_SYSTEM, "code": "admission"}]},
        ),
        *(
            observation(code=HEART_RATE, valueQuantity={"value": 140 + i, "unit": "/min"}, id=f"hr-{number}-{i}")
            for i in range(40)
        ),
    )
    return number


async def test_hidden_codes_are_found_by_the_filtered_searches_and_vital_signs_never_cross_the_wire(
    traps, sources, read
):
    ways = strategies(read)
    expected = await picture_by(traps, sources, ways.pop("revinclude, whole"))
    assert {r.category for r in expected.records} >= {"uncategorised-flag", "child-protection", "da-enquiry"}
    assert expected.gestation_days == 31 * 7
    for name, caps in ways.items():
        async with httpx.AsyncHTTPTransport() as real:
            wire = Wire(real)
            assert seen(await picture_by(traps, sources, caps, wire)) == seen(expected), name
        if "filtered" in name:
            crossed = json.dumps(wire.answers)
            assert "8867-4" not in crossed, name  # not one heart rate was sent
            assert "Flag" in crossed  # Flags fetched whole


async def test_a_failing_batch_entry_makes_the_source_unavailable_never_none_found(sources, read):
    """Social care holds the no-concerns family and nothing about them (none found), until its Observation search
    fails: then it is unavailable, with the same reason whether that search was a batch entry or a search alone."""
    ways = strategies(read)
    social_care = next(s.url for s in sources if s.name == "social-care")
    assert status_of(await picture_by(families.NO_CONCERNS_BABY, sources, ways["batch, filtered"]))["social-care"] == (
        "none-found"
    )
    async with httpx.AsyncHTTPTransport() as real:
        batched, alone = [
            await picture_by(families.NO_CONCERNS_BABY, sources, ways[way], Wire(real, "Observation", social_care))
            for way in ("batch, filtered", "chained, filtered")
        ]

    for picture in (batched, alone):
        assert status_of(picture)["social-care"] == "unavailable"
        assert picture.baby.checks["social-care"].status == "unavailable"
        assert {n: s for n, s in status_of(picture).items() if n != "social-care"} == {
            n: s for n, s in status_of(batched).items() if n != "social-care"
        }
    assert [(s.status, s.detail) for s in batched.sources] == [(s.status, s.detail) for s in alone.sources]
    assert "HTTP 500: the Observation index is rebuilding" in status_detail(batched, "social-care")


def status_of(picture: Picture) -> dict[str, str]:
    return {s.name: s.status for s in picture.sources}


def status_detail(picture: Picture, name: str) -> str:
    return next(s.detail for s in picture.sources if s.name == name)


async def test_paging_inside_a_batch_is_followed(sources, read, monkeypatch):
    expected = seen(await picture_by(families.CASE_V_BABY, sources, strategies(read)["revinclude, whole"]))
    monkeypatch.setattr("app.picture.gather.PAGE_SIZE", "1")
    async with httpx.AsyncHTTPTransport() as real:
        wire = Wire(real)
        paged = await picture_by(families.CASE_V_BABY, sources, strategies(read)["batch, whole"], wire)

    assert seen(paged) == expected
    assert any(method == "GET" for method, _, _ in wire.sent)  # the later pages of a batch's searches


async def test_a_server_that_refuses_a_batch_is_asked_search_by_search(sources, read):
    expected = seen(await picture_by(families.CASE_V_BABY, sources, strategies(read)["revinclude, whole"]))
    caps = dataclasses.replace(read, revincludes=frozenset())

    class NoBatch(Wire):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST":
                return httpx.Response(405, json=outcome("batch is not supported"))
            return await super().handle_async_request(request)

    async with AsyncExitStack() as stack, httpx.AsyncHTTPTransport() as real:
        clients = {s.name: await stack.enter_async_context(FhirClient(s, transport=NoBatch(real))) for s in sources}
        kept = {name: dataclasses.replace(caps) for name in clients}
        picture = await gather_picture(
            nhs_number=families.CASE_V_BABY, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=kept
        )

    assert seen(picture) == expected
    assert not any(c.batch for c in kept.values())
