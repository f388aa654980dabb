"""The discharge handover delivered over MESH (issue 16), against NHS England's mesh-sandbox over HTTP.

One message per recipient and version, readable from its mailbox with the baby and the PDF; a failing mailbox
retried with backoff, then reported (the Communication not-done, a Task); an amendment sent as a replacement of the
first, never a duplicate; a recipient without a route not reachable, with a Task to send by another means.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import dataclasses
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from app.checkpoints import DEMO_USERS, Forbidden
from app.cli import main
from app.delivery import Deliveries, Route, deliveries_of, handovers_to_follow_up, shown_deliveries
from app.delivery.message import ACK_WORKFLOW, message_id_of
from app.fhir_systems import HANDOVER_ID_SYSTEM, NHS_NUMBER_SYSTEM, TASK_ID_SYSTEM
from app.handover.routes import ODS_SYSTEM
from app.web.templating import make_templates
from sandbox.mesh import UNIT_MAILBOX
from tests.answering import completed, items_with, submitted
from tests.factories import create, make_patient, new_nhs_number

RECIPIENT = "D10-handover.recipient"
GP, HV, CN = "NSGP0001", "NSHV0001", "NSCN0001"


def a_baby(neonatal: httpx.Client, *, gp: str = "Y90001", postcode: str = "RV3 1AB") -> str:
    """A baby registered with `gp`, going home to `postcode` (the demo routes' practice and area)."""
    number = new_nhs_number()
    patient = make_patient(
        f"nn-test-{number}",
        number,
        generalPractitioner=[{"identifier": {"system": ODS_SYSTEM, "value": gp}}],
        address=[{"use": "home", "line": ["1 Test Street"], "city": "Riverside", "postalCode": postcode}],
    )
    create(neonatal, patient)
    return number


def with_recipients(response: dict[str, Any], *kinds: str) -> dict[str, Any]:
    """The discharge response with one D10 recipient entry per kind (type coded, named), each otherwise as answered."""
    parent, first = next((p, i) for p in _groups(response) for i in p.get("item") or [] if i["linkId"] == RECIPIENT)
    entries = []
    for kind in kinds:
        entry = copy.deepcopy(first)
        for item in entry["item"]:
            if item["linkId"] == f"{RECIPIENT}.type":
                item["answer"] = [{"valueCoding": {**item["answer"][0]["valueCoding"], "code": kind, "display": kind}}]
            if item["linkId"] == f"{RECIPIENT}.name":
                item["answer"] = [{"valueString": f"Named {kind}"}]
        entries.append(entry)
    parent["item"] = [i for i in parent["item"] if i["linkId"] != RECIPIENT] + entries
    return response


def _groups(node: dict[str, Any]):
    yield node
    for item in node.get("item") or []:
        yield from _groups(item)


def received(delivering, mailbox: str, baby: str) -> list[dict[str, Any]]:
    """The handover messages about this baby in `mailbox`, read (downloaded and acknowledged) as a recipient does."""
    found = []
    with delivering.mailbox(mailbox) as client:
        for message_id in client.list_messages():
            message = client.retrieve_message(message_id)
            bundle = json.loads(message.read())
            patient = next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == "Patient")
            numbers = {i["value"] for i in patient["identifier"] if i["system"] == NHS_NUMBER_SYSTEM}
            if baby in numbers:
                found.append(bundle)
                message.acknowledge()
    return found


def resource(bundle: dict[str, Any], kind: str) -> dict[str, Any]:
    return next(e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind)


def communication(fhir, key: str) -> dict[str, Any]:
    found = fhir["neonatal"].get(f"Communication?identifier={HANDOVER_ID_SYSTEM}|{key}").raise_for_status().json()
    [entry] = found["entry"]
    return entry["resource"]


def tasks(fhir, key: str) -> list[dict[str, Any]]:
    found = fhir["neonatal"].get(f"Task?identifier={TASK_ID_SYSTEM}|{key}/delivery").raise_for_status().json()
    return [e["resource"] for e in found.get("entry") or []]


def discharge(delivering, fhir, *kinds: str) -> tuple[str, str]:
    baby = a_baby(fhir["neonatal"])
    with delivering.live.client("nurse") as api:
        record = submitted(api, baby, with_recipients(completed(api, baby, "discharge"), *kinds))
    return baby, record


