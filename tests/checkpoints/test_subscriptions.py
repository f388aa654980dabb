"""Watching the stay by FHIR Subscription (issue 15 item 2), over HTTP against sandbox sources of this module's own
and NeoSafe served by uvicorn on loopback, which the sandbox's real R4 rest-hook engine calls back.

A source that offers Subscription gets one NeoSafe Subscription per criteria however often NeoSafe starts; a police
notice posted to it during a stay reaches NeoSafe by notification and is new information after the pass that
prompts, without waiting for the interval; a notification without its secret is 401 and a malformed one 400; a
source that does not offer Subscription is still polled.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.checkpoints import DEMO_USERS, Checkpoints, Watcher
from app.checkpoints.subscriptions import load_subscription_rules
from app.config import Settings, SourceSettings
from app.fhir_systems import WATCH_SUBSCRIPTION_TAG_SYSTEM
from app.main import create_app
from app.picture import load_mappings
from sandbox import Sandbox
from tests.conftest import make_settings, signed_in_browser, unseeded, write_sources
from tests.factories import create, make_flag, make_patient, on_the_unit
from tests.servers import serving
from tests.web.test_sessions import Clock, audited

POLICE_NOTICE = "895141000000105"  # Police domestic incident report received (domestic-abuse, categories.toml)
CRITERIA = load_subscription_rules(
    Settings.model_fields["mappings_dir"].default, load_mappings(Settings.model_fields["mappings_dir"].default)
).criteria


@pytest.fixture(scope="module")
def own_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    """The unit's record and a police/GP source, unseeded; a failed notification is not tried again (it would hold
    up the next test's in the sandbox's few sending threads)."""
    once = {"subscriptions": {"retries": 1}}
    with unseeded(
        tmp_path_factory.mktemp("subscribed"),
        ("neonatal", "police-gp"),
        server_settings={"neonatal": once, "police-gp": once},
    ) as running:
        yield running


@pytest.fixture(scope="module")
def own_sources(own_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> list[SourceSettings]:
    return write_sources(own_sandbox, tmp_path_factory.mktemp("subscribed-sources"), timeout_s=30)


class WithoutSubscription(httpx.AsyncBaseTransport):
    """The real network, except that one source's CapabilityStatement leaves Subscription out: a server without it,
    which no sandbox server is."""

    def __init__(self, base_url: str) -> None:
        self.metadata = f"{base_url}/metadata"
        self.network = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.network.handle_async_request(request)
        if str(request.url).split("?")[0] != self.metadata:
            return response
        statement = json.loads(await response.aread())
        for rest in statement["rest"]:
            rest["resource"] = [r for r in rest["resource"] if r["type"] != "Subscription"]
        return httpx.Response(200, json=statement, headers={"Content-Type": "application/fhir+json"})

    async def aclose(self) -> None:
        await self.network.aclose()


@dataclass
class Unit:
    services: Checkpoints  # the watch job's instance at the interval
    url: str  # NeoSafe served, which the sources call back, on the same database
    settings: Settings
    clock: Clock
    neonatal: httpx.Client
    police: httpx.Client

    async def pass_once(self):
        self.clock.wait(seconds=self.settings.watch_interval_s)
        return await self.services.watch_once()

    def ours(self, fhir: httpx.Client) -> list[dict]:
        """NeoSafe's Subscriptions on that source, this deployment's or any other's."""
        bundle = fhir.get("Subscription", params={"_tag": f"{WATCH_SUBSCRIPTION_TAG_SYSTEM}|", "_count": "200"}).json()
        found = [e["resource"] for e in bundle.get("entry") or []]
        return [s for s in found if s["channel"]["endpoint"].startswith(self.url)]


@pytest.fixture
async def unit(own_sandbox: Sandbox, own_sources: list[SourceSettings], tmp_path: Path) -> AsyncIterator[Unit]:
    settings = make_settings(tmp_path).model_copy(update={"outbox_worker": False})
    clock = Clock()
    with (
        httpx.Client(base_url=own_sandbox.urls["neonatal"] + "/", timeout=30) as neonatal,
        httpx.Client(base_url=own_sandbox.urls["police-gp"] + "/", timeout=30) as police,
        serving(create_app(settings, sources=own_sources, clock=clock)) as url,
    ):
        settings.public_url = url  # known once served; read at each pass
        services = Checkpoints.wire(settings, sources=own_sources, clock=clock)
        async with services.running():
            yield Unit(services, url, settings, clock, neonatal, police)
        unit = Unit(services, url, settings, clock, neonatal, police)
        for fhir in (neonatal, police):  # what this test registered goes, so nothing calls a server now stopped
            remove_ours(unit, fhir)


