"""The safeguarding picture for a checkpoint, the unit's census, and the baby as NeoSafe writes about them."""

from __future__ import annotations

import json
from contextlib import AsyncExitStack
from typing import Any

from app.assessments import audit, latest_assessments
from app.config import SourceSettings
from app.fhir_systems import NHS_NUMBER_SYSTEM
from app.handover import recipient_entries
from app.nhs_style import format_nhs_number
from app.picture import CpisAccess, FlagsAccess, PdsAccess, Picture, gather_picture, mark_changes, picture_context

from .outcomes import Forbidden
from .policy import Action, require
from .users import User
from .wiring import Wiring

__all__ = ["Pictures", "nhs_number_of", "social_workers", "stay_on"]


def nhs_number_of(patient: dict[str, Any]) -> str:
    """The NHS number a Patient resource carries; "" if none."""
    ids = patient.get("identifier") or []
    return next((i.get("value") or "" for i in ids if i.get("system") == NHS_NUMBER_SYSTEM), "")


SOCIAL_CARE = ("child-protection", "looked-after", "social-care")


def social_workers(picture: Picture) -> list[str]:
    """Each named social worker of a current social care, child protection or looked-after record (its contact,
    and the team or local authority holding it), once each: the handover's social worker recipients."""
    named: list[str] = []
    for r in picture.records:
        if r.current and r.category in SOCIAL_CARE and r.contact:
            who = f"{r.contact} ({r.organisation})" if r.organisation else r.contact
            if who not in named:
                named.append(who)
    return named


def stay_on(stay: str | None, target: SourceSettings) -> dict[str, Any] | None:
    """A launch's stay as NeoSafe keeps it (`<iss>/Encounter/<id>`) as a literal Reference, where `target` is that
    EPR's own FHIR server; None elsewhere, where a reference to the EPR's Encounter would dangle."""
    written_in = f"{target.url}/Encounter/"
    return {"reference": "Encounter/" + stay.removeprefix(written_in)} if stay and stay.startswith(written_in) else None


