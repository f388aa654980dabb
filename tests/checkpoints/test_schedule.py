"""When the checks of the stay fall due, by a given clock: admission, 72-hour review, weekly, day-7 father check."""

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from app.checkpoints import ROLES
from app.checkpoints.schedule import IN_STAY, RULES, Completion, completions, scheduled_checks
from app.forms import CHECKPOINTS

ADMITTED = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
STAY = {"resourceType": "Encounter", "status": "in-progress", "period": {"start": "2026-11-20T09:30:00+00:00"}}


def states(encounter=STAY, done=(), *, after: timedelta):
    return {c.checkpoint: c for c in scheduled_checks(encounter, list(done), now=ADMITTED + after)}


def done(checkpoint, after: timedelta, by="Alex Morgan (Neonatal nurse)"):
    return Completion(checkpoint, ADMITTED + after, by)


def test_the_in_stay_checks_are_checkpoints_nurses_and_the_safeguarding_lead_complete():
    assert list(RULES) == ["admission", *IN_STAY] and set(RULES) <= set(CHECKPOINTS)
    for checkpoint in IN_STAY:
        assert {r.key for r in ROLES.values() if checkpoint in r.completes} == {"nurse", "safeguarding-lead"}


def test_just_admitted_everything_is_due_by_its_time():
    now = states(after=timedelta(minutes=5))
    assert {c: s.state for c, s in now.items()} == {c: "due" for c in ("admission", *IN_STAY)}
    assert now["admission"].due_at == ADMITTED + timedelta(hours=24)
    assert now["review-72h"].due_at == ADMITTED + timedelta(hours=72)
    assert now["weekly"].due_at == ADMITTED + timedelta(days=7)
    assert now["father-day7"].due_at == ADMITTED + timedelta(days=7)
    assert all(s.last is None for s in now.values())


def test_the_admission_checklist_is_due_within_24_hours_and_done_once_completed():
    assert states(after=timedelta(hours=23))["admission"].state == "due"
    late = states(after=timedelta(hours=25))["admission"]
    assert (late.state, late.due_at) == ("overdue", ADMITTED + timedelta(hours=24))
    admission = done("admission", timedelta(hours=20))
    assert states(done=[admission], after=timedelta(hours=25))["admission"].state == "done"


def test_at_71_hours_the_review_is_still_due_and_at_73_overdue_since_72():
    assert states(after=timedelta(hours=71))["review-72h"].state == "due"
    late = states(after=timedelta(hours=73))["review-72h"]
    assert (late.state, late.due_at) == ("overdue", ADMITTED + timedelta(hours=72))
    assert states(after=timedelta(hours=73))["father-day7"].state == "due"


def test_day_8_without_the_father_check_or_a_weekly_prompt_both_are_overdue():
    now = states(after=timedelta(days=8))
    assert now["father-day7"].state == now["weekly"].state == "overdue"
    assert now["father-day7"].due_at == now["weekly"].due_at == ADMITTED + timedelta(days=7)


def test_done_says_when_and_by_whom_and_stays_done():
    review = done("review-72h", timedelta(hours=70))
    for after in (timedelta(hours=71), timedelta(hours=73), timedelta(days=30)):
        state = states(done=[review], after=after)["review-72h"]
        assert (state.state, state.last, state.due_at) == ("done", review, None)


def test_done_late_is_done():
    state = states(done=[done("review-72h", timedelta(hours=90))], after=timedelta(hours=91))["review-72h"]
    assert state.state == "done"


def test_a_check_from_before_this_admission_does_not_count():
    earlier = done("review-72h", -timedelta(days=40))
    assert states(done=[earlier], after=timedelta(hours=73))["review-72h"].state == "overdue"


def test_the_weekly_prompt_repeats_seven_days_after_the_last_one_done():
    first = done("weekly", timedelta(days=6))
    after = states(done=[first], after=timedelta(days=6, hours=1))["weekly"]
    assert (after.state, after.due_at, after.last) == ("due", ADMITTED + timedelta(days=13), first)
    assert states(done=[first], after=timedelta(days=12))["weekly"].state == "due"
    late = states(done=[first], after=timedelta(days=14))["weekly"]
    assert (late.state, late.due_at, late.last) == ("overdue", ADMITTED + timedelta(days=13), first)
    second = done("weekly", timedelta(days=14))
    again = states(done=[second, first], after=timedelta(days=15))["weekly"]  # any order
    assert (again.state, again.due_at, again.last) == ("due", ADMITTED + timedelta(days=21), second)


