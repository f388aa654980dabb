"""The assurance figures, month by month, from NeoSafe's own history (app.assurance.history): pure functions.

What "on time" is measured against. NeoSafe does not store the admission time: a saved checklist names the stay
(encounter reference) but not its period.start. So a check's due time (app.checkpoints.schedule.RULES: admission
24 h, 72-hour review 72 h, father check day 7, weekly every 7 days) is counted from NeoSafe's FIRST SIGHT of the
baby: the earliest of the baby's first audit record (a picture, checklist or draft opened) and the watch job's
baseline (taken the first time it finds the baby on the unit's census). That is never earlier than the admission,
so a check counted late was late; one counted on time may have been late against an admission NeoSafe saw only
later. A baby NeoSafe has no record of seeing is "not known", never on time. The transfer and discharge checklists
are due before the baby leaves, which NeoSafe does not hold: they are counted, their timing "not known".

Missing: the admission checklist of a baby on the unit (watched, or with another checklist) first seen in the
period, with none saved once it was due; the 72-hour review or father check of a stay whose discharge or transfer
checklist was saved after it fell due, with none saved before. A stay still open, or ended with no checklist, is not
counted missing for its in-stay checks: whether it lasted that long is not known here.

Months are the unit's (Europe/London); a checklist counts in the month it was first completed, with the answers of
its latest version (an amendment corrects, it is not another checklist). Which answers match which outcome is
decided in SQL over the rows kept with each version (app.assurance.answers); nothing here parses a response.

Tasks: those each checklist raised, by owner, as its latest version leaves them (withdrawn if an amendment took them
away); and, per owner, what became of them, as the watch job last saw each in the write-back source (task_state,
app.checkpoints.task_checking; never the FHIR server at page time): closed on time (completed at or before the end
of its due day, in the unit's calendar), closed late, open and overdue, open and not yet due, closed not done
(rejected or failed), withdrawn (by an amendment, or cancelled or entered in error in the record), and not checked.
A Task is "open and overdue" only if a check made after it fell due still found it open; one never seen, one not
checked since it fell due, and one whose status NeoSafe does not know are "not checked" with when it last was
(unknown is not no). A closure is timed by the Task's lastModified where it gave one, else by when NeoSafe first saw
it closed (a later time: such a Task may read late when it was not), and the note says which. Sources: each stored
version's picture, per source: unavailable, answered in part, or answered.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from app.assessments import DONE_STATUSES, NOT_DONE_STATUSES, OPEN_STATUSES, WITHDRAWN_STATUSES
from app.checkpoints import ROLES, WITHHELD
from app.checkpoints.schedule import RULES
from app.forms import CHECKPOINTS, LONDON, Measure
from app.forms import MEASURE_SECTIONS as SECTIONS

from .answers import RaisedTask
from .history import Checklist, Closure, History

__all__ = ["CLOSURES", "SECTIONS", "Baby", "Figure", "Period", "closure_outcome", "compute", "owner_key"]

TIMING = (("on-time", "On time"), ("late", "Late"), ("not-known", "Timing not known"), ("missing", "Missing"))
NOT_ANSWERED = ("not-answered", "Not answered")
WITHDRAWN = ("cancelled", "Withdrawn by an amendment")
CLOSURES = (
    ("on-time", "Closed on time"),
    ("late", "Closed late"),
    ("overdue", "Open and overdue"),
    ("not-yet-due", "Open, not yet due"),
    ("not-done", "Closed not done (rejected or failed)"),
    ("withdrawn", "Withdrawn"),
    ("not-checked", "Not checked since due, or not known"),
)
SOURCE_STATES = (("unavailable", "Unavailable"), ("partial", "Answered in part"), ("answered", "Answered"))
ENDS_STAY = ("discharge", "transfer")


@dataclass(frozen=True)
class Period:
    """Whole months of the unit's calendar, `first` to `last` inclusive (each the 1st of its month)."""

    first: date
    last: date

    @property
    def months(self) -> list[str]:
        months, month = [], self.first
        while month <= self.last:
            months.append(f"{month:%Y-%m}")
            month = (month.replace(day=28) + timedelta(days=4)).replace(day=1)
        return months

    @property
    def start(self) -> datetime:
        return datetime.combine(self.first, datetime.min.time(), LONDON).astimezone(UTC)

    @property
    def end(self) -> datetime:
        after = (self.last.replace(day=28) + timedelta(days=4)).replace(day=1)
        return datetime.combine(after, datetime.min.time(), LONDON).astimezone(UTC)


