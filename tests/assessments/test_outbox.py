"""Delivery to the write-back source: exactly once in effect, whatever the server or the network does."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlmodel import col, select

from app.assessments import (
    ASSESSMENT_TAG_SYSTEM,
    WRITTEN_TYPES,
    Assessment,
    OutboxEntry,
    claim,
    deliver,
    deliver_due,
    resend,
)
from app.assessments.outbox import LEASE
from app.checkpoints import DEMO_USERS, Checkpoints, Forbidden
from app.main import create_app
from testkit.proxy import bundle_type
from tests.answering import answer_everything
from tests.factories import create_baby

NURSE = DEMO_USERS["nurse"]


class Faults(httpx.AsyncBaseTransport):
    """The real sandbox behind a switch: what a real server cannot be made to do on demand, done here.

    `plan` is a list of faults for the next transaction POSTs, one per attempt: "drop-after-commit"
    (forwarded, then the connection dies before the answer), "503", "400" or None (pass through).
    """

    def __init__(self, real: httpx.AsyncBaseTransport) -> None:
        self.real, self.plan, self.transactions = real, [], 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or bundle_type(request.content) != "transaction":  # a batch of searches passes
            return await self.real.handle_async_request(request)
        self.transactions += 1
        fault = self.plan.pop(0) if self.plan else None
        if fault == "503":
            return httpx.Response(503, headers={"Retry-After": "120"}, text="restarting")
        if fault == "400":
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "invalid", "diagnostics": "profile check failed"}],
            }
            return httpx.Response(400, json=outcome)
        response = await self.real.handle_async_request(request)
        await response.aread()
        if fault == "drop-after-commit":
            raise httpx.RemoteProtocolError("server disconnected without sending a response", request=request)
        return response


@pytest.fixture
async def services(settings, sources) -> AsyncIterator[Checkpoints]:
    """The application layer alone, no web framework: these tests drive delivery themselves."""
    real = httpx.AsyncHTTPTransport()
    async with real, Checkpoints.wire(settings, sources=sources, transport=Faults(real)).running() as checkpoints:
        yield checkpoints


async def submitted(services: Checkpoints, fhir: dict[str, httpx.Client]) -> tuple[str, str]:
    """Submit a completed admission checklist for a new baby; (assessment id, outbox entry id)."""
    picture = await services.picture(create_baby(fhir["neonatal"]))
    response = services.start_checklist(picture, "admission", NURSE).response
    answer_everything(services.checklists.for_checkpoint("admission"), response)
    result = await services.submit(picture, "admission", NURSE, response)
    return result.assessment_id, result.entry.id


async def baby_of(services: Checkpoints, assessment_id: str) -> str:
    async with services.sessions() as session:
        return (await session.get(Assessment, assessment_id)).nhs_number


async def entry(services: Checkpoints, entry_id: str) -> OutboxEntry:
    async with services.sessions() as session:
        return await session.get(OutboxEntry, entry_id)


def written(fhir: httpx.Client, assessment_id: str) -> dict[str, int]:
    """How many resources of each type the server holds for one assessment."""
    counts = {}
    for kind in WRITTEN_TYPES:
        bundle = fhir.get(f"{kind}?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}&_count=1000").json()
        if bundle.get("total"):
            counts[kind] = bundle["total"]
    return counts


def expected(bundle_json: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for e in json.loads(bundle_json)["entry"]:
        counts[e["resource"]["resourceType"]] = counts.get(e["resource"]["resourceType"], 0) + 1
    return counts


async def test_a_response_lost_after_the_server_committed_is_resent_without_duplicates(services, fhir):
    services.transport.plan = ["drop-after-commit"]
    assessment_id, entry_id = await submitted(services, fhir)

    first = await entry(services, entry_id)
    assert (first.state, first.attempts) == ("retrying", 1)
    assert "disconnected" in first.last_error or "could not connect" in first.last_error

    later = first.next_attempt_at + timedelta(seconds=1)
    async with services.client(services.write_back) as client:
        assert await deliver_due(services.sessions, client, worker="w", now=later) == 1

    done = await entry(services, entry_id)
    assert done.state == "sent" and done.attempts == 2
    assert written(fhir["neonatal"], assessment_id) == expected(done.bundle_json)


async def test_a_busy_server_is_retried_no_sooner_than_it_asked(services, fhir):
    services.transport.plan = ["503"]
    assessment_id, entry_id = await submitted(services, fhir)

    waiting = await entry(services, entry_id)
    assert waiting.state == "retrying"
    assert waiting.next_attempt_at - waiting.created_at >= timedelta(seconds=120)
    assert written(fhir["neonatal"], assessment_id) == {}


async def test_a_refusal_needs_attention_and_can_be_sent_again(services, fhir):
    services.transport.plan = ["400"]
    assessment_id, entry_id = await submitted(services, fhir)

    refused = await entry(services, entry_id)
    assert refused.state == "needs-attention"
    assert "profile check failed" in refused.last_error
    async with services.client(services.write_back) as client:
        assert await deliver_due(services.sessions, client, worker="w") == 0

        assert await resend(services.sessions, entry_id)
        await deliver_due(services.sessions, client, worker="w")

    assert (await entry(services, entry_id)).state == "sent"
    assert written(fhir["neonatal"], assessment_id) == expected(refused.bundle_json)


class Leases(Faults):
    """Faults, also noting how long the sender holds each entry it posts (its claim, read mid-send)."""

    def __init__(self, real: httpx.AsyncBaseTransport) -> None:
        super().__init__(real)
        self.sessions, self.held_until = None, []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and self.sessions is not None:
            async with self.sessions() as session:
                claimed = (
                    await session.exec(select(OutboxEntry).where(col(OutboxEntry.claimed_by).is_not(None)))
                ).all()
                self.held_until += [e.claimed_until for e in claimed]
        return await super().handle_async_request(request)


async def test_the_safeguarding_leads_resend_keeps_the_configured_backoff_lease_and_clock(settings, sources, fhir):
    """The page's "send again" goes through the application layer's one sender, as the worker does: not the
    library's defaults and the wall clock (15 s backoff, 2-minute lease, now)."""
    now = datetime(2031, 1, 6, 9, 0, tzinfo=UTC)  # years from the wall clock: a default `now` would show at once
    settings.outbox_retry_base_s, settings.outbox_retry_max_s, settings.outbox_lease_s = 1000, 4000, 77
    async with httpx.AsyncHTTPTransport() as real:
        leases = Leases(real)
        wired = Checkpoints.wire(settings, sources=sources, transport=leases, clock=lambda: now)
        async with wired.running() as services:
            leases.sessions = services.sessions
            leases.plan = ["400"]
            assessment_id, entry_id = await submitted(services, fhir)
            assert (await entry(services, entry_id)).state == "needs-attention"

            leases.plan = ["503"]  # the cause was not fixed after all: it waits again, as configured
            baby = await baby_of(services, assessment_id)
            await services.resend(DEMO_USERS["safeguarding-lead"], baby, assessment_id)

            waiting = await entry(services, entry_id)
            assert waiting.state == "retrying" and waiting.attempts == 2
            # the second failure's wait: base 1000 s doubled, with jitter (x 0.5 to 1), from the injected clock
            assert (
                now + timedelta(seconds=1000)
                <= waiting.next_attempt_at.replace(tzinfo=UTC)
                <= now + timedelta(seconds=2000)
            )
            assert [held.replace(tzinfo=UTC) for held in leases.held_until] == [now + timedelta(seconds=77)] * 2


