"""A submitted checklist: checked, stored durably, then sent; the same submission again is stored once.

Idempotency is decided here: a submission key (the API's Idempotency-Key, the form's hidden field) and a
digest of the answers tell a repeat from a key reused for something else.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from app.assessments import (
    DuplicateSubmission,
    Stored,
    assessment_bundle,
    assessment_chain,
    get_draft,
    outbox_entry,
    save_assessment,
    submitted_with,
)
from app.config import SourceSettings
from app.forms import AUTHOR, LONDON, Issue, canonical, focus_finder, prune, signature, validate
from app.forms.validate import enabled_items
from app.picture import Picture, picture_context, snapshot

from .digests import answers_digest
from .handovers import Handovers
from .outcomes import AlreadySubmitted, NotFound, NotWritable, Submitted
from .pictures import stay_on
from .policy import Action, require
from .responses import not_acceptable
from .users import User

__all__ = ["Submissions", "answers_digest", "without_own_tasks"]


def without_own_tasks(picture: Picture, record_id: str) -> Picture:
    """The picture an amendment or co-signature of checklist `record_id` is checked against: the tasks that
    checklist itself raised are its answers, not tasks found open before it (D13 asks about those)."""
    return replace(picture, open_tasks=[t for t in picture.open_tasks if t.raised_by != record_id])


@dataclass(frozen=True)
class _Read:
    """How a submission's answers were read when checked; submit prunes with the same, never reading them again."""

    questionnaire: dict[str, Any]
    env: dict[str, Any]
    enabled: set[str]


