"""Overriding a finding that holds a discharge: only a role the hold names, with a reason, on the latest version.

Who may is decided from fhir_mappings/discharge-holds.toml (`policy.may`, Action.OVERRIDE), never from the request.
The override is kept with its audit record in one transaction, and never changed or deleted.
"""

from __future__ import annotations

import json
import uuid

from app.assessments import HoldOverride, save_override
from app.forms import Issue
from app.handover import DischargeHold

from .digests import answers_digest
from .outcomes import Conflict, Invalid
from .policy import Action
from .submissions import Submissions
from .users import User

__all__ = ["REASON_MAX_LENGTH", "Overrides"]

REASON_MAX_LENGTH = 4000  # as the checklists' free-text answers


class Overrides(Submissions):
    async def override_hold(
        self, user: User, nhs_number: str, assessment_id: str, finding: str, reason: str
    ) -> DischargeHold:
        """Record that `user` overrides `finding` of this checklist, and answer what then holds it.

        Forbidden for a role no hold names (before anything about the checklist is said) or not this finding's;
        NotFound unless it is this baby's checklist; Invalid for a finding NeoSafe does not have or a reason that is
        empty or too long; Conflict unless it is the latest version, and the finding is raised and not yet overridden.
        """
        rules = {r.finding.id: r for r in self.hold_rules}
        anyone = frozenset().union(*(r.override_roles for r in rules.values()))
        await self.authorise(user, Action.OVERRIDE, nhs_number, roles=anyone)
        versions = await self.chain(nhs_number, assessment_id)
        rule = rules.get(finding)
        if rule is None:
            raise Invalid([Issue("finding", "finding", f"there is no finding {finding!r} that holds a discharge")])
        await self.authorise(user, Action.OVERRIDE, nhs_number, roles=rule.override_roles)
        reason = reason.strip()
        if not reason or len(reason) > REASON_MAX_LENGTH:
            why = f"give the reason for the override (at most {REASON_MAX_LENGTH} characters)"
            raise Invalid([Issue("reason", "reason", why)])
        latest = (await self.still_latest(versions))[-1].assessment
        hold = await self.hold(latest, versions[0].assessment.id)
        if hold is None or rule.finding not in hold.open:
            raise Conflict("this checklist is not held by that finding: it is not raised, or already overridden")
        await save_override(
            self.sessions,
            HoldOverride(
                id=str(uuid.uuid4()),
                record_id=versions[0].assessment.id,
                assessment_id=latest.id,
                version=latest.version,
                finding=finding,
                answers_digest=answers_digest(json.loads(latest.response_json)),
                reason=reason,
                user_id=user.id,
                user_name=user.name,
                role=user.role.key,
                at=self.clock(),
            ),
            nhs_number=nhs_number,
        )
        return await self.hold(latest, versions[0].assessment.id)
