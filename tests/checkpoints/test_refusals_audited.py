"""A refusal by role is audited where it is decided: who tried what, on which baby, and why not."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.assessments import AuditEvent
from app.checkpoints import DEMO_USERS, Checkpoints, Forbidden
from tests.factories import create_baby


async def test_a_role_that_may_not_keep_a_draft_is_refused_and_the_refusal_audited(settings, sources, fhir):
    community = DEMO_USERS["community-nurse"]
    baby = create_baby(fhir["neonatal"])
    async with Checkpoints.wire(settings, sources=sources).running() as checkpoints:
        picture = await checkpoints.picture(baby)
        response = checkpoints.start_checklist(picture, "admission", community).response
        with pytest.raises(Forbidden, match="cannot complete the admission checklist"):
            await checkpoints.keep_draft(picture, "admission", community, response)
        async with checkpoints.sessions() as session:
            trail = (await session.exec(select(AuditEvent).where(AuditEvent.nhs_number == baby))).all()
    assert [(e.user_id, e.action, e.outcome) for e in trail] == [("demo-community", "complete-admission", "refused")]
    assert "cannot complete the admission checklist" in trail[0].detail
