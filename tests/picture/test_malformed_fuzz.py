"""Fuzz: generated malformed Bundles, answered by a real HTTP source, never crash the picture and are never "none
found" (issue 11 #5: sources are untrusted).

Each example starts from a valid searchset (the baby's Patient and a few Flags) and breaks it in one to three ways
drawn from what a broken or hostile FHIR server sends: something other than a Bundle, entries that are not a list,
entries or resources that are not objects, resources the R4B models refuse, a `search` or `link` of the wrong
shape, a next link off the source, a Patient without an id, nesting past the cap, truncated JSON, bytes that are
not UTF-8, HTML, random bytes. police-gp, a real HTTP server on a loopback port (tests/sources/scripted.py), gives
it as the answer to every search, with a Content-Length or chunked; the neonatal source, another, answers properly.
A few examples are left valid, with only noise NeoSafe should see through (a byte-order mark, junk in Bundle
elements it does not read, OperationOutcome entries, entries reordered), so that "whatever it really contains" is
held to as well: then police-gp is found, or none-found exactly when its answer holds no record.

The generator is seeded, so a failure names its example and happens again the same way. The last tests do it
end to end: a live NeoSafe's picture page and API answer 200, not 500, and name police-gp as not checked.
"""

from __future__ import annotations

import dataclasses
import json
import random
from collections.abc import Iterator
from contextlib import AsyncExitStack
from typing import Any

import httpx
import pytest
from fhir.resources.R4B import get_fhir_model_class

from app.checkpoints import DEMO_USERS
from app.config import SourceSettings
from app.main import create_app
from app.picture import Picture, gather_picture
from app.sources import FhirClient, read_capabilities
from app.web import issue_token
from tests.conftest import SECRET, make_settings
from tests.families import CASE_V_BABY
from tests.picture.test_malformed import MAPPINGS, NHS, NOW, SHAPES
from tests.servers import serving
from tests.sources.scripted import Asked, Chunked, Scripted, scripted, searchset

SEED = 20261126
EXAMPLES = 60
VALID_SHARE = 0.2  # of the examples, about this many are left valid (noise only)
MALFORMED = "police-gp"
GOOD = "neonatal"
BABY = {
    "resourceType": "Patient",
    "id": "baby-1",
    "identifier": [{"system": NHS, "value": CASE_V_BABY}],
    "name": [{"family": "Brzozak", "given": ["Zofia"]}],  # both sources name her: her identity agrees
    "birthDate": "2026-11-20",
}
GOOD_FLAG = {
    "resourceType": "Flag",
    "id": "unit-flag",
    "status": "active",
    "code": {"text": "safeguarding alert on the unit record"},
    "subject": {"reference": "Patient/baby-1"},
}
NOT_FHIR = [b"", b"<html><body>Please sign in to the proxy</body></html>", b"null", b"[]", b"OK", b"\x00\x01\x02"]
ELSEWHERE = [
    "http://evil.example/fhir/Flag?page=2",
    "//evil.example/fhir/Flag?page=2",
    "https://127.0.0.1:1/fhir/Flag?page=2",
    "/admin/Flag?page=2",
    "../admin/Flag",
    "file:///etc/passwd",
    "javascript:alert(1)",
    "http://[::1",
    "\ud800/Flag",
    "   ",
    "",
]


def flag(n: int) -> dict[str, Any]:
    return {
        "resourceType": "Flag",
        "id": f"police-{n}",
        "status": "active",
        "code": {"text": f"police notice {n}"},
        "subject": {"reference": "Patient/baby-1"},
        "period": {"start": f"2024-0{1 + n % 9}-15"},
    }


def nested(depth: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "http://example.org/x", "valueString": "bottom"}
    for _ in range(depth):
        extension = {"url": "http://example.org/x", "extension": [extension]}
    return extension


def r4b_refuses(resource: Any) -> bool:
    """The independent judge of a resource: do fhir.resources' R4B models refuse it?"""
    try:
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)
    except Exception:
        return True
    return False


