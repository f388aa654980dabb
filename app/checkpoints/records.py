"""A baby's saved checklists: found only under that baby, version by version, and read back in their own words."""

from __future__ import annotations

import json
from typing import Any

from app.assessments import Assessment, Stored, amended_by, assessment_chain, latest_assessments
from app.forms import Line, RaisedTask, answered_lines, missing_signatures, raised_tasks, with_every_item
from app.picture import Picture

from .holds import Holds
from .outcomes import Conflict, NotFound
from .policy import Action
from .users import User

__all__ = ["Records"]


class Records(Holds):
    async def saved(self, nhs_number: str) -> list[Stored]:
        """The baby's checklists, newest first, each with where it is on its way to the record."""
        return await latest_assessments(self.sessions, nhs_number=nhs_number)

    async def chain(self, nhs_number: str, assessment_id: str) -> list[Stored]:
        """Every version up to `assessment_id`, first first; NotFound unless it is one of this baby's."""
        versions = await assessment_chain(self.sessions, assessment_id)
        if not versions or versions[0].assessment.nhs_number != nhs_number:
            raise NotFound("there is no such checklist for this baby")
        return versions

    async def latest_version(self, nhs_number: str, assessment_id: str) -> list[Stored]:
        """As `chain`, and Conflict unless `assessment_id` is the latest version: only that one may change."""
        return await self.still_latest(await self.chain(nhs_number, assessment_id))

    async def still_latest(self, versions: list[Stored]) -> list[Stored]:
        """`versions` (a `chain`), and Conflict unless its last is still the latest version."""
        if await amended_by(self.sessions, versions[-1].assessment.id):
            raise Conflict("this checklist has been amended since: amend or co-sign the latest version")
        return versions

    async def amendment_of(self, nhs_number: str, assessment_id: str, user: User) -> tuple[Assessment, dict[str, Any]]:
        """The latest version (NotFound, or Conflict if not the latest) and its answers to change, with every
        question of its checklist version there to answer: those that did not apply then may apply now.

        Forbidden (and the refusal audited) unless `user` may complete the checklist's checkpoint, the one it was
        made at.
        """
        latest = (await self.latest_version(nhs_number, assessment_id))[-1].assessment
        await self.authorise(user, Action.COMPLETE, nhs_number, checkpoint=latest.checkpoint)
        response = json.loads(latest.response_json)
        return latest, with_every_item(self.checklists.for_response(response), response)

    async def is_latest(self, assessment_id: str) -> bool:
        return not await amended_by(self.sessions, assessment_id)

    async def versions(self, user: User, nhs_number: str, assessment_id: str) -> list[Stored]:
        """Every version up to this one, as written; the viewing audited."""
        versions = await self.chain(nhs_number, assessment_id)
        await self.audit(user, "view-versions", nhs_number, detail=f"assessment {assessment_id}")
        return versions

    def answered_by(self, assessment: Assessment) -> str:
        """Whose answers a version holds: its response's author (a co-signed version keeps its author's), whom
        the policy never lets co-sign them."""
        author = json.loads(assessment.response_json).get("author") or {}
        return (author.get("identifier") or {}).get("value") or assessment.author_id

    def signatures_missing(self, picture: Picture, assessment: Assessment, user: User) -> list[dict[str, str]]:
        """Signatures the checklist still needs, as it stands now (e.g. a co-signature at discharge, where the
        picture holds any record or the checklist itself has a finding)."""
        response = json.loads(assessment.response_json)
        questionnaire = self.checklists.for_response(response)
        return missing_signatures(questionnaire, response, self.env(picture, assessment.checkpoint, user, response))

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
            if (lines := answered_lines(questionnaire, response, item["linkId"], self.mappings.source_labels))
        ]
