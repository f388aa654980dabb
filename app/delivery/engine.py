"""Deliver each discharge handover to its recipients, once per recipient and version, and record its arrival.

A handover is planned once its checklist's transaction is on the unit's record (its outbox entry sent): one
Delivery row per recipient entry of D10, inserted under a unique (version, recipient) key, so however many
instances plan at once, a recipient gets one row per version. Each row is claimed with a lease before it is sent
(a conditional UPDATE only one worker wins), retried with the outbox's Backoff, and reported failed after
`delivery_max_attempts` tries. An amendment's rows replace the earlier version's: a row not yet sent is superseded
(never sent), a sent one is named in the new message as the one it replaces.

What happens is written back to the recipient's Communication on the unit's record: in-progress when sent,
completed when acknowledged, not-done with the reason when it cannot arrive; a recipient with no route, or whose
delivery failed, raises a Task (once) to send it by another means.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select

from app.assessments import Backoff, SessionFactory
from app.assessments.models import Assessment, OutboxEntry
from app.checkpoints.schedule import fhir_instant
from app.fhir_systems import HANDOVER_ID_SYSTEM, TASK_ID_SYSTEM
from app.forms import Checklists, answer_text, walk
from app.handover import Recipients, Routes
from app.picture import RESTRICTED_LABEL
from app.sources import FhirClient, SourceError

from .channels import Channel, NotSent, Outgoing
from .message import handover_message, message_id_of
from .models import Delivery

__all__ = ["DeliveryEngine", "deliveries_of"]

log = logging.getLogger(__name__)

SENDABLE = ("queued", "retrying")
AWAITING = ("sent", "delivered")  # sent, arrival not yet known in full


@dataclass
class DeliveryEngine:
    sessions: SessionFactory
    record: FhirClient  # the unit's record (the write-back source), kept open by the caller
    checklists: Checklists
    recipients: Recipients
    routes: Routes
    channels: dict[str, Channel]
    worker: str
    backoff: Backoff
    lease: timedelta
    max_attempts: int
    acknowledge_within: timedelta  # a handover sent and not acknowledged by then raises a Task

    # ---- planning -------------------------------------------------------------------------------------------

    async def plan(self, now: datetime, *, limit: int = 20) -> int:
        """Rows for each discharge version written to the record and not yet planned; returns how many versions."""
        async with self.sessions() as session:
            planned = select(Delivery.assessment_id)
            rows = await session.exec(
                select(OutboxEntry, Assessment)
                .join(Assessment, Assessment.id == OutboxEntry.assessment_id)
                .where(OutboxEntry.state == "sent", Assessment.checkpoint == "discharge")
                .where(col(OutboxEntry.assessment_id).not_in(planned))
                .order_by(OutboxEntry.created_at)
                .limit(limit)
            )
            todo = list(rows.all())
        for entry, assessment in todo:
            await self._plan_version(entry, assessment, now)
        return len(todo)

    async def _plan_version(self, entry: OutboxEntry, assessment: Assessment, now: datetime) -> None:
        bundle = json.loads(entry.bundle_json)
        communications = {_handover_key(r): r for r in _resources(bundle, "Communication") if _handover_key(r)}
        document = next((r for r in _resources(bundle, "DocumentReference") if _handover_key(r)), None)
        if document is None:
            return
        record_id = _handover_key(document).removesuffix("/handover")
        patient = await self._patient(document)
        earlier = await self._earlier_rows(record_id)
        response = json.loads(assessment.response_json)
        nodes = list(walk(self.checklists.for_checkpoint("discharge"), response))
        address = next(
            (answer_text((n.r.get("answer") or [{}])[0]) for n in nodes if n.q["linkId"] == self.recipients.address),
            None,
        )  # where the baby goes home to, as the checklist says (an earlier version has none: the record's)
        rows = []
        for node in nodes:
            if node.q["linkId"] != self.recipients.group:
                continue
            key = f"{record_id}/handover/{node.path}"
            answers = {i["linkId"]: (i.get("answer") or [{}])[0] for i in node.r.get("item") or []}
            kind = (answers.get(self.recipients.type, {}).get("valueCoding") or {}).get("code") or "other"
            named = answer_text(answers.get(self.recipients.name, {})) or kind
            route = self.routes.route_for(kind, patient, address=address) if patient is not None else None
            before = earlier.get(key)
            rows.append(
                Delivery(
                    id=uuid.uuid4().hex,
                    record_id=record_id,
                    assessment_id=assessment.id,
                    recipient_key=key,
                    recipient=route.name if route else named,
                    kind=kind,
                    ods_code=route.ods_code if route else None,
                    channel=route.channel if route else "none",
                    address=route.address if route else None,
                    replaces=before.id if before is not None and before.sent_at is not None else None,
                    state="queued" if route else "not-reachable",
                    last_error=None if route else _unreachable_reason(kind, patient),
                    next_attempt_at=now,
                )
            )
        async with self.sessions() as session:
            session.add_all(rows)
            try:
                await session.commit()
            except IntegrityError:  # another instance planned this version first
                await session.rollback()
                return
            await session.exec(
                update(Delivery)
                .where(col(Delivery.record_id) == record_id, col(Delivery.assessment_id) != assessment.id)
                .where(col(Delivery.state).in_(SENDABLE))
                .values(state="superseded")
            )
            await session.commit()
        for row in rows:
            if row.state == "not-reachable":
                await self._report(row, communications.get(row.recipient_key), now)

    async def _patient(self, document: dict[str, Any]) -> dict[str, Any] | None:
        reference = (document.get("subject") or {}).get("reference", "")
        kind, _, patient_id = reference.partition("/")
        try:
            resource = await self.record.read(kind, patient_id)
        except SourceError as exc:
            log.warning("delivery: the baby's Patient could not be read (%s)", type(exc).__name__)
            return None
        return json.loads(resource.model_dump_json(by_alias=True, exclude_none=True))

    async def _earlier_rows(self, record_id: str) -> dict[str, Delivery]:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Delivery).where(Delivery.record_id == record_id).order_by(col(Delivery.created_at))
            )
            return {row.recipient_key: row for row in rows.all() if row.state != "superseded"}

    # ---- sending --------------------------------------------------------------------------------------------

    async def claim(self, delivery_id: str, now: datetime) -> bool:
        async with self.sessions() as session:
            result = await session.exec(
                update(Delivery)
                .where(col(Delivery.id) == delivery_id, col(Delivery.state).in_(SENDABLE))
                .where(col(Delivery.next_attempt_at) <= now)
                .where(or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now))
                .values(claimed_by=self.worker, claimed_until=now + self.lease)
            )
            await session.commit()
            return result.rowcount == 1

    async def send_due(self, now: datetime, *, limit: int = 50) -> int:
        async with self.sessions() as session:
            rows = await session.exec(
                select(Delivery.id)
                .where(col(Delivery.state).in_(SENDABLE), col(Delivery.next_attempt_at) <= now)
                .where(or_(col(Delivery.claimed_until).is_(None), col(Delivery.claimed_until) < now))
                .order_by(col(Delivery.created_at))
                .limit(limit)
            )
            due = list(rows.all())
        for delivery_id in due:
            if await self.claim(delivery_id, now):
                await self._send(delivery_id, now)
        return len(due)

    async def _send(self, delivery_id: str, now: datetime) -> None:
        async with self.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            entry = (
                await session.exec(select(OutboxEntry).where(OutboxEntry.assessment_id == row.assessment_id))
            ).one()
        bundle = json.loads(entry.bundle_json)
        document = next(r for r in _resources(bundle, "DocumentReference") if _handover_key(r))
        communication = next(
            (r for r in _resources(bundle, "Communication") if _handover_key(r) == row.recipient_key), None
        )
        channel = self.channels.get(row.channel)
        try:
            if channel is None:
                raise NotSent(f"the {row.channel} channel is not configured on this server")
            patient = await self._patient(document)
            if patient is None:
                raise NotSent("the baby's Patient could not be read from the unit's record")
            outgoing = Outgoing(
                address=row.address or "",
                delivery_id=row.id,
                subject="Neonatal safeguarding discharge handover" + (" (replacement)" if row.replaces else ""),
                message=handover_message(
                    delivery_id=row.id,
                    patient=patient,
                    document=document,
                    sender={"name": self.routes.unit.name, "ods_code": self.routes.unit.ods_code},
                    recipient={"name": row.recipient, "ods_code": row.ods_code or ""},
                    replaces=row.replaces,
                    now=now.isoformat(timespec="seconds"),
                ),
                transaction=_endpoint_transaction(document, communication),
            )
            message_id = await channel.send(outgoing)
        except NotSent as exc:
            attempts = row.attempts + 1
            failed = not exc.transient or attempts >= self.max_attempts
            log.warning("delivery %s not sent (try %d): %s", row.id, attempts, exc.reason)
            await self._finish(
                row.id,
                attempts=attempts,
                state="failed" if failed else "retrying",
                last_error=exc.reason,
                next_attempt_at=now if failed else now + self.backoff.after(attempts, None),
            )
            if failed:
                row.state, row.last_error = "failed", exc.reason
                await self._report(row, communication, now)
            return
        await self._finish(
            row.id, attempts=row.attempts + 1, state="sent", sent_at=now, message_id=message_id, last_error=None
        )
        await self._communication(communication, "in-progress", sent=now)

    async def _finish(self, delivery_id: str, **changes: Any) -> None:
        async with self.sessions() as session:
            row = await session.get(Delivery, delivery_id)
            for key, value in {**changes, "claimed_by": None, "claimed_until": None}.items():
                setattr(row, key, value)
            session.add(row)
            await session.commit()

    # ---- arrival --------------------------------------------------------------------------------------------

    async def track(self, now: datetime) -> int:
        """Ask each channel about what it has sent and not yet heard all of; returns how many rows changed."""
        async with self.sessions() as session:
            rows = list((await session.exec(select(Delivery).where(col(Delivery.state).in_(AWAITING)))).all())
        if not rows:
            return 0
        acks: dict[str, tuple[str, str | None]] = {}
        for channel in self.channels.values():
            try:
                acks.update(await channel.acknowledgements())
            except NotSent as exc:
                log.warning("delivery: acknowledgements not read (%s)", exc.reason)
        changed = 0
        for row in rows:
            channel = self.channels.get(row.channel)
            if channel is None:
                continue
            ack = acks.get(message_id_of(row.id))
            if ack is None:
                try:
                    arrival = await channel.arrival(row.message_id or "")
                except NotSent as exc:
                    log.warning("delivery %s: arrival not known (%s)", row.id, exc.reason)
                    continue
                state, reason = arrival.state, arrival.reason
            else:
                state, reason = (
                    ("acknowledged", None) if ack[0] == "ok" else ("failed", ack[1] or f"recipient: {ack[0]}")
                )
            if state == row.state or state == "sent":
                await self._unacknowledged(row, now)
                continue
            changed += 1
            await self._arrived(row, state, reason, now)
        return changed

    async def _unacknowledged(self, row: Delivery, now: datetime) -> None:
        """Sent (or delivered) longer ago than `acknowledge_within` and not acknowledged: a Task, raised once, to
        make sure by another means that the recipient has it. The Communication stays as it is: it may still come."""
        sent = fhir_instant(row.sent_at) if row.sent_at else None
        if sent is None or now < sent + self.acknowledge_within or row.task_written_at is not None:
            return
        hours = self.acknowledge_within.total_seconds() / 3600
        why = f"sent {sent:%d %B %Y %H:%M} UTC, not acknowledged within {hours:g} hours"
        await self._raise_task(row, await self._communication_of(row), why, now)

    async def _arrived(self, row: Delivery, state: str, reason: str | None, now: datetime) -> None:
        changes: dict[str, Any] = {"state": state}
        if state == "delivered":
            changes["delivered_at"] = now
        elif state == "acknowledged":
            changes.update(acknowledged_at=now, delivered_at=row.delivered_at or now)
        else:
            changes["last_error"] = reason
        await self._finish(row.id, **changes)
        communication = await self._communication_of(row)
        if state == "acknowledged":
            await self._communication(communication, "completed", sent=row.sent_at, received=now)
        elif state == "failed":
            row.last_error = reason
            await self._report(row, communication, now)

    async def _communication_of(self, row: Delivery) -> dict[str, Any] | None:
        async with self.sessions() as session:
            entry = (
                await session.exec(select(OutboxEntry).where(OutboxEntry.assessment_id == row.assessment_id))
            ).one()
        return next(
            (
                r
                for r in _resources(json.loads(entry.bundle_json), "Communication")
                if _handover_key(r) == row.recipient_key
            ),
            None,
        )

    # ---- the unit's record ----------------------------------------------------------------------------------

    async def _communication(
        self,
        communication: dict[str, Any] | None,
        status: str,
        *,
        sent: datetime | None = None,
        received: datetime | None = None,
        reason: str | None = None,
    ) -> None:
        """The recipient's Communication on the unit's record, with the delivery's status (a conditional update)."""
        if communication is None:
            return
        updated = {**communication, "status": status}
        if sent:
            updated["sent"] = sent.isoformat(timespec="seconds")
        if received:
            updated["received"] = received.isoformat(timespec="seconds")
        if reason:
            updated["statusReason"] = {"text": reason}
        key = _handover_key(communication)
        await self._write(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": updated,
                "request": {"method": "PUT", "url": f"Communication?identifier={HANDOVER_ID_SYSTEM}|{key}"},
            }
        )

    async def _report(self, row: Delivery, communication: dict[str, Any] | None, now: datetime) -> None:
        """Not reachable, or failed: the Communication not-done with the reason, and a Task, raised once."""
        await self._communication(communication, "not-done", reason=row.last_error or "not reachable")
        await self._raise_task(row, communication, row.last_error or "not reachable", now)

    async def _raise_task(self, row: Delivery, communication: dict[str, Any] | None, why: str, now: datetime) -> None:
        """The recipient's Task on the unit's record ([not_reachable] of delivery.toml), once per delivery row."""
        if row.task_written_at is not None or communication is None:
            return
        rule = self.routes.not_reachable
        identifier = f"{row.recipient_key}/delivery"
        task = {
            "resourceType": "Task",
            "meta": {"security": [RESTRICTED_LABEL]},
            "identifier": [{"system": TASK_ID_SYSTEM, "value": identifier}],
            "status": "requested",
            "intent": "order",
            "priority": rule.priority,
            "code": {"text": rule.description},
            "description": f"{rule.description}: {row.recipient} ({why})",
            "focus": {"identifier": {"system": HANDOVER_ID_SYSTEM, "value": row.recipient_key}},
            "for": communication["subject"],
            "authoredOn": now.isoformat(timespec="seconds"),
            "owner": {"display": rule.owner},
        }
        written = await self._write(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                "resource": task,
                "request": {
                    "method": "POST",
                    "url": "Task",
                    "ifNoneExist": f"identifier={TASK_ID_SYSTEM}|{identifier}",
                },
            }
        )
        if written:
            await self._finish(row.id, task_written_at=now)

    async def _write(self, entry: dict[str, Any]) -> bool:
        try:
            await self.record.transaction({"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
        except SourceError as exc:  # tried again when the row next changes; the page shows the row's state meanwhile
            log.warning("delivery: the unit's record not updated (%s)", type(exc).__name__)
            return False
        return True


def _resources(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry") or [] if e.get("resource", {}).get("resourceType") == kind]


def _handover_key(resource: dict[str, Any]) -> str:
    return next((i["value"] for i in resource.get("identifier") or [] if i.get("system") == HANDOVER_ID_SYSTEM), "")


def _unreachable_reason(kind: str, patient: dict[str, Any] | None) -> str:
    if patient is None:
        return "not reachable: the baby's record could not be read; send by another means"
    return f"not reachable: no route for this {kind.replace('-', ' ')} in delivery.toml; send by another means"


def _endpoint_transaction(document: dict[str, Any], communication: dict[str, Any] | None) -> dict[str, Any]:
    """For a FHIR endpoint: the DocumentReference and the Communication, each a conditional create on its id."""
    entries = []
    for resource in (document, communication):
        if resource is None:
            continue
        key = _handover_key(resource)
        entries.append(
            {
                "fullUrl": f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, key)}",
                "resource": resource,
                "request": {
                    "method": "POST",
                    "url": resource["resourceType"],
                    "ifNoneExist": f"identifier={HANDOVER_ID_SYSTEM}|{key}",
                },
            }
        )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


async def deliveries_of(sessions: SessionFactory, record_ids: list[str]) -> list[Delivery]:
    """The current deliveries of these handovers (the newest version's row per recipient), for the handover page."""
    async with sessions() as session:
        rows = await session.exec(
            select(Delivery)
            .where(col(Delivery.record_id).in_(record_ids), col(Delivery.state) != "superseded")
            .order_by(col(Delivery.created_at))
        )
        newest: dict[str, Delivery] = {}
        for row in rows.all():
            newest[row.recipient_key] = row
        return list(newest.values())
