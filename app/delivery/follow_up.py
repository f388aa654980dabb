"""Handovers the safeguarding lead follows up: not delivered, or delivered and not acknowledged in time.

The baby has gone home by then, so off the unit's worklist; the delivery table still knows. Each row names the baby
as the checklist's subject does (name, NHS number, date of birth) and links to the baby's handover page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import col, or_, select

from app.assessments import Assessment, SessionFactory
from app.checkpoints import Action, User, require

from .models import Delivery
from .view import Shown, shown_delivery

__all__ = ["FollowUp", "handovers_to_follow_up"]

UNDELIVERED = ("failed", "not-reachable")
AWAITING_ACKNOWLEDGEMENT = ("sent", "delivered")


@dataclass(frozen=True)
class FollowUp:
    nhs_number: str
    baby: str  # "Zofia BRZOZAK (NHS number 999 010 1000, born 2026-11-20)", as the checklist's subject names her
    delivery: Shown


async def handovers_to_follow_up(
    sessions: SessionFactory, user: User, *, now: datetime, acknowledge_within: timedelta
) -> list[FollowUp]:
    """Each recipient's current delivery (its handover's newest version) that was not delivered, or was sent longer
    than `acknowledge_within` ago and not acknowledged, oldest first. Forbidden to any role but the lead's."""
    require(user, Action.OVERSEE)
    late = now - acknowledge_within
    async with sessions() as session:
        superseded = select(Delivery.replaces).where(col(Delivery.replaces).is_not(None))
        rows = await session.exec(
            select(Delivery, Assessment)
            .join(Assessment, col(Assessment.id) == Delivery.assessment_id)
            .where(
                col(Delivery.id).not_in(superseded),
                col(Delivery.state) != "superseded",
                or_(
                    col(Delivery.state).in_(UNDELIVERED),
                    col(Delivery.state).in_(AWAITING_ACKNOWLEDGEMENT) & (col(Delivery.sent_at) < late),
                ),
            )
            .order_by(col(Delivery.created_at))
        )
        return [_follow_up(delivery, assessment) for delivery, assessment in rows.all()]


def _follow_up(delivery: Delivery, assessment: Assessment) -> FollowUp:
    subject = json.loads(assessment.response_json).get("subject") or {}
    number = assessment.nhs_number
    return FollowUp(number, subject.get("display") or f"NHS number {number}", shown_delivery(delivery))
