"""A checklist to fill in: pre-filled from the sources, or the draft exactly as it was left, and its refresh.

Only a role that may complete a checkpoint's checklist is given one to fill in: the pre-fill and a draft carry what
the sources hold, restricted detail included. Every other role sees the picture and the saved checklists.
"""

from __future__ import annotations

import json
from typing import Any

from app.assessments import Draft, get_draft, save_draft
from app.forms import Change, Populated, canonical, changes, populate, take
from app.handover import route_again
from app.picture import Picture

from .outcomes import Conflict, Invalid, NotFound
from .pictures import Pictures
from .policy import Action
from .responses import not_acceptable
from .users import User

__all__ = ["Drafts"]


def _made_on(draft: Draft) -> str | None:
    """The url|version the draft's answers were given on (the response's own: the row keeps the first draft's)."""
    return json.loads(draft.response_json).get("questionnaire")


def _version(canonical_url: str | None) -> str:
    return (canonical_url or "").rpartition("|")[2] or "unknown"


class Drafts(Pictures):
    def questionnaire(self, checkpoint: str) -> dict[str, Any]:
        """The current checklist for a checkpoint; NotFound if NeoSafe has none by that name."""
        try:
            return self.checklists.for_checkpoint(checkpoint)
        except LookupError as exc:
            raise NotFound(f"there is no '{checkpoint}' checklist") from exc

    def start_checklist(self, picture: Picture, checkpoint: str, user: User) -> Populated:
        """The checklist newly pre-filled from the sources. A building block: a person is given one through
        `open_checklist`, which asks first whether they may complete it."""
        return populate(
            self.questionnaire(checkpoint),
            env=self.env(picture, checkpoint, user),
            subject=self.subject(picture, self.target_for(picture, user, checkpoint)),
            encounter=self.encounter(picture, user, checkpoint=checkpoint),
        )

    async def draft(self, nhs_number: str, checkpoint: str, user: User) -> Draft:
        """This baby's saved draft of the checklist; NotFound if there is none, Conflict if it was begun on a
        version of the checklist no longer in use (opening the checklist starts a new one).

        Forbidden (and the refusal audited) unless `user` may complete the checkpoint: a draft carries what the
        sources pre-filled.
        """
        await self.authorise(user, Action.COMPLETE, nhs_number, checkpoint=checkpoint)
        current = canonical(self.questionnaire(checkpoint))
        draft = await get_draft(self.sessions, nhs_number=nhs_number, checkpoint=checkpoint)
        if draft is None:
            raise NotFound("no draft of this checklist for this baby")
        if _made_on(draft) != current:
            raise Conflict(
                f"this draft was begun on version {_version(_made_on(draft))} of the checklist, which is no longer "
                f"in use: open the checklist to start a new one on version {_version(current)}"
            )
        return draft

    async def open_checklist(
        self, picture: Picture, checkpoint: str, user: User
    ) -> tuple[dict[str, Any], Draft | None, list[str]]:
        """The saved draft as the clinician left it (never re-populated), else a newly pre-filled checklist.

        Returns the response, the draft (if any) and what could not be pre-filled. Forbidden (audited) unless the
        user may complete this checkpoint. A draft begun on a version no longer in use is not resumed: a new
        checklist is started on the current one, and the notices say so.
        """
        await self.authorise(user, Action.COMPLETE, picture.baby.nhs_number, checkpoint=checkpoint)
        current = canonical(self.questionnaire(checkpoint))
        draft = await get_draft(self.sessions, nhs_number=picture.baby.nhs_number or "", checkpoint=checkpoint)
        notices = []
        if draft is not None and _made_on(draft) == current:
            return json.loads(draft.response_json), draft, []
        if draft is not None:
            notices.append(
                f"A draft of this checklist saved on {draft.updated_at:%d %B %Y} was begun on version "
                f"{_version(_made_on(draft))}, which is no longer in use. This is a new checklist on version "
                f"{_version(current)}: saving it replaces that draft."
            )
        populated = self.start_checklist(picture, checkpoint, user)
        return populated.response, None, notices + populated.issues

    def route_recipients(self, picture: Picture, checkpoint: str, response: dict[str, Any]) -> None:
        """At discharge, D10's *How NeoSafe sends it* worked out again (in place) from the response's own address
        (D5), as delivery will route it: what is saved, shown again and handed over is the route actually used."""
        if checkpoint != "discharge" or self.handover_recipients is None or self.routes is None:
            return
        try:
            questionnaire = self.checklists.for_response(response)
        except LookupError:  # not a checklist NeoSafe has: refused as such by the caller's checks
            return
        if self.checklists.checkpoint_of(questionnaire) == "discharge":
            route_again(questionnaire, response, self.handover_recipients, self.routes, picture.baby_resource or {})

    async def keep_draft(self, picture: Picture, checkpoint: str, user: User, response: dict[str, Any]) -> Draft:
        """Save an unfinished checklist; its baseline is what the sources pre-filled when it was first saved.

        Invalid (422) unless it is a QuestionnaireResponse on this checkpoint's checklist in use, about this baby
        (`responses.not_acceptable`, as for a submission); its answers need not be complete yet.
        """
        nhs_number = picture.baby.nhs_number
        await self.authorise(user, Action.COMPLETE, nhs_number, checkpoint=checkpoint)
        questionnaire = self.questionnaire(checkpoint)
        issues = not_acceptable(self.checklists, checkpoint, nhs_number, response)
        if issues:
            await self.audit(
                user, f"save-{checkpoint}-draft", nhs_number, outcome="refused", detail=f"{len(issues)} issues"
            )
            raise Invalid(issues)
        self.route_recipients(picture, checkpoint, response)
        draft = {**response, "status": "in-progress"}
        # NeoSafe's stay, never the one the request sent
        if (stay := self.encounter(picture, user, checkpoint=checkpoint)) is not None:
            draft["encounter"] = stay
        else:
            draft.pop("encounter", None)
        kept = await save_draft(
            self.sessions,
            nhs_number=nhs_number or "",
            checkpoint=checkpoint,
            questionnaire=canonical(questionnaire),
            response=draft,
            baseline=self.start_checklist(picture, checkpoint, user).response,
            author_id=user.id,
            author_role=user.role.key,
            author_name=user.name,
            encounter=self.launched_encounter(picture, user),
            target=self.target_name(self.target_for(picture, user, checkpoint)),
            now=self.clock(),
        )
        await self.audit(user, f"save-{checkpoint}-draft", nhs_number)
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
