"""What every use case works with: the sources, the code lists, the checklists and the database, wired once.

`wire(settings)` builds it without a web framework, for `neosafe serve`, the other commands and the tests alike.
While `running()`, each source has one client for the process (one connection pool and SSL context, connections
kept alive), whose capabilities are read in the background from start-up.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Self

import httpx
from jinja2 import Environment
from sqlalchemy.ext.asyncio import AsyncEngine

from app.assessments import (
    Backoff,
    OutboxEntry,
    OutboxWorker,
    SessionFactory,
    deliver,
    make_engine,
    prepare,
    session_factory,
)
from app.config import ConfigError, Settings, SourceSettings
from app.forms import (
    CHECKPOINTS,
    Checklists,
    FocusRule,
    Measure,
    TaskRule,
    load_checklists,
    load_focus_rules,
    load_measures,
    load_task_rules,
)
from app.handover import (
    Recipients,
    Routes,
    Section,
    document_environment,
    load_recipients,
    load_routes,
    load_sections,
)
from app.picture import Mappings, load_mappings
from app.sources import FhirClient, KeptCapabilities, auth_for

from .severity import Severity, load_severity
from .watch_rules import WatchRules, load_watch_rules

__all__ = ["Wiring"]


def _check_unscheduled_access(sources: list[SourceSettings]) -> None:
    """A CP-IS source's unscheduled_access names checkpoints NeoSafe has: a misspelt one would silently get the
    default IsUnscheduledAccessEvent."""
    for source in sources:
        unknown = sorted(set(source.unscheduled_access) - set(CHECKPOINTS))
        if unknown:
            raise ConfigError(
                f"source '{source.name}': unscheduled_access names {', '.join(unknown)}, not checkpoints NeoSafe has "
                f"({', '.join(CHECKPOINTS)})"
            )


@dataclass
class Wiring:
    settings: Settings
    sources: list[SourceSettings]
    mappings: Mappings
    checklists: Checklists
    engine: AsyncEngine
    sessions: SessionFactory
    document_env: Environment  # the templates the handover summary written with each checklist is drawn from
    severity: Severity  # how prominent each record is in the summary (severity.toml)
    watch: WatchRules  # what the watch job looks for between checkpoints (watch.toml)
    handover_sections: list[Section] = field(default_factory=list)
    handover_recipients: Recipients | None = None  # D10's questions: a Communication per recipient at discharge
    routes: Routes | None = None  # where the handover goes (delivery.toml): pre-fills D10's recipients
    task_rules: list[TaskRule] = field(default_factory=list)  # answers that raise a Task (fhir_mappings/tasks.toml)
    focus_rules: list[FocusRule] = field(default_factory=list)  # whom answers are about (observation-focus.toml)
    measures: tuple[Measure, ...] = ()  # which answers the assurance figures count (assurance.toml), checked at start
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    capabilities: KeptCapabilities = field(default_factory=KeptCapabilities)  # read once per source, then kept
    auths: dict[str, httpx.Auth] = field(default_factory=dict)  # one per source, so tokens are reused
    worker_id: str = field(default_factory=lambda: f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}")
    kept_clients: dict[str, FhirClient] = field(default_factory=dict)  # by source name, while running()

    @classmethod
    def wire(
        cls,
        settings: Settings,
        *,
        sources: list[SourceSettings] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> Self:
        """Sources default to the settings' sources file; tests pass their own. Start with `running()`."""
        sources = sources if sources is not None else settings.sources()
        _check_unscheduled_access(sources)
        engine = make_engine(settings.database_url)
        checklists = load_checklists(settings.checklists_dir)
        mappings = load_mappings(settings.mappings_dir)
        handover_rules = settings.mappings_dir / "handover.toml"
        return cls(
            settings=settings,
            sources=sources,
            auths={s.name: auth for s in sources if (auth := auth_for(s)) is not None},
            mappings=mappings,
            checklists=checklists,
            handover_sections=load_sections(handover_rules, checklists),
            handover_recipients=load_recipients(handover_rules, checklists),
            routes=load_routes(settings.mappings_dir / "delivery.toml"),
            task_rules=load_task_rules(settings.mappings_dir / "tasks.toml", checklists),
            focus_rules=load_focus_rules(settings.mappings_dir / "observation-focus.toml", checklists),
            measures=load_measures(settings.mappings_dir, checklists),
            severity=load_severity(settings.mappings_dir),
            watch=load_watch_rules(settings.mappings_dir, mappings),
            document_env=document_environment(settings.templates_dir),
            engine=engine,
            sessions=session_factory(engine),
            transport=transport,
            **({"clock": clock} if clock else {}),
        )

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Self]:
        """The database brought to (or checked at) the migrations' head, and the sources connected; all closed
        afterwards."""
        await prepare(self.engine, migrate=self.settings.migrate_on_start)
        try:
            async with self.connected():
                yield self
        finally:
            await self.engine.dispose()

    @asynccontextmanager
    async def connected(self) -> AsyncIterator[None]:
        """One kept client per source, their capabilities being read meanwhile (never waited for here: a source
        down does not hold up or fail the start); the reads stopped and the clients closed afterwards."""
        self.kept_clients = {s.name: self._new_client(s, kept=True) for s in self.sources}
        # CP-IS (profile cpis) is asked one search it is known to take, with a user's token: nothing to read first.
        self.capabilities.start({n: c for n, c in self.kept_clients.items() if c.source.profile == "fhir"})
        try:
            yield
        finally:
            clients, self.kept_clients = self.kept_clients, {}
            await self.capabilities.aclose()
            await asyncio.gather(*(c.aclose() for c in clients.values()))

    def rules_for(self, checkpoint: str) -> list[TaskRule]:
        return [r for r in self.task_rules if r.checkpoint == checkpoint]

    @property
    def write_back(self) -> SourceSettings:
        return next(s for s in self.sources if s.write_back)

    def target(self, name: str | None) -> SourceSettings | None:
        """Where an outbox entry with this target is written: None, the write_back source; else the FHIR source of
        that name (a launch's EPR), or None if the sources file no longer has one."""
        if name is None:
            return self.write_back
        return next((s for s in self.sources if s.name == name and s.profile == "fhir"), None)

    def client(self, source: SourceSettings) -> FhirClient:
        """The source's kept client while running (`async with` borrows it); otherwise one for this use only."""
        kept = self.kept_clients.get(source.name)
        return kept if kept is not None and kept.source == source else self._new_client(source)

    def _new_client(self, source: SourceSettings, *, kept: bool = False) -> FhirClient:
        return FhirClient(
            source,
            transport=self.transport,
            auth=self.auths.get(source.name),
            max_bytes=self.settings.source_max_bytes,
            kept=kept,
        )

    @property
    def backoff(self) -> Backoff:
        return Backoff(
            base=timedelta(seconds=self.settings.outbox_retry_base_s),
            most=timedelta(seconds=self.settings.outbox_retry_max_s),
        )

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.outbox_lease_s)

    async def send_now(self, entry: OutboxEntry, *, now: datetime | None = None) -> None:
        """One try at the FHIR record now (or at `now`, the submission's own moment), with the configured backoff,
        lease and clock, as the worker would, at the entry's own target."""
        target = self.target(entry.target)
        if target is None:  # its source is gone from the sources file: it waits, shown as not sent
            return
        async with self.client(target) as client:
            await deliver(
                self.sessions,
                client,
                entry.id,
                worker=self.worker_id,
                now=now or self.clock(),
                backoff=self.backoff,
                lease=self.lease,
            )

    def outbox_worker(self) -> OutboxWorker:
        """The background sender for this process: retries what could not be sent at once."""
        return OutboxWorker(
            self.sessions,
            lambda: self.client(self.write_back),
            targets=lambda name: (source := self.target(name)) and self.client(source),
            worker=self.worker_id,
            interval_s=self.settings.outbox_interval_s,
            backoff=self.backoff,
            lease=self.lease,
            clock=self.clock,
            audit=self.settings.audit_export,
        )
