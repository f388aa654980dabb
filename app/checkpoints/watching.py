"""Watching the stay (issue 15 item 2): between checkpoints, what is new about the babies on the unit.

A pass, every `watch_interval_s`, by one instance at a time (the `watch` lease), gathers again the picture of every
baby on the unit (at most `watch_concurrency` at once, so each source has at most that many requests at once: the
cost grows with the number of babies, linearly) and compares it with the baby's baseline: the records of their last
saved checklist or, before the first, those of the first pass of the stay. A record of a watched category
(fhir_mappings/watch.toml) that is new, or current again after being closed (reopened), is new information: kept
here, shown on the worklist and the baby's page until a nurse acknowledges it, and raising one Task for the
safeguarding team, written by a conditional create on the finding's key, so once however often it is tried.

A source that could not be checked on a pass finds nothing new, and nothing is taken as gone: it is *not checked*
on the worklist. Before the first checklist, records from a source the first pass could not check join the
baseline when that source first answers: nobody had seen them to compare with.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from app.assessments import (
    NewInformation,
    WatchedBaby,
    acknowledge_findings,
    add_findings,
    assessments_of,
    findings_of,
    findings_without_task,
    save_watched,
    take_lease,
    task_tried,
    watched_babies,
)
from app.assessments.bundle import conditional_create
from app.assessments.fitting import fitted
from app.assessments.periodic import every
from app.assessments.subscribed import release_lease
from app.fhir_systems import NEW_INFORMATION_ID_SYSTEM
from app.forms import LONDON, Issue
from app.picture import BabyNotFound, Picture, Record, snapshot
from app.sources import SourceError

from .outcomes import Invalid
from .pictures import nhs_number_of
from .policy import Action, may
from .redaction import WITHHELD
from .schedule import fhir_instant
from .subscriptions import Named
from .task_checking import TaskCheck, TaskChecking
from .users import WATCHER, User

__all__ = ["WATCH_JOB", "WatchPass", "Watcher", "Watching"]

log = logging.getLogger(__name__)

WATCH_JOB = "watch"
WATCH_RUNNING = "watch-running"  # held while a pass (at the interval or prompted) runs, on whichever instance
RUNNING_TRIES, RUNNING_WAIT_S = 240, 0.5  # a pass waits up to 2 minutes for one in flight elsewhere
PROMPTS_KEPT = 100  # more notifications than this before the next pass: it looks at the whole unit


@dataclass(frozen=True)
class WatchPass:
    """What one pass did, in counts only (it is logged: no patient data)."""

    ran: bool  # False: another instance holds the job for this interval
    babies: int = 0
    not_gathered: int = 0  # no source could be asked about them, or none knew them, on this pass
    found: int = 0
    tasks_written: int = 0
    census_error: str | None = None  # the unit's record could not be read: no baby was watched on this pass
    subscriptions: int = 0  # NeoSafe's Subscriptions in place on the sources after the pass
    prompted: bool = False  # run at once for notifications, not at the interval
    task_check: TaskCheck | None = None  # whether the Tasks NeoSafe wrote were closed (app.checkpoints.task_checking)


def _about(record: Record, picture: Picture) -> str:
    roles = {p.role: p.role_label for p in picture.people}
    role = roles.get(record.person_role, "Someone in the household" if record.person_role == "household" else "")
    return f"{record.person_name} ({role})" if record.person_name and role else record.person_name or role


class Watching(TaskChecking):
    async def watch_once(self) -> WatchPass:
        """One pass, if no other instance holds the job for this interval; NeoSafe's Subscriptions made sure of, and
        the Tasks its checklists wrote checked for closure (whether or not the unit's census could be read)."""
        now = self.clock()
        until = now + timedelta(seconds=self.settings.watch_interval_s)
        if not await take_lease(self.sessions, WATCH_JOB, holder=self.worker_id, now=now, until=until):
            return WatchPass(ran=False)
        if not await self._one_pass_at_a_time(until):
            return WatchPass(ran=False)
        try:
            done = replace(await self._watch(None, now), task_check=await self.check_tasks(now))
            return replace(done, subscriptions=await self.subscribe(now)) if done.census_error is None else done
        finally:
            await release_lease(self.sessions, WATCH_RUNNING, holder=self.worker_id, now=self.clock())

    async def watch_prompted(self, named: list[Named] | None) -> WatchPass:
        """A pass now, prompted by notifications: the babies they name if it can tell (None: the whole unit), by
        the same code as `watch_once`, so it finds what a poll would; the interval's passes go on as before."""
        now = self.clock()
        if not await self._one_pass_at_a_time(now + timedelta(seconds=self.settings.watch_interval_s)):
            return WatchPass(ran=False, prompted=True)
        try:
            return replace(await self._watch(named, now), prompted=True)
        finally:
            await release_lease(self.sessions, WATCH_RUNNING, holder=self.worker_id, now=self.clock())

    async def _one_pass_at_a_time(self, until: datetime) -> bool:
        """Hold the running lease, waiting while a pass runs elsewhere (two at once could both find one record)."""
        for _ in range(RUNNING_TRIES):
            if await take_lease(self.sessions, WATCH_RUNNING, holder=self.worker_id, now=self.clock(), until=until):
                return True
            await asyncio.sleep(RUNNING_WAIT_S)
        log.warning("watch pass not run: another pass was still running")
        return False

    async def _watch(self, named: list[Named] | None, now: datetime) -> WatchPass:
        try:
            stays = await self.stays()
        except SourceError as exc:  # nothing to watch this interval: said, and tried again at the next
            log.warning("watch pass: the unit's record could not be read (%s)", type(exc).__name__)
            return WatchPass(ran=True, census_error=exc.reason)
        numbers = [n for s in stays if (n := nhs_number_of(s["patient"]))]
        if named is not None and (chosen := await self._named_babies(named, set(numbers))) is not None:
            numbers = [n for n in numbers if n in chosen]
        await self.audit(WATCHER, "watch-pass", detail=f"{len(numbers)} babies on the unit")
        limit = asyncio.Semaphore(self.settings.watch_concurrency)

        async def gathered(number: str) -> Picture | None:
            async with limit:
                try:
                    return await self.picture(number)
                except (BabyNotFound, SourceError):
                    return None

        pictures = dict(zip(numbers, await asyncio.gather(*(gathered(n) for n in numbers)), strict=True))
        found = await self._compare({n: p for n, p in pictures.items() if p is not None}, now)
        await add_findings(self.sessions, found)
        written = await self._write_tasks(pictures, now)
        done = WatchPass(True, len(numbers), sum(p is None for p in pictures.values()), len(found), written)
        log.info("watch pass: %s", done)
        return done

    async def _named_babies(self, named: list[Named], on_the_unit: set[str]) -> set[str] | None:
        """The babies on the unit the notifications name, each Patient read from its source; None if any names
        nobody it can tell or someone not a baby on the unit (a parent, say): then everyone is looked at."""
        sources = {s.name: s for s in self.sources}
        chosen: set[str] = set()
        for each in named:
            if not each.patient_ids or each.source not in sources:
                return None
            async with self.client(sources[each.source]) as client:
                for patient_id in each.patient_ids:
                    try:
                        patient = (await client.read("Patient", patient_id)).model_dump(mode="json")
                    except SourceError:
                        return None
                    if (number := nhs_number_of(patient)) not in on_the_unit:
                        return None
                    chosen.add(number)
        return chosen

    async def _compare(self, pictures: dict[str, Picture], now: datetime) -> list[NewInformation]:
        """The new information in each picture since the baby's baseline; each baby marked watched now, and a
        first baseline kept for one never watched before."""
        numbers = list(pictures)
        latest: dict[str, Any] = {}
        for stored in await assessments_of(self.sessions, numbers):  # newest first
            latest.setdefault(stored.assessment.nhs_number, stored.assessment)
        babies = await watched_babies(self.sessions, numbers)
        earlier = await findings_of(self.sessions, numbers, open_only=False)
        found, kept = [], []
        for number, picture in pictures.items():
            checked = {s.name for s in picture.sources if s.checked}
            watched, assessment = babies.get(number), latest.get(number)
            if watched is None:
                first = snapshot(picture)
                watched = WatchedBaby(
                    nhs_number=number,
                    records_json=json.dumps(first),
                    sources_json=json.dumps(sorted(checked)),
                    taken_at=now,
                )
                since, before = now, first
            else:
                since, before = watched.taken_at, self._baseline(watched, picture, checked)
            if assessment is not None:  # the last checkpoint is the baseline once there is one
                since, before = assessment.created_at, json.loads(assessment.records_json)
            kept.append(watched.model_copy(update={"watched_at": now}))
            already = {
                (f.record_key, f.change)
                for f in earlier
                if f.nhs_number == number and fhir_instant(f.found_at) >= fhir_instant(since)
            }
            found += [f for f in self._changes(number, picture, before, now) if (f.record_key, f.change) not in already]
        await save_watched(self.sessions, kept)
        return found

    @staticmethod
    def _baseline(watched: WatchedBaby, picture: Picture, checked: set[str]) -> list[dict[str, Any]]:
        """The first pass's records, with those of a source that first answers now joined to them (in `watched`)."""
        known = json.loads(watched.records_json)
        joining = checked - set(json.loads(watched.sources_json))
        if joining:
            keys = {r["key"] for r in known}
            known += [r for r in snapshot(picture) if r["key"] not in keys and r["source"] in joining]
            watched.records_json = json.dumps(known)
            watched.sources_json = json.dumps(sorted(joining | set(json.loads(watched.sources_json))))
        return known

    def _changes(
        self, number: str, picture: Picture, before: list[dict[str, Any]], now: datetime
    ) -> list[NewInformation]:
        earlier = {r["key"]: r for r in before}
        changes = []
        for record in picture.records:
            if record.category not in self.watch.categories:
                continue
            old = earlier.get(record.key)
            change = "new" if old is None else "reopened" if record.current and not old.get("current") else None
            if change is None:
                continue
            finding_id = str(uuid.uuid4())
            changes.append(
                NewInformation(
                    id=finding_id,
                    nhs_number=number,
                    record_key=record.key,
                    change=change,
                    category=record.category,
                    category_label=record.category_label,
                    display=record.display,
                    source=record.source,
                    start=record.start or record.recorded,
                    person=_about(record, picture),
                    restricted=record.restricted,
                    found_at=now,
                    task_key=finding_id,
                )
            )
        return changes

    async def _write_tasks(self, pictures: dict[str, Picture | None], now: datetime) -> int:
        """A Task for each finding that has none in the unit's record yet (this pass's or an earlier one's whose
        write failed), for the babies gathered on this pass; how many were written."""
        written = 0
        async with self.client(self.write_back) as client:
            for finding in await findings_without_task(self.sessions):
                picture = pictures.get(finding.nhs_number)
                if picture is None:
                    continue
                task = self._task(finding, picture, now)
                entry = conditional_create(task, finding.task_key, None, by_identifier=NEW_INFORMATION_ID_SYSTEM)
                bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [entry]}
                try:
                    await client.transaction(await fitted(client, bundle))
                except SourceError as exc:
                    await task_tried(self.sessions, finding.id, written_at=None, error=exc.reason)
                    continue
                await task_tried(self.sessions, finding.id, written_at=now, error=None)
                written += 1
        return written

    def _task(self, finding: NewInformation, picture: Picture, now: datetime) -> dict[str, Any]:
        """The Task for the safeguarding team: for the baby, due `due_days` after it was found (restricted, as
        everything NeoSafe writes: conditional_create labels it)."""
        rules = self.watch
        label = self.mappings.source_labels.get(finding.source, finding.source)
        what = f"{finding.category_label}: {finding.display} ({finding.person or 'about whom not said'}; "
        what += f"{finding.start or 'date not recorded'}; from {label}; {finding.change})"
        task: dict[str, Any] = {
            "resourceType": "Task",
            "identifier": [{"system": NEW_INFORMATION_ID_SYSTEM, "value": finding.task_key}],
            "status": "requested",
            "intent": "order",
            "priority": rules.priority,
            "code": {"text": rules.description},
            "description": f"{rules.description}: {what}",
            "for": self.subject(picture),
            "authoredOn": now.isoformat(timespec="seconds"),
            "requester": {"display": "NeoSafe, watching the stay"},
            "owner": {"display": rules.owner},
            "restriction": {
                "period": {"end": (now.astimezone(LONDON).date() + timedelta(days=rules.due_days)).isoformat()}
            },
        }
        if (encounter := self.encounter(picture)) is not None:
            task["encounter"] = encounter
        return task

    async def new_information(self, user: User, nhs_numbers: list[str]) -> dict[str, list[NewInformation]]:
        """Each baby's new information not yet acknowledged, oldest first, restricted detail withheld by role.
        Shown within views that are audited themselves (the worklist, the baby's page)."""
        found: dict[str, list[NewInformation]] = {}
        sees = may(user, Action.SEE_RESTRICTED)
        for finding in await findings_of(self.sessions, nhs_numbers):
            shown = finding if sees or not finding.restricted else finding.model_copy(update={"display": WITHHELD})
            found.setdefault(finding.nhs_number, []).append(shown)
        return found

    async def last_watched(self, nhs_numbers: list[str]) -> dict[str, datetime]:
        """When the watch job last gathered each baby's picture; a baby not in it has not been watched yet."""
        babies = await watched_babies(self.sessions, nhs_numbers)
        return {n: fhir_instant(b.watched_at) for n, b in babies.items() if b.watched_at is not None}

    async def acknowledge(self, user: User, nhs_number: str, finding_ids: list[str]) -> int:
        """A nurse has read the new information shown to them (`finding_ids`): it leaves the worklist. Audited."""
        await self.authorise(user, Action.ACKNOWLEDGE, nhs_number)
        if not finding_ids:
            raise Invalid([Issue("finding", "finding", "say which new information you have read")])
        count = await acknowledge_findings(self.sessions, nhs_number, finding_ids, by=user.id, at=self.clock())
        await self.audit(user, "acknowledge-new-information", nhs_number, detail=f"{count} acknowledged")
        return count