@dataclasses.dataclass
class Example:
    number: int
    breaks: list[str]  # what was done to it; empty for a valid one
    body: bytes | Chunked
    flags: frozenset[str]  # for a valid one: the Flags it really holds

    def __str__(self) -> str:
        return f"example {self.number} of seed {SEED}: {', '.join(self.breaks) or 'valid, noise only'}"


class Generator:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def text(self) -> str:
        pieces = ["x", "Flag", "ü", "\u202e", "\x00", "\ud800", "😀", "<script>", "Patient/../..", " ", "\\", '"']
        return "".join(self.rng.choice(pieces) for _ in range(self.rng.randint(0, 8)))

    def junk(self, depth: int = 0, *, deep: bool = True) -> Any:
        """Any JSON value at all (and a few Python's json also writes: NaN, Infinity); nested deep only if `deep`."""
        rng = self.rng
        choice = rng.randrange((13 if deep else 12) if depth < 2 else 9)
        if choice == 0:
            return rng.randint(-(2**70), 2**70)
        if choice == 1:
            return rng.choice([0.5, -1e308, float("nan"), float("inf"), 1e-300])
        if choice == 2:
            return rng.choice([True, False])
        if choice == 3:
            return None
        if choice in (4, 5):
            return self.text()
        if choice == 6:
            return rng.choice(["", "0", "null", "Bundle", "next", "match"])
        if choice == 7:
            return "x" * rng.randint(1_000, 100_000)
        if choice == 8:
            return rng.randint(0, 3)
        if choice in (9, 10):
            return [self.junk(depth + 1, deep=deep) for _ in range(rng.randint(0, 3))]
        if choice == 11:
            return {self.text(): self.junk(depth + 1, deep=deep) for _ in range(rng.randint(0, 3))}
        return nested(rng.randint(1, 120))

    def junk_except(self, *allowed: type, none: bool = False, falsy: bool = True) -> Any:
        """A JSON value that is not one of the `allowed` types (nor null unless `none`, nor falsy unless `falsy`)."""
        while True:
            value = self.junk()
            if isinstance(value, allowed) or (value is None and not none) or (not value and not falsy):
                continue
            return value

    # Each break leaves the answer malformed, and no break done after it makes the answer well-formed again.

    def not_a_bundle(self, bundle: dict) -> Any:
        while True:
            value = self.junk()
            if not (isinstance(value, dict) and value.get("resourceType") == "Bundle"):
                return value

    def resource_type(self, bundle: dict) -> dict:
        bundle["resourceType"] = self.rng.choice(
            ["bundle", "OperationOutcome", "Patient", "Bundle ", self.junk_except(str, none=True)]
        )
        return bundle

    def entry_not_a_list(self, bundle: dict) -> dict:
        bundle["entry"] = self.junk_except(list)
        return bundle

    def _entries(self, bundle: dict) -> list:
        entries = bundle.get("entry")
        if not isinstance(entries, list):
            entries = bundle["entry"] = []
        return entries

    def _resource_entry(self, bundle: dict) -> dict:
        """An entry holding a resource (one is added if none is left)."""
        entries = self._entries(bundle)
        held = [e for e in entries if isinstance(e, dict) and isinstance(e.get("resource"), dict)]
        if not held:
            held = [{"resource": flag(99)}]
            entries.append(held[0])
        return self.rng.choice(held)

    def entry_not_an_object(self, bundle: dict) -> dict:
        entries = self._entries(bundle)
        entries.insert(self.rng.randint(0, len(entries)), self.junk_except(dict, none=True))
        return bundle

    def resource_not_a_resource(self, bundle: dict) -> dict:
        entry = self._resource_entry(bundle)
        entry["resource"] = self.rng.choice(
            [
                self.junk_except(dict, none=True),
                {"id": "no-type", "status": "active"},
                {**flag(98), "resourceType": self.rng.choice(["flag", "Element", "NotAType", "", 7, None, ["Flag"]])},
            ]
        )
        return bundle

    def resource_refused(self, bundle: dict) -> dict:
        """A field of a resource set to a value, or a required one removed, so that the R4B models refuse it."""
        entry = self._resource_entry(bundle)
        for _ in range(50):
            broken = json.loads(json.dumps(entry["resource"]))
            keys = [k for k in broken if k != "resourceType"]
            if keys and self.rng.random() < 0.3 and broken["resourceType"] == "Flag":
                del broken[self.rng.choice(["status", "code", "subject"])]
            else:
                where: Any = broken
                key: Any = self.rng.choice(keys or ["id"])
                while isinstance(where.get(key), dict) and self.rng.random() < 0.5 and where[key]:
                    where, key = where[key], self.rng.choice(list(where[key]))
                where[key] = self.junk()
            if r4b_refuses(broken):
                entry["resource"] = broken
                return bundle
        entry["resource"] = {**entry["resource"], "status": 42}
        return bundle

    def search_not_an_object(self, bundle: dict) -> dict:
        self._resource_entry(bundle)["search"] = self.junk_except(dict, falsy=False)
        return bundle

    def link_not_a_list(self, bundle: dict) -> dict:
        bundle["link"] = self.junk_except(list)
        return bundle

    def link_not_an_object(self, bundle: dict) -> dict:
        links = bundle.get("link")
        bundle["link"] = [self.junk_except(dict, none=True), *(links if isinstance(links, list) else [])]
        return bundle

    def next_link_elsewhere(self, bundle: dict) -> dict:
        url = self.rng.choice([*ELSEWHERE, self.junk_except(str, none=True)])
        bundle["link"] = [{"relation": "next", "url": url}]
        return bundle

    def patient_without_id(self, bundle: dict) -> dict:
        entries = self._entries(bundle)
        patient = {k: v for k, v in BABY.items() if k != "id"}
        entries.insert(self.rng.randint(0, len(entries)), {"resource": patient})
        return bundle

    def nested_too_deep(self, bundle: dict) -> dict:
        entry = self._resource_entry(bundle)
        entry["resource"] = {**entry["resource"], "extension": [nested(self.rng.choice([60, 150, 300]))]}
        return bundle

    # Breaks of the bytes: applied last, each leaves the answer unreadable as JSON.

    def truncated(self, body: bytes) -> bytes:
        return body[: self.rng.randint(1, len(body) - 1)]

    def not_utf8(self, body: bytes) -> bytes:
        at = self.rng.randint(1, len(body) - 1)
        return body[:at] + self.rng.choice([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80\x80"]) + body[at:]

    def not_json(self, body: bytes) -> bytes:
        return self.rng.choice([*NOT_FHIR, self.rng.randbytes(self.rng.randint(1, 300))])

    BREAKS = (
        "not_a_bundle",
        "resource_type",
        "entry_not_a_list",
        "entry_not_an_object",
        "resource_not_a_resource",
        "resource_refused",
        "resource_refused",
        "search_not_an_object",
        "link_not_a_list",
        "link_not_an_object",
        "next_link_elsewhere",
        "patient_without_id",
        "nested_too_deep",
    )
    BYTE_BREAKS = ("truncated", "not_utf8", "not_json")

    # Noise a valid answer may carry: NeoSafe sees through it.

    def noise(self, bundle: dict) -> tuple[dict, list[str]]:
        rng, said = self.rng, []
        if rng.random() < 0.5:
            for name in rng.sample(["total", "meta", "timestamp", "identifier", "signature", "_type"], 2):
                bundle[name] = self.junk(deep=False)  # nested past the cap, the whole answer would be refused
            said.append("junk in Bundle elements NeoSafe does not read")
        if rng.random() < 0.5:
            outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "warning", "code": "informational"}]}
            bundle["entry"].insert(0, {"resource": outcome, "search": {"mode": "outcome"}})
            said.append("an OperationOutcome entry")
        if rng.random() < 0.5:
            rng.shuffle(bundle["entry"])
            said.append("entries reordered")
        if rng.random() < 0.3:
            bundle["link"] = [{"relation": "self", "url": "http://elsewhere.example/fhir/Flag?x=1"}]
            said.append("a self link elsewhere")
        return bundle, said

    def example(self, number: int) -> Example:
        rng = self.rng
        flags = [flag(n) for n in rng.sample(range(20), rng.randint(0, 4))]
        bundle: Any = searchset(json.loads(json.dumps(BABY)), *flags)
        for entry in bundle["entry"]:
            entry["search"] = {"mode": "match"}
        if rng.random() < VALID_SHARE:
            bundle, said = self.noise(bundle)
            body = json.dumps(bundle).encode()
            if rng.random() < 0.3:
                body = b"\xef\xbb\xbf" + body
                said.append("a byte-order mark")
            breaks: list[str] = []
        else:
            breaks = rng.sample(self.BREAKS, rng.randint(1, 3))
            for name in breaks:
                bundle = getattr(self, name)(bundle) if isinstance(bundle, dict) else bundle
            body = json.dumps(bundle).encode()
            if rng.random() < 0.25:
                name = rng.choice(self.BYTE_BREAKS)
                body = getattr(self, name)(body)
                breaks.append(name)
        framed: bytes | Chunked = body
        if rng.random() < 0.4:
            framed = Chunked(body, size=rng.choice([7, 1024, 65536]) if len(body) < 20_000 else 65536)
        return Example(number, breaks, framed, frozenset(f["id"] for f in flags))