def test_the_other_checks_do_not_satisfy_each_other():
    others = [done("weekly", timedelta(days=6)), done("admission", timedelta(hours=2))]
    now = states(done=others, after=timedelta(days=8))
    assert now["father-day7"].state == "overdue" and now["review-72h"].state == "overdue"


def test_discharged_a_check_not_done_in_time_is_missed_and_one_not_yet_due_is_not_due():
    ended = {**STAY, "status": "finished", "period": {**STAY["period"], "end": "2026-11-24T12:00:00+00:00"}}
    now = states(ended, after=timedelta(days=20))
    assert (now["review-72h"].state, now["review-72h"].due_at) == ("missed", ADMITTED + timedelta(hours=72))
    assert (now["father-day7"].state, now["weekly"].state) == ("not-due", "not-due")
    review = done("review-72h", timedelta(hours=60))
    assert states(ended, [review], after=timedelta(days=20))["review-72h"].state == "done"


def test_discharged_without_an_end_time_what_was_due_before_now_is_missed():
    ended = {**STAY, "status": "finished"}
    now = states(ended, after=timedelta(days=8))
    assert {s.state for s in now.values()} == {"missed"}


@pytest.mark.parametrize(
    "encounter",
    [None, {"resourceType": "Encounter", "status": "in-progress"}, {**STAY, "period": {"start": "2026-11"}}],
    ids=["no-stay", "no-start", "month-only"],
)
def test_admission_time_not_known_is_said_never_taken_as_not_needed(encounter):
    review = done("review-72h", timedelta(hours=60))
    now = states(encounter, [review], after=timedelta(days=3))
    assert {s.state for s in now.values()} == {"not-known"}
    assert now["review-72h"].last == review  # shown, but which stay it was for is not known


def test_a_date_only_or_zoneless_admission_is_read_as_utc():
    for start in ("2026-11-20", "2026-11-20T00:00:00"):
        checks = scheduled_checks({"period": {"start": start}}, [], now=datetime(2026, 11, 21, tzinfo=UTC))
        assert {c.checkpoint: c.due_at for c in checks}["review-72h"] == datetime(2026, 11, 23, tzinfo=UTC)


@dataclass
class Saved:
    checkpoint: str
    created_at: datetime
    response_json: str
    author_role: str = "nurse"
    amends: str | None = None


def test_completions_count_each_check_once_as_first_completed_and_name_its_author():
    author = json.dumps({"author": {"display": "Alex Morgan (Neonatal nurse)"}})
    first = Saved("weekly", datetime(2026, 11, 26, 9, 0), author)  # naive, as SQLite gives it back: UTC
    amended = Saved("weekly", datetime(2026, 12, 4, 9, 0), author, amends="first")
    nameless = Saved("review-72h", datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "{}", author_role="safeguarding-lead")
    assert completions([first, amended, nameless]) == [
        Completion("weekly", datetime(2026, 11, 26, 9, 0, tzinfo=UTC), "Alex Morgan (Neonatal nurse)"),
        Completion("review-72h", datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "safeguarding-lead"),
    ]


def planned(code: str) -> dict:
    system = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
    return {**STAY, "hospitalization": {"dischargeDisposition": {"coding": [{"system": system, "code": code}]}}}


def test_a_planned_discharge_or_transfer_is_due_before_the_baby_leaves_and_done_once_completed():
    home, transfer = states(planned("19"), after=timedelta(days=3)), states(planned("52"), after=timedelta(days=3))
    assert (home["discharge"].state, home["discharge"].due_at) == ("before-leaving", None)
    assert "transfer" not in home and "discharge" not in transfer
    assert transfer["transfer"].state == "before-leaving"
    assert "discharge" not in states(after=timedelta(days=3)) and "transfer" not in states(after=timedelta(days=3))
    checked = done("discharge", timedelta(days=2))
    assert states(planned("19"), [checked], after=timedelta(days=3))["discharge"].state == "done"
    before_this_stay = done("discharge", -timedelta(days=30))
    assert states(planned("19"), [before_this_stay], after=timedelta(days=3))["discharge"].state == "before-leaving"