class Pictures(Wiring):
    async def picture(self, nhs_number: str, *, user: User | None = None, checkpoint: str | None = None) -> Picture:
        """Ask every source now, marked against the baby's previous checklist; raises BabyNotFound if none knows
        the baby. Internal: what a person is shown comes from `view_picture` (audited, as their role may see).

        The national APIs (CP-IS, the Patient Flags API, PDS) are asked with `user`'s NHS CIS2 token (none: not
        checked, and not called), CP-IS with the IsUnscheduledAccessEvent its settings give `checkpoint`; each
        request they were sent is audited as the user's."""
        cpis = {
            s.name: CpisAccess(token=user.cis2_token if user else None, unscheduled=s.unscheduled(checkpoint))
            for s in self.sources
            if s.profile == "cpis"
        }
        token = user.cis2_token if user else None
        flags = {s.name: FlagsAccess(token=token) for s in self.sources if s.profile == "patient-flags"}
        pds = {s.name: PdsAccess(token=token) for s in self.sources if s.profile == "pds"}
        async with AsyncExitStack() as stack:
            clients = {s.name: await stack.enter_async_context(self.client(s)) for s in self.sources}
            try:
                picture = await gather_picture(
                    nhs_number=nhs_number,
                    clients=clients,
                    mappings=self.mappings,
                    now=self.clock(),
                    capabilities=await self.capabilities.wanted(
                        {n: c for n, c in clients.items() if c.source.profile == "fhir"}  # CP-IS: one search, known
                    ),
                    cpis=cpis,
                    flags=flags,
                    pds=pds,
                )
            finally:  # asked, whatever came of it: the national services have recorded the access
                if user is not None:
                    national = {"patient-flags": flags, "pds": pds}
                    await self._audit_national(user, nhs_number, checkpoint, cpis, **national)
        previous = await latest_assessments(self.sessions, nhs_number=nhs_number)
        if previous:
            last = previous[0].assessment
            mark_changes(
                picture,
                json.loads(last.records_json),
                since=f"the {last.checkpoint} checklist of {last.created_at:%d %B %Y}",
            )
        return picture

    async def view_picture(self, user: User, nhs_number: str, *, action: str, checkpoint: str | None = None) -> Picture:
        """The picture a person is about to be shown (at `checkpoint`, if for one), the viewing audited as
        `action`; CP-IS is asked with their CIS2 token."""
        picture = await self.picture(nhs_number, user=user, checkpoint=checkpoint)
        await self.audit(user, action, nhs_number)
        return picture

    async def _audit_national(
        self, user: User, nhs_number: str, checkpoint: str | None, cpis: dict[str, CpisAccess], **others: dict
    ) -> None:
        """One audit entry per national service asked (CP-IS, and `others` by profile: patient-flags, pds): the
        clinician by name, whom about and each request's id (TraceID, X-Request-ID), and for CP-IS the
        IsUnscheduledAccessEvent sent (each access history request is sent as scheduled, false: the same access as its
        CareTeam request, recorded by CP-IS once) (no patient data beyond the baby's NHS number, as every entry has)."""
        asked: list[tuple[str, str, str, list[tuple[str, str]]]] = [
            (
                "view-cpis",
                name,
                f"IsUnscheduledAccessEvent={'true' if access.unscheduled else 'false'}; ",
                [
                    (role, f"TraceID {request.trace_id}")
                    if request.resource == "CareTeam"
                    else (f"{role} access history", f"AuditEvent, TraceID {request.trace_id}, sent as scheduled")
                    for role, request in access.sent
                ],
            )
            for name, access in cpis.items()
        ]
        asked += [
            (f"view-{profile}", name, "", [(role, f"X-Request-ID {request_id}") for role, request_id in access.sent])
            for profile, accesses in others.items()
            for name, access in accesses.items()
        ]
        at = checkpoint or "no checkpoint"
        for action, name, said, requests in asked:
            if requests:
                about = ", ".join(f"{role} ({request})" for role, request in requests)
                detail = f"{name} asked by {user.name} ({user.role.label}) at {at}: {said}about {about}"
                await self.audit(user, action, nhs_number, detail=detail)

    async def audit(self, user: User, action: str, nhs_number: str | None = None, **detail: str) -> None:
        await audit(self.sessions, user_id=user.id, role=user.role.key, action=action, nhs_number=nhs_number, **detail)

    async def authorise(
        self,
        user: User,
        action: Action,
        nhs_number: str | None,
        *,
        checkpoint: str | None = None,
        author_id=None,
        roles: frozenset[str] = frozenset(),
    ) -> None:
        """`policy.require`, with a refusal audited: who tried what, on which baby, and why not."""
        try:
            require(user, action, checkpoint=checkpoint, author_id=author_id, roles=roles)
        except Forbidden as exc:
            what = f"{action}-{checkpoint}" if checkpoint else str(action)
            await self.audit(user, what, nhs_number, outcome="refused", detail=str(exc))
            raise

    async def census(self, user: User) -> list[dict[str, Any]]:
        """Babies on the unit now, for `user` to see: audited."""
        await self.audit(user, "view-unit")
        return await self.stays()

    async def stays(self) -> list[dict[str, Any]]:
        """Babies on the unit now: in-progress inpatient stays on the write-back (unit) source, newest first, each
        as {"encounter", "patient"}. Internal: people see them through `census`."""
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
        """The FHIRPath environment a checklist is filled in: %patient, %encounter, %user, %picture, and
        %recipients, whom the handover goes to and how (checklists/README.md)."""
        patient = picture.baby_resource or {}
        return {
            "patient": patient,
            "encounter": picture.encounter or {},
            "user": user.reference(),
            "picture": picture_context(picture, checkpoint=checkpoint),
            "recipients": recipient_entries(self.routes, patient, social_workers=social_workers(picture)),
        }

    def target_for(self, picture: Picture, user: User | None, checkpoint: str | None = None) -> SourceSettings:
        """Where a new checklist of this baby by `user` is written: the source `user`'s launch names for this baby
        (its EPR's FHIR server, checked at start), else the unit's write_back source. A discharge checklist always
        goes to the unit's record: its handover is delivered (app.delivery) from there, and only from there."""
        if checkpoint == "discharge":
            return self.write_back
        name = user.launch.write_back_for(picture.baby.nhs_number) if user and user.launch else None
        return (self.target(name) if name else None) or self.write_back

    def target_name(self, target: SourceSettings) -> str | None:
        """A target as NeoSafe's database keeps it: None for the write_back source, so a renamed one is still found."""
        return None if target.name == self.write_back.name else target.name

    def subject(self, picture: Picture, target: SourceSettings | None = None) -> dict[str, Any]:
        """The baby as a Reference on the write-back source (or `target`), naming them unambiguously."""
        baby = picture.baby
        born = baby.birth_date.isoformat() if baby.birth_date else "date of birth not known"
        reference: dict[str, Any] = {
            "identifier": {"system": NHS_NUMBER_SYSTEM, "value": baby.nhs_number},
            "display": f"{baby.name} (NHS number {format_nhs_number(baby.nhs_number)}, born {born})",
        }
        local_id = baby.found_on.get((target or self.write_back).name)
        if local_id:
            reference["reference"] = f"Patient/{local_id}"
        return reference

    def encounter(
        self,
        picture: Picture,
        user: User | None = None,
        target: SourceSettings | None = None,
        *,
        checkpoint: str | None = None,
    ) -> dict[str, Any] | None:
        """The stay what NeoSafe writes about the baby is made in, as a Reference on the write-back source.

        The EPR's launch wins where `user`'s sign-in was launched for this baby and the write-back source is the
        EPR's own FHIR server (the EPR said which stay the clinician is in). Elsewhere a literal reference to the
        EPR's Encounter would dangle, so the launch's stay is kept only in NeoSafe's database and its audit trail
        (`launched_encounter`), and the picture's stay is used where it came from the write-back source.
        `target`: where it is written, if not where `user`'s launch would write a `checkpoint` checklist
        (`target_for`)."""
        target = target or self.target_for(picture, user, checkpoint)
        if (launched := self.launch_reference(picture, user, target)) is not None:
            return launched
        stay = picture.encounter
        if stay and stay.get("_source") == target.name:
            return {"reference": f"Encounter/{stay['id']}"}
        return None

    def launch_reference(self, picture: Picture, user: User | None, target: SourceSettings) -> dict[str, Any] | None:
        """The launch's stay for this baby as a Reference, where `target` is the EPR's FHIR server."""
        return stay_on(self.launched_encounter(picture, user) if user else None, target)

    def launched_encounter(self, picture: Picture, user: User) -> str | None:
        """The stay `user`'s launch named for this baby, `<iss>/Encounter/<id>`: what NeoSafe's database keeps."""
        return user.launch.encounter_of(picture.baby.nhs_number) if user.launch else None

    def sources_consulted(self, picture: Picture) -> list[dict[str, Any]]:
        return [
            {
                "name": s.name,
                "status": s.status,
                "detail": s.detail,
                "checked_at": s.checked_at.isoformat() if s.checked_at else None,
            }
            for s in picture.sources
        ]
