"""What pages and API share: the wiring (sources, mappings, checklists, database) and the steps of a checkpoint.

sources -> picture -> checklist -> assessment -> write-back, in that order, each step a function here.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import uuid
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from jinja2 import Environment

from app.assessments import (
    Assessment,
    Backoff,
    Draft,
    DuplicateSubmission,
    OutboxEntry,
    OutboxWorker,
    SessionFactory,
    amended_by,
    assessment_bundle,
    assessment_chain,
    audit,
    deliver,
    get_draft,
    latest_assessments,
    outbox_entry,
    save_assessment,
    save_draft,
    submitted_with,
)
from app.config import Settings, SourceSettings
from app.forms import (
    AUTHOR,
    VERIFIER,
    Change,
    Checklists,
    Issue,
    Line,
    Populated,
    RaisedTask,
    TaskRule,
    answered_lines,
    canonical,
    changes,
    missing_signatures,
    populate,
    prune,
    raised_tasks,
    signature,
    take,
    validate,
)
from app.handover import (
    SUMMARIES,
    Handover,
    Recipients,
    Section,
    build_handover,
    handover_communications,
    handover_document,
)
from app.picture import Mappings, Picture, gather_picture, mark_changes, picture_context, snapshot
from app.sources import Capabilities, FhirClient, read_capabilities

from .auth import User
from .handover_document import PdfUnavailable, document_html, document_reader, pdf_of
from .submission_keys import answers_digest

__all__ = ["AlreadySubmitted", "NotWritable", "Services", "Submitted", "format_nhs_number"]


class NotWritable(Exception):
    """The assessment cannot be written: the baby or stay is not on the write-back source."""


class AlreadySubmitted(Exception):
    """A submission key already used for different answers, another baby or another user: not a repeat."""

    def __init__(self, assessment_id: str) -> None:
        super().__init__(
            f"this form was already saved, with different answers, as checklist {assessment_id}: "
            "to change an answer, open that checklist from the baby's page and amend it"
        )
        self.assessment_id = assessment_id


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
    document_env: Environment  # the templates, for the handover summary written with each discharge checklist
    handover_sections: list[Section] = field(default_factory=list)
    handover_recipients: Recipients | None = None  # D10's questions: a Communication per recipient at discharge
    task_rules: list[TaskRule] = field(default_factory=list)  # answers that raise a Task (fhir_mappings/tasks.toml)
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    capabilities: dict[str, Capabilities] = field(default_factory=dict)  # read once per source, then kept
    auths: dict[str, httpx.Auth] = field(default_factory=dict)  # one per source, so tokens are reused
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")

    @property
    def write_back(self) -> SourceSettings:
        return next(s for s in self.sources if s.write_back)

    def client(self, source: SourceSettings) -> FhirClient:
        return FhirClient(source, transport=self.transport, auth=self.auths.get(source.name))

    @property
    def backoff(self) -> Backoff:
        return Backoff(
            base=timedelta(seconds=self.settings.outbox_retry_base_s),
            most=timedelta(seconds=self.settings.outbox_retry_max_s),
        )

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.outbox_lease_s)

    def outbox_worker(self) -> OutboxWorker:
        """The background sender for this process: retries what could not be sent at once."""
        return OutboxWorker(
            self.sessions,
            lambda: self.client(self.write_back),
            worker=self.worker_id,
            interval_s=self.settings.outbox_interval_s,
            backoff=self.backoff,
            lease=self.lease,
            clock=self.clock,
            audit=self.settings.audit_export,
        )

    async def picture(self, nhs_number: str) -> Picture:
        """Ask every source now; raises BabyNotFound if none knows the baby."""
        async with AsyncExitStack() as stack:
            clients = {s.name: await stack.enter_async_context(self.client(s)) for s in self.sources}
            unread = [name for name in clients if name not in self.capabilities]
            read = await asyncio.gather(*(read_capabilities(clients[name]) for name in unread))
            for name, caps in zip(unread, read, strict=True):
                if caps.known:  # a source that would not say is asked again next time
                    self.capabilities[name] = caps
            picture = await gather_picture(
                nhs_number=nhs_number,
                clients=clients,
                mappings=self.mappings,
                now=self.clock(),
                capabilities=self.capabilities,
            )
        previous = await latest_assessments(self.sessions, nhs_number=nhs_number)
        if previous:
            last = previous[0][0]
            mark_changes(
                picture,
                json.loads(last.records_json),
                since=f"the {last.checkpoint} checklist of {last.created_at:%d %B %Y}",
            )
        return picture

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

    async def open_checklist(
        self, picture: Picture, checkpoint: str, user: User
    ) -> tuple[dict[str, Any], Draft | None, list[str]]:
        """The saved draft as the clinician left it (never re-populated), else a newly pre-filled checklist.

        Returns the response, the draft (if any) and what could not be pre-filled.
        """
        draft = await get_draft(self.sessions, nhs_number=picture.baby.nhs_number or "", checkpoint=checkpoint)
        if draft is not None:
            return json.loads(draft.response_json), draft, []
        populated = self.start_checklist(picture, checkpoint, user)
        return populated.response, None, populated.issues

    async def keep_draft(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> Draft:
        """Save an unfinished checklist; its baseline is what the sources pre-filled when it was first saved."""
        questionnaire = self.checklists.for_checkpoint(checkpoint)
        draft = {**response, "status": "in-progress", "questionnaire": canonical(questionnaire)}
        return await save_draft(
            self.sessions,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=canonical(questionnaire),
            response=draft,
            baseline=self.start_checklist(picture, checkpoint, user).response,
            author_id=user.id,
            author_role=user.role.key,
            now=self.clock(),
        )

    def draft_changes(self, picture: Picture, checkpoint: str, user: User, draft: Draft) -> list[Change]:
        """What the sources say differently now from when the draft began, item by item."""
        return changes(
            self.checklists.for_checkpoint(checkpoint),
            baseline=json.loads(draft.baseline_json),
            fresh=self.start_checklist(picture, checkpoint, user).response,
            draft=json.loads(draft.response_json),
        )

    async def take_changes(self, picture: Picture, checkpoint: str, user: User, draft: Draft, paths: set[str]) -> Draft:
        """Put the sources' new pre-filled answers into the chosen items of the draft, and keep it."""
        fresh = self.start_checklist(picture, checkpoint, user).response
        questionnaire = self.checklists.for_checkpoint(checkpoint)
        updated = take(questionnaire, draft=json.loads(draft.response_json), fresh=fresh, paths=paths)
        return await self.keep_draft(picture, checkpoint, user, updated)

    def rules_for(self, checkpoint: str) -> list[TaskRule]:
        return [r for r in self.task_rules if r.checkpoint == checkpoint]

    def tasks_raised(self, assessment: Assessment) -> list[RaisedTask]:
        """The Tasks this stored checklist wrote, as it wrote them (due dates count from when it was authored)."""
        response = json.loads(assessment.response_json)
        return raised_tasks(self.checklists.for_response(response), response, self.rules_for(assessment.checkpoint))

    def answers_of(self, assessment: Assessment) -> list[tuple[str, tuple[Line, ...]]]:
        """The stored checklist read back, item by item (in the words of the version it was made on)."""
        response = json.loads(assessment.response_json)
        questionnaire = self.checklists.for_response(response)
        return [
            (item.get("text", item["linkId"]), lines)
            for item in questionnaire.get("item") or []
            if (lines := answered_lines(questionnaire, response, item["linkId"]))
        ]

    async def handover(self, picture: Picture, *, saving: Assessment | None = None) -> Handover:
        """The summary for the community team, from the picture and the baby's newest checklists (with `saving`,
        a checklist about to be stored, as the newest of its kind)."""
        rows = await latest_assessments(self.sessions, nhs_number=picture.baby.nhs_number or "")
        assessments = [a for a, _ in rows] + ([saving] if saving else [])
        return build_handover(
            picture, assessments, self.checklists, self.handover_sections, self.task_rules, now=self.clock()
        )

    async def _handover(
        self,
        picture: Picture,
        checkpoint: str,
        response: dict[str, Any],
        *,
        assessment_id: str,
        record_id: str,
        version: int,
    ) -> list[dict[str, Any]]:
        """At transfer the summary, and at discharge the summary and a Communication per recipient, go to the
        baby's record in the checklist's own transaction: written exactly when the checklist is, and kept current
        by each amendment or co-signature."""
        if checkpoint not in SUMMARIES:
            return []
        saving = Assessment(
            id=assessment_id,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=response["questionnaire"],
            response_json=json.dumps(response),
            sources_json="[]",
            author_id="",
            author_role="",
            status=response["status"],
            version=version,
            created_at=self.clock(),  # newer than every stored version: it is the one the summary uses
        )
        html = document_html(
            self.document_env,
            await self.handover(picture, saving=saving),
            self.mappings.source_labels,
            document_reader(),
            title=SUMMARIES[checkpoint][0],
        )
        try:
            pdf = await asyncio.to_thread(pdf_of, html)  # layout is CPU work: keep it off the event loop
        except PdfUnavailable:
            pdf = None  # the HTML alone still hands everything over
        sent = (
            handover_communications(
                self.checklists.for_response(response), response, self.handover_recipients, record_id=record_id
            )
            if self.handover_recipients and checkpoint == "discharge"
            else []
        )
        return [handover_document(response, checkpoint=checkpoint, record_id=record_id, html=html, pdf=pdf), *sent]

    def check(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> list[Issue]:
        """Against the checklist version the response names (an amendment keeps its first version's)."""
        try:
            questionnaire = self.checklists.for_response(response)
        except LookupError:
            questionnaire = self.checklists.for_checkpoint(checkpoint)
        return validate(questionnaire, response, self.env(picture, checkpoint, user))

    def signatures_missing(self, picture: Picture, assessment: Assessment, user: User) -> list[dict[str, str]]:
        """Signatures the checklist still needs, as it stands now (e.g. a co-signature at discharge)."""
        response = json.loads(assessment.response_json)
        questionnaire = self.checklists.for_response(response)
        return missing_signatures(questionnaire, response, self.env(picture, assessment.checkpoint, user))

    async def cosign(self, picture: Picture, assessment_id: str, user: User) -> Submitted:
        """Co-sign the latest version: a new version carrying the co-signer's signature, written as an update.

        Only a role that may co-sign, never the author, and only where the checklist asks for it.
        """
        versions = await assessment_chain(self.sessions, assessment_id)
        if not versions or versions[0][0].nhs_number != picture.baby.nhs_number:
            raise NotWritable("there is no such checklist for this baby")
        if await amended_by(self.sessions, assessment_id):
            raise NotWritable("only the latest version of a checklist can be co-signed")
        latest = versions[-1][0]
        if not user.role.may_cosign or latest.author_id == user.id:
            raise NotWritable("a co-signature must come from the safeguarding lead, not the checklist's author")
        if VERIFIER["code"] not in {c["code"] for c in self.signatures_missing(picture, latest, user)}:
            raise NotWritable("this checklist does not need a co-signature, or has one already")
        now = self.clock()
        verifier = signature(VERIFIER, user.reference(), now.isoformat(timespec="seconds"))
        response = json.loads(latest.response_json)
        response = {**response, "status": "amended", "extension": [*response.get("extension", []), verifier]}
        assessment_id, sources = str(uuid.uuid4()), self.sources_consulted(picture)
        record_id = versions[0][0].id
        bundle = assessment_bundle(
            questionnaire=self.checklists.for_response(response),
            response=response,
            assessment_id=assessment_id,
            sources=sources,
            record_id=record_id,
            earlier=[json.loads(entry.bundle_json) for _, entry in versions],
            verifier=verifier["valueSignature"],
            task_rules=self.rules_for(latest.checkpoint),
            attached=await self._handover(
                picture,
                latest.checkpoint,
                response,
                assessment_id=assessment_id,
                record_id=record_id,
                version=latest.version + 1,
            ),
        )
        return await self._store_and_send(
            picture,
            latest.checkpoint,
            user,
            bundle,
            assessment_id,
            sources,
            now,
            amends=latest.id,
            version=latest.version + 1,
        )

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

    async def submit(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        response: dict[str, Any],
        *,
        amends: str | None = None,
        submission_key: str | None = None,
    ) -> Submitted:
        """Store the checklist durably, then try once to write it to FHIR; `entry.state` says how it went.

        With `amends` (the id of the latest version), this is an amendment: checked against the checklist
        version the first one was made on, written as updates of what changed. Call only with a response
        that `check` accepted, and after `repeat_of` found no earlier submission under `submission_key`.
        """
        if self.write_back.name not in picture.baby.found_on:
            raise NotWritable(
                f"this baby is not on the {self.write_back.name} record, where NeoSafe writes checklists: "
                "ask the unit's EPR team to register the baby there"
            )
        versions = await assessment_chain(self.sessions, amends) if amends else []
        if amends and (
            not versions
            or versions[0][0].nhs_number != picture.baby.nhs_number
            or await amended_by(self.sessions, amends)
        ):
            raise NotWritable("only the latest version of one of this baby's checklists can be amended")
        questionnaire = (
            self.checklists.for_response({"questionnaire": versions[0][0].questionnaire})
            if versions
            else self.checklists.for_checkpoint(checkpoint)
        )
        env = self.env(picture, checkpoint, user)
        now = self.clock()
        authored = now.isoformat(timespec="seconds")
        completed = prune(questionnaire, response, env)
        completed.update(
            {
                "questionnaire": canonical(questionnaire),
                "status": "amended" if versions else "completed",
                "subject": self.subject(picture),
                "author": user.reference(),
                "authored": authored,
                "extension": [signature(AUTHOR, user.reference(), authored)],
            }
        )
        encounter = self.encounter(picture)
        if encounter:
            completed["encounter"] = encounter
        else:
            completed.pop("encounter", None)
        assessment_id = str(uuid.uuid4())
        record_id = versions[0][0].id if versions else assessment_id
        sources = self.sources_consulted(picture)
        bundle = assessment_bundle(
            questionnaire=questionnaire,
            response=completed,
            assessment_id=assessment_id,
            sources=sources,
            record_id=record_id,
            earlier=[json.loads(entry.bundle_json) for _, entry in versions],
            task_rules=self.rules_for(checkpoint),
            attached=await self._handover(
                picture,
                checkpoint,
                completed,
                assessment_id=assessment_id,
                record_id=record_id,
                version=len(versions) + 1,
            ),
        )
        try:
            return await self._store_and_send(
                picture,
                checkpoint,
                user,
                bundle,
                assessment_id,
                sources,
                now,
                amends=amends,
                version=len(versions) + 1,
                submission_key=submission_key,
                submission_digest=answers_digest(response),
            )
        except DuplicateSubmission:  # the same submission, arriving twice at once: the other request stored it
            repeat = await self.repeat_of(submission_key, picture, user, response)
            if repeat is None:
                raise
            return repeat

    async def save(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        response: dict[str, Any],
        *,
        amends: str | None = None,
        submission_key: str | None = None,
    ) -> Submitted | list[Issue]:
        """A submitted checklist: what was stored if this is the same submission again; else its issues if it is
        not complete; else stored and sent. AlreadySubmitted or NotWritable if it cannot be either."""
        repeat = await self.repeat_of(submission_key, picture, user, response)
        if repeat is not None:
            return repeat
        issues = self.check(picture, checkpoint, user, response)
        if issues:
            return issues
        return await self.submit(picture, checkpoint, user, response, amends=amends, submission_key=submission_key)

    async def repeat_of(
        self, submission_key: str | None, picture: Picture, user: User, response: dict[str, Any]
    ) -> Submitted | None:
        """What an earlier request stored under this key, if this is the same submission sent again.

        AlreadySubmitted if the key was used for other answers, another baby or by another user: never
        store those as a second checklist, nor drop them silently.
        """
        earlier = await submitted_with(self.sessions, submission_key) if submission_key else None
        if earlier is None:
            return None
        same = (earlier.nhs_number, earlier.author_id, earlier.submission_digest)
        if same != (picture.baby.nhs_number, user.id, answers_digest(response)):
            raise AlreadySubmitted(earlier.id)
        await audit(
            self.sessions,
            user_id=user.id,
            role=user.role.key,
            action=f"resubmit-{earlier.checkpoint}-checklist",
            nhs_number=earlier.nhs_number,
            detail=f"the same submission again: assessment {earlier.id}, stored once",
        )
        versions = await assessment_chain(self.sessions, earlier.id)
        return Submitted(assessment_id=earlier.id, entry=versions[-1][1])

    async def _store_and_send(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        bundle: dict[str, Any],
        assessment_id: str,
        sources: list[dict[str, Any]],
        now: datetime,
        *,
        amends: str | None,
        version: int,
        submission_key: str | None = None,
        submission_digest: str | None = None,
    ) -> Submitted:
        """Durable first (assessment and outbox in one transaction), then one try at the FHIR record."""
        response = bundle["entry"][0]["resource"]
        entry = await save_assessment(
            self.sessions,
            assessment_id=assessment_id,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=response["questionnaire"],
            response=response,
            sources=sources,
            records=snapshot(picture),
            bundle=bundle,
            author_id=user.id,
            author_role=user.role.key,
            now=now,
            amends=amends,
            version=version,
            submission_key=submission_key,
            submission_digest=submission_digest,
        )
        async with self.client(self.write_back) as client:
            await deliver(
                self.sessions, client, entry.id, worker=self.worker_id, now=now, backoff=self.backoff, lease=self.lease
            )
        return Submitted(assessment_id=assessment_id, entry=await outbox_entry(self.sessions, entry.id) or entry)
