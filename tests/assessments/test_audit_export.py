"""The audit trail reaches the FHIR record: each local record sent once as an R4 AuditEvent, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fhir.resources.R4B.auditevent import AuditEvent as R4AuditEvent
from sqlmodel import select

from app.assessments import WRITE_KEY_SYSTEM, AuditEvent, audit, export_audit
from app.checkpoints import Checkpoints
from app.sources import SourceUnavailable
from testkit.ports import free_port
from tests.conftest import write_sources
from tests.factories import new_nhs_number


@pytest.fixture
async def services(settings, sources) -> AsyncIterator[Checkpoints]:
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:  # no worker: the tests send
        yield checkpoints


def on_record(fhir: dict, event_id: int) -> list[dict]:
    found = fhir["neonatal"].get(f"AuditEvent?_tag={WRITE_KEY_SYSTEM}|audit/{event_id}").raise_for_status().json()
    return [e["resource"] for e in found.get("entry") or []]


async def test_each_record_is_sent_once_as_an_r4_audit_event(services: Checkpoints, fhir):
    baby = new_nhs_number()
    await audit(services.sessions, user_id="u-1", role="nurse", action="view-picture", nhs_number=baby)
    await audit(
        services.sessions, user_id="u-2", role="none", action="sign-in", outcome="refused", detail="no NeoSafe role"
    )
    async with services.sessions() as session:
        view, refused = (await session.exec(select(AuditEvent).order_by(AuditEvent.id))).all()[-2:]

    async with services.client(services.write_back) as client:
        first = await export_audit(services.sessions, client, now=services.clock())
        again = await export_audit(services.sessions, client, now=services.clock())

    assert first >= 2 and again == 0
    [viewed] = on_record(fhir, view.id)
    R4AuditEvent.model_validate(viewed)
    assert (viewed["action"], viewed["outcome"], viewed["type"]["code"]) == ("R", "0", "110110")
    assert viewed["entity"][0]["what"]["identifier"]["value"] == baby
    assert viewed["agent"][0]["who"]["identifier"]["value"] == "u-1"
    [signing_in] = on_record(fhir, refused.id)
    assert (signing_in["type"]["code"], signing_in["outcome"], signing_in["outcomeDesc"]) == (
        "110114",
        "4",
        "no NeoSafe role",
    )
    assert "entity" not in signing_in


async def test_a_batch_whose_answer_was_lost_creates_nothing_twice(services: Checkpoints, fhir):
    await audit(services.sessions, user_id="u-3", role="nurse", action="view-unit")
    async with services.sessions() as session:
        event = (await session.exec(select(AuditEvent).order_by(AuditEvent.id.desc()))).first()
        exported = [e for e in (await session.exec(select(AuditEvent))).all() if e.exported_at is None]
    async with services.client(services.write_back) as client:
        await export_audit(services.sessions, client, now=services.clock())
        async with services.sessions() as session:  # as if the answer never came: sent again
            for e in exported:
                row = await session.get(AuditEvent, e.id)
                row.exported_at = None
                session.add(row)
            await session.commit()
        await export_audit(services.sessions, client, now=services.clock())

    assert len(on_record(fhir, event.id)) == 1


async def test_a_record_that_could_not_be_sent_waits_for_the_next_pass(
    services: Checkpoints, settings, sandbox, tmp_path
):
    await audit(services.sessions, user_id="u-4", role="nurse", action="view-unit")
    closed = write_sources(sandbox, tmp_path, overrides={"neonatal": f"http://127.0.0.1:{free_port()}/fhir"})
    offline = Checkpoints.wire(settings, sources=closed)

    with pytest.raises(SourceUnavailable):
        async with offline.client(offline.write_back) as client:
            await export_audit(services.sessions, client, now=services.clock())

    async with services.sessions() as session:
        waiting = [e for e in (await session.exec(select(AuditEvent))).all() if e.exported_at is None]
    assert any(e.user_id == "u-4" for e in waiting)


async def test_with_audit_export_on_the_outbox_worker_sends_the_trail_too(services: Checkpoints, fhir):
    services.settings.audit_export = True
    await audit(services.sessions, user_id="u-5", role="nurse", action="view-unit")

    await services.outbox_worker().run_once()

    async with services.sessions() as session:
        event = (await session.exec(select(AuditEvent).where(AuditEvent.user_id == "u-5"))).one()
    assert event.exported_at is not None and len(on_record(fhir, event.id)) == 1