async def test_only_the_safeguarding_lead_may_send_a_checklist_again(services, fhir):
    services.transport.plan = ["400"]
    assessment_id, entry_id = await submitted(services, fhir)
    baby = await baby_of(services, assessment_id)
    for role in ("nurse", "discharge-coordinator", "community-nurse"):
        with pytest.raises(Forbidden):
            await services.resend(DEMO_USERS[role], baby, assessment_id)
    assert (await entry(services, entry_id)).state == "needs-attention"


async def test_two_workers_never_send_one_entry_twice(services, fhir):
    services.transport.plan = ["503"]
    _, entry_id = await submitted(services, fhir)
    due = (await entry(services, entry_id)).next_attempt_at + timedelta(seconds=1)
    before = services.transport.transactions

    async with services.client(services.write_back) as one, services.client(services.write_back) as two:
        states = await asyncio.gather(
            deliver(
                services.sessions, one, entry_id, worker="one", now=due, backoff=services.backoff, lease=services.lease
            ),
            deliver(
                services.sessions, two, entry_id, worker="two", now=due, backoff=services.backoff, lease=services.lease
            ),
        )

    assert services.transport.transactions - before == 1
    assert "sent" in states


async def test_an_entry_whose_worker_died_mid_send_is_taken_up_when_its_lease_runs_out(services, fhir):
    services.transport.plan = ["503"]
    assessment_id, entry_id = await submitted(services, fhir)
    due = (await entry(services, entry_id)).next_attempt_at + timedelta(seconds=1)
    assert await claim(services.sessions, entry_id, worker="killed", now=due)  # ...and never finished

    async with services.client(services.write_back) as client:
        assert await deliver_due(services.sessions, client, worker="survivor", now=due) == 0  # still leased
        after_lease = due + LEASE + timedelta(seconds=1)
        assert await deliver_due(services.sessions, client, worker="survivor", now=after_lease) == 1

    assert (await entry(services, entry_id)).state == "sent"
    assert written(fhir["neonatal"], assessment_id)["QuestionnaireResponse"] == 1


class NoConditionalCreate(Faults):
    """A server that cannot do conditional creates: it says so, and ignores ifNoneExist if sent one."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/metadata"):
            response = await self.real.handle_async_request(request)
            statement = json.loads(await response.aread())
            for rest in statement["rest"]:
                for resource in rest["resource"]:
                    resource["conditionalCreate"] = False
            return httpx.Response(200, json=statement)
        if request.method == "POST":
            bundle = json.loads(request.content)
            for entry in bundle.get("entry", []):
                entry["request"].pop("ifNoneExist", None)
            headers = {k: v for k, v in request.headers.items() if k.lower() != "content-length"}
            request = httpx.Request("POST", request.url, headers=headers, json=bundle)
        return await super().handle_async_request(request)


async def test_a_server_without_conditional_create_is_searched_first(settings, sources, fhir):
    settings.outbox_worker = False
    async with httpx.AsyncHTTPTransport() as real:
        server = NoConditionalCreate(real)
        app = create_app(settings, sources=sources, transport=server)
        async with app.router.lifespan_context(app):
            services = app.state.checkpoints
            server.plan = ["drop-after-commit"]
            assessment_id, entry_id = await submitted(services, fhir)
            first = await entry(services, entry_id)
            async with services.client(services.write_back) as client:
                later = first.next_attempt_at + timedelta(seconds=1)
                await deliver_due(services.sessions, client, worker="w", now=later)
            done = await entry(services, entry_id)

    assert (first.state, done.state) == ("retrying", "sent")
    assert written(fhir["neonatal"], assessment_id) == expected(done.bundle_json)
