"""A history with known answers, written straight into NeoSafe's tables, and the figures it must give.

Five babies over October and November 2026 (E's checklist is in September, outside the period): on time, late
(B's admission 30 h after NeoSafe first saw her), missing (C, watched but never checked; B's 72-hour review and
day-7 father check, her discharge saved after both fell due), amended (B's admission answers corrected), overridden,
co-signed, family-interpreted and asked-with-someone-present (B), not done with a reason (D), and answers that must
not count (A's and B's mothers at ICON, E outside the period). Tasks: A's admission raises three for the
safeguarding team and three for the named nurse; B's raises two, and its amendment changes one and withdraws the
other; D's raises two for the named nurse; E's is outside the period. What the watch job last saw of them (CLOSURES,
task_state rows) makes every closure outcome: A's closed on time (23:00 UK time on its due day), closed late (00:30
the next day), rejected, open and overdue (checked after its due day), open and not checked since before its due day,
and of a status NeoSafe does not know; B's never checked; D's open with no due date
(so never overdue, whatever today is: the live page's clock is the real one), and cancelled in the record.
Sources: the police source was unavailable for A's admission and answered in part for B's
amendment, maternity unavailable for B's amendment; the police source is not configured for D (not counted).

Each row is written with what NeoSafe keeps of it when a checklist is stored (app.assessments.facts), as
save_assessment does.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from app.assessments import (
    Assessment,
    AuditEvent,
    HoldOverride,
    SessionFactory,
    TaskState,
    WatchedBaby,
    answer_rows,
    source_rows,
    task_rows,
)
from app.assurance import Period
from app.assurance.figures import owner_key

__all__ = ["EXPECTED", "PERIOD", "seed_history"]

PERIOD = Period(datetime(2026, 10, 1).date(), datetime(2026, 11, 1).date())
A, B, C, D, E = "9990000011", "9990000022", "9990000033", "9990000044", "9990000055"
OCT, NOV = "2026-10", "2026-11"


def at(month: int, day: int, hour: int = 12) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def answer(link_id: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool):
        typed = {"valueBoolean": value}
    elif isinstance(value, str) and value.startswith("text:"):
        typed = {"valueString": value[5:]}
    else:
        typed = {"valueCoding": {"system": "https://neosafe.org.uk/fhir/CodeSystem/checklist-item", "code": value}}
    return {"linkId": link_id, "answer": [typed]}


def group(link_id: str, *items: dict[str, Any]) -> dict[str, Any]:
    return {"linkId": link_id, "item": list(items)}


def response(checkpoint: str, *items: dict[str, Any]) -> str:
    return json.dumps(
        {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"https://neosafe.org.uk/fhir/Questionnaire/{checkpoint}|1",
            "status": "completed",
            "item": list(items),
        }
    )


def father(seen: str) -> dict[str, Any]:
    return group("A5-father-seen", group("A5-father-seen.man", answer("A5-father-seen.man.seen", seen)))


def interpreter(needed: bool, used: bool, family: bool) -> dict[str, Any]:
    parent = group(
        "A7-language-interpreter.parent",
        answer("A7-language-interpreter.parent.interpreter-need", "315594003" if needed else "interpreter-not-needed"),
        answer("A7-language-interpreter.parent.interpreter-used", used),
        answer("A7-language-interpreter.parent.family-interpreted", family),
    )
    return group("A7-language-interpreter", parent)


def enquiry(asked: str, interpreting: str | None = None, outcome: str | None = None, reason: str | None = None):
    items = [answer("A8-da-enquiry-private.asked-alone", asked)]
    if interpreting:
        items.append(answer("A8-da-enquiry-private.interpreter", interpreting))
    if outcome:
        items.append(answer("A8-da-enquiry-private.outcome", outcome))
    if reason:
        items.append(answer("A8-da-enquiry-private.not-done-reason", f"text:{reason}"))
    return group("A8-da-enquiry-private", *items)


def household(recorded: str | None, father_checked: bool | None = None) -> dict[str, Any]:
    items = []
    if father_checked is not None:
        items.append(
            group(
                "A4-household.person",
                answer("A4-household.person.role", "person-role-father"),
                answer("A4-household.person.records-checked", father_checked),
            )
        )
        items.append(  # the mother's records are checked too, but she is not a father
            group(
                "A4-household.person",
                answer("A4-household.person.role", "person-role-mother"),
                answer("A4-household.person.records-checked", True),
            )
        )
    if recorded:
        items.append(answer("A4-household.father-recorded", recorded))
    return group("A4-household", *items)


def icon(*carers: tuple[str, str]) -> dict[str, Any]:
    return group(
        "D6-icon",
        *(
            group("D6-icon.carer", answer("D6-icon.carer.role", role), answer("D6-icon.carer.status", status))
            for role, status in carers
        ),
    )


def _assessment(id_: str, number: str, checkpoint: str, when: datetime, body: str, amends: str | None = None):
    return Assessment(
        id=id_,
        nhs_number=number,
        checkpoint=checkpoint,
        questionnaire=f"https://neosafe.org.uk/fhir/Questionnaire/{checkpoint}|1",
        response_json=body,
        sources_json="[]",
        author_id="demo-nurse",
        author_role="nurse",
        status="amended" if amends else "completed",
        version=2 if amends else 1,
        amends=amends,
        created_at=when,
    )


def _sources(maternity: str, police: str) -> list[dict[str, Any]]:
    return [
        {"name": "maternity", "status": maternity, "detail": "", "checked_at": None},
        {"name": "police-gp", "status": police, "detail": "", "checked_at": None},
    ]


def _task(key: str, owner: str, status: str = "requested", due: str | None = None) -> dict[str, Any]:
    task = {
        "resourceType": "Task",
        "identifier": [{"system": "https://neosafe.org.uk/fhir/Id/task", "value": key}],
        "status": status,
        "owner": {"display": owner},
    }
    if due:
        task["restriction"] = {"period": {"end": due}}
    return {"resource": task}


TEAM, NURSE = "Safeguarding team", "Named neonatal nurse"
SOURCES = {  # what each version's picture said of each source (the others' sources are not recorded)
    "a-adm": _sources("found", "unavailable"),
    "b-adm": _sources("found", "found"),
    "b-adm-2": _sources("unavailable", "partial"),
    "d-adm": _sources("found", "not-configured"),
    "e-adm": _sources("unavailable", "unavailable"),
}
TASKS = {  # the Tasks each version's bundle wrote
    "a-adm": [
        _task("a-adm/t1", TEAM, due="2026-10-03"),
        _task("a-adm/t2", TEAM, due="2026-10-03"),
        _task("a-adm/t3", NURSE, due="2026-10-05"),
        _task("a-adm/t4", NURSE, due="2026-10-05"),
        _task("a-adm/t5", NURSE, due="2026-10-05"),
        _task("a-adm/t6", TEAM, due="2026-10-05"),
    ],
    "b-adm": [_task("b-adm/t1", NURSE), _task("b-adm/t2", NURSE)],
    "b-adm-2": [_task("b-adm/t1", TEAM), _task("b-adm/t2", NURSE, status="cancelled")],
    "d-adm": [_task("d-adm/t1", NURSE), _task("d-adm/t2", NURSE, due="2026-11-06")],
    "e-adm": [_task("e-adm/t1", TEAM)],
}


def _seen_as(key: str, status: str, checked: datetime, closed: datetime | None = None, how: str = "lastModified"):
    return TaskState(
        key=key,
        status=status,
        closed_seen_at=checked if closed else None,
        closed_at=closed,
        closed_from=how if closed else None,
        checked_at=checked,
    )


CLOSURES = [  # what the watch job last saw of each Task in the write-back source (b-adm/t1: never seen)
    _seen_as("a-adm/t1", "completed", at(11, 30), closed=datetime(2026, 10, 3, 22, tzinfo=UTC)),  # 23:00 BST
    _seen_as("a-adm/t2", "completed", at(11, 30), closed=datetime(2026, 10, 3, 23, 30, tzinfo=UTC)),  # 00:30 BST
    _seen_as("a-adm/t3", "requested", at(11, 30)),
    _seen_as("a-adm/t4", "in-progress", at(10, 4)),  # last checked before it fell due
    _seen_as("a-adm/t5", "on-the-way", at(11, 30)),  # a status NeoSafe does not know
    _seen_as("a-adm/t6", "rejected", at(11, 30), closed=at(10, 4)),
    _seen_as("b-adm/t2", "cancelled", at(11, 30), closed=at(10, 12), how="seen"),  # NeoSafe's amendment withdrew it
    _seen_as("d-adm/t1", "requested", at(12, 1)),
    _seen_as("d-adm/t2", "cancelled", at(11, 20), closed=at(11, 20), how="seen"),
]


def _kept(assessment: Assessment) -> list[Any]:
    """What save_assessment keeps of a version in rows, besides the version itself."""
    bundle = {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": "QuestionnaireResponse"}}]}
    bundle["entry"] += TASKS.get(assessment.id, [])
    return [
        *answer_rows(assessment.id, json.loads(assessment.response_json)),
        *task_rows(assessment.id, bundle),
        *source_rows(assessment.id, json.loads(assessment.sources_json)),
    ]


def _seen(number: str, when: datetime) -> AuditEvent:
    return AuditEvent(at=when, user_id="demo-nurse", role="nurse", action="view-picture", nhs_number=number)


async def seed_history(sessions: SessionFactory) -> None:
    assessments = [
        _assessment(
            "a-adm",
            A,
            "admission",
            at(10, 1, 20),
            response(
                "admission",
                household("yes", father_checked=True),
                father("yes"),
                interpreter(needed=True, used=True, family=False),
                enquiry("da-asked-alone", "professional-interpreter-used", "da-enquiry-disclosed"),
            ),
        ),
        _assessment("a-72", A, "review-72h", at(10, 3, 10), response("review-72h")),
        _assessment(
            "a-f7",
            A,
            "father-day7",
            at(10, 6),
            response(
                "father-day7",
                group("F1-male-carers", group("F1-male-carers.man", answer("F1-male-carers.man.seen", "yes"))),
            ),
        ),
        _assessment(
            "a-dis",
            A,
            "discharge",
            at(10, 20),
            response("discharge", icon(("person-role-father", "icon-given"), ("person-role-mother", "icon-given"))),
        ),
        _assessment(
            "b-adm",
            B,
            "admission",
            at(10, 11, 14),
            response(
                "admission",
                household("no"),
                interpreter(needed=True, used=False, family=True),
                enquiry("da-asked-others-present", "family-or-partner-interpreted", "da-enquiry-no-disclosure"),
            ),
        ),
        _assessment(
            "b-adm-2",
            B,
            "admission",
            at(10, 12),
            response(
                "admission",
                household("not-known"),
                interpreter(needed=True, used=False, family=True),
                enquiry("da-asked-others-present", "family-or-partner-interpreted", "da-enquiry-no-disclosure"),
            ),
            amends="b-adm",
        ),
        _assessment(
            "b-dis",
            B,
            "discharge",
            at(10, 25),
            response(
                "discharge", icon(("person-role-partner", "icon-not-yet-given"), ("person-role-mother", "icon-given"))
            ),
        ),
        _assessment(
            "d-adm",
            D,
            "admission",
            at(11, 5, 18),
            response("admission", enquiry("da-enquiry-not-yet-possible", reason="partner always present")),
        ),
        _assessment("e-adm", E, "admission", at(9, 15), response("admission", household("yes"))),
    ]
    for assessment in assessments:
        assessment.sources_json = json.dumps(SOURCES.get(assessment.id, []))
    async with sessions() as session:
        session.add_all(assessments)
        await session.flush()
        session.add_all([row for assessment in assessments for row in _kept(assessment)])
        session.add_all(
            [_seen(A, at(10, 1, 8)), _seen(B, at(10, 10, 8)), _seen(D, at(11, 5, 8)), _seen(E, at(9, 15, 8))]
        )
        session.add(WatchedBaby(nhs_number=C, records_json="[]", taken_at=at(11, 3, 10)))
        session.add_all([TaskState(**state.model_dump()) for state in CLOSURES])
        await session.commit()
    async with sessions() as session:
        for id_, record, role, name, reason in (
            ("o-1", "a-dis", "safeguarding-lead", "Chris Okafor", "Social worker agreed by phone"),
            ("o-2", "b-dis", "nurse", "Alex Morgan", "Consultant reviewed"),
        ):
            session.add(
                HoldOverride(
                    id=id_,
                    record_id=record,
                    assessment_id=record,
                    version=1,
                    finding="concern-at-discharge",
                    answers_digest="x",
                    reason=reason,
                    user_id="u",
                    user_name=name,
                    role=role,
                    at=at(10, 21 if record == "a-dis" else 26),
                )
            )
        session.add(
            AuditEvent(
                at=at(10, 26), user_id="demo-safeguarding", role="safeguarding-lead", action="cosign", nhs_number=B
            )
        )
        await session.commit()


# figure -> {(month, outcome): count}; every count not named is zero.
EXPECTED: dict[str, dict[tuple[str, str], int]] = {
    "timeliness-admission": {(OCT, "on-time"): 1, (OCT, "late"): 1, (NOV, "on-time"): 1, (NOV, "missing"): 1},
    "timeliness-review-72h": {(OCT, "on-time"): 1, (OCT, "missing"): 1},
    "timeliness-father-day7": {(OCT, "on-time"): 1, (OCT, "missing"): 1},
    "timeliness-discharge": {(OCT, "not-known"): 2},
    "timeliness-transfer": {},
    "timeliness-weekly": {},
    "father-recorded": {(OCT, "yes"): 1, (OCT, "not-known"): 1, (NOV, "not-answered"): 1},
    "father-checked": {(OCT, "checked"): 1},
    "father-seen-admission": {(OCT, "seen"): 1},
    "father-seen-day7": {(OCT, "seen"): 1},
    "father-icon": {(OCT, "given"): 1, (OCT, "not-given"): 1},
    "da-enquiry": {(OCT, "alone"): 1, (OCT, "not-alone"): 1, (NOV, "not-yet"): 1},
    "da-not-done-reason": {(NOV, "reason"): 1},
    "da-outcome": {(OCT, "disclosed"): 1, (OCT, "no-disclosure"): 1},
    "interpreter-need": {(OCT, "needed"): 2},
    "interpreter-professional": {(OCT, "used"): 1, (OCT, "not-used"): 1},
    "interpreter-family": {(OCT, "family"): 1, (OCT, "not-family"): 1},
    "da-enquiry-interpreting": {(OCT, "professional"): 1, (OCT, "family"): 1},
    "overrides": {(OCT, "safeguarding-lead"): 1, (OCT, "nurse"): 1},
    "cosignatures": {(OCT, "safeguarding-lead"): 1},
    "tasks": {(OCT, owner_key(TEAM)): 4, (OCT, owner_key(NURSE)): 3, (OCT, "cancelled"): 1, (NOV, owner_key(NURSE)): 2},
    f"task-closure-{owner_key(TEAM)}": {
        (OCT, "on-time"): 1,
        (OCT, "late"): 1,
        (OCT, "not-done"): 1,
        (OCT, "not-checked"): 1,
    },
    f"task-closure-{owner_key(NURSE)}": {
        (OCT, "overdue"): 1,
        (OCT, "not-checked"): 2,
        (OCT, "withdrawn"): 1,
        (NOV, "not-yet-due"): 1,
        (NOV, "withdrawn"): 1,
    },
    "sources-maternity": {(OCT, "answered"): 2, (OCT, "unavailable"): 1, (NOV, "answered"): 1},
    "sources-police-gp": {(OCT, "unavailable"): 1, (OCT, "answered"): 1, (OCT, "partial"): 1},
}
