"""Whether the Tasks NeoSafe's checklists wrote have been closed, and when: looked for by the watch job (issue 19).

A person closes a Task in the FHIR record; NeoSafe hears of nothing. So each watch pass searches the write-back
source for NeoSafe's own Tasks by identifier system (`identifier=<TASK_ID_SYSTEM>|`), only those updated since the
last clean search where the server declares `_lastUpdated`, in full otherwise and once a day regardless, every page
followed, and keeps each one's status in task_state (app.assessments.task_states). "Since" is on the server's clock,
not NeoSafe's: the newest `meta.lastUpdated` the last clean search was answered with, less a margin (for writes
committed out of order), so a server whose clock differs from NeoSafe's misses nothing.

The source's answers are untrusted. A Task is kept only if its identifier is one NeoSafe wrote and its `for` names
the baby NeoSafe wrote it for; a status NeoSafe does not know is kept as given and read as not known, never closed;
an entry that cannot be read, a page that fails or a search cut short leaves every Task it may have held as last
known (not marked checked), and the next search starts from the last clean one. A failing server changes nothing
and is logged by error type only (no patient data). Each check is audited as the watch pass is.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from app.assessments import CLOSED_STATUSES as CLOSED
from app.assessments import TaskState, TaskSweep, as_utc, last_sweep, save_task_states, task_states, tasks_written
from app.fhir_systems import NHS_NUMBER_SYSTEM, TASK_ID_SYSTEM
from app.sources import SourceError

from .subscriptions import Subscribing
from .users import WATCHER

__all__ = ["TaskCheck", "TaskChecking", "closure"]

log = logging.getLogger(__name__)

MARGIN = timedelta(minutes=10)  # `_lastUpdated=gt` asks from this long before the newest change last seen
FULL_EVERY = timedelta(hours=24)  # a full search at least this often, whatever _lastUpdated says


@dataclass(frozen=True)
class TaskCheck:
    """What one check did, in counts only (it is logged: no patient data)."""

    searched: str  # "full" | "updated" | "not-run"
    seen: int = 0  # NeoSafe's Tasks found and kept
    closed: int = 0  # first seen closed on this check
    ignored: int = 0  # Tasks left out: not NeoSafe's, about another baby, or the same key twice disagreeing
    problems: int = 0  # entries or pages the source answered that could not be read
    error: str | None = None  # the search failed: nothing changed


def _moment(value: Any) -> datetime | None:
    """A lastModified NeoSafe can use: a whole instant with a timezone (a date alone, or a naive time, is not one)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC)
    return None


def closure(kept: TaskState | None, status: str, last_modified: Any, *, key: str, now: datetime) -> TaskState:
    """The state to keep for a Task seen now at `status`: its closure kept from when first seen closed at that
    status (a Task reopened loses it), timed by its lastModified if usable, else by now. A lastModified is usable if
    it is not after now, nor earlier (less MARGIN, for the two clocks) than a check that last found the Task open:
    Task.lastModified is written by whoever updates the Task, and one left from before it closed would time a late
    closure as on time."""
    if status not in CLOSED:
        return TaskState(key=key, status=status, checked_at=now)
    if kept is not None and kept.status == status and kept.closed_seen_at is not None:
        return TaskState(**{**kept.model_dump(), "checked_at": now})
    modified = _moment(last_modified)
    open_when = as_utc(kept.checked_at) if kept is not None and kept.status not in CLOSED else None
    usable = modified is not None and modified <= now and (open_when is None or modified >= open_when - MARGIN)
    return TaskState(
        key=key,
        status=status,
        closed_seen_at=now,
        closed_at=modified if usable else now,
        closed_from="lastModified" if usable else "seen",
        checked_at=now,
    )


def _key(task: dict[str, Any]) -> str | None:
    for identifier in task.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("system") == TASK_ID_SYSTEM:
            value = identifier.get("value")
            return value if isinstance(value, str) else None
    return None


