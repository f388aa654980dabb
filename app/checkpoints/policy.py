"""Who may do what: decided here, once, for the pages, the API, drafts, amendments and co-signatures alike.

Every use case in app.checkpoints calls `require`; pages and templates ask `may` only to decide what to offer.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from .outcomes import Forbidden
from .users import User

__all__ = ["Action", "home", "landing", "may", "offered", "require"]


class Action(StrEnum):
    VIEW = "view"  # the unit, a baby's picture, checklists, saved checklists, the handover: every signed-in role
    COMPLETE = "complete"  # fill in, keep a draft of, refresh, submit or amend a checkpoint's checklist
    SEE_RESTRICTED = "see-restricted"  # restricted (R/V) records in full
    COSIGN = "cosign"  # co-sign a checklist that asks for it, never one's own
    RESEND = "resend"  # see the checklists not yet in the record, and send one again
    OVERRIDE = "override-hold"  # override a finding that holds a discharge: only the roles its hold names
    OVERSEE = "oversee"  # the unit's safeguarding view: tasks by owner, co-signatures, overrides, unsafe enquiries
    ACKNOWLEDGE = "acknowledge"  # mark new information found during the stay as read: the unit's clinical staff
    ASSURE = "assure"  # the unit's assurance figures, month by month, and the babies behind them: the lead only


def may(
    user: User,
    action: Action | str,
    *,
    checkpoint: str | None = None,
    author_id: str | None = None,
    roles: frozenset[str] = frozenset(),
) -> bool:
    """Whether `user` may do `action` (for COMPLETE, on `checkpoint`; for COSIGN, a checklist by `author_id`; for
    OVERRIDE, a hold whose override roles, from fhir_mappings/discharge-holds.toml, are `roles`)."""
    role = user.role
    match Action(action):
        case Action.VIEW:
            return True
        case Action.COMPLETE:
            return checkpoint in role.completes
        case Action.SEE_RESTRICTED:
            return role.sees_restricted
        case Action.COSIGN:
            return role.cosigns and author_id != user.id
        case Action.RESEND:
            return role.resends
        case Action.OVERRIDE:
            return role.key in roles
        case Action.OVERSEE:  # the named nurse for safeguarding follows up what the unit leaves open
            return role.cosigns
        case Action.ACKNOWLEDGE:  # those who complete the unit's checklists care for the baby on the unit
            return bool(role.completes)
        case Action.ASSURE:  # the named nurse for safeguarding answers to the Board for the unit's practice
            return role.cosigns


def offered(user: User, checkpoints: Iterable[str]) -> list[str]:
    """The checkpoints whose checklist a page offers `user` to start: only those `may` lets them complete."""
    return [c for c in checkpoints if may(user, Action.COMPLETE, checkpoint=c)]


def landing(user: User) -> str:
    """What the unit page is for `user`: a role that completes no checklist (the community team) reads handovers,
    so it sees the unit's babies as handovers; every other role the unit's worklist."""
    return "handovers" if not user.role.completes else "unit"


def home(user: User) -> str:
    """Where `user` lands after signing in: the safeguarding lead on their view of the unit, everyone else on the
    unit page (`landing`)."""
    return "/unit/safeguarding" if may(user, Action.OVERSEE) else "/"


def require(
    user: User,
    action: Action,
    *,
    checkpoint: str | None = None,
    author_id: str | None = None,
    roles: frozenset[str] = frozenset(),
) -> None:
    """Forbidden, with the reason, unless `may`."""
    if may(user, action, checkpoint=checkpoint, author_id=author_id, roles=roles):
        return
    reasons = {
        Action.COMPLETE: f"your role ({user.role.label}) cannot complete the {checkpoint} checklist",
        Action.SEE_RESTRICTED: "your role cannot see restricted records",
        Action.COSIGN: "a co-signature must come from the safeguarding lead, not the checklist's author",
        Action.RESEND: "only the safeguarding lead can see or send again the checklists waiting to be sent",
        Action.OVERRIDE: f"your role ({user.role.label}) cannot override what holds a discharge",
        Action.OVERSEE: "only the safeguarding lead can see the unit's safeguarding view",
        Action.ACKNOWLEDGE: f"your role ({user.role.label}) cannot acknowledge new information for the unit",
        Action.ASSURE: "only the safeguarding lead can see the unit's assurance figures",
    }
    raise Forbidden(reasons[action])