def examples() -> Iterator[Example]:
    generator = Generator(SEED)
    for number in range(EXAMPLES):
        yield generator.example(number)


def test_the_generator_makes_both_malformed_and_valid_examples_and_uses_every_break():
    made = list(examples())
    used = {b for e in made for b in e.breaks}

    assert used == set(Generator.BREAKS) | set(Generator.BYTE_BREAKS)
    assert 5 <= sum(not e.breaks for e in made) <= 20
    assert any(not e.breaks and not e.flags for e in made)  # a valid answer that truly holds nothing
    assert any(not e.breaks and e.flags for e in made)


class Answers:
    """What police-gp answers: `search` to every search, `metadata` to GET metadata."""

    def __init__(self) -> None:
        self.search: tuple = (200, searchset())
        self.metadata: tuple = (404, {"resourceType": "OperationOutcome", "issue": []})

    def __call__(self, asked: Asked, base: str) -> tuple:
        return self.metadata if asked.path.endswith("/metadata") else self.search


def answering_properly(asked: Asked, base: str) -> tuple:
    if asked.path == "/fhir/Patient":
        return 200, searchset(BABY)
    if asked.path == "/fhir/Flag":
        return 200, searchset(GOOD_FLAG)
    return 200, searchset()


async def picture_of(servers: dict[str, Scripted]) -> Picture:
    async with AsyncExitStack() as stack:
        clients = {
            name: await stack.enter_async_context(FhirClient(SourceSettings(name=name, base_url=server.base_url)))
            for name, server in servers.items()
        }
        return await gather_picture(nhs_number=CASE_V_BABY, clients=clients, mappings=MAPPINGS, now=NOW)