def month_of(moment: datetime) -> str:
    return f"{moment.astimezone(LONDON):%Y-%m}"


@dataclass(frozen=True)
class Baby:
    """One baby behind a figure: whom, which checklist (if one), and what about it."""

    nhs_number: str
    assessment_id: str | None = None
    note: str = ""


@dataclass
class Figure:
    key: str
    section: str
    title: str
    outcomes: tuple[tuple[str, str], ...]  # (key, label), in the order shown
    months: list[str]
    zero_expected: str | None = None
    babies: dict[tuple[str, str], list[Baby]] = field(default_factory=dict)  # (month, outcome) -> babies
    tallied: dict[tuple[str, str], int] = field(default_factory=dict)  # counts of an outcome whose babies aren't listed

    def listed(self, outcome: str) -> bool:
        """Whether the babies behind this outcome's counts are listed (one click away)."""
        return not any(o == outcome for _, o in self.tallied)

    def add(self, month: str, outcome: str, baby: Baby) -> None:
        if month in self.months:
            self.babies.setdefault((month, outcome), []).append(baby)

    def count(self, month: str, outcome: str) -> int:
        return len(self.babies.get((month, outcome), [])) + self.tallied.get((month, outcome), 0)

    def total(self, outcome: str) -> int:
        return sum(self.count(m, outcome) for m in self.months)

    @property
    def grand_total(self) -> int:
        return sum(self.total(o) for o, _ in self.outcomes)

    def label(self, outcome: str) -> str:
        return dict(self.outcomes).get(outcome, outcome)


def _answer_figure(measure: Measure, history: History, months: list[str]) -> Figure:
    outcomes = tuple((o.key, o.label) for o in measure.outcomes)
    if measure.count == "checklists":
        outcomes += (NOT_ANSWERED,)
    figure = Figure(measure.key, measure.section, measure.title, outcomes, months, measure.zero_expected)
    matched: dict[str, list[str]] = {}  # latest version -> outcome of each matching answer, in the response's order
    for latest_id, outcome in history.answers.get(measure.key, []):
        matched.setdefault(latest_id, []).append(outcome)
    for checklist in history.checklists:
        if checklist.checkpoint != measure.checklist:
            continue
        month, baby = month_of(checklist.completed_at), Baby(checklist.nhs_number, checklist.latest_id)
        found = matched.get(checklist.latest_id, [])
        if measure.count == "answers":
            for outcome in found:
                figure.add(month, outcome, baby)
        else:
            figure.add(month, found[0] if found else NOT_ANSWERED[0], baby)
    return figure


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f} h after NeoSafe first saw the baby"


def _timeliness(history: History, months: list[str], now: datetime, titles: dict[str, str]) -> list[Figure]:
    figures = {
        c: Figure(f"timeliness-{c}", "timeliness", f"{titles.get(c, c)} checklist", TIMING, months) for c in CHECKPOINTS
    }
    by_baby: dict[str, list[Checklist]] = {}
    for checklist in sorted(history.checklists, key=lambda c: c.completed_at):
        by_baby.setdefault(checklist.nhs_number, []).append(checklist)
    for number, done in by_baby.items():
        seen = history.first_seen.get(number)
        previous_weekly = None
        for checklist in done:
            figure, month = figures.get(checklist.checkpoint), month_of(checklist.completed_at)
            if figure is None:
                continue
            baby = Baby(number, checklist.latest_id)
            rule = RULES.get(checklist.checkpoint)
            if seen is None or rule is None:
                figure.add(month, "not-known", baby)
                continue
            due = (previous_weekly or seen) + rule.every if rule.every else seen + rule.first
            if rule.every:
                previous_weekly = checklist.completed_at
            late = checklist.completed_at > due
            note = _hours(checklist.completed_at - seen) if checklist.checkpoint != "weekly" else ""
            figure.add(month, "late" if late else "on-time", Baby(number, checklist.latest_id, note))
    for number, seen in history.first_seen.items():
        mine = by_baby.get(number, [])
        if not mine and number not in history.watched:
            continue  # seen only in passing (a record looked up): not known to have been on the unit
        ended = min((c.completed_at for c in mine if c.checkpoint in ENDS_STAY), default=None)
        for checkpoint in ("admission", "review-72h", "father-day7"):
            due = seen + RULES[checkpoint].first
            if any(c.checkpoint == checkpoint for c in mine):
                continue
            lasted = now > due if checkpoint == "admission" else ended is not None and ended > due
            if lasted:
                figures[checkpoint].add(month_of(due), "missing", Baby(number, None, f"due {due:%d %B %Y %H:%M} UTC"))
    return list(figures.values())


