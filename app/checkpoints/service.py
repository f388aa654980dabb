"""The application layer's one entry: every use case of a checkpoint, for the pages, the API and the commands.

    checkpoints = Checkpoints.wire(settings)
    async with checkpoints.running():
        picture = await checkpoints.view_picture(user, nhs_number, action="view-picture")

sources -> picture -> checklist -> assessment -> write-back: each step a method of one of the rooms this
class is made of (pictures, drafts, holds, records, handovers, submissions, overrides, worklists), and co-signing and
resending here.
"""

from __future__ import annotations

import json

from app.assessments import Stored, resend, unsent_assessments
from app.forms import VERIFIER, signature
from app.picture import Picture

from .outcomes import Conflict, NotFound, Submitted
from .policy import Action
from .submissions import without_own_tasks
from .users import User
from .worklist import Worklists

__all__ = ["Checkpoints"]


class Checkpoints(Worklists):
    async def cosign(self, picture: Picture, assessment_id: str, user: User) -> Submitted:
        """Co-sign the latest version: a new version carrying the co-signer's signature, written as an update.

        Only a role that may co-sign, never the author, and only where the checklist asks for it.
        """
        # The role first: nothing about the checklist is said to someone who may not co-sign at all.
        await self.authorise(user, Action.COSIGN, picture.baby.nhs_number)
        versions = await self.latest_version(picture.baby.nhs_number or "", assessment_id)
        latest = versions[-1].assessment
        picture = without_own_tasks(picture, versions[0].assessment.id)
        response = json.loads(latest.response_json)
        await self.authorise(user, Action.COSIGN, picture.baby.nhs_number, author_id=self.answered_by(latest))
        if VERIFIER["code"] not in {c["code"] for c in self.signatures_missing(picture, latest, user)}:
            raise Conflict("this checklist does not need a co-signature, or has one already")
        verifier = signature(VERIFIER, user.reference(), self.clock().isoformat(timespec="seconds"))
        response = {**response, "status": "amended", "extension": [*response.get("extension", []), verifier]}
        signed = await self.write(
            picture,
            latest.checkpoint,
            user,
            response,
            versions,
            amends=latest.id,
            verifier=verifier["valueSignature"],
        )
        await self.audit(user, "cosign", picture.baby.nhs_number, detail=f"assessment {assessment_id}")
        return signed

    async def resend(self, user: User, nhs_number: str, assessment_id: str) -> None:
        """Send again a checklist the server refused, once the cause is fixed: the safeguarding lead only."""
        await self.authorise(user, Action.RESEND, nhs_number)
        version = next((row for row in await self.saved(nhs_number) if row.assessment.id == assessment_id), None)
        if version is None:
            raise NotFound("there is no such checklist for this baby")
        await resend(self.sessions, version.entry.id, now=self.clock())
        await self.audit(user, "resend-assessment", nhs_number, detail=f"assessment {assessment_id}")
        await self.send_now(version.entry)

    async def unsent(self, user: User) -> list[Stored]:
        """Every checklist saved here but not yet in a baby's record, for the safeguarding lead to follow up."""
        await self.authorise(user, Action.RESEND, None)
        await self.audit(user, "view-outbox")
        return await unsent_assessments(self.sessions)
