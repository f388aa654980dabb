"""The unit's worklist, and the safeguarding lead's view of it: what needs doing for each baby, first things first.

Its cost does not grow with the number of babies (issue 15 item 4): the census is one search of the unit's record,
the babies' tasks one more (`Task?patient=a,b,c`, or one batch Bundle of such searches for a large unit), and the
saved checklists and overrides one query each. The highest concern and the sources not checked come from the
picture last gathered for each baby (on their page, a checklist, or the watch job), never gathered here one baby
at a time; a baby with none yet says so: *not gathered yet* is not *no concern*.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter, OrderedDict
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cached_property
from typing import Any, Literal

from app.assessments import Assessment, HoldOverride, NewInformation, assessments_of, overrides_for
from app.forms import LONDON, VERIFIER
from app.forms.extensions import SIGNATURE_REQUIRED, extension_value
from app.picture import BabyNotFound, OpenTask, Picture
from app.picture.classify import open_task
from app.sources import SourceError

from .pictures import nhs_number_of
from .policy import Action, may
from .redaction import WITHHELD, kept_for, seen_by
from .schedule import ScheduledCheck, completions, scheduled_checks
from .summary import Summary, summary_for
from .users import User
from .watching import Watching

__all__ = [
    "SHOWN",
    "Cosignature",
    "LeadView",
    "Row",
    "Show",
    "UnsafeEnquiry",
    "Worklist",
    "Worklists",
    "latest_versions",
]

SHOWN = ("overdue", "due", "new", "all")  # the worklist's filters, `?show=`
Show = Literal["overdue", "due", "new", "all"]
KEPT_PICTURES = 1000  # the last picture of at most this many babies, for the worklist (a unit has at most ~60 cots)
TASK_REFERENCES = 50  # patients named in one Task search; more make a batch Bundle of such searches
UNSAFE_ENQUIRY = "da-enquiry-private.not-done-reason"  # the answer a DA enquiry not done safely (alone) gives
GATHERING = 4  # pictures gathered at once, for a co-signature that depends on the picture


@dataclass(frozen=True)
class Cosignature:
    """A saved checklist still waiting for a co-signature."""

    assessment: Assessment
    missing: tuple[str, ...]  # the signatures' names


@dataclass(frozen=True)
class UnsafeEnquiry:
    """A domestic-abuse enquiry the checklist records as not done safely (not alone), and why."""

    assessment: Assessment
    reason: str
    due: str | None


@dataclass
class Row:
    """One baby on the unit as the worklist shows them."""

    nhs_number: str
    name: str
    birth_date: str | None
    admitted: str | None
    checks: tuple[ScheduledCheck, ...]
    tasks: list[OpenTask] | None  # open tasks in the unit's record; None: they could not be read
    overdue_tasks: list[OpenTask]
    summary: Summary | None  # of the last picture gathered, as the reader may see it; None: not gathered yet
    gathered_at: datetime | None
    cosignatures: list[Cosignature] = field(default_factory=list)
    unsafe_enquiries: list[UnsafeEnquiry] = field(default_factory=list)
    new: list[NewInformation] = field(default_factory=list)  # found by the watch job, not yet acknowledged
    watched_at: datetime | None = None  # the watch job's last look at the baby; None: not watched yet

    @property
    def concern(self) -> str | None:
        """The highest concern in words: its tier, what, about whom, when; None if the summary holds none."""
        if self.summary is None or not self.summary.tiers:
            return None
        _, label, groups = self.summary.tiers[0]
        category, concerns = groups[0]
        first = concerns[0]
        return f"{label}: {category}: {first.what} ({first.about}; {first.when[0]})"

    @property
    def not_checked(self) -> list[str]:
        summary = self.summary
        return [*summary.sources_not_checked, *summary.people_not_checked] if summary else []

    @property
    def overdue(self) -> bool:
        return bool(self.overdue_tasks) or any(c.state in ("overdue", "missed") for c in self.checks)

    @property
    def leaving(self) -> bool:
        """A transfer or discharge is planned and its checklist not done: due before the baby leaves."""
        return any(c.state == "before-leaving" for c in self.checks)

    @property
    def due_soonest(self) -> datetime | None:
        return min((c.due_at for c in self.checks if c.state == "due" and c.due_at), default=None)

    def shown_in(self, show: Show) -> bool:
        match show:
            case "overdue":
                return self.overdue
            case "due":
                return self.overdue or self.due_soonest is not None or self.leaving
            case "new":
                return bool(self.new)
        return True

    def urgency(self) -> tuple:
        """What needs action first: overdue, then new information, then a planned move's checklist, then what falls
        due soonest, then the baby whose picture is not gathered yet or has a pending co-signature, then by name."""
        soonest = self.due_soonest
        return (
            not self.overdue,
            not self.new,
            not self.leaving,
            soonest is None,
            soonest.timestamp() if soonest else 0.0,
            self.summary is not None and not self.cosignatures,
            self.name,
        )


@dataclass
class Worklist:
    rows: list[Row]  # those `show` selects, in order of urgency
    show: Show
    counts: dict[str, int]  # how many each filter shows
    census_error: str | None = None  # the unit's record could not be read: no babies listed, said so
    tasks_error: str | None = None  # the tasks could not be read: each row says *not checked*


@dataclass
class LeadView:
    worklist: Worklist
    tasks_by_owner: list[tuple[str, list[tuple[Row, OpenTask]]]]  # most overdue owner first
    cosignatures: list[tuple[Row, Cosignature]]
    overrides: list[tuple[Row, HoldOverride]]
    unsafe_enquiries: list[tuple[Row, UnsafeEnquiry]]
    failing_sources: list[tuple[str, int]]  # source label, babies whose last picture could not check it


def _name(patient: dict[str, Any]) -> str:
    name = (patient.get("name") or [{}])[0]
    words = [*(name.get("given") or []), (name.get("family") or "").upper()]
    return " ".join(w for w in words if w) or "Name not recorded"


def _asks_cosignature(items: list[dict[str, Any]]) -> bool:
    """Whether any item of a checklist can ask for a co-signature (the verifier's signatureRequired)."""
    return any(
        any(c.get("code") == VERIFIER["code"] for c in (extension_value(i, SIGNATURE_REQUIRED) or {}).get("coding", []))
        or _asks_cosignature(i.get("item") or [])
        for i in items
    )


def _unverified(assessment: Assessment) -> bool:
    """No co-signature yet: whether one is needed may depend on the picture (signatures_missing decides)."""
    signed = json.loads(assessment.response_json).get("extension") or []
    codes = {c.get("code") for e in signed for c in (e.get("valueSignature") or {}).get("type") or []}
    return VERIFIER["code"] not in codes


def latest_versions(assessments: list[Assessment]) -> list[Assessment]:
    """The latest version of each checklist: the ones no other version amends."""
    amended = {a.amends for a in assessments if a.amends}
    return [a for a in assessments if a.id not in amended]


class Worklists(Watching):
    @cached_property
    def gathered(self) -> OrderedDict[str, tuple[Picture, str | None]]:
        """The last picture gathered of each baby, and whose view asked for it (None: a job), newest last: what the
        worklist reads the concern from."""
        return OrderedDict()

    @cached_property
    def user_restricted(self) -> frozenset[str]:
        return frozenset(s.name for s in self.sources if s.user_restricted)

    def kept(self, nhs_number: str, reader: User) -> Picture | None:
        """The baby's last picture as `reader` may reuse it (app.checkpoints.redaction.kept_for), before redaction."""
        if (entry := self.gathered.get(nhs_number)) is None:
            return None
        picture, asked_by = entry
        return kept_for(picture, asked_by=asked_by, reader=reader, user_restricted=self.user_restricted)

    async def picture(self, nhs_number: str, *, user: User | None = None, checkpoint: str | None = None) -> Picture:
        """As Pictures', kept as the baby's last picture for the worklist."""
        picture = await super().picture(nhs_number, user=user, checkpoint=checkpoint)
        self.gathered[nhs_number] = (picture, user.id if user is not None else None)
        self.gathered.move_to_end(nhs_number)
        while len(self.gathered) > KEPT_PICTURES:
            self.gathered.popitem(last=False)
        return picture

    async def worklist(self, user: User, *, show: Show = "all") -> Worklist:
        """The babies on the unit, what needs action first; `show` filters them. Audited (the census's view-unit)."""
        try:
            stays = await self.census(user)
        except SourceError as exc:
            return Worklist([], show, dict.fromkeys(SHOWN, 0), census_error=exc.reason)
        tasks, tasks_error = await self._open_tasks(stays)
        saved: dict[str, list[Assessment]] = {}
        for stored in await assessments_of(self.sessions, [nhs_number_of(s["patient"]) for s in stays]):
            saved.setdefault(stored.assessment.nhs_number, []).append(stored.assessment)  # newest first
        rows = [self._row(user, stay, tasks, saved.get(nhs_number_of(stay["patient"]), [])) for stay in stays]
        numbers = [r.nhs_number for r in rows]
        new, watched = await self.new_information(user, numbers), await self.last_watched(numbers)
        for row in rows:
            row.new, row.watched_at = new.get(row.nhs_number, []), watched.get(row.nhs_number)
        saved = {number: latest_versions(found) for number, found in saved.items()}
        await self._cosignatures(user, rows, saved)
        counts = {key: sum(r.shown_in(key) for r in rows) for key in SHOWN}
        rows = sorted((r for r in rows if r.shown_in(show)), key=Row.urgency)
        return Worklist(rows, show, counts, tasks_error=tasks_error)

    async def lead_view(self, user: User, *, show: Show = "all") -> LeadView:
        """The worklist across the unit (`show` filters it) with what the safeguarding lead follows up. Forbidden to
        other roles."""
        await self.authorise(user, Action.OVERSEE, None)
        worklist = await self.worklist(user, show=show)
        await self.audit(user, "view-unit-safeguarding")
        by_number = {r.nhs_number: r for r in worklist.rows}
        owners: dict[str, list[tuple[Row, OpenTask]]] = {}
        for row in worklist.rows:
            for task in row.tasks or []:
                owners.setdefault(task.owner, []).append((row, task))
        today = self.clock().astimezone(LONDON).date().isoformat()
        overdue_of = {o: sum(1 for _, t in ts if t.due and t.due[:10] < today) for o, ts in owners.items()}
        failing = Counter(
            self.mappings.source_labels.get(s.name, s.name)
            for n in by_number
            if (entry := self.gathered.get(n)) is not None
            for s in entry[0].not_checked  # how the sources fared, not what they said: as gathered
        )
        return LeadView(
            worklist=worklist,
            tasks_by_owner=sorted(owners.items(), key=lambda o: (-overdue_of[o[0]], -len(o[1]), o[0])),
            cosignatures=[(r, c) for r in worklist.rows for c in r.cosignatures],
            overrides=[
                (by_number[n], o) for o, n in await overrides_for(self.sessions, list(by_number)) if n in by_number
            ],
            unsafe_enquiries=[(r, u) for r in worklist.rows for u in r.unsafe_enquiries],
            failing_sources=failing.most_common(),
        )

    async def _open_tasks(self, stays: list[dict[str, Any]]) -> tuple[dict[str, list[OpenTask]] | None, str | None]:
        """The open tasks of each baby (by Patient reference) in the unit's record: one request for the unit;
        None, and why, if they could not be read."""
        references = [f"Patient/{s['patient']['id']}" for s in stays]
        if not references:
            return {}, None
        queries = [
            ("Task", {"patient": ",".join(references[i : i + TASK_REFERENCES]), "_count": "1000"})
            for i in range(0, len(references), TASK_REFERENCES)
        ]
        try:
            async with self.client(self.write_back) as client:
                if len(queries) == 1:
                    answers: list[Any] = [await client.search(*queries[0])]
                else:
                    answers = await client.batch(queries)
        except SourceError as exc:
            return None, exc.reason
        tasks: dict[str, list[OpenTask]] = {}
        for answer in answers:
            if isinstance(answer, SourceError):
                return None, answer.reason
            for resource in answer.resources:
                task = resource.model_dump(mode="json")
                about = (task.get("for") or {}).get("reference", "")
                if (found := open_task(task, self.write_back.name)) is not None:
                    tasks.setdefault(about, []).append(found)
        return tasks, None

    def _row(
        self, user: User, stay: dict[str, Any], tasks: dict[str, list[OpenTask]] | None, mine: list[Assessment]
    ) -> Row:
        """The baby's row from their stay, open tasks (None: not read) and saved checklists (`mine`, newest first)."""
        patient, encounter = stay["patient"], stay["encounter"]
        number = nhs_number_of(patient)
        picture = self.kept(number, user)
        summary = summary_for(self, seen_by(picture, user)) if picture is not None else None
        today = self.clock().astimezone(LONDON).date().isoformat()
        open_tasks = tasks.get(f"Patient/{patient['id']}", []) if tasks is not None else []
        if not may(user, Action.SEE_RESTRICTED):
            open_tasks = [replace(t, description=WITHHELD) if t.restricted else t for t in open_tasks]
        return Row(
            nhs_number=number,
            name=_name(patient),
            birth_date=patient.get("birthDate"),
            admitted=(encounter.get("period") or {}).get("start"),
            checks=scheduled_checks(encounter, completions(mine), now=self.clock()),
            tasks=open_tasks if tasks is not None else None,
            overdue_tasks=[t for t in open_tasks if t.due and t.due[:10] < today],
            summary=summary,
            gathered_at=picture.gathered_at if picture is not None else None,
            unsafe_enquiries=[
                UnsafeEnquiry(a, WITHHELD if not may(user, Action.SEE_RESTRICTED) else raised.detail, raised.due)
                for a in latest_versions(mine)
                for raised in self.tasks_raised(a)
                if raised.rule.item.endswith(UNSAFE_ENQUIRY)
            ],
        )

    async def _cosignatures(self, user: User, rows: list[Row], saved: dict[str, list[Assessment]]) -> None:
        """Each row's checklists waiting for a co-signature. Whether one is needed can depend on the picture: a
        baby with a checklist not co-signed and no picture yet has it gathered (GATHERING at a time) to decide."""
        asks = {}  # questionnaire (url|version) -> whether it can ask for a co-signature at all
        for found in saved.values():
            for a in found:
                if a.questionnaire not in asks:
                    questionnaire = self.checklists.for_response(json.loads(a.response_json))
                    asks[a.questionnaire] = _asks_cosignature(questionnaire.get("item") or [])
        waiting = [
            (r, found)
            for r in rows
            if (found := [a for a in saved.get(r.nhs_number, []) if asks[a.questionnaire] and _unverified(a)])
        ]
        limit = asyncio.Semaphore(GATHERING)

        async def picture_of(number: str) -> Picture | None:
            if (entry := self.gathered.get(number)) is not None:
                return entry[0]
            async with limit:
                try:
                    return await self.picture(number)
                except (BabyNotFound, SourceError):  # no source knows the baby now: shown as not gathered
                    return None

        pictures = await asyncio.gather(*(picture_of(row.nhs_number) for row, _ in waiting))
        for (row, found), picture in zip(waiting, pictures, strict=True):
            if picture is None:
                continue
            if row.summary is None:
                shown = self.kept(row.nhs_number, user) or picture
                row.summary, row.gathered_at = summary_for(self, seen_by(shown, user)), picture.gathered_at
            for assessment in found:
                missing = self.signatures_missing(picture, assessment, user)
                if any(s.get("code") == VERIFIER["code"] for s in missing):
                    row.cosignatures.append(Cosignature(assessment, tuple(s.get("display", "") for s in missing)))