def serialisable(picture: Picture) -> None:
    """As the API and the pages will send it: JSON, in UTF-8 (a lone surrogate from a source would not encode)."""
    json.dumps(dataclasses.asdict(picture), default=str, ensure_ascii=False).encode("utf-8")


async def test_generated_malformed_bundles_cost_only_that_source_and_are_never_none_found():
    answers = Answers()
    with scripted(answering_properly) as good, scripted(answers) as police:
        servers = {GOOD: good, MALFORMED: police}
        for example in examples():
            answers.search = (200, example.body)
            try:
                picture = await picture_of(servers)
                serialisable(picture)
            except Exception as exc:
                pytest.fail(f"{example}: {type(exc).__name__} escaped: {exc!s:.300}")

            statuses = {s.name: s for s in picture.sources}
            status = statuses[MALFORMED]
            police_records = {r.key for r in picture.records if r.source == MALFORMED}
            if example.breaks:
                assert status.status in ("unavailable", "partial"), (str(example), status)
                assert not status.checked
            else:
                assert status.status == ("found" if example.flags else "none-found"), (str(example), status)
                assert police_records == {f"{MALFORMED}/Flag/{f}" for f in example.flags}, str(example)
            if status.status == "unavailable":
                assert not police_records, str(example)
            assert status.detail and CASE_V_BABY not in status.detail and "Traceback" not in status.detail
            assert (statuses[GOOD].status, statuses[GOOD].records) == ("found", 1), str(example)
            assert f"{GOOD}/Flag/unit-flag" in {r.key for r in picture.records}, str(example)
            assert picture.baby.nhs_number == CASE_V_BABY


