"""When each check of the stay is due, and whether it is done: the one place the due times are decided.

The admission checklist, and the in-stay checks (the 72-hour review, the weekly injury and safeguarding prompt
and the day-7 father check), fall due from the baby's admission (the neonatal Encounter's period.start); the
transfer or discharge checklist once the move is planned (the stay, still in progress, records where the baby will
go: hospitalization.dischargeDisposition, another NHS unit for a transfer — PLANNED_TRANSFER), due before the
baby leaves. Pure
functions of the stay, the checklists saved so far and the time now, so that the baby's page, the unit's
worklist and the tests all read the same states. Proposal for clinical review: the times in RULES.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, Protocol

__all__ = [
    "IN_STAY",
    "PLANNED_TRANSFER",
    "RULES",
    "Completion",
    "Rule",
    "ScheduledCheck",
    "completions",
    "fhir_instant",
    "planned_move",
    "scheduled_checks",
]

State = Literal["done", "due", "overdue", "missed", "not-due", "not-known", "before-leaving"]

DISCHARGE_DESTINATION = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
# A planned destination that makes the move a transfer (NHS other hospital provider, maternity or neonates ward);
# any other planned destination is a discharge. Proposal for clinical review.
PLANNED_TRANSFER = frozenset({(DISCHARGE_DESTINATION, "52")})


@dataclass(frozen=True)
class Rule:
    first: timedelta  # after admission
    every: timedelta | None = None  # repeats this long after the last one done (or after admission)


RULES: dict[str, Rule] = {
    "admission": Rule(timedelta(hours=24)),
    "review-72h": Rule(timedelta(hours=72)),
    "weekly": Rule(timedelta(days=7), every=timedelta(days=7)),
    "father-day7": Rule(timedelta(days=7)),
}
IN_STAY = ("review-72h", "weekly", "father-day7")  # the checkpoints made only during the stay


@dataclass(frozen=True)
class Completion:
    checkpoint: str
    at: datetime
    by: str


@dataclass(frozen=True)
class ScheduledCheck:
    """One check's state now.

    done: completed this stay (a repeating check is never done for good: it is then `due` again, with `last`).
    due / overdue: `due_at` is when it falls (fell) due. missed: due at `due_at`, not done, and the stay ended.
    not-due: the stay ended before it fell due. not-known: the admission time is not in the record, so when it
    is due is unknown; it is never shown as not needed. before-leaving: a transfer or discharge is planned and its
    checklist not done since admission: due before the baby leaves, at no set time.
    """

    checkpoint: str
    state: State
    due_at: datetime | None
    last: Completion | None  # the (latest) completion this stay, if any


class _Saved(Protocol):
    checkpoint: str
    created_at: datetime
    amends: str | None
    response_json: str
    author_role: str


def fhir_instant(value: Any) -> datetime | None:
    """A FHIR dateTime (or date), or a datetime as SQLite gives it back, as an aware datetime; a time without a
    zone is read as UTC."""
    if isinstance(value, datetime):
        moment = value
    else:
        try:
            moment = datetime.fromisoformat(str(value))
        except ValueError:
            return None  # absent, or a partial date such as 2026-11: not precise enough to be due by
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def completions(saved: Iterable[_Saved]) -> list[Completion]:
    """Each checklist as first completed: an amendment corrects an earlier check, it is not another one."""
    done = []
    for assessment in saved:
        if assessment.amends is not None:
            continue
        author = (json.loads(assessment.response_json).get("author") or {}).get("display")
        at = fhir_instant(assessment.created_at)
        done.append(Completion(assessment.checkpoint, at, author or assessment.author_role))
    return done


def _state(
    rule: Rule, admitted: datetime, ended: datetime | None, last: Completion | None, now: datetime
) -> tuple[State, datetime | None]:
    if last is not None and rule.every is None:
        return "done", None
    due_at = last.at + rule.every if last is not None and rule.every else admitted + rule.first
    if ended is not None and ended < due_at:  # the stay ended before it fell due
        return ("done" if last else "not-due"), None if last else due_at
    if ended is not None:
        return "missed", due_at
    return ("overdue" if now > due_at else "due"), due_at


def scheduled_checks(
    encounter: dict[str, Any] | None, done: Iterable[Completion], *, now: datetime
) -> tuple[ScheduledCheck, ...]:
    """The state of each check in RULES for this stay (`encounter`), in RULES' order.

    Only checks completed since admission count; a stay that has ended (status finished, or a period.end) makes
    a check not done by its due time *missed*, shown as such, never dropped.
    """
    period = (encounter or {}).get("period") or {}
    admitted = fhir_instant(period.get("start")) if period.get("start") else None
    ended = fhir_instant(period.get("end")) if period.get("end") else None
    if ended is None and (encounter or {}).get("status") in ("finished", "cancelled", "entered-in-error"):
        ended = now  # over, but not said when: anything due by now and not done is missed
    done = list(done)
    checks = []
    for checkpoint, rule in RULES.items():
        mine = sorted((c for c in done if c.checkpoint == checkpoint), key=lambda c: c.at)
        if admitted is None:  # which stay a completion belongs to is not known either
            checks.append(ScheduledCheck(checkpoint, "not-known", None, mine[-1] if mine else None))
            continue
        mine = [c for c in mine if c.at >= admitted]
        last = (mine[-1] if rule.every else mine[0]) if mine else None
        state, due_at = _state(rule, admitted, ended, last, now)
        checks.append(ScheduledCheck(checkpoint, state, due_at, last))
    if (planned := planned_move(encounter)) is not None and ended is None:
        mine = [c for c in done if c.checkpoint == planned and (admitted is None or c.at >= admitted)]
        last = max(mine, key=lambda c: c.at) if mine else None
        checks.append(ScheduledCheck(planned, "done" if last else "before-leaving", None, last))
    return tuple(checks)


def planned_move(encounter: dict[str, Any] | None) -> str | None:
    """ "transfer" or "discharge" if the stay in progress records where the baby will go; None if it does not."""
    disposition = ((encounter or {}).get("hospitalization") or {}).get("dischargeDisposition")
    if not disposition:
        return None
    codings = {(c.get("system"), c.get("code")) for c in disposition.get("coding") or []}
    return "transfer" if codings & PLANNED_TRANSFER else "discharge"
