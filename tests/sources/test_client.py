"""The FHIR client against a real sandbox server: paging, reads, transactions and typed errors."""

from __future__ import annotations

import threading
import uuid

import httpx
import pytest

from app.config import SourceSettings
from app.sources import (
    FhirClient,
    SourceAuthError,
    SourceDataError,
    SourceRejected,
    SourceTimeout,
    SourceUnavailable,
    off_the_loop,
)
from testkit.ports import free_port


def source(url: str, **kwargs) -> SourceSettings:
    return SourceSettings(name="maternity", base_url=url, **kwargs)


def flags_for(patient_id: str, count: int) -> dict:
    entries = [
        {
            "request": {"method": "PUT", "url": f"Patient/{patient_id}"},
            "resource": {"resourceType": "Patient", "id": patient_id},
        }
    ]
    entries += [
        {
            "request": {"method": "POST", "url": "Flag"},
            "resource": {
                "resourceType": "Flag",
                "status": "inactive",
                "code": {"text": f"old flag {n}"},
                "subject": {"reference": f"Patient/{patient_id}"},
            },
        }
        for n in range(count)
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def test_search_follows_every_page(sandbox):
    patient_id = f"mat-paging-{uuid.uuid4().hex[:8]}"
    async with FhirClient(source(sandbox.urls["maternity"])) as client:
        await client.transaction(flags_for(patient_id, 120))

        result = await client.search("Flag", {"subject": f"Patient/{patient_id}", "_count": "25"})

    assert len(result.resources) == 120
    assert len({r.id for r in result.resources}) == 120
    assert not result.truncated and not result.problems


async def test_search_stops_at_its_page_bound_and_says_so(sandbox):
    patient_id = f"mat-bound-{uuid.uuid4().hex[:8]}"
    async with FhirClient(source(sandbox.urls["maternity"])) as client:
        await client.transaction(flags_for(patient_id, 30))

        result = await client.search("Flag", {"subject": f"Patient/{patient_id}", "_count": "10"}, max_pages=2)

    assert len(result.resources) == 20
    assert result.truncated


async def test_a_refused_request_carries_the_servers_message(sandbox):
    async with FhirClient(source(sandbox.urls["maternity"])) as client:
        with pytest.raises(SourceRejected) as refused:
            await client.read("Patient", "no-such-patient")

    assert refused.value.status_code == 404
    assert refused.value.reason.startswith("HTTP 404: ") and len(refused.value.reason) > len("HTTP 404: ")
    assert refused.value.source == "maternity"


async def test_a_closed_port_is_unavailable():
    async with FhirClient(source(f"http://127.0.0.1:{free_port()}/fhir")) as client:
        with pytest.raises(SourceUnavailable) as down:
            await client.capabilities()

    assert down.value.transient
    assert "could not connect" in down.value.reason


@pytest.mark.parametrize(
    ("answer", "error", "reason"),
    [
        (httpx.Response(503, text="busy"), SourceUnavailable, "HTTP 503"),
        (httpx.Response(401, json={"resourceType": "OperationOutcome", "issue": []}), SourceAuthError, "HTTP 401"),
        (httpx.Response(200, text="<html>proxy login</html>"), SourceDataError, "not FHIR JSON"),
        (httpx.Response(200, json={"resourceType": "Patient", "id": "x"}), SourceDataError, "not a Bundle"),
    ],
)
async def test_what_a_real_server_cannot_do_on_demand_becomes_a_typed_error(answer, error, reason):
    transport = httpx.MockTransport(lambda request: answer)
    async with FhirClient(source("http://127.0.0.1:9/fhir"), transport=transport) as client:
        with pytest.raises(error, match=reason):
            await client.search("Flag", {"subject": "Patient/x"})


async def test_a_read_timeout_is_a_timeout():
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no answer", request=request)

    async with FhirClient(source("http://127.0.0.1:9/fhir"), transport=httpx.MockTransport(hang)) as client:
        with pytest.raises(SourceTimeout, match="no answer within"):
            await client.read("Patient", "x")


async def test_entries_that_fail_to_parse_are_reported_not_dropped():
    bundle = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {"resource": {"resourceType": "Flag", "status": "active", "code": {"text": "ok"}, "subject": {}}},
            {"resource": {"resourceType": "Flag", "status": "active"}},
            {"resource": {"resourceType": "NotAType"}},
        ],
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=bundle))
    async with FhirClient(source("http://127.0.0.1:9/fhir"), transport=transport) as client:
        result = await client.search("Flag", {})

    assert len(result.resources) == 1
    assert len(result.problems) == 2


async def test_a_kept_client_keeps_no_cookie_from_its_source() -> None:
    """A kept client serves every user's requests: a cookie one answer sets is never sent with the next."""
    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("Cookie"))
        bundle = {"resourceType": "Bundle", "type": "searchset"}
        return httpx.Response(200, json=bundle, headers={"Set-Cookie": "session=abc; Path=/"})

    client = FhirClient(source("http://fhir.example/r4"), transport=httpx.MockTransport(answer), kept=True)
    async with client:
        await client.search("Flag", {})
    async with client:  # borrowed again: still open
        await client.search("Flag", {})
    await client.aclose()
    assert sent == [None, None]


def test_a_batch_entrys_query_string_is_urlencodes_exactly():
    """Issue 14's profile: the batch's queries are quoted through a remembered quote_plus, with the same result."""
    from urllib.parse import urlencode

    from app.sources.client import _query_string

    cases = [
        {},
        {"_count": 100, "identifier": "https://fhir.nhs.uk/Id/nhs-number|9990101000"},
        {"code": "http://snomed.info/sct|1\\,2,a\\|b,c\\$d", "_include": ["Flag:author", "EpisodeOfCare:team"]},
        {"subject:Patient.identifier": "sys|a b+c&d=e#f/g?h%i", "name": "Zoë Ólafsdóttir", "n": [1, 2.5, True]},
        {"empty": "", "none": [], "bytes": b"a b&c"},
    ]
    for params in cases:
        assert _query_string(params) == urlencode(params, doseq=True)
        assert _query_string(params) == urlencode(params, doseq=True)  # remembered: still the same


@pytest.mark.parametrize("inline", [False, True], ids=["in a reader thread", "inline"])
async def test_off_the_loop_gives_the_same_result_and_error_inline_or_in_a_thread(inline):
    loop_thread = threading.current_thread()
    ran_on: list[bool] = []

    def work(value: int) -> int:
        ran_on.append(threading.current_thread() is loop_thread)
        if value < 0:
            raise ValueError("negative")
        return value * 2

    assert await off_the_loop(work, 21, inline=inline) == 42
    with pytest.raises(ValueError, match="negative"):
        await off_the_loop(work, -1, inline=inline)
    assert ran_on == [inline, inline]