async def test_a_discharge_delivers_one_message_per_recipient_with_the_baby_and_the_pdf(delivering, deliveries, fhir):
    baby, record = discharge(delivering, fhir, "gp", "health-visitor", "community-neonatal-team")
    now = datetime.now(UTC)

    await deliveries.run_once(now)
    await deliveries.run_once(now)  # a second pass (or instance) sends nothing again

    for mailbox in (GP, HV, CN):
        [bundle] = received(delivering, mailbox, baby)
        assert bundle["type"] == "message"
        header = resource(bundle, "MessageHeader")
        assert header["eventCoding"] == {  # as GP Connect Send Document fixes it
            "system": "https://fhir.nhs.uk/STU3/CodeSystem/ITK-MessageEvent-2",
            "code": "ITK007C",
            "display": "ITK GP Connect Send Document",
        }
        document, binary = resource(bundle, "DocumentReference"), resource(bundle, "Binary")
        assert header["focus"][0]["reference"] == bundle["entry"][2]["fullUrl"]
        assert document["subject"]["identifier"]["value"] == baby
        assert document["content"][0]["attachment"]["url"] == bundle["entry"][3]["fullUrl"]
        assert base64.b64decode(binary["data"]).startswith(b"%PDF-")
    rows = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert sorted((r.kind, r.address, r.state) for r in rows) == [
        ("community-neonatal-team", CN, "sent"),
        ("gp", GP, "sent"),
        ("health-visitor", HV, "sent"),
    ]
    assert {communication(fhir, r.recipient_key)["status"] for r in rows} == {"in-progress"}

    await deliveries.run_once(now + timedelta(minutes=1))  # MESH tracking: each recipient downloaded its message
    rows = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert {r.state for r in rows} == {"delivered"}
    gp_row = next(r for r in rows if r.kind == "gp")
    ack = {
        "resourceType": "Bundle",
        "type": "message",
        "entry": [
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": {
                    "resourceType": "MessageHeader",
                    "eventCoding": {"code": "ITK008M"},
                    "source": {"endpoint": "urn:nhs-uk:addressing:ods:Y90001"},
                    "response": {"identifier": message_id_of(gp_row.id), "code": "ok"},
                },
            }
        ],
    }
    with delivering.mailbox(GP) as gp:
        gp.send_message(UNIT_MAILBOX, json.dumps(ack).encode(), workflow_id=ACK_WORKFLOW)

    await deliveries.run_once(now + timedelta(minutes=2))

    rows = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert {r.kind: r.state for r in rows}["gp"] == "acknowledged"
    acknowledged = communication(fhir, gp_row.recipient_key)
    assert acknowledged["status"] == "completed" and acknowledged.get("received")
    page = make_templates(delivering.settings.templates_dir).get_template("_deliveries.html")
    shown = page.render(deliveries=await shown_deliveries(deliveries.checkpoints.sessions, [record]))
    assert shown.count('data-testid="delivery-') == 3
    assert "Millbrook Medical Practice" in shown and "Acknowledged" in shown and "Delivered" in shown
    assert "MESH mailbox NSGP0001" in shown and "Sent " in shown


async def test_a_failing_mailbox_is_retried_with_backoff_then_reported(delivering, deliveries, fhir):
    routes = deliveries.routes
    deliveries.routes = dataclasses.replace(
        routes, gp={**routes.gp, "Y90001": Route(name="Closed practice", ods_code="Y90001", mailbox="NSGONE01")}
    )
    _, record = discharge(delivering, fhir, "gp")
    now = datetime.now(UTC)

    await deliveries.run_once(now)
    [row] = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert (row.state, row.attempts) == ("retrying", 1) and "Unregistered" in row.last_error
    assert row.next_attempt_at.replace(tzinfo=UTC) > now
    await deliveries.run_once(now)  # not due yet: no second try
    [row] = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert row.attempts == 1
    assert communication(fhir, row.recipient_key)["status"] != "not-done" and tasks(fhir, row.recipient_key) == []

    for hours in (1, 2):  # past each backoff; the third try (delivery_max_attempts) is the last
        await deliveries.run_once(now + timedelta(hours=hours))

    [row] = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert (row.state, row.attempts) == ("failed", 3)
    reported = communication(fhir, row.recipient_key)
    assert reported["status"] == "not-done" and "Unregistered" in reported["statusReason"]["text"]
    [task] = tasks(fhir, row.recipient_key)
    assert task["status"] == "requested" and "Closed practice" in task["description"]


