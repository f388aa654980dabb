"""A source's answer is read only up to NEOSAFE_SOURCE_MAX_BYTES, and read off the event loop (issue 11 #5).

The finding: a 12 MB source Bundle froze NeoSafe for everyone (/healthz took up to 19.9 s), because parsing it ran
on the event loop, where the per-source timeout could not interrupt it. Now an answer over the limit is not read
(not at all if its Content-Length says so) and costs only that source, with the reason; an allowed one is parsed,
modelled and classified in reader threads while the loop goes on serving. No test here times anything: each
proves the order things happened in.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from app.config import PROJECT_ROOT, SourceSettings
from app.picture import Picture, gather_picture, load_mappings
from app.picture import gather as gather_module
from app.sources import MAX_DEPTH, FhirClient, SourceDataError
from app.sources import client as client_module
from tests.families import CASE_V_BABY
from tests.picture.test_malformed import MALFORMED, NOW, answering, others, picture_of
from tests.sources.scripted import Asked, Chunked, scripted, searchset

MB = 1_000_000
MAPPINGS = load_mappings(PROJECT_ROOT / "fhir_mappings")
LIMIT = client_module.MAX_BYTES  # NEOSAFE_SOURCE_MAX_BYTES's default, which FhirClient uses unless told otherwise
HELD_S = 60  # how long a held parse waits for the loop: only ever reached if the loop is blocked, and then it fails
NHS = "https://fhir.nhs.uk/Id/nhs-number"
BABY = {"resourceType": "Patient", "id": "baby-1", "identifier": [{"system": NHS, "value": CASE_V_BABY}]}


def flag(n: int, text: int = 2000) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": f"flag-{n}",
        "status": "active",
        "code": {"text": f"police notice {n} " + "x" * text},
        "subject": {"reference": "Patient/baby-1"},
        "period": {"start": "2024-01-15"},
    }


def flags_of_size(size: int, **kwargs: Any) -> tuple[bytes, int]:
    """A valid searchset of Flags just over `size` bytes of JSON, and how many Flags it holds."""
    entries = []
    total = 0
    while total <= size:
        entry = {"fullUrl": f"Flag/flag-{len(entries)}", "resource": flag(len(entries)), "search": {"mode": "match"}}
        total += len(json.dumps(entry)) + 2
        entries.append(entry)
    return json.dumps({"resourceType": "Bundle", "type": "searchset", "entry": entries, **kwargs}).encode(), len(
        entries
    )


@pytest.fixture(scope="module")
def twelve_mb() -> bytes:
    body, _ = flags_of_size(12 * MB)
    assert 12 * MB < len(body) < 12.5 * MB and len(body) > LIMIT
    return body


async def search(settings: SourceSettings, **kwargs: Any):
    async with FhirClient(settings, **kwargs) as client:
        return await client.search("Flag", {"subject": "Patient/baby-1"})


# Over the limit: not read, and that source is not checked


@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
async def test_a_12_mb_answer_makes_that_source_not_checked_with_the_reason_and_the_rest_is_shown(
    framing, twelve_mb, sources
):
    expected = others(await picture_of(sources))
    body = twelve_mb if framing == "Content-Length" else Chunked(twelve_mb)

    with scripted(answering(body)) as server:
        huge = SourceSettings(name=MALFORMED, base_url=server.base_url)
        picture = await picture_of([s for s in sources if s.name != MALFORMED] + [huge])

    status = next(s for s in picture.sources if s.name == MALFORMED)
    assert (status.status, status.checked, status.records) == ("unavailable", False, 0)
    assert "answered with more than 8 MB" in status.detail
    assert others(picture) == expected  # the rest of the picture is all there, as it would have been
    assert any(a.path.endswith("/Patient") for a in server.asked)  # it was asked, and answered too much


class Pulled(httpx.AsyncByteStream):
    """A body of `chunks` pieces of 1 MB, counting how many of them the client pulled."""

    def __init__(self, chunks: int) -> None:
        self.chunks = chunks
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for _ in range(self.chunks):
            self.pulled += 1
            yield b" " * MB


def answered_with(body: Pulled, headers: dict[str, str]) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(200, headers=headers, stream=body))


async def test_an_answer_whose_content_length_is_over_the_limit_is_not_read_at_all():
    body = Pulled(12)
    settings = SourceSettings(name="police-gp", base_url="http://127.0.0.1:9/fhir")

    with pytest.raises(SourceDataError) as refused:
        await search(settings, transport=answered_with(body, {"Content-Length": str(12 * MB)}))

    assert refused.value.reason == "answered with more than 8 MB (the most NeoSafe reads)"
    assert body.pulled == 0


async def test_an_answer_without_a_content_length_is_read_only_up_to_the_limit():
    body = Pulled(12)
    settings = SourceSettings(name="police-gp", base_url="http://127.0.0.1:9/fhir")

    with pytest.raises(SourceDataError, match="answered with more than 8 MB"):
        await search(settings, transport=answered_with(body, {}))

    assert body.pulled == LIMIT // MB + 1  # the piece that went over, and not one more


async def test_the_limit_is_the_clients_own_and_said_in_plain_units():
    settings = SourceSettings(name="police-gp", base_url="http://127.0.0.1:9/fhir")

    with pytest.raises(SourceDataError, match=r"answered with more than 1\.5 MB \(") as refused:
        await search(settings, transport=answered_with(Pulled(2), {}), max_bytes=1_500_000)

    assert refused.value.source == "police-gp"


def paging_into(page_2: Any) -> Callable[[Asked, str], tuple]:
    """The baby, and a first page of 3 Flags whose next page is `page_2`; every other search finds nothing."""

    def script(asked: Asked, base: str) -> tuple:
        if asked.path.endswith("/metadata"):
            return 404, {"resourceType": "OperationOutcome", "issue": []}
        if asked.path == "/fhir/Patient":
            return 200, searchset(BABY)
        if asked.path == "/fhir/Flag" and "page=2" in asked.query:
            return 200, page_2
        if asked.path == "/fhir/Flag":
            return 200, searchset(flag(1), flag(2), flag(3), link=[{"relation": "next", "url": f"{base}/Flag?page=2"}])
        return 200, searchset()

    return script


async def only(settings: SourceSettings) -> Picture:
    """The picture from this one source (asked as if it could do everything)."""
    async with FhirClient(settings) as client:
        return await gather_picture(nhs_number=CASE_V_BABY, clients={settings.name: client}, mappings=MAPPINGS, now=NOW)


@pytest.mark.parametrize("framing", ["Content-Length", "chunked"])
async def test_a_later_page_over_the_limit_keeps_the_pages_before_it_and_the_source_is_partly_checked(
    framing, twelve_mb
):
    with scripted(paging_into(twelve_mb if framing == "Content-Length" else Chunked(twelve_mb))) as server:
        settings = SourceSettings(name=MALFORMED, base_url=server.base_url)
        result = await search(settings)
        picture = await only(settings)

    assert [r.id for r in result.resources] == ["flag-1", "flag-2", "flag-3"]
    assert result.problems == [
        "page 2 answered with more than 8 MB (the most NeoSafe reads): it and any later pages not read"
    ]
    status = next(s for s in picture.sources if s.name == MALFORMED)
    assert (status.status, status.checked, status.records) == ("partial", False, 3)
    assert "Flag: page 2 answered with more than 8 MB" in status.detail
    assert {r.key for r in picture.records} == {f"{MALFORMED}/Flag/flag-{n}" for n in (1, 2, 3)}


# Too deep: refused before any model is built


def nested_extension(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "bottom"}
    for _ in range(depth):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return extension


def json_depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((json_depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((json_depth(v) for v in value), default=0)
    return 0


@pytest.fixture
def modelled(monkeypatch: pytest.MonkeyPatch) -> list[Any]:
    """What the client built R4B models of."""
    built: list[Any] = []
    real = client_module.parse_resource

    def counting(data: Any):
        built.append(data)
        return real(data)

    monkeypatch.setattr(client_module, "parse_resource", counting)
    return built


@pytest.mark.parametrize("levels", [60, 100_000])
async def test_an_answer_nested_deeper_than_the_cap_is_refused_before_any_model_is_built(levels, modelled):
    """60 extensions deep is past the cap but within what json reads; 100,000 is past json's own limit."""
    if levels < 1000:
        body = json.dumps(searchset(flag(1, text=10), {**flag(2, text=10), "extension": [nested_extension(levels)]}))
        assert MAX_DEPTH < json_depth(json.loads(body)) < 1000
    else:
        body = '{"resourceType": "Bundle", "entry": [{"resource": ' + "[" * levels + "]" * levels + "}]}"
    with scripted(lambda asked, base: (200, body.encode())) as server, pytest.raises(SourceDataError) as refused:
        await search(SourceSettings(name=MALFORMED, base_url=server.base_url))

    assert refused.value.reason == f"answered with JSON nested deeper than {MAX_DEPTH} levels"
    assert modelled == []