class Submissions(Handovers):
    def checkpoint_of(self, response: dict[str, Any]) -> str:
        """The checkpoint whose checklist (any version NeoSafe has) the response names; NotFound if none."""
        try:
            return self.checklists.checkpoint_of(self.checklists.for_response(response))
        except LookupError as exc:
            raise NotFound(
                "QuestionnaireResponse.questionnaire must name a NeoSafe checklist as url|version, "
                f"not {response.get('questionnaire')!r}"
            ) from exc

    async def amending(self, picture: Picture, nhs_number: str, assessment_id: str) -> Picture:
        """The picture an amendment of this checklist is drawn and checked against (`without_own_tasks`)."""
        return without_own_tasks(picture, (await self.chain(nhs_number, assessment_id))[0].assessment.id)

    def check(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        response: dict[str, Any],
        *,
        made_on: str | None = None,
    ) -> list[Issue]:
        """Every reason the response cannot be stored as this baby's `checkpoint` checklist: first what it must be
        (`responses.not_acceptable`: about this baby, and on the checkpoint's checklist in use, or for an
        amendment on `made_on`, the url|version of the checklist it amends), then its answers against that
        version's questions. Its answers are not looked at when it is on the wrong version."""
        return self._checked(picture, checkpoint, user, response, made_on=made_on)[0]

    def _checked(
        self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any], *, made_on: str | None
    ) -> tuple[list[Issue], _Read | None]:
        """`check`'s issues, and how the answers were read (None if they were not: the wrong checklist)."""
        refused = not_acceptable(self.checklists, checkpoint, picture.baby.nhs_number, response, made_on=made_on)
        if any(i.link_id in ("resourceType", "questionnaire") for i in refused):
            return refused, None
        questionnaire = (
            self.checklists.for_response({"questionnaire": made_on}) if made_on else self.questionnaire(checkpoint)
        )
        env = self.env(picture, checkpoint, user, response)
        read = _Read(questionnaire, env, enabled_items(questionnaire, response, env))
        today = self.clock().astimezone(LONDON).date()  # the unit's date, on the service's clock
        names = self.mappings.source_labels
        return refused + validate(questionnaire, response, env, enabled=read.enabled, today=today, names=names), read

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
        not complete; else stored and sent. Forbidden, AlreadySubmitted or NotWritable if it can be neither.

        An amendment's checkpoint, checklist version and the role check come from the checklist it amends, never
        from the request: `checkpoint` is then ignored, and a response naming another version is refused.
        """
        versions: list[Stored] = []
        made_on = None
        if amends:
            versions = await self.chain(picture.baby.nhs_number or "", amends)  # read once for the whole request
            first = versions[0].assessment
            checkpoint, made_on = first.checkpoint, first.questionnaire
            picture = without_own_tasks(picture, first.id)
        await self.authorise(user, Action.COMPLETE, picture.baby.nhs_number, checkpoint=checkpoint)
        self.route_recipients(picture, checkpoint, response)  # D10's routes, as D5's address gives them
        repeat = await self.repeat_of(submission_key, picture, user, response)
        if repeat is not None:
            return repeat
        issues, read = self._checked(picture, checkpoint, user, response, made_on=made_on)
        if issues:
            await self.audit(
                user,
                f"{'amend' if amends else 'submit'}-{checkpoint}-checklist",
                picture.baby.nhs_number,
                outcome="refused",
                detail=f"{len(issues)} issues",
            )
            return issues
        return await self.submit(
            picture,
            checkpoint,
            user,
            response,
            amends=amends,
            submission_key=submission_key,
            versions=versions,
            read=read,
        )

    async def submit(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        response: dict[str, Any],
        *,
        amends: str | None = None,
        submission_key: str | None = None,
        versions: list[Stored] | None = None,
        read: _Read | None = None,
    ) -> Submitted:
        """Store the checklist durably, then try once to write it to FHIR; `entry.state` says how it went.

        With `amends` (the id of the latest version), this is an amendment: checked against the checklist
        version the first one was made on, written as updates of what changed; `versions`, its `chain` if the
        caller has read it already; `read`, how `check` read the answers, if it did. Call only with a response that
        `check` accepted, and after `repeat_of` found no earlier submission under `submission_key`.
        """
        require(user, Action.COMPLETE, checkpoint=checkpoint)
        if amends:
            versions = await self.still_latest(versions or await self.chain(picture.baby.nhs_number or "", amends))
        else:
            versions = []
        target, stored_as, stay = await self._written_where(picture, user, checkpoint, versions)
        if target is None:
            raise NotWritable(
                f"this checklist was written to {stored_as}, which NeoSafe is no longer connected to: "
                "ask the NeoSafe administrator"
            )
        if target.name not in picture.baby.found_on:
            raise NotWritable(
                f"this baby is not on the {target.name} record, where NeoSafe writes checklists: "
                "ask the unit's EPR team to register the baby there"
            )
        questionnaire = (
            self.checklists.for_response({"questionnaire": versions[0].assessment.questionnaire})
            if versions
            else self.questionnaire(checkpoint)
        )
        if read is None or read.questionnaire is not questionnaire:
            env = self.env(picture, checkpoint, user, response)
            read = _Read(questionnaire, env, enabled_items(questionnaire, response, env))
        authored = self.clock().isoformat(timespec="seconds")
        completed = prune(questionnaire, response, read.env, enabled=read.enabled)
        completed.update(
            {
                "questionnaire": canonical(questionnaire),
                "status": "amended" if versions else "completed",
                "subject": self.subject(picture, target),
                "author": user.reference(),
                "authored": authored,
                "extension": [signature(AUTHOR, user.reference(), authored)],
            }
        )
        encounter = stay_on(stay, target)  # the launch's stay, literally, only on the EPR's own server
        if encounter is None:  # an amendment keeps its original's stay unless a new launch gives another
            original = json.loads(versions[-1].assessment.response_json) if versions else None
            encounter = original.get("encounter") if original is not None else self.encounter(picture, target=target)
        if encounter:
            completed["encounter"] = encounter
        else:
            completed.pop("encounter", None)
        try:
            return await self.write(
                picture,
                checkpoint,
                user,
                completed,
                versions,
                amends=amends,
                submission_key=submission_key,
                submission_digest=answers_digest(response),
                context=read.env["picture"],
                encounter=stay,
                target=target,
                stored_as=stored_as,
            )
        except DuplicateSubmission:  # the same submission, arriving twice at once: the other request stored it
            repeat = await self.repeat_of(submission_key, picture, user, response)
            if repeat is None:
                raise
            return repeat

    async def _written_where(
        self, picture: Picture, user: User, checkpoint: str, versions: list[Stored]
    ) -> tuple[SourceSettings | None, str | None, str | None]:
        """Where this version is written (None: its source is no longer configured), that target as stored, and
        the launch's stay to keep with it (`<iss>/Encounter/<id>`).

        Fixed as the checklist was begun: an amendment goes where its first version went, keeping its stay unless
        `user`'s launch on this baby gives another; a first version where the launch of the sign-in it is saved in
        says, if that launch was on this baby, else where its draft was begun (`keep_draft`), else to the unit's
        write_back source."""
        launched = self.launched_encounter(picture, user)
        if versions:
            first = versions[0].entry.target
            return self.target(first), first, launched or versions[-1].assessment.encounter
        if user.launch is None or user.launch.nhs_number != picture.baby.nhs_number:
            draft = await get_draft(self.sessions, nhs_number=picture.baby.nhs_number or "", checkpoint=checkpoint)
            if draft is not None and (draft.target or draft.encounter):
                return self.target(draft.target), draft.target, draft.encounter
        target = self.target_for(picture, user, checkpoint)
        return target, self.target_name(target), launched

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
        await self.audit(
            user,
            f"resubmit-{earlier.checkpoint}-checklist",
            earlier.nhs_number,
            detail=f"the same submission again: assessment {earlier.id}, stored once",
        )
        versions = await assessment_chain(self.sessions, earlier.id)
        return Submitted(assessment_id=earlier.id, entry=versions[-1].entry)

    async def write(
        self,
        picture: Picture,
        checkpoint: str,
        user: User,
        response: dict[str, Any],
        versions: list[Stored],
        *,
        amends: str | None,
        verifier: dict[str, Any] | None = None,
        submission_key: str | None = None,
        submission_digest: str | None = None,
        context: dict[str, Any] | None = None,
        encounter: str | None = None,
        target: SourceSettings | None = None,
        stored_as: str | None = None,
    ) -> Submitted:
        """The FHIR transaction for this version, made durable (assessment and outbox in one database
        transaction) before anyone is told it is saved, then one try at the FHIR record. `context`: the %picture
        the answers were read with, if the caller has it (it is not built again). `encounter`: the launch's stay
        to keep with it; none, the version it amends keeps its own. `stored_as`: the target of a first version, as
        `_written_where` gives it (an amendment's is its first version's)."""
        assessment_id = str(uuid.uuid4())
        record_id = versions[0].assessment.id if versions else assessment_id
        sources = self.sources_consulted(picture)
        now: datetime = self.clock()
        questionnaire = self.checklists.for_response(response)
        people = (context or picture_context(picture, checkpoint=checkpoint))["people"]
        bundle = assessment_bundle(
            questionnaire=questionnaire,
            response=response,
            assessment_id=assessment_id,
            sources=sources,
            record_id=record_id,
            earlier=[json.loads(v.entry.bundle_json) for v in versions],
            verifier=verifier,
            task_rules=self.rules_for(checkpoint),
            focus=focus_finder(questionnaire, self.focus_rules, people),
            attached=await self.written_with(
                picture,
                checkpoint,
                response,
                assessment_id=assessment_id,
                record_id=record_id,
                version=len(versions) + 1,
            ),
        )
        entry = await save_assessment(
            self.sessions,
            assessment_id=assessment_id,
            nhs_number=picture.baby.nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=response["questionnaire"],
            response=bundle["entry"][0]["resource"],
            sources=sources,
            records=snapshot(picture),
            bundle=bundle,
            author_id=user.id,
            author_role=user.role.key,
            now=now,
            amends=amends,
            version=len(versions) + 1,
            submission_key=submission_key,
            submission_digest=submission_digest,
            encounter=encounter or (versions[-1].assessment.encounter if versions else None),
            target=versions[0].entry.target if versions else stored_as,
        )
        await self.send_now(entry, now=now)
        return Submitted(assessment_id=assessment_id, entry=await outbox_entry(self.sessions, entry.id) or entry)