async def test_an_amendment_is_sent_as_a_replacement_never_a_duplicate(delivering, deliveries, fhir):
    baby, record = discharge(delivering, fhir, "gp")
    now = datetime.now(UTC)
    await deliveries.run_once(now)
    [first] = received(delivering, GP, baby)

    with delivering.live.client("nurse") as api:
        response = api.get(f"/api/patients/{baby}/assessments/{record}/versions").json()[-1]
        for item in items_with(response, "D11-lead-professional.lead-professional"):
            item["answer"] = [{"valueString": "Health visitor named by the amendment"}]
        amended = api.post(f"/api/patients/{baby}/assessments/{record}/amendments", json=response)
        assert amended.status_code == 201, amended.text
    await deliveries.run_once(now + timedelta(minutes=1))
    await deliveries.run_once(now + timedelta(minutes=2))

    [replacement] = received(delivering, GP, baby)  # one new message, not two
    [row] = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert row.replaces is not None and row.assessment_id != record
    relates = resource(replacement, "DocumentReference")["relatesTo"][0]
    assert relates["code"] == "replaces"
    assert relates["target"]["identifier"]["value"] == f"urn:uuid:{resource(first, 'MessageHeader')['id']}"


async def test_a_recipient_without_a_route_is_not_reachable_and_raises_a_task(delivering, deliveries, fhir):
    baby, record = discharge(delivering, fhir, "gp", "community-midwife")
    await deliveries.run_once(datetime.now(UTC))

    rows = {r.kind: r for r in await deliveries_of(deliveries.checkpoints.sessions, [record])}
    with delivering.live.browser("community-nurse") as community:  # the handover page, as its reader sees it
        page = community.get(f"/patients/{baby}/handover").raise_for_status().text
    assert "Not reachable: send by another means" in page and "Named community-midwife" in page
    midwife = rows["community-midwife"]
    assert (midwife.state, midwife.channel) == ("not-reachable", "none")
    assert "send by another means" in midwife.last_error
    assert communication(fhir, midwife.recipient_key)["status"] == "not-done"
    [task] = tasks(fhir, midwife.recipient_key)
    assert task["owner"]["display"] == "Discharging nurse" and task["priority"] == "urgent"
    assert rows["gp"].state == "sent"
    await deliveries.run_once(datetime.now(UTC))
    assert len(tasks(fhir, midwife.recipient_key)) == 1  # raised once


def going_home_to(response: dict[str, Any], address: str) -> dict[str, Any]:
    """The discharge response with D5's address the baby goes home to changed to `address`."""
    [item] = items_with(response, "D5-carers.home-address")
    item["answer"] = [{"valueString": address}]
    return response


async def test_the_teams_are_those_of_the_address_the_baby_goes_home_to_not_the_records(delivering, deliveries, fhir):
    moving_in = a_baby(fhir["neonatal"], postcode="ZZ9 9ZZ")  # the record's address: no team there
    moving_out = a_baby(fhir["neonatal"])  # the record's address: Riverside
    records = {}
    with delivering.live.client("nurse") as api:
        prefilled = completed(api, moving_out, "discharge")
        [address] = items_with(prefilled, "D5-carers.home-address")
        assert address["answer"] == [{"valueString": "1 Test Street, Riverside, RV3 1AB"}]  # from the record
        for baby, goes_to in (
            (moving_in, "Flat 2, 4 Mill Lane, RV3 2CD"),
            (moving_out, "4 Far Lane, Elsewhere, ZZ9 9ZZ"),
        ):
            response = going_home_to(completed(api, baby, "discharge"), goes_to)
            records[baby] = submitted(api, baby, with_recipients(response, "health-visitor", "community-neonatal-team"))
    await deliveries.run_once(datetime.now(UTC))

    rows = {
        b: {r.kind: r for r in await deliveries_of(deliveries.checkpoints.sessions, [rec])}
        for b, rec in records.items()
    }
    assert {k: (r.state, r.address) for k, r in rows[moving_in].items()} == {
        "health-visitor": ("sent", HV),
        "community-neonatal-team": ("sent", CN),
    }
    assert len(received(delivering, HV, moving_in)) == 1
    assert {r.state for r in rows[moving_out].values()} == {"not-reachable"}  # never the old address's team
    assert received(delivering, HV, moving_out) == []
    assert all(tasks(fhir, r.recipient_key) for r in rows[moving_out].values())