async def test_an_answer_nested_as_deep_as_fhir_really_nests_is_read(modelled):
    deep = {**flag(2, text=10), "extension": [nested_extension(40)]}
    body = searchset(flag(1, text=10), deep)
    assert 80 < json_depth(body) <= MAX_DEPTH

    with scripted(lambda asked, base: (200, body)) as server:
        result = await search(SourceSettings(name=MALFORMED, base_url=server.base_url))

    assert [r.id for r in result.resources] == ["flag-1", "flag-2"] and not result.problems
    assert len(modelled) == 2


# Allowed but large: read off the loop, which goes on serving meanwhile


class HeldMidway:
    """Wraps `function` so that the call `at(args)` picks waits, in its thread, for the event loop to answer another
    HTTP request (`another_request`) before going on; and notes every call made on the loop's own thread.

    If the wrapped work ran on the loop, the loop could answer nothing while it waited: the wait would end after
    HELD_S unanswered, and the events would say so. `counted(args)`: the calls that are work (tiny ones, such as
    nothing found, are done on the loop: off_the_loop's `inline`); every call, unless given.
    """

    def __init__(
        self, function: Callable[..., Any], at: Callable[..., bool], counted: Callable[..., bool] = lambda *_: True
    ) -> None:
        self.function, self.at, self.counted = function, at, counted
        self.loop_thread = threading.current_thread()
        self.held = threading.Event()
        self.released = threading.Event()
        self.events: list[str] = []
        self.on_the_loop = 0

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if threading.current_thread() is self.loop_thread and self.counted(*args):
            self.on_the_loop += 1
        if not self.held.is_set() and self.at(*args):
            self.events.append("held midway")
            self.held.set()
            self.events.append("went on" if self.released.wait(HELD_S) else "the loop answered nothing meanwhile")
        return self.function(*args, **kwargs)

    async def another_request(self, url: str) -> None:
        """Once the work is held: one HTTP request on this loop, answered."""
        await asyncio.get_running_loop().run_in_executor(None, self.held.wait, HELD_S)
        async with httpx.AsyncClient() as http:
            (await http.get(url)).raise_for_status()
        self.events.append("another request answered")
        self.released.set()


