"""The safeguarding picture, gathered over HTTP from the sandbox sources."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from app.config import PROJECT_ROOT, SourceSettings
from app.picture import BabyNotFound, Picture, gather_picture, load_mappings
from app.sources import Capabilities, FhirClient, read_capabilities
from sandbox import Sandbox
from testkit.ports import free_port
from tests.conftest import write_sources
from tests.factories import create_baby
from tests.families import (
    ACTIVE_CP_BABY,
    ACTIVE_CP_MOTHER,
    ACTIVE_CP_PARTNER,
    CASE_V_BABY,
    CASE_V_MOTHER,
    CASE_V_SIBLING,
    LOOKED_AFTER_BABY,
    NO_CONCERNS_BABY,
)

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MAPPINGS = load_mappings(PROJECT_ROOT / "fhir_mappings")


async def picture_of(
    nhs_number: str, sources: list[SourceSettings], transport: httpx.AsyncBaseTransport | None = None
) -> Picture:
    """As the service does it: each source's CapabilityStatement first, then the picture."""
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s, transport=transport)) for s in sources}
        capabilities = {name: await read_capabilities(client) for name, client in clients.items()}
        return await gather_picture(
            nhs_number=nhs_number, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=capabilities
        )


def status_of(picture: Picture) -> dict[str, str]:
    return {s.name: s.status for s in picture.sources}


async def test_case_v_history_is_shown_dated_and_sourced(sources):
    picture = await picture_of(CASE_V_BABY, sources)

    police = [r for r in picture.records if r.category == "domestic-abuse" and r.source == "police-gp"]
    assert {(r.display, r.start[:10], r.current) for r in police if r.code == "895141000000105"} >= {
        ("Police domestic incident report received", "2024-01-15", False),
        ("Police domestic incident report received", "2024-04-10", False),
    }
    assert all(r.restricted for r in police)
    closed_cin = next(r for r in picture.records if r.code == "135891007")
    assert (closed_cin.source, closed_cin.status, closed_cin.current) == ("social-care", "finished", False)
    assert (closed_cin.start, closed_cin.end) == ("2024-05-12", "2025-03-20")
    assert closed_cin.person_nhs_number == CASE_V_SIBLING
    assert closed_cin.organisation and closed_cin.contact  # the local authority and the social worker
    history = next(r for r in picture.records if r.code == "429746005")
    assert (history.source, history.person_nhs_number, history.current) == ("maternity", CASE_V_MOTHER, False)
    assert [r.sort_date for r in picture.records] == sorted((r.sort_date for r in picture.records), reverse=True)
    assert status_of(picture)["cpis"] == "none-found"


async def test_case_v_household_is_found_through_relationships(sources):
    picture = await picture_of(CASE_V_BABY, sources)

    roles = {(p.role, p.nhs_number) for p in picture.people}
    assert ("mother", CASE_V_MOTHER) in roles
    assert ("sibling", CASE_V_SIBLING) in roles
    assert picture.male_carer_recorded
    assert len({p.nhs_number for p in picture.people}) == len(picture.people)  # deduplicated by NHS number
    assert picture.encounter["id"] == "nn-casev-enc"
    assert picture.baby.name == "Zofia BRZOZAK"


async def test_records_entered_in_error_are_left_out_and_any_coding_matches(sources):
    picture = await picture_of(CASE_V_BABY, sources)

    keys = {r.key for r in picture.records}
    assert "police-gp/Communication/pg-casev-comm-di-2024-04-dup" not in keys
    # the listed SNOMED code is the second coding, after a local police code
    assert "police-gp/Communication/pg-casev-comm-di-2024-01" in keys
    parking = next(r for r in picture.records if r.key == "neonatal/Flag/nn-casev-flag-parking")
    assert parking.category == "uncategorised-flag"


async def test_no_concerns_family_is_none_found_never_no_concerns(sources):
    picture = await picture_of(NO_CONCERNS_BABY, sources)

    assert picture.records == []
    # Maternity holds the mother (and the father as her RelatedPerson) but not the baby: not "none found" for it.
    statuses = status_of(picture)
    assert statuses.pop("maternity") == "not-known"
    assert set(statuses.values()) == {"none-found"}
    maternity = next(s for s in picture.sources if s.name == "maternity")
    assert maternity.detail.endswith("not known to this source: baby") and maternity.checked
    checks = {(p.role, name): c.status for p in picture.people for name, c in p.checks.items()}
    assert checks.pop(("baby", "maternity")) == "not-known"
    assert set(checks.values()) == {"none-found"}  # the father too: maternity knows him as the mother's partner
    assert all(s.checked_at == NOW for s in picture.sources)


