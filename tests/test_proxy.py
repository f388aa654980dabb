"""The fault-injecting proxy, in front of a real sandbox FHIR server over HTTP."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from sandbox import Sandbox
from testkit.ports import free_port
from testkit.proxy import SERVER_MODES, Fault, FaultProxy, ThreadedFaultProxy

TAG = "https://neosafe.example/tests|proxy"
ID_SYSTEM = "https://neosafe.example/tests/proxy-id"
FHIR_JSON = {"Content-Type": "application/fhir+json"}


@pytest.fixture
async def direct(sandbox: Sandbox) -> AsyncIterator[httpx.AsyncClient]:
    """Straight to the neonatal sandbox server; afterwards deletes what the test tagged."""
    async with httpx.AsyncClient(base_url=sandbox.urls["neonatal"] + "/", timeout=10) as client:
        yield client
        await client.delete("Basic", params={"_tag": TAG})


@pytest.fixture
async def proxy(sandbox: Sandbox, caplog: pytest.LogCaptureFixture) -> AsyncIterator[FaultProxy]:
    """A proxy to the neonatal server; the test fails if asyncio reported an error (e.g. a handler that crashed)."""
    async with FaultProxy(sandbox.urls["neonatal"]) as running:
        yield running
    records = [*caplog.get_records("call"), *caplog.records]  # the test's own, and this teardown's
    assert not [r.getMessage() for r in records if r.name == "asyncio" and r.levelno >= logging.ERROR]


@pytest.fixture
async def via(proxy: FaultProxy) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=proxy.url + "/", timeout=10) as client:
        yield client


def make_basic(marker: str) -> dict:
    system, code = TAG.split("|")
    return {
        "resourceType": "Basic",
        "meta": {"tag": [{"system": system, "code": code}]},
        "identifier": [{"system": ID_SYSTEM, "value": marker}],
        "code": {"text": "proxy test"},
    }


async def held_by_server(client: httpx.AsyncClient, marker: str) -> int:
    bundle = (await client.get("Basic", params={"identifier": f"{ID_SYSTEM}|{marker}"})).json()
    return len(bundle.get("entry") or [])


async def until(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def test_search_passes_through_and_paging_stays_on_the_proxy(proxy, via, direct):
    straight, url = [], "Patient?_count=7"  # every patient, however many the other tests have made, paged directly
    while url:
        bundle = (await direct.get(url)).json()
        straight += [e["resource"]["id"] for e in bundle.get("entry", [])]
        url = next((link["url"] for link in bundle["link"] if link["relation"] == "next"), "")

    ids, url, pages = [], "Patient?_count=2", 0
    while url:
        bundle = (await via.get(url)).json()
        ids += [e["resource"]["id"] for e in bundle.get("entry", [])]
        links = {link["relation"]: link["url"] for link in bundle["link"]}
        assert all(link.startswith(proxy.url) for link in links.values())
        url, pages = links.get("next", ""), pages + 1

    assert pages > 1
    assert ids == straight
    assert proxy.count("Patient") == pages


async def test_transaction_passes_through_once_and_its_locations_point_at_the_proxy(proxy, via, direct):
    marker = uuid.uuid4().hex
    entry = {
        "resource": make_basic(marker),
        "request": {"method": "POST", "url": "Basic", "ifNoneExist": f"identifier={ID_SYSTEM}|{marker}"},
    }
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}

    first = await via.post("", json=bundle, headers=FHIR_JSON)
    again = await via.post("", json=bundle, headers=FHIR_JSON)

    assert first.status_code == again.status_code == 200
    assert first.json()["type"] == "transaction-response"
    assert first.json()["entry"][0]["response"]["status"].startswith("201")
    assert again.json()["entry"][0]["response"]["status"].startswith("200")  # the conditional create found it
    assert first.json()["entry"][0]["response"]["location"].startswith(proxy.url + "/Basic/")
    assert await held_by_server(direct, marker) == 1
    assert proxy.count("", method="POST") == 2


async def test_every_answer_is_delayed(proxy, via):
    proxy.faults.delay_ms = 150

    started = time.perf_counter()
    response = await via.get("Patient", params={"_count": "1"})

    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.15
    assert proxy.exchanges[0].seconds >= 0.15


async def test_a_seeded_fraction_fails_with_503_and_retry_after(proxy, via):
    proxy.faults.fail_rate, proxy.faults.retry_after = 0.3, "2"

    async def statuses() -> list[int]:
        return [(await via.get("Patient", params={"_count": "1"})).status_code for _ in range(60)]

    proxy.faults.reseed(11)
    first = await statuses()
    proxy.faults.reseed(11)
    second = await statuses()

    assert first == second  # the same seed, the same failures
    assert set(first) == {200, 503}
    assert 0.15 <= first.count(503) / len(first) <= 0.45
    failed = next(e for e in proxy.exchanges if e.status == 503)
    assert failed.fault is Fault.FAIL
    proxy.faults.script.append(Fault.FAIL)
    response = await via.get("Patient", params={"_count": "1"})
    assert response.headers["Retry-After"] == "2"
    assert response.json()["resourceType"] == "OperationOutcome"


async def test_faults_can_be_limited_to_one_method(proxy, via, direct):
    proxy.faults.fail_rate, proxy.faults.methods = 1.0, frozenset({"POST"})

    search = await via.get("Basic", params={"_count": "1"})
    create = await via.post("Basic", json=make_basic(uuid.uuid4().hex), headers=FHIR_JSON)

    assert (search.status_code, create.status_code) == (200, 503)


async def test_a_held_request_times_out_and_never_reaches_the_server(proxy, direct):
    marker = uuid.uuid4().hex
    proxy.faults.timeout_rate = 1.0

    async with httpx.AsyncClient(base_url=proxy.url + "/", timeout=0.3) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post("Basic", json=make_basic(marker), headers=FHIR_JSON)

    await until(lambda: proxy.exchanges[0].finished is not None)  # released once the client hung up
    assert (proxy.exchanges[0].fault, proxy.exchanges[0].status) == (Fault.TIMEOUT, None)
    assert await held_by_server(direct, marker) == 0


async def test_a_held_request_can_be_committed_first(proxy, direct):
    marker = uuid.uuid4().hex
    proxy.faults.timeout_rate, proxy.faults.timeout_forwards = 1.0, True

    async with httpx.AsyncClient(base_url=proxy.url + "/", timeout=0.5) as impatient:
        with pytest.raises(httpx.ReadTimeout):
            await impatient.post("Basic", json=make_basic(marker), headers=FHIR_JSON)

    await until(lambda: proxy.exchanges[0].finished is not None)  # forwarded, then held until the client hung up
    assert await held_by_server(direct, marker) == 1


async def test_dropped_after_forwarding_the_server_committed_but_the_client_never_heard(proxy, via, direct):
    marker = uuid.uuid4().hex
    proxy.faults.script.append(Fault.DROP)

    with pytest.raises(httpx.RemoteProtocolError):
        await via.post("Basic", json=make_basic(marker), headers=FHIR_JSON)

    assert await held_by_server(direct, marker) == 1
    assert (proxy.exchanges[0].fault, proxy.exchanges[0].status) == (Fault.DROP, None)
    assert (await via.get("Basic", params={"identifier": f"{ID_SYSTEM}|{marker}"})).status_code == 200  # one-off


async def test_stopped_it_refuses_connections_and_restarts_on_the_same_port(proxy, via):
    port = proxy.port
    assert (await via.get("metadata")).status_code == 200  # leaves a keep-alive connection open

    await proxy.stop()
    with pytest.raises(httpx.ConnectError):
        await via.get("metadata")
    await proxy.start()

    assert proxy.port == port
    assert (await via.get("Patient", params={"_count": "1"})).status_code == 200


async def test_requests_are_counted_by_resource_type_method_and_prefix(proxy, via):
    for params in ({"_count": "1"}, {"_count": "2"}):
        await via.get("Patient", params=params)
    await via.get("Flag", params={"_count": "1"})
    await via.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": []}, headers=FHIR_JSON)

    assert proxy.counts() == Counter({"Patient": 2, "Flag": 1, "": 1})
    assert proxy.count(method="POST") == 1
    assert proxy.count(prefix="/fhir/Patient?_count=2") == 1
    proxy.reset()
    assert proxy.count() == 0


async def test_keep_alive_chunked_bodies_and_connection_close_on_one_socket(proxy, direct):
    marker = uuid.uuid4().hex
    body = httpx.Request("POST", "http://x", json=make_basic(marker)).content
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in (body[:10], body[10:])) + b"0\r\n\r\n"
    reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
    try:
        writer.write(b"GET /fhir/Patient?_count=1 HTTP/1.1\r\nHost: x\r\nAccept: application/fhir+json\r\n\r\n")
        assert (await _read_response(reader))[0] == 200
        writer.write(
            b"POST /fhir/Basic HTTP/1.1\r\nHost: x\r\nContent-Type: application/fhir+json\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n" + chunked
        )
        assert (await _read_response(reader))[0] == 201
        writer.write(b"GET /fhir/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        status, headers = await _read_response(reader)
        assert (status, headers["connection"]) == (200, "close")
        assert await reader.read() == b""  # the proxy closed the connection, as asked
    finally:
        writer.close()
        await writer.wait_closed()

    assert await held_by_server(direct, marker) == 1


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in head[1:] if line)}
    assert "transfer-encoding" not in headers
    await reader.readexactly(int(headers["content-length"]))
    return int(head[0].split(" ")[1]), headers


async def test_an_upstream_that_is_down_is_answered_502():
    async with (
        FaultProxy(f"http://127.0.0.1:{free_port()}/fhir") as proxy,
        httpx.AsyncClient(base_url=proxy.url + "/") as client,
    ):
        response = await client.get("metadata")

    assert response.status_code == 502
    assert response.json()["resourceType"] == "OperationOutcome"


def test_the_threaded_proxy_serves_synchronous_clients_and_restarts(sandbox: Sandbox):
    with ThreadedFaultProxy(sandbox.urls["neonatal"]) as proxy, httpx.Client(base_url=proxy.url + "/") as client:
        proxy.faults.script.append(Fault.FAIL)
        assert client.get("Patient", params={"_count": "1"}).status_code == 503
        proxy.restart()
        assert client.get("Patient", params={"_count": "1"}).status_code == 200
        assert proxy.count("Patient") == 2


async def test_a_lesser_server_declares_neither_revinclude_nor_batch_and_refuses_both(proxy, via):
    proxy.faults.refuse = SERVER_MODES["no-batch"]
    rest = (await via.get("metadata")).json()["rest"][0]
    assert not any(r.get("searchRevInclude") for r in rest["resource"])
    assert "batch" not in {i["code"] for i in rest["interaction"]}
    assert "transaction" in {i["code"] for i in rest["interaction"]}  # the rest is as declared

    revinclude = await via.get("Patient", params={"_revinclude": "Observation:subject"})
    batch = {"resourceType": "Bundle", "type": "batch", "entry": [{"request": {"method": "GET", "url": "Patient"}}]}
    refused = await via.post("", json=batch, headers=FHIR_JSON)
    for answer in (revinclude, refused):
        assert answer.status_code == 400
        assert answer.json()["issue"][0]["code"] == "not-supported"
    assert (await via.get("Patient", params={"_count": "1"})).status_code == 200
    assert proxy.count(batch=True) == 1  # counted, never forwarded

    proxy.faults.refuse = SERVER_MODES["no-revinclude"]
    assert (await via.post("", json=batch, headers=FHIR_JSON)).status_code == 200
    assert (await via.get("Patient", params={"_revinclude": "Observation:subject"})).status_code == 400