class Watcher:
    """Runs `watch_once` every `interval_s` until stopped, and a prompted pass for the notifications received (all
    those since the last one began make one pass: a flood is at most one extra pass at a time). A pass that fails
    is logged and the next one tries."""

    def __init__(self, watching: Watching) -> None:
        self.watching = watching
        self.stopping = asyncio.Event()
        self._prompted = asyncio.Event()
        self._named: list[Named] | None = []  # None: look at the whole unit

    async def run(self) -> None:
        await every(self.watching.settings.watch_interval_s, self.stopping, self.watching.watch_once, what="watch pass")

    async def notified(self, key: str, authorization: str | None, content: bytes) -> None:
        """A notification to Subscription `key`: checked (Unauthorised, Invalid), then a prompted pass soon."""
        named = await self.watching.notification(key, authorization, content)
        if self._named is not None and named.patient_ids and len(self._named) < PROMPTS_KEPT:
            self._named.append(named)
        else:
            self._named = None
        self._prompted.set()

    async def answer_notifications(self) -> None:
        """Until stopped: wait for a notification, then one prompted pass for all received until it begins."""
        while True:
            await self._prompted.wait()
            if self.stopping.is_set():
                return
            self._prompted.clear()
            named, self._named = self._named, []
            try:
                await self.watching.watch_prompted(named)
            except Exception:
                log.exception("prompted watch pass failed")

    def stop(self) -> None:
        self.stopping.set()
        self._prompted.set()