async def test_active_cp_plan_is_current_and_unborn_plan_historic(sources):
    picture = await picture_of(ACTIVE_CP_BABY, sources)

    plans = {(r.code, r.person_nhs_number): r for r in picture.records if r.resource_type == "CarePlan"}
    assert plans[("CPPI", ACTIVE_CP_BABY)].current
    assert not plans[("UCPI", ACTIVE_CP_MOTHER)].current
    marac = next(r for r in picture.records if r.code == "758941000000108")
    assert (marac.person_nhs_number, marac.person_role, marac.current) == (ACTIVE_CP_PARTNER, "partner", True)
    assert not any(p.role == "father" for p in picture.people)


async def test_carer_without_nhs_number_is_listed_unverified(sources):
    picture = await picture_of(LOOKED_AFTER_BABY, sources)

    carer = next(p for p in picture.people if p.role == "carer")
    assert carer.nhs_number is None and not carer.verified


async def test_a_source_that_is_down_is_unavailable_with_its_reason(sandbox: Sandbox, tmp_path: Path):
    closed = f"http://127.0.0.1:{free_port()}/fhir"
    sources = write_sources(sandbox, tmp_path, overrides={"social-care": closed})

    picture = await picture_of(CASE_V_BABY, sources)

    down = next(s for s in picture.sources if s.name == "social-care")
    assert (down.status, down.checked_at) == ("unavailable", None)
    assert "could not connect" in down.detail
    assert status_of(picture)["maternity"] == "found"  # the rest of the picture still shows


async def test_a_source_slower_than_its_timeout_is_unavailable(sandbox: Sandbox, tmp_path: Path):
    sources = write_sources(sandbox, tmp_path, timeout_s=0.5)

    async with httpx.AsyncHTTPTransport() as real:

        async def slow_cpis(request: httpx.Request) -> httpx.Response:
            if request.url.port == httpx.URL(sandbox.urls["cpis"]).port:
                raise httpx.ReadTimeout("no answer", request=request)  # a read timeout cannot be made on demand
            return await real.handle_async_request(request)

        picture = await picture_of(CASE_V_BABY, sources, transport=httpx.MockTransport(slow_cpis))

    cpis = next(s for s in picture.sources if s.name == "cpis")
    assert cpis.status == "unavailable"
    assert "timeout" in cpis.detail or "no answer" in cpis.detail


async def test_unconfigured_source_kinds_are_shown_as_not_checked(sources):
    picture = await picture_of(CASE_V_BABY, [s for s in sources if s.name != "police-gp"])

    assert status_of(picture)["police-gp"] == "not-configured"


async def test_unknown_baby_is_not_found(sources):
    with pytest.raises(BabyNotFound):
        await picture_of("9990000018", sources)


class Recorder(httpx.AsyncBaseTransport):
    """Passes requests to the real servers, recording them; `refuse` answers 400 to matching queries."""

    def __init__(self, real: httpx.AsyncBaseTransport, refuse: str | None = None) -> None:
        self.real, self.refuse, self.urls, self.bodies = real, refuse, [], []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        self.bodies.append(json.loads(request.content) if request.content else None)
        if self.refuse and self.refuse in str(request.url):
            outcome = {"resourceType": "OperationOutcome", "issue": [{"severity": "error", "code": "not-supported"}]}
            return httpx.Response(400, json=outcome)
        return await self.real.handle_async_request(request)


async def test_a_server_that_will_not_chain_is_asked_the_plain_way(sources):
    expected = {r.key for r in (await picture_of(CASE_V_BABY, sources)).records}
    capabilities = {s.name: Capabilities() for s in sources}

    async with httpx.AsyncHTTPTransport() as real:
        recorder = Recorder(real, refuse="%3APatient.identifier")
        async with AsyncExitStack() as stack:
            clients = {s.name: await stack.enter_async_context(FhirClient(s, transport=recorder)) for s in sources}
            picture = await gather_picture(
                nhs_number=CASE_V_BABY, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=capabilities
            )

    assert {r.key for r in picture.records} == expected
    assert not any(c.chaining for c in capabilities.values())
    assert any("subject=Patient%2F" in url for url in recorder.urls)


async def test_a_source_that_can_revinclude_and_batch_is_asked_once_per_person(sources):
    """One request per person and source: a batch whose first search is the Patient bringing in what is fetched whole
    (Flags, Communications, relatives, stays, tasks), then a search per code-filtered record type."""
    async with httpx.AsyncHTTPTransport() as real:
        recorder = Recorder(real)
        picture = await picture_of(CASE_V_BABY, sources, transport=recorder)

    searches = [(u, b) for u, b in zip(recorder.urls, recorder.bodies, strict=True) if not u.endswith("/metadata")]
    people = len([p for p in picture.people if p.verified])
    assert len(searches) == people * len(sources)
    assert all(b and b["type"] == "batch" and u.endswith("/fhir/") for u, b in searches)
    firsts = [b["entry"][0]["request"]["url"] for _, b in searches]
    assert all(f.startswith("Patient?") and "_revinclude=Flag%3Asubject" in f for f in firsts)