def capability(*resources: Any) -> dict[str, Any]:
    return {"resourceType": "CapabilityStatement", "rest": [{"mode": "server", "resource": list(resources)}]}


MALFORMED_CAPABILITIES = [
    {"resourceType": "CapabilityStatement", "rest": "server"},
    {"resourceType": "CapabilityStatement", "rest": [{"resource": "Flag"}]},
    capability({"type": "Patient", "searchParam": "identifier"}),
    capability({"type": "Patient", "searchRevInclude": 5}),
    capability({"type": ["Flag"]}),
    capability({"type": "Flag", "searchParam": [{"name": ["subject"]}]}),
]


@pytest.mark.parametrize("statement", MALFORMED_CAPABILITIES, ids=range(len(MALFORMED_CAPABILITIES)))
async def test_a_capability_statement_neosafe_cannot_read_means_asking_as_if_the_source_does_everything(statement):
    answers = Answers()
    answers.metadata = (200, statement)
    answers.search = (200, searchset(BABY, flag(1)))
    with scripted(answering_properly) as good, scripted(answers) as police:
        async with FhirClient(SourceSettings(name=MALFORMED, base_url=police.base_url)) as client:
            caps = await read_capabilities(client)
        picture = await picture_of({GOOD: good, MALFORMED: police})

    assert not caps.known and caps.holds("Flag")
    status = next(s for s in picture.sources if s.name == MALFORMED)
    assert (status.status, status.records) == ("found", 1)


# End to end: a live NeoSafe, the sandbox's other sources, police-gp malformed.


@pytest.fixture(scope="module")
def police_answers() -> Answers:
    return Answers()


@pytest.fixture(scope="module")
def neosafe(sources, police_answers, tmp_path_factory) -> Iterator[str]:
    with scripted(police_answers) as police:
        connected = [s for s in sources if s.name != MALFORMED]
        connected.append(SourceSettings(name=MALFORMED, base_url=police.base_url))
        settings = make_settings(tmp_path_factory.mktemp("malformed-live"))
        with serving(create_app(settings, sources=connected)) as url:
            yield url


def first_malformed() -> Example:
    return next(e for e in examples() if e.breaks)


LIVE = {
    "a generated malformed Bundle": lambda: (200, first_malformed().body),
    "JSON nested 200,000 deep": lambda: (200, SHAPES["JSON nested 200,000 deep"]),
    "a 12 MB Bundle": lambda: (200, b'{"resourceType": "Bundle", "entry": [' + b" " * 12_000_000 + b"]}"),
    "an error whose OperationOutcome is not valid Unicode": lambda: (
        400,
        {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "diagnostics": "bad \ud800 request"}]},
    ),
}


@pytest.mark.parametrize("answer", list(LIVE.values()), ids=list(LIVE))
def test_the_picture_page_and_api_are_200_and_name_the_malformed_source_as_not_checked(answer, neosafe, police_answers):
    police_answers.search = answer()
    token = issue_token(DEMO_USERS["nurse"], secret=SECRET)

    with httpx.Client(base_url=neosafe, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        response = api.get(f"/api/patients/{CASE_V_BABY}/picture")
    with httpx.Client(base_url=neosafe, timeout=60) as browser:
        assert browser.post("/sign-in", data={"role": "nurse"}).status_code == 303  # a session cookie, as people have
        page = browser.get(f"/patients/{CASE_V_BABY}")

    assert response.status_code == 200, response.text[:500]
    police = next(s for s in response.json()["sources"] if s["name"] == MALFORMED)
    assert police["status"] in ("unavailable", "partial") and police["detail"], police
    others = {s["name"]: s["status"] for s in response.json()["sources"] if s["name"] != MALFORMED}
    assert others["neonatal"] == "found" and "unavailable" not in others.values(), others
    assert page.status_code == 200, page.text[:500]
    assert f'data-source="{MALFORMED}" data-status="{police["status"]}"' in page.text
    warning = page.text[page.text.index('data-testid="not-checked"') : page.text.index("What the sources hold")]
    assert "Police and GP safeguarding notices</strong>:" in warning