def _baby(task: dict[str, Any]) -> str | None:
    identifier = (task.get("for") or {}).get("identifier") or {}
    return identifier.get("value") if identifier.get("system") == NHS_NUMBER_SYSTEM else None


class TaskChecking(Subscribing):
    async def check_tasks(self, now: datetime) -> TaskCheck:
        """Search the write-back source for NeoSafe's Tasks and keep what it says of each (see the module)."""
        source = self.write_back
        written = await tasks_written(self.sessions)
        if not written:
            return TaskCheck("not-run")
        sweep = await last_sweep(self.sessions, source.name)
        client = self.client(source)
        capabilities = (await self.capabilities.wanted({source.name: client})).get(source.name)
        full = sweep is None or now - sweep.full_at >= FULL_EVERY
        full = full or capabilities is None or not capabilities.declares_search("Task", "_lastUpdated")
        params: dict[str, str | list[str]] = {"identifier": f"{TASK_ID_SYSTEM}|", "_count": "100"}
        if not full and sweep is not None:
            params["_lastUpdated"] = f"gt{(sweep.since - MARGIN).isoformat(timespec='seconds')}"
        try:
            async with client:
                found = await client.search("Task", params)
        except SourceError as exc:
            log.warning("task check: the write-back source could not be searched (%s)", type(exc).__name__)
            done = TaskCheck("not-run", error=exc.reason)
            await self.audit(WATCHER, "task-check", detail=f"not run: {type(exc).__name__}")
            return done
        by_key: dict[str, list[dict[str, Any]]] = {}
        refused: set[str] = set()  # NeoSafe's keys the search returned but could not be believed: not unchanged
        ignored, newest = 0, sweep.since if sweep is not None and not full else None
        for resource in found.resources:
            task = resource.model_dump(mode="json")
            if (updated := _moment((task.get("meta") or {}).get("lastUpdated"))) is not None:
                newest = max(newest or updated, updated)
            key = _key(task) if resource.get_resource_type() == "Task" else None
            if key is None or key not in written or _baby(task) != written[key]:
                ignored += 1
                if key in written:
                    refused.add(key)
                continue
            by_key.setdefault(key, []).append(task)
        kept = await task_states(self.sessions, list(by_key))
        states, closed = [], 0
        for key, tasks in by_key.items():
            if len({t.get("status") for t in tasks}) > 1:  # two Tasks with one key disagree: neither is believed
                ignored += len(tasks)
                continue
            task = tasks[0]
            state = closure(kept.get(key), str(task.get("status")), task.get("lastModified"), key=key, now=now)
            closed += state.closed_seen_at == now
            states.append(state)
        clean = not found.problems and not found.truncated
        # A clean search of Tasks updated since the last one says every other Task kept is unchanged, so checked
        # now; a full one only vouches for those it found. A search with a problem vouches for nothing unseen.
        # A Task of NeoSafe's the search returned but could not believe (about another baby, say) has changed: it
        # is not vouched for as unchanged.
        # Only those the last clean search covered (checked then, or since): one a full search did not find (gone
        # from the record, say) is not vouched for again.
        others = []
        if clean and not full:
            covered = as_utc(sweep.checked_at) if sweep is not None and sweep.checked_at is not None else None
            others = [
                k
                for k, s in (await task_states(self.sessions)).items()
                if k not in by_key and k not in refused and (covered is None or as_utc(s.checked_at) >= covered)
            ]
        next_sweep = None
        if clean and newest is not None:  # a clean search with no server time to go on: the next is full again
            full_at = now if full or sweep is None else sweep.full_at
            next_sweep = TaskSweep(source=source.name, since=newest, full_at=full_at, checked_at=now)
        await save_task_states(self.sessions, states, checked=others, at=now, sweep=next_sweep)
        done = TaskCheck("full" if full else "updated", len(states), closed, ignored, len(found.problems))
        log.info("task check: %s", done)
        await self.audit(WATCHER, "task-check", detail=f"{done.searched}: {done.seen} seen, {done.closed} closed")
        return done