def _overrides(history: History, months: list[str], sees_restricted: bool) -> list[Figure]:
    roles = tuple((k, r.label) for k, r in ROLES.items())
    seen_roles = {o.role for o in history.overrides} | {c.role for c in history.cosignatures}
    roles += tuple((r, r) for r in sorted(seen_roles - set(ROLES)))
    overrides = Figure("overrides", "overrides", "Discharge holds overridden, by role", roles, months)
    for o in history.overrides:
        why = f"{o.finding}, by {o.user_name}: {o.reason}" if sees_restricted else WITHHELD
        overrides.add(month_of(o.at), o.role, Baby(o.nhs_number, o.assessment_id, why))
    cosigned = Figure("cosignatures", "overrides", "Checklists co-signed, by role", roles, months)
    for c in history.cosignatures:
        cosigned.add(month_of(c.at), c.role, Baby(c.nhs_number))
    return [overrides, cosigned]


def _latest_tasks(history: History) -> dict[tuple[str, str], RaisedTask]:
    """(record id, task key) -> the Task as the chain's latest writing has it."""
    state: dict[tuple[str, str], RaisedTask] = {}
    by_version = {v: c for c in history.checklists for v in c.versions}
    order = {v: i for c in history.checklists for i, v in enumerate(c.versions)}
    for task in sorted(history.tasks, key=lambda t: (order.get(t.assessment_id, 0), t.position)):
        state[(by_version[task.assessment_id].record_id, task.key)] = task
    return state


def _when(moment: datetime) -> str:
    return f"{moment.astimezone(LONDON):%d %B %Y %H:%M} (UK time)"


def _due_end(due: str | None) -> datetime | None:
    """The end of a Task's due day in the unit's calendar; None if it has none (or one that is not a date)."""
    try:
        day = date.fromisoformat((due or "")[:10])
    except ValueError:
        return None
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), LONDON).astimezone(UTC)


def closure_outcome(task: RaisedTask, seen: Closure | None, *, raised_at: datetime, now: datetime) -> tuple[str, str]:
    """(outcome key, note) for one Task: what became of it, as far as NeoSafe has seen (see the module)."""
    if task.status == WITHDRAWN[0]:
        return "withdrawn", "withdrawn by an amendment"
    due = _due_end(task.due)
    due_text = f"due {task.due}" if due else "no due date"
    if seen is None:
        return "not-checked", f"{due_text}; not checked since it was raised {_when(raised_at)}"
    checked = f"checked {_when(seen.checked_at)}"
    if seen.status in OPEN_STATUSES:
        if due is not None and now >= due:
            if seen.checked_at >= due:
                return "overdue", f"{due_text}; still open when {checked}"
            return "not-checked", f"{due_text}; not checked since {_when(seen.checked_at)}, when it was open"
        return "not-yet-due", f"{due_text}; open when {checked}"
    closed_at = seen.closed_at or seen.checked_at
    how = "by its lastModified" if seen.closed_from == "lastModified" else "when NeoSafe first saw it closed"
    closed = f"{seen.status} {_when(closed_at)} ({how})"
    if seen.status in WITHDRAWN_STATUSES:
        return "withdrawn", f"{closed} in the record"
    if seen.status in NOT_DONE_STATUSES:
        return "not-done", f"{due_text}; {closed}"
    if seen.status in DONE_STATUSES:
        late = due is not None and closed_at >= due
        return ("late" if late else "on-time"), f"{due_text}; {closed}"
    return "not-checked", f"{due_text}; its status {seen.status[:40]!r} is not one NeoSafe knows ({checked})"


