"""The delivery worker: plans, sends and tracks handover deliveries every `delivery_interval_s`, from the lifespan.

`Deliveries(checkpoints)` reads fhir_mappings/delivery.toml at once (a broken file is a ConfigError before the
service starts) and makes a channel for each way: MESH (NEOSAFE_MESH_URL) and FHIR endpoints. Delivery is on
when NEOSAFE_MESH_URL is set: without it nothing is planned, so a unit not yet connected to MESH sees its handovers
as before, not as "not reachable". `async with` it runs the worker when settings.delivery_worker is on too;
`run_once(now)` is one pass, for tests with their own clock and for `neosafe` commands.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, Self

from app.assessments.periodic import every

from .channels import Channel, FhirEndpointChannel, MeshChannel
from .engine import DeliveryEngine

__all__ = ["Deliveries"]


class Deliveries:
    def __init__(self, checkpoints: Any) -> None:
        """`checkpoints`: the wired service (app.checkpoints.Wiring): settings, sessions, sources, clock."""
        self.checkpoints = checkpoints
        settings = checkpoints.settings
        self.routes = checkpoints.routes  # delivery.toml, read once when the service is wired
        self.enabled = bool(settings.mesh_url)
        self.channels: dict[str, Channel] = {"fhir": FhirEndpointChannel(checkpoints.transport)}
        if self.enabled:
            self.channels["mesh"] = MeshChannel(settings)
        self.stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def run_once(self, now: datetime | None = None) -> None:
        """Plan what the record now holds, send what is due, and hear what has arrived."""
        now = now or self.checkpoints.clock()
        c = self.checkpoints
        async with c.client(c.write_back) as record:
            engine = DeliveryEngine(
                sessions=c.sessions,
                record=record,
                checklists=c.checklists,
                recipients=c.handover_recipients,
                routes=self.routes,
                channels=self.channels,
                worker=c.worker_id,
                backoff=c.backoff,
                lease=c.lease,
                max_attempts=c.settings.delivery_max_attempts,
                acknowledge_within=timedelta(hours=c.settings.delivery_acknowledge_within_h),
            )
            await engine.plan(now)
            await engine.send_due(now)
            await engine.track(now)

    async def _run(self) -> None:
        await every(self.checkpoints.settings.delivery_interval_s, self.stopping, self.run_once, what="delivery pass")

    async def __aenter__(self) -> Self:
        if self.enabled and self.checkpoints.settings.delivery_worker:
            self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._task is not None:
            self.stopping.set()
            await self._task  # the pass in flight finishes: a claimed row is not left half-sent