async def test_more_records_than_one_answer_should_carry_are_asked_for_per_type(sources, fhir, monkeypatch):
    monkeypatch.setattr("app.picture.gather.INCLUDE_LIMIT", 3)
    with_revinclude = {r.key for r in (await picture_of(CASE_V_BABY, sources)).records}
    monkeypatch.undo()

    assert with_revinclude == {r.key for r in (await picture_of(CASE_V_BABY, sources)).records}


async def test_types_a_source_does_not_hold_are_not_asked_for(sources):
    maternity = next(s for s in sources if s.name == "maternity").url
    capabilities = {"maternity": Capabilities(types={"Patient": frozenset({"identifier"}), "Flag": frozenset()})}

    async with httpx.AsyncHTTPTransport() as real:
        recorder = Recorder(real)
        async with AsyncExitStack() as stack:
            clients = {s.name: await stack.enter_async_context(FhirClient(s, transport=recorder)) for s in sources}
            picture = await gather_picture(
                nhs_number=CASE_V_BABY, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=capabilities
            )

    asked = [url for url in recorder.urls if url.startswith(maternity)]
    assert asked and not any("/Condition" in url or "/Observation" in url for url in asked)
    assert "holds no Condition" in next(s for s in picture.sources if s.name == "maternity").detail


async def test_a_record_dated_in_the_future_makes_its_source_partial(sources, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001", period={"start": "2027-06-01"})

    picture = await picture_of(baby, sources)

    neonatal = next(s for s in picture.sources if s.name == "neonatal")
    assert (neonatal.status, neonatal.checked) == ("partial", False)
    assert "in the future" in neonatal.detail
    assert [r.code for r in picture.records] == ["1010196001"]  # still shown


async def test_a_source_answering_garbage_is_unavailable_and_the_rest_still_shows(sandbox, sources):
    port = httpx.URL(sandbox.urls["social-care"]).port

    async with httpx.AsyncHTTPTransport() as real:

        async def garbage(request: httpx.Request) -> httpx.Response:
            if request.url.port == port:
                return httpx.Response(200, text="<html>Service temporarily unavailable</html>")
            return await real.handle_async_request(request)

        picture = await picture_of(CASE_V_BABY, sources, transport=httpx.MockTransport(garbage))

    social = next(s for s in picture.sources if s.name == "social-care")
    assert social.status == "unavailable" and "not FHIR JSON" in social.detail
    assert status_of(picture)["police-gp"] == "found"


async def test_each_person_says_what_each_source_said_about_them(sources):
    picture = await picture_of(CASE_V_BABY, sources)

    father = next(p for p in picture.people if p.role == "father")
    assert set(father.checks) == {s.name for s in sources}
    assert (father.checks["police-gp"].status, father.checks["police-gp"].records) == ("found", 1)
    # The unit's record knows him only as the baby's RelatedPerson: known to it, so none found there.
    assert father.checks["neonatal"].status == "none-found" and "as a relative" in father.checks["neonatal"].detail
    baby = picture.baby
    assert baby.checks["maternity"].status == "not-known"
    assert baby.checks["cpis"].status == "none-found"  # CP-IS holds her Patient, and no plan


def _chunks_as_first_written(tokens: tuple[str, ...]) -> list[str]:
    """gather._chunks before it kept a running size and remembered its answers (issue 14's profile)."""
    from app.picture.gather import TOKENS_CHARS

    chunks: list[list[str]] = [[]]
    for token in tokens:
        if chunks[-1] and sum(len(t) + 1 for t in chunks[-1]) + len(token) > TOKENS_CHARS:
            chunks.append([])
        chunks[-1].append(token)
    return [",".join(chunk) for chunk in chunks]


def test_the_code_lists_are_split_as_before_and_worked_out_once():
    from app.picture.gather import TOKENS_CHARS, _chunks

    lists = [
        (),
        ("a|b",),
        ("x" * (TOKENS_CHARS + 10),),  # one token longer than a chunk: alone in its chunk, never dropped
        tuple(f"http://snomed.info/sct|{n:09d}" for n in range(400)),
        tuple("s|" + "c" * (n % 97) for n in range(300)),
    ]
    for tokens in lists:
        assert list(_chunks(tokens)) == _chunks_as_first_written(tokens)
        assert _chunks(tokens) is _chunks(tokens)
    for rule in MAPPINGS.record_types:
        assert MAPPINGS.code_filters(rule) is MAPPINGS.code_filters(rule)
        assert MAPPINGS.code_filters(rule) == MAPPINGS._code_filters(rule)
    assert any(MAPPINGS.code_filters(rule) for rule in MAPPINGS.record_types)