def _closures(
    history: History, state: dict[tuple[str, str], RaisedTask], months: list[str], now: datetime
) -> list[Figure]:
    """Per owner, what became of the Tasks the period's checklists raised (`state`: `_latest_tasks`), in the month of
    the checklist."""
    records = {c.record_id: c for c in history.checklists}
    owners = sorted({t.owner for t in state.values()})
    figures = {
        o: Figure(f"task-closure-{owner_key(o)}", "tasks", f"Tasks closed on time or overdue: {o}", CLOSURES, months)
        for o in owners
    }
    for (record_id, key), task in state.items():
        checklist = records[record_id]
        outcome, note = closure_outcome(task, history.closures.get(key), raised_at=checklist.completed_at, now=now)
        figures[task.owner].add(
            month_of(checklist.completed_at), outcome, Baby(checklist.nhs_number, checklist.latest_id, note)
        )
    return [figures[o] for o in owners]


def _tasks(history: History, state: dict[tuple[str, str], RaisedTask], months: list[str]) -> Figure:
    """The Tasks each checklist raised (`state`: `_latest_tasks`), by owner, as its latest version leaves them: a
    Task a later version no longer raises is withdrawn (cancelled in the record). Whether one was then done is
    `_closures`'."""
    owners = sorted({t.owner for t in state.values() if t.status != WITHDRAWN[0]})
    figure = Figure(
        "tasks",
        "tasks",
        "Tasks raised by the checklists, by owner",
        (*((owner_key(o), o) for o in owners), WITHDRAWN),
        months,
    )
    records = {c.record_id: c for c in history.checklists}
    for (record_id, _), task in state.items():
        checklist = records[record_id]
        withdrawn = task.status == WITHDRAWN[0]
        note = f"{task.owner}: withdrawn by an amendment" if withdrawn else (f"due {task.due}" if task.due else "")
        figure.add(
            month_of(checklist.completed_at),
            WITHDRAWN[0] if withdrawn else owner_key(task.owner),
            Baby(checklist.nhs_number, checklist.latest_id, note),
        )
    return figure


def owner_key(owner: str) -> str:
    """A Task owner's outcome key: short and plain enough for a link (an owner is free text in tasks.toml), and
    the same for the same owner in every period."""
    slug = re.sub(r"[^a-z0-9]+", "-", owner.lower()).strip("-")[:40].strip("-")
    return f"{slug}-{hashlib.sha256(owner.encode()).hexdigest()[:6]}"


def _sources(history: History, months: list[str], labels: Mapping[str, str]) -> list[Figure]:
    """Per source, the pictures checklists were made against (each stored version had its own) where it was
    unavailable, answered only in part, or answered: the share is the unavailable count over the month's three. The
    babies are listed where it did not answer in full; the answered are counted in SQL, not listed. Each is titled
    by the source's name as every page gives it (sources.toml's label), its key only where it has none (a source
    since taken out of the file)."""
    names = sorted({p.source for p in history.pictures} | {source for source, _ in history.sources_answered})
    figures = {
        name: Figure(
            f"sources-{name}",
            "sources",
            f"Pictures where the source was unavailable: {labels.get(name, name)}",
            SOURCE_STATES,
            months,
        )
        for name in names
    }
    for picture in history.pictures:
        figures[picture.source].add(
            month_of(picture.at), picture.status, Baby(picture.nhs_number, picture.assessment_id, picture.status)
        )
    for (source, month), n in history.sources_answered.items():
        if month in months:
            figures[source].tallied[(month, "answered")] = n
    return [figures[name] for name in names]


def compute(
    history: History,
    measures: Iterable[Measure],
    period: Period,
    *,
    now: datetime,
    titles: dict[str, str],
    source_labels: Mapping[str, str],
    sees_restricted: bool,
) -> list[Figure]:
    """Every figure of the page for `period`, in the order shown: timeliness, each measure, overrides, tasks and
    sources; the checkpoints named by `titles`, the sources by `source_labels`."""
    months = period.months
    tasks = _latest_tasks(history)
    figures = [
        *_timeliness(history, months, now, titles),
        *(_answer_figure(m, history, months) for m in measures),
        *_overrides(history, months, sees_restricted),
        _tasks(history, tasks, months),
        *_closures(history, tasks, months, now),
        *_sources(history, months, source_labels),
    ]
    return sorted(figures, key=lambda f: list(SECTIONS).index(f.section))