def remove_ours(unit: Unit, fhir: httpx.Client) -> None:
    for subscription in unit.ours(fhir):
        fhir.delete(f"Subscription/{subscription['id']}").raise_for_status()


def admitted_with_police_record(unit: Unit) -> str:
    baby = on_the_unit(unit.neonatal, datetime.now(UTC) - timedelta(hours=1))
    create(unit.police, make_patient(f"pg-{baby}", baby))
    return baby


async def eventually(condition, seconds: float = 60):
    """Wait for `condition()` (awaited) to be true: the sandbox calls back from its own threads."""
    deadline = time.monotonic() + seconds
    while not (found := await condition()):
        assert time.monotonic() < deadline, "not in time"
        await asyncio.sleep(0.2)
    return found


def secret_of(subscription: dict) -> str:
    [header] = subscription["channel"]["header"]
    return header.removeprefix("Authorization: ")


async def test_a_source_that_offers_subscription_gets_one_per_criteria_however_often_neosafe_starts(unit: Unit):
    first = await unit.pass_once()
    assert first.subscriptions == 2 * len(CRITERIA)
    for fhir in (unit.neonatal, unit.police):
        made = unit.ours(fhir)
        assert sorted(s["criteria"] for s in made) == sorted(CRITERIA)
        assert {s["status"] for s in made} == {"active"} and {s["channel"]["type"] for s in made} == {"rest-hook"}
        assert all(secret_of(s).startswith("Bearer ") and s["end"] for s in made)

    again = Checkpoints.wire(unit.settings, sources=unit.services.sources, clock=unit.clock)  # a second start
    async with again.running():
        unit.clock.wait(seconds=unit.settings.watch_interval_s)
        assert (await again.watch_once()).subscriptions == 2 * len(CRITERIA)
    assert {s["id"] for s in unit.ours(unit.police)} == {s["id"] for s in made}

    lost = made[0]  # the server turned one off: made again, and still one per criteria
    unit.police.put(f"Subscription/{lost['id']}", json={**lost, "status": "off"}).raise_for_status()
    await unit.pass_once()
    now = unit.ours(unit.police)
    assert sorted(s["criteria"] for s in now) == sorted(CRITERIA) and lost["id"] not in {s["id"] for s in now}
    assert {s["status"] for s in now} == {"active"}
    [event, *_] = await audited(unit.settings.database_url, "subscription-made")
    assert event.nhs_number is None and event.detail.startswith("on ")


async def test_each_subscriptions_end_moves_on_past_half_its_lifetime_so_one_left_behind_ends_by_itself(unit: Unit):
    lifetime = load_subscription_rules(unit.settings.mappings_dir, unit.services.mappings).lifetime
    await unit.pass_once()
    first = {s["id"]: datetime.fromisoformat(s["end"]) for s in unit.ours(unit.police)}
    assert all(end - unit.clock.now <= lifetime for end in first.values())  # left behind, it ends within a day

    unit.clock.wait(seconds=lifetime.total_seconds() / 4)  # well within its lifetime: left as it is
    await unit.pass_once()
    assert {s["id"]: datetime.fromisoformat(s["end"]) for s in unit.ours(unit.police)} == first

    unit.clock.wait(seconds=lifetime.total_seconds() / 2)  # past half of it: moved on, the same Subscriptions
    await unit.pass_once()
    later = {s["id"]: datetime.fromisoformat(s["end"]) for s in unit.ours(unit.police)}
    assert later.keys() == first.keys()
    assert all(later[i] - first[i] >= lifetime / 2 for i in first), (first, later)