@pytest.fixture
def other_server():
    with scripted(lambda asked, base: (200, {"resourceType": "CapabilityStatement", "status": "active"})) as server:
        yield server


@pytest.fixture
def json_threads(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """For each JSON answer larger than INLINE_BYTES parsed: whether it was parsed on the loop's thread (a smaller
    one is read on the loop: quicker than a hand-off to a thread)."""
    loop_thread = threading.current_thread()
    on_the_loop: list[bool] = []
    real = client_module._json

    def noting(content: bytes):
        if len(content) > client_module.INLINE_BYTES:
            on_the_loop.append(threading.current_thread() is loop_thread)
        return real(content)

    monkeypatch.setattr(client_module, "_json", noting)
    return on_the_loop


async def test_while_a_6_mb_answer_is_parsed_the_loop_answers_another_request(monkeypatch, other_server, json_threads):
    body, count = flags_of_size(6 * MB)
    assert 6 * MB < len(body) < LIMIT
    held = HeldMidway(client_module.parse_resource, at=lambda data: data.get("id") == f"flag-{count // 2}")
    monkeypatch.setattr(client_module, "parse_resource", held)

    with scripted(lambda asked, base: (200, body)) as server:
        settings = SourceSettings(name=MALFORMED, base_url=server.base_url)
        result, _ = await asyncio.gather(search(settings), held.another_request(f"{other_server.base_url}/metadata"))
    held.events.append("search returned")

    assert held.events == ["held midway", "another request answered", "went on", "search returned"]
    assert len(result.resources) == count and not result.problems
    assert held.on_the_loop == 0 and json_threads == [False]


async def test_while_a_large_answer_is_classified_the_loop_answers_another_request(
    monkeypatch, other_server, json_threads
):
    """gather_picture's part: the R4B models back to JSON, and each one classified (FHIRPath), off the loop too."""
    page, count = flags_of_size(MB // 2)
    dumped = HeldMidway(gather_module._as_json, at=bool, counted=bool)
    classified = HeldMidway(gather_module.classify, at=lambda resource: resource["id"] == f"flag-{count // 2}")
    monkeypatch.setattr(gather_module, "_as_json", dumped)
    monkeypatch.setattr(gather_module, "classify", classified)

    def script(asked: Asked, base: str) -> tuple:
        if asked.path == "/fhir/Patient":
            return 200, searchset(BABY)
        return 200, (page if asked.path == "/fhir/Flag" else searchset())

    with scripted(script) as server:
        settings = SourceSettings(name=MALFORMED, base_url=server.base_url)
        metadata = f"{other_server.base_url}/metadata"
        picture, *_ = await asyncio.gather(
            only(settings), dumped.another_request(metadata), classified.another_request(metadata)
        )

    for held in (dumped, classified):
        assert held.events == ["held midway", "another request answered", "went on"]
        assert held.on_the_loop == 0
    assert json_threads == [False], "the large page parsed off the loop"
    status = next(s for s in picture.sources if s.name == MALFORMED)
    assert (status.status, status.records) == ("found", count)
