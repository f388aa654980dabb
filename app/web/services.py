"""What pages and API share: the wiring (sources, mappings, checklists, database) and the steps of a checkpoint.

sources -> picture -> checklist -> assessment -> write-back, in that order, each step a function here.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from app.assessments import (
    OutboxEntry,
    SessionFactory,
    assessment_bundle,
    deliver,
    outbox_entry,
    save_assessment,
)
from app.config import Settings, SourceSettings
from app.forms import Checklists, Issue, Populated, canonical, populate, prune, validate
from app.picture import Mappings, Picture, gather_picture, picture_context
from app.sources import Capabilities, FhirClient, read_capabilities

from .auth import User

__all__ = ["NotWritable", "Services", "Submitted", "format_nhs_number"]


class NotWritable(Exception):
    """The assessment cannot be written: the baby or stay is not on the write-back source."""


@dataclass
class Submitted:
    assessment_id: str
    entry: OutboxEntry  # as it stands after the first attempt to write it


def format_nhs_number(number: str | None) -> str:
    """NHS numbers are read out in 3-3-4 groups."""
    if not number:
        return "not known"
    return f"{number[:3]} {number[3:6]} {number[6:]}" if len(number) == 10 else number


@dataclass
class Services:
    settings: Settings
    sources: list[SourceSettings]
    mappings: Mappings
    checklists: Checklists
    sessions: SessionFactory
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    capabilities: dict[str, Capabilities] = field(default_factory=dict)  # read once per source, then kept

    @property
    def write_back(self) -> SourceSettings:
        return next(s for s in self.sources if s.write_back)

    def client(self, source: SourceSettings) -> FhirClient:
        return FhirClient(source, transport=self.transport)

    async def picture(self, nhs_number: str) -> Picture:
        """Ask every source now; raises BabyNotFound if none knows the baby."""
        async with AsyncExitStack() as stack:
            clients = {s.name: await stack.enter_async_context(self.client(s)) for s in self.sources}
            unread = [name for name in clients if name not in self.capabilities]
            read = await asyncio.gather(*(read_capabilities(clients[name]) for name in unread))
            for name, caps in zip(unread, read, strict=True):
                if caps.known:  # a source that would not say is asked again next time
                    self.capabilities[name] = caps
            return await gather_picture(
                nhs_number=nhs_number,
                clients=clients,
                mappings=self.mappings,
                now=self.clock(),
                capabilities=self.capabilities,
            )

    async def census(self) -> list[dict[str, Any]]:
        """Babies on the unit now: in-progress inpatient stays on the write-back (unit) source."""
        async with self.client(self.write_back) as client:
            result = await client.search(
                "Encounter", {"status": "in-progress", "_include": "Encounter:subject", "_count": "100"}
            )
        resources = [r.model_dump(mode="json") for r in result.resources]
        patients = {f"Patient/{r['id']}": r for r in resources if r["resourceType"] == "Patient"}
        stays = []
        for encounter in (r for r in resources if r["resourceType"] == "Encounter"):
            patient = patients.get((encounter.get("subject") or {}).get("reference", ""))
            if patient:
                stays.append({"encounter": encounter, "patient": patient})
        stays.sort(key=lambda s: (s["encounter"].get("period") or {}).get("start", ""), reverse=True)
        return stays

    def env(self, picture: Picture, checkpoint: str, user: User) -> dict[str, Any]:
        """The FHIRPath environment a checklist is filled in: %patient, %encounter, %user, %picture."""
        return {
            "patient": picture.baby_resource or {},
            "encounter": picture.encounter or {},
            "user": user.reference(),
            "picture": picture_context(picture, checkpoint=checkpoint),
        }

    def subject(self, picture: Picture) -> dict[str, Any]:
        """The baby as a Reference on the write-back source, naming them unambiguously."""
        baby = picture.baby
        born = baby.birth_date.isoformat() if baby.birth_date else "date of birth not known"
        reference: dict[str, Any] = {
            "identifier": {"system": "https://fhir.nhs.uk/Id/nhs-number", "value": baby.nhs_number},
            "display": f"{baby.name} (NHS number {format_nhs_number(baby.nhs_number)}, born {born})",
        }
        local_id = baby.found_on.get(self.write_back.name)
        if local_id:
            reference["reference"] = f"Patient/{local_id}"
        return reference

    def encounter(self, picture: Picture) -> dict[str, Any] | None:
        stay = picture.encounter
        if stay and stay.get("_source") == self.write_back.name:
            return {"reference": f"Encounter/{stay['id']}"}
        return None

    def start_checklist(self, picture: Picture, checkpoint: str, user: User) -> Populated:
        questionnaire = self.checklists.for_checkpoint(checkpoint)
        return populate(
            questionnaire,
            env=self.env(picture, checkpoint, user),
            subject=self.subject(picture),
            encounter=self.encounter(picture),
        )

    def check(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> list[Issue]:
        questionnaire = self.checklists.for_checkpoint(checkpoint)
        return validate(questionnaire, response, self.env(picture, checkpoint, user))

    async def submit(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> Submitted:
        """Store the completed checklist durably, then try once to write it to FHIR; `entry.state` says how it went.

        Call only with a response that `check` accepted.
        """
        if self.write_back.name not in picture.baby.found_on:
            raise NotWritable(
                f"this baby is not on the {self.write_back.name} record, where NeoSafe writes checklists: "
                "ask the unit's EPR team to register the baby there"
            )
        questionnaire = self.checklists.for_checkpoint(checkpoint)
        env = self.env(picture, checkpoint, user)
        now = self.clock()
        completed = prune(questionnaire, response, env)
        completed.update(
            {
                "questionnaire": canonical(questionnaire),
                "status": "completed",
                "subject": self.subject(picture),
                "author": user.reference(),
                "authored": now.isoformat(timespec="seconds"),
            }
        )
        encounter = self.encounter(picture)
        if encounter:
            completed["encounter"] = encounter
        else:
            completed.pop("encounter", None)
        assessment_id = str(uuid.uuid4())
        sources = [
            {
                "name": s.name,
                "status": s.status,
                "detail": s.detail,
                "checked_at": s.checked_at.isoformat() if s.checked_at else None,
            }
            for s in picture.sources
        ]
        bundle = assessment_bundle(
            questionnaire=questionnaire, response=completed, assessment_id=assessment_id, sources=sources
        )
        entry = await save_assessment(
            self.sessions,
            assessment_id=assessment_id,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=canonical(questionnaire),
            response=bundle["entry"][0]["resource"],
            sources=sources,
            bundle=bundle,
            author_id=user.id,
            author_role=user.role.key,
        )
        async with self.client(self.write_back) as client:
            await deliver(self.sessions, client, entry.id, now=now)
        return Submitted(assessment_id=assessment_id, entry=await outbox_entry(self.sessions, entry.id) or entry)
