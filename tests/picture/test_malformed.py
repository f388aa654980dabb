"""A source is untrusted input: one that answers in a shape FHIR does not allow costs the picture that source
(unavailable or partial, with a plain reason), never the picture itself, and is never taken for "none found".

The malformed source is a real HTTP server on a loopback port (tests/sources/scripted.py) standing in for
police-gp; the other sources are the sandbox's.
"""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime

import pytest

from app.config import PROJECT_ROOT, SourceSettings
from app.picture import Picture, gather_picture, load_mappings
from app.sources import FhirClient, read_capabilities
from tests.families import CASE_V_BABY
from tests.sources.scripted import Asked, scripted

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MAPPINGS = load_mappings(PROJECT_ROOT / "fhir_mappings")
NHS = "https://fhir.nhs.uk/Id/nhs-number"
MALFORMED = "police-gp"


def bundle(**fields) -> dict:
    return {"resourceType": "Bundle", "type": "searchset", **fields}


def flag(**fields) -> dict:
    return {"resourceType": "Flag", "id": "f1", "status": "active", "code": {"text": "x"}, "subject": {}, **fields}


def nested_extension(depth: int) -> dict:
    extension: dict = {"url": "http://example.org/x", "valueString": "bottom"}
    for _ in range(depth):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return extension


DEEP = 200_000
SHAPES = {
    "entry is an object": bundle(entry={"resource": flag()}),
    "entry is a list of strings": bundle(entry=["Flag/f1", "Patient/p1"]),
    "link is a string": bundle(entry=[{"resource": flag()}], link="next"),
    "link is a list of strings": bundle(entry=[{"resource": flag()}], link=["next"]),
    "link.url is an integer": bundle(entry=[{"resource": flag()}], link=[{"relation": "next", "url": 42}]),
    "resource is a string": bundle(entry=[{"resource": "Flag/f1"}]),
    "resource is a list": bundle(entry=[{"resource": [flag()]}]),
    "entry.search is a string": bundle(entry=[{"resource": flag(), "search": "match"}]),
    "a Patient without id": bundle(
        entry=[{"resource": {"resourceType": "Patient", "identifier": [{"system": NHS, "value": CASE_V_BABY}]}}]
    ),
    "resourceType names no resource": bundle(entry=[{"resource": {"resourceType": "Element", "id": "e1"}}]),
    "JSON nested 200,000 deep": (
        '{"resourceType": "Bundle", "type": "searchset", "entry": [{"resource": ' + "[" * DEEP + "]" * DEEP + "}]}"
    ).encode(),
    "an extension nested 400 deep": bundle(entry=[{"resource": flag(extension=[nested_extension(400)])}]),
}


def answering(body):
    """Every search answered with `body`; the CapabilityStatement refused (so every way of asking is tried)."""

    def script(asked: Asked, base: str):
        if asked.path.endswith("/metadata"):
            return 404, {"resourceType": "OperationOutcome", "issue": []}
        return 200, body

    return script


async def picture_of(sources: list[SourceSettings]) -> Picture:
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in sources}
        capabilities = {name: await read_capabilities(client) for name, client in clients.items()}
        return await gather_picture(
            nhs_number=CASE_V_BABY, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=capabilities
        )


def others(picture: Picture) -> tuple[dict, set]:
    statuses = {s.name: (s.status, s.detail, s.records) for s in picture.sources if s.name != MALFORMED}
    return statuses, {r.key for r in picture.records if r.source != MALFORMED}


@pytest.mark.parametrize("body", list(SHAPES.values()), ids=list(SHAPES))
async def test_a_malformed_answer_costs_only_that_source(body, sources):
    expected = others(await picture_of(sources))

    with scripted(answering(body)) as server:
        malformed = SourceSettings(name=MALFORMED, base_url=server.base_url)
        picture = await picture_of([s for s in sources if s.name != MALFORMED] + [malformed])

    status = next(s for s in picture.sources if s.name == MALFORMED)
    assert status.status in ("unavailable", "partial"), (status.status, status.detail)
    assert not status.checked
    assert status.detail and len(status.detail) < 400
    assert "Traceback" not in status.detail and CASE_V_BABY not in status.detail
    assert others(picture) == expected  # the rest of the picture is as it would have been
    assert len(server.asked) > 1  # it was asked, and answered


def test_the_deep_answer_really_is_deep():
    with pytest.raises(RecursionError):
        json.loads(SHAPES["JSON nested 200,000 deep"])
