"""A checklist to fill in: pre-filled from the sources, or the draft exactly as it was left, and its refresh."""

from __future__ import annotations

import json
from typing import Any

from app.assessments import Draft, get_draft, save_draft
from app.forms import Change, Populated, canonical, changes, populate, take
from app.picture import Picture

from .outcomes import NotFound
from .pictures import Pictures
from .policy import Action
from .users import User

__all__ = ["Drafts"]


class Drafts(Pictures):
    def questionnaire(self, checkpoint: str) -> dict[str, Any]:
        """The current checklist for a checkpoint; NotFound if NeoSafe has none by that name."""
        try:
            return self.checklists.for_checkpoint(checkpoint)
        except LookupError as exc:
            raise NotFound(f"there is no '{checkpoint}' checklist") from exc

    def start_checklist(self, picture: Picture, checkpoint: str, user: User) -> Populated:
        return populate(
            self.questionnaire(checkpoint),
            env=self.env(picture, checkpoint, user),
            subject=self.subject(picture),
            encounter=self.encounter(picture),
        )

    async def draft(self, nhs_number: str, checkpoint: str) -> Draft:
        """This baby's saved draft of the checklist; NotFound if there is none."""
        self.questionnaire(checkpoint)
        draft = await get_draft(self.sessions, nhs_number=nhs_number, checkpoint=checkpoint)
        if draft is None:
            raise NotFound("no draft of this checklist for this baby")
        return draft

    async def open_checklist(
        self, picture: Picture, checkpoint: str, user: User
    ) -> tuple[dict[str, Any], Draft | None, list[str]]:
        """The saved draft as the clinician left it (never re-populated), else a newly pre-filled checklist.

        Returns the response, the draft (if any) and what could not be pre-filled.
        """
        self.questionnaire(checkpoint)
        draft = await get_draft(self.sessions, nhs_number=picture.baby.nhs_number or "", checkpoint=checkpoint)
        if draft is not None:
            return json.loads(draft.response_json), draft, []
        populated = self.start_checklist(picture, checkpoint, user)
        return populated.response, None, populated.issues

    async def keep_draft(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> Draft:
        """Save an unfinished checklist; its baseline is what the sources pre-filled when it was first saved."""
        await self.authorise(user, Action.COMPLETE, picture.baby.nhs_number, checkpoint=checkpoint)
        questionnaire = self.questionnaire(checkpoint)
        draft = {**response, "status": "in-progress", "questionnaire": canonical(questionnaire)}
        kept = await save_draft(
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
        await self.audit(user, f"save-{checkpoint}-draft", picture.baby.nhs_number)
        return kept

    def draft_changes(self, picture: Picture, checkpoint: str, user: User, draft: Draft) -> list[Change]:
        """What the sources say differently now from when the draft began, item by item."""
        return changes(
            self.questionnaire(checkpoint),
            baseline=json.loads(draft.baseline_json),
            fresh=self.start_checklist(picture, checkpoint, user).response,
            draft=json.loads(draft.response_json),
        )

    async def take_changes(self, picture: Picture, checkpoint: str, user: User, draft: Draft, paths: set[str]) -> Draft:
        """Put the sources' new pre-filled answers into the chosen items of the draft, and keep it."""
        await self.authorise(user, Action.COMPLETE, picture.baby.nhs_number, checkpoint=checkpoint)
        fresh = self.start_checklist(picture, checkpoint, user).response
        updated = take(self.questionnaire(checkpoint), draft=json.loads(draft.response_json), fresh=fresh, paths=paths)
        return await self.keep_draft(picture, checkpoint, user, updated)