async def test_a_police_notice_posted_during_the_stay_is_new_information_by_notification_before_the_interval(
    unit: Unit,
):
    baby = admitted_with_police_record(unit)
    assert (await unit.pass_once()).found == 0  # the baseline; and the Subscriptions made

    create(unit.police, make_flag(f"pg-{baby}", POLICE_NOTICE))  # the clock does not move: no interval passes

    async def found():
        return (await unit.services.new_information(DEMO_USERS["nurse"], [baby])).get(baby)

    [finding] = await eventually(found)
    assert (finding.change, finding.source) == ("new", "police-gp")
    with signed_in_browser(unit.url, "nurse") as nurse:
        assert "Police domestic incident report received" in nurse.get(f"/patients/{baby}").text
    assert (await unit.pass_once()).found == 0  # the poll after it finds the same: nothing new twice


async def test_a_notification_without_its_secret_is_refused_and_audited_and_a_malformed_one_is_a_clear_400(
    unit: Unit,
):
    await unit.pass_once()
    subscription = unit.ours(unit.police)[0]
    endpoint = subscription["channel"]["endpoint"]
    async with httpx.AsyncClient(timeout=30) as source:
        assert (await source.post(endpoint)).status_code == 401
        wrong = await source.post(endpoint, headers={"Authorization": "Bearer not-the-secret"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["resourceType"] == "OperationOutcome"
        unknown = await source.post(f"{unit.url}/fhir/notifications/nosuch", headers={"Authorization": "Bearer x"})
        assert unknown.status_code == 401
        right = {"Authorization": secret_of(subscription), "Content-Type": "application/fhir+json"}
        for body in (b"{not json", b"[1, 2]", b'{"no": "resourceType"}'):
            bad = await source.post(endpoint, content=body, headers=right)
            assert bad.status_code == 400 and bad.json()["issue"][0]["diagnostics"], body
        # R4's notification without payload: accepted, and the watch job looks at the whole unit at once.
        assert (await source.post(endpoint, headers=right)).status_code == 202
    refused = await audited(unit.settings.database_url, "notification-refused")
    assert len(refused) == 3 and {(e.nhs_number, e.detail) for e in refused} == {(None, "wrong or missing secret")}


async def test_a_source_without_subscription_is_still_polled(
    own_sandbox: Sandbox, own_sources: list[SourceSettings], tmp_path: Path
):
    settings = make_settings(tmp_path).model_copy(update={"public_url": "http://127.0.0.1:9/not-called"})
    clock = Clock()
    services = Checkpoints.wire(
        settings, sources=own_sources, clock=clock, transport=WithoutSubscription(own_sandbox.urls["police-gp"])
    )
    with (
        httpx.Client(base_url=own_sandbox.urls["neonatal"] + "/", timeout=30) as neonatal,
        httpx.Client(base_url=own_sandbox.urls["police-gp"] + "/", timeout=30) as police,
    ):
        unit = Unit(services, settings.public_url, settings, clock, neonatal, police)
        baby = admitted_with_police_record(unit)
        async with services.running():
            assert (await unit.pass_once()).subscriptions == len(CRITERIA)  # the unit's source only
            assert unit.ours(police) == [] and len(unit.ours(neonatal)) == len(CRITERIA)
            create(police, make_flag(f"pg-{baby}", POLICE_NOTICE))
            assert (await unit.pass_once()).found == 1
        remove_ours(unit, neonatal)


async def test_a_flood_of_notifications_makes_one_prompted_pass(unit: Unit):
    await unit.pass_once()
    subscription = unit.ours(unit.police)[0]
    key = subscription["channel"]["endpoint"].rsplit("/", 1)[-1]
    before = len(await audited(unit.settings.database_url, "watch-pass"))
    watcher = Watcher(unit.services)
    for _ in range(30):  # all arrive before the prompted pass begins
        await watcher.notified(key, secret_of(subscription), b"")
    answering = asyncio.create_task(watcher.answer_notifications())
    await eventually(lambda: _more(unit, before) if not watcher._prompted.is_set() else asyncio.sleep(0, result=False))
    watcher.stop()
    await answering
    assert len(await audited(unit.settings.database_url, "watch-pass")) == before + 1


async def _more(unit: Unit, before: int) -> bool:
    return len(await audited(unit.settings.database_url, "watch-pass")) > before