async def test_two_instances_delivering_at_once_send_each_message_once(delivering, deliveries, fhir):
    baby, record = discharge(delivering, fhir, "gp", "health-visitor")
    other = Deliveries(deliveries.checkpoints)  # a second instance's worker on the same database
    other.checkpoints = dataclasses.replace(deliveries.checkpoints, worker_id="another-instance")
    now = datetime.now(UTC)

    await asyncio.gather(deliveries.run_once(now), other.run_once(now))

    assert len(received(delivering, GP, baby)) == 1 and len(received(delivering, HV, baby)) == 1
    rows = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert sorted(r.state for r in rows) == ["sent", "sent"] and all(r.attempts == 1 for r in rows)


async def test_neosafe_mesh_inbox_lists_what_a_mailbox_received_without_taking_it(
    delivering, deliveries, fhir, monkeypatch, capsys
):
    baby, _ = discharge(delivering, fhir, "health-visitor")
    await deliveries.run_once(datetime.now(UTC))
    settings = delivering.settings
    for name, value in {
        "NEOSAFE_MESH_URL": settings.mesh_url,
        "NEOSAFE_MESH_MAILBOX": settings.mesh_mailbox,
        "NEOSAFE_MESH_SHARED_KEY": settings.mesh_shared_key,
        "NEOSAFE_MESH_INBOX_PASSWORD": delivering.mesh.password(HV),
        "NEOSAFE_SECRET_KEY": settings.secret_key,
    }.items():
        monkeypatch.setenv(name, value)

    await asyncio.to_thread(main, ["mesh", "inbox", HV])  # the command runs its own event loop

    out = capsys.readouterr().out
    assert f"NHS number {baby}" in out and "GPFED_CONSULT_REPORT" in out and "PDF" in out
    assert delivering.mesh.password(HV) not in out and settings.mesh_shared_key not in out
    assert len(received(delivering, HV, baby)) == 1  # still there for the recipient


async def test_a_handover_not_acknowledged_in_time_raises_one_task_and_stays_waiting(delivering, deliveries, fhir):
    _, record = discharge(delivering, fhir, "gp")
    sent_at = datetime.now(UTC)
    await deliveries.run_once(sent_at)
    [gp] = await deliveries_of(deliveries.checkpoints.sessions, [record])
    assert gp.state == "sent" and not tasks(fhir, gp.recipient_key)

    window = timedelta(hours=delivering.settings.delivery_acknowledge_within_h)
    await deliveries.run_once(sent_at + window - timedelta(minutes=1))
    assert not tasks(fhir, gp.recipient_key)  # not yet: the recipient has until then
    await deliveries.run_once(sent_at + window + timedelta(minutes=1))
    await deliveries.run_once(sent_at + window + timedelta(hours=1))

    [task] = tasks(fhir, gp.recipient_key)  # once, however many passes follow
    assert "not acknowledged within 48 hours" in task["description"] and task["status"] == "requested"
    assert communication(fhir, gp.recipient_key)["status"] == "in-progress"  # still waiting, not given up on


async def test_a_handover_not_delivered_or_not_acknowledged_in_time_is_on_the_leads_view(delivering, deliveries, fhir):
    baby, _ = discharge(delivering, fhir, "gp", "community-midwife")
    sent_at = datetime.now(UTC)
    await deliveries.run_once(sent_at)

    with delivering.live.browser("safeguarding-lead") as lead:  # the baby has gone home: off the unit's worklist
        page = lead.get("/unit/safeguarding").raise_for_status().text
    listed = page.split('data-testid="lead-handovers"', 1)[1].split("</ul>", 1)[0]
    spaced = f"{baby[:3]} {baby[3:6]} {baby[6:]}"
    [midwife] = [line for line in listed.split("<li>") if spaced in line]  # named as the checklist names the baby
    assert "Test BABY" in midwife and "born 2026-11-24" in midwife and f'href="/patients/{baby}/handover"' in midwife
    assert "Named community-midwife" in midwife and "Not reachable: send by another means" in midwife

    sessions, window = deliveries.checkpoints.sessions, timedelta(hours=48)
    lead_user, nurse = DEMO_USERS["safeguarding-lead"], DEMO_USERS["nurse"]
    in_time = await handovers_to_follow_up(sessions, lead_user, now=sent_at + window / 2, acknowledge_within=window)
    late = await handovers_to_follow_up(sessions, lead_user, now=sent_at + window * 1.1, acknowledge_within=window)
    assert {f.delivery.recipient for f in in_time if f.nhs_number == baby} == {"Named community-midwife"}
    assert {f.delivery.recipient for f in late if f.nhs_number == baby} == {
        "Named community-midwife",
        "Millbrook Medical Practice",
    }
    with pytest.raises(Forbidden):
        await handovers_to_follow_up(sessions, nurse, now=sent_at, acknowledge_within=window)
