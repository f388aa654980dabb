"""NeoSafe picks its way of asking from what each server declares (issue 14 item 1): in front of every sandbox
source, a proxy that hides `_revinclude` (and one that also hides `batch`) from the CapabilityStatement and
refuses them. test_gather_strategies proves the strategies agree when told what to use; this proves NeoSafe
reads a lesser server's statement, chooses the expected strategy, never sends what the server refused, and
gives every family the same picture as the full server does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest

from app.config import SourceSettings
from app.picture import gather_picture
from app.sources import FhirClient, read_capabilities
from testkit.proxy import SERVER_MODES, FaultProxy, Faults
from tests.picture.test_gather import MAPPINGS, NOW
from tests.picture.test_gather_strategies import BABIES, seen

LESSER = [mode for mode in SERVER_MODES if mode != "full"]


@pytest.fixture(params=LESSER)
async def lesser(request, sources: list[SourceSettings]) -> AsyncIterator[tuple[str, dict[str, FaultProxy]]]:
    """Every source behind a proxy in one of the lesser server modes."""
    async with AsyncExitStack() as stack:
        proxies = {
            s.name: await stack.enter_async_context(
                FaultProxy(s.url, faults=Faults(refuse=SERVER_MODES[request.param]))
            )
            for s in sources
        }
        yield request.param, proxies


async def picture_through(baby: str, sources: list[SourceSettings], proxies: dict[str, FaultProxy] | None = None):
    """The picture as the service gathers it: each source's CapabilityStatement read first, then kept."""
    settings = [s.model_copy(update={"base_url": proxies[s.name].url}) if proxies else s for s in sources]
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in settings}
        caps = {name: await read_capabilities(client) for name, client in clients.items()}
        picture = await gather_picture(nhs_number=baby, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=caps)
    return picture, caps


async def test_each_lesser_server_gives_every_family_the_full_servers_picture_by_its_own_strategy(lesser, sources):
    mode, proxies = lesser
    for baby in BABIES:
        for proxy in proxies.values():
            proxy.reset()
        full, full_caps = await picture_through(baby, sources)
        assert all(c.revincludes and c.batch for c in full_caps.values())
        picture, caps = await picture_through(baby, sources, proxies)

        assert seen(picture) == seen(full), (mode, baby)
        assert not any(c.revincludes for c in caps.values())
        sent = [e for proxy in proxies.values() for e in proxy.exchanges]
        assert not [e for e in sent if e.status == 400], (mode, baby)  # nothing refused was ever asked for
        assert not [e for e in sent if "_revinclude" in e.target]
        if mode == "no-revinclude":  # batch: one Bundle of searches per person per source
            assert all(c.batch for c in caps.values())
            assert any(e.batch for e in sent), baby
        else:  # chained searches, one per record type
            assert not any(c.batch for c in caps.values())
            assert not any(e.batch for e in sent)
            assert any(":Patient.identifier=" in e.target.replace("%3A", ":") for e in sent), baby
