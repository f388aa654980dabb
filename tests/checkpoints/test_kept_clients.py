"""One HTTP client per source for the life of the process, and capabilities read at start-up (issue 14 item 2)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from app.checkpoints import Checkpoints
from app.config import Settings, SourceSettings
from sandbox import Sandbox
from testkit.proxy import FaultProxy
from tests.families import CASE_V_BABY


@pytest.fixture
async def proxies(sandbox: Sandbox, sources: list[SourceSettings]) -> AsyncIterator[dict[str, FaultProxy]]:
    """A request-logging proxy in front of each source, by source name."""
    running = {s.name: FaultProxy(sandbox.urls[s.name]) for s in sources}
    for proxy in running.values():
        await proxy.start()
    try:
        yield running
    finally:
        for proxy in running.values():
            await proxy.stop()


def through(proxies: dict[str, FaultProxy], sources: list[SourceSettings]) -> list[SourceSettings]:
    return [s.model_copy(update={"base_url": proxies[s.name].url}) for s in sources]


async def until(condition, *, what: str, timeout_s: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, what
        await asyncio.sleep(0.05)


async def test_one_client_per_source_across_pictures_closed_when_the_service_stops(
    settings: Settings, sources: list[SourceSettings], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[httpx.AsyncClient] = []

    class Counted(httpx.AsyncClient):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", Counted)
    services = Checkpoints.wire(settings, sources=sources)
    async with services.running():
        first = await services.picture(CASE_V_BABY)
        await asyncio.gather(services.picture(CASE_V_BABY), services.picture(CASE_V_BABY))
        async with services.client(services.write_back) as client:  # borrowed, as the census and outbox do
            await client.read("Patient", first.baby.found_on[services.write_back.name])
        assert len(made) == len(sources)
        assert not any(c.is_closed for c in made)
    assert all(c.is_closed for c in made)
    assert services.kept_clients == {}


async def test_capabilities_are_read_at_start_so_the_first_picture_asks_for_none(
    settings: Settings, sources: list[SourceSettings], proxies: dict[str, FaultProxy]
) -> None:
    services = Checkpoints.wire(settings, sources=through(proxies, sources))
    async with services.running():
        await until(lambda: len(services.capabilities.known) == len(sources), what="capabilities read at start")
        assert all(p.count("metadata") == 1 for p in proxies.values())
        for proxy in proxies.values():
            proxy.reset()
        await services.picture(CASE_V_BABY)
    assert all(p.count("metadata") == 0 for p in proxies.values()), {n: p.counts() for n, p in proxies.items()}
    assert all(p.count() > 0 for p in proxies.values())


async def test_a_source_down_at_start_neither_holds_up_the_start_nor_stays_unread(
    settings: Settings, sources: list[SourceSettings], proxies: dict[str, FaultProxy]
) -> None:
    down = next(s.name for s in sources if not s.write_back)
    await proxies[down].stop()
    services = Checkpoints.wire(settings, sources=through(proxies, sources))
    async with services.running():
        others = {s.name for s in sources} - {down}
        await until(lambda: set(services.capabilities.known) == others, what="the other sources' capabilities")
        await proxies[down].start()  # back, on the same port
        await services.picture(CASE_V_BABY)
        assert proxies[down].count("metadata") == 1
        assert down in services.capabilities.known
        await services.picture(CASE_V_BABY)
        assert proxies[down].count("metadata") == 1  # kept once read


async def test_a_picture_before_the_capabilities_arrive_waits_for_them(
    settings: Settings, sources: list[SourceSettings], proxies: dict[str, FaultProxy]
) -> None:
    services = Checkpoints.wire(settings, sources=through(proxies, sources))
    async with services.running():
        await services.picture(CASE_V_BABY)  # at once: the reads started with the service are still in flight
        assert set(services.capabilities.known) == {s.name for s in sources}
    assert all(p.count("metadata") == 1 for p in proxies.values())
