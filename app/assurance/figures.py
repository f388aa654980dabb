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
its latest version (an amendment corrects, it is not another checklist).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from app.checkpoints import ROLES, WITHHELD
from app.checkpoints.schedule import RULES
from app.forms import CHECKPOINTS, LONDON

from .history import Checklist, History
from .mapping import SECTIONS, Measure, Where

__all__ = ["SECTIONS", "Baby", "Figure", "Period", "compute"]

TIMING = (("on-time", "On time"), ("late", "Late"), ("not-known", "Timing not known"), ("missing", "Missing"))
NOT_ANSWERED = ("not-answered", "Not answered")
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

    def add(self, month: str, outcome: str, baby: Baby) -> None:
        if month in self.months:
            self.babies.setdefault((month, outcome), []).append(baby)

    def count(self, month: str, outcome: str) -> int:
        return len(self.babies.get((month, outcome), []))

    def total(self, outcome: str) -> int:
        return sum(self.count(m, outcome) for m in self.months)

    @property
    def grand_total(self) -> int:
        return sum(self.total(o) for o, _ in self.outcomes)

    def label(self, outcome: str) -> str:
        return dict(self.outcomes).get(outcome, outcome)


def _value(answer: dict[str, Any]) -> Any:
    if "valueCoding" in answer:
        return answer["valueCoding"].get("code")
    return next((v for k, v in answer.items() if k.startswith("value")), None)


def _values(item: dict[str, Any]) -> list[Any]:
    return [v for a in item.get("answer") or [] if (v := _value(a)) is not None]


def _entries(items: list[dict[str, Any]], link_id: str) -> Iterator[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """Every response item `link_id`, with its siblings (the same group entry)."""
    for item in items:
        if item.get("linkId") == link_id:
            yield item, items
        yield from _entries(item.get("item") or [], link_id)
        for answer in item.get("answer") or []:
            yield from _entries(answer.get("item") or [], link_id)


def _kept(siblings: list[dict[str, Any]], where: Where | None) -> bool:
    if where is None:
        return True
    return any(v in where.answers for s in siblings if s.get("linkId") == where.item for v in _values(s))


def _answer_figure(measure: Measure, checklists: list[Checklist], months: list[str]) -> Figure:
    outcomes = tuple((o.key, o.label) for o in measure.outcomes)
    if measure.count == "checklists":
        outcomes += (NOT_ANSWERED,)
    figure = Figure(measure.key, measure.section, measure.title, outcomes, months, measure.zero_expected)
    for checklist in checklists:
        if checklist.checkpoint != measure.checklist:
            continue
        month, baby = month_of(checklist.completed_at), Baby(checklist.nhs_number, checklist.latest_id)
        values = [
            v
            for item, siblings in _entries(checklist.response.get("item") or [], measure.item)
            if _kept(siblings, measure.where)
            for v in _values(item)
        ]
        matched = [o.key for v in values for o in measure.outcomes if o.matches(v)]
        if measure.count == "answers":
            for outcome in matched:
                figure.add(month, outcome, baby)
        else:
            figure.add(month, matched[0] if matched else NOT_ANSWERED[0], baby)
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


def compute(
    history: History,
    measures: Iterable[Measure],
    period: Period,
    *,
    now: datetime,
    titles: dict[str, str],
    sees_restricted: bool,
) -> list[Figure]:
    """Every figure of the page for `period`, in the order shown: timeliness, each measure, overrides."""
    months = period.months
    figures = [
        *_timeliness(history, months, now, titles),
        *(_answer_figure(m, history.checklists, months) for m in measures),
        *_overrides(history, months, sees_restricted),
    ]
    return sorted(figures, key=lambda f: list(SECTIONS).index(f.section))
