"""For a trust's platform: liveness (/healthz), readiness (/readyz) and Prometheus metrics (/metrics).

None of them needs a sign-in, and none carries patient data: readiness names the database and each source
with why it is unreachable; the outbox gauges are counts and ages, read from the database at scrape time.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import REGISTRY, CollectorRegistry, Gauge, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel
from sqlalchemy import literal
from sqlmodel import col, func, select

from app.assessments import AuditEvent, OutboxEntry
from app.checkpoints import Checkpoints
from app.config import ConfigError, SourceSettings
from app.sources import SourceAuthError, SourceError

from .deps import CheckpointsDep

__all__ = ["router"]

log = logging.getLogger(__name__)

DATABASE_TIMEOUT_S = 5.0
USER_RESTRICTED = "answers, and asks for a clinician's NHS CIS2 token (user-restricted)"
WAITING = ("queued", "retrying", "needs-attention")  # the outbox states that are not done

router = APIRouter(tags=["operations"])


class Check(BaseModel):
    name: str
    status: Literal["up", "down"]
    detail: str = ""
    ms: int


class Readiness(BaseModel):
    status: Literal["ready", "not-ready"]
    database: Check
    sources: list[Check]


def _elapsed_ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


async def _check_database(services: Checkpoints) -> Check:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), services.sessions() as session:
            await session.exec(select(literal(1)))
    except TimeoutError:
        detail = f"no answer within {DATABASE_TIMEOUT_S:g} s"
    except Exception as exc:  # any driver error means "not reachable"; its text may name hosts or users
        detail = type(exc).__name__
    else:
        return Check(name="database", status="up", ms=_elapsed_ms(started))
    return Check(name="database", status="down", detail=detail, ms=_elapsed_ms(started))


async def _check_source(services: Checkpoints, source: SourceSettings) -> Check:
    started = time.perf_counter()
    try:
        async with services.client(source) as client:
            statement = await client.capabilities()
    except SourceAuthError as exc:
        if source.user_restricted:  # it answered: only a clinician's own token may ask it more, never this probe's
            return Check(name=source.name, status="up", detail=USER_RESTRICTED, ms=_elapsed_ms(started))
        detail = exc.reason
    except SourceError as exc:
        detail = exc.reason
    except ConfigError as exc:  # e.g. its token's environment variable is not set
        detail = str(exc)
    else:
        if statement.get("resourceType") == "CapabilityStatement":
            return Check(name=source.name, status="up", ms=_elapsed_ms(started))
        detail = "/metadata answered without a CapabilityStatement"
    return Check(name=source.name, status="down", detail=detail, ms=_elapsed_ms(started))


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and answering: for liveness probes and the container's HEALTHCHECK."""
    return {"status": "ok"}


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(services: CheckpointsDep) -> JSONResponse:
    """Ready (200) when the database answers and every source's /metadata answers within its timeout; else 503. A
    user-restricted source (CP-IS) that refuses the probe for want of a clinician's token has answered: it is up."""
    database, *sources = await asyncio.gather(
        _check_database(services), *(_check_source(services, source) for source in services.sources)
    )
    ready = all(check.status == "up" for check in (database, *sources))
    body = Readiness(status="ready" if ready else "not-ready", database=database, sources=sources)
    return JSONResponse(body.model_dump(), status_code=200 if ready else 503)


async def _outbox_registry(services: Checkpoints, now: datetime) -> CollectorRegistry:
    """Gauges read from the database now, so every instance reports the same shared outbox."""
    registry = CollectorRegistry()
    up = Gauge("neosafe_database_up", "Whether the database answered this scrape.", registry=registry)
    entries = Gauge("neosafe_outbox_entries", "Outbox entries not yet sent, by state.", ["state"], registry=registry)
    oldest = Gauge(
        "neosafe_outbox_oldest_age_seconds", "Age of the oldest outbox entry not yet sent (0: none).", registry=registry
    )
    unsent_audit = None
    if services.settings.audit_export:
        unsent_audit = Gauge(
            "neosafe_audit_unsent", "Audit records not yet sent to the FHIR record as AuditEvents.", registry=registry
        )
    try:
        async with asyncio.timeout(DATABASE_TIMEOUT_S), services.sessions() as session:
            rows = await session.exec(
                select(OutboxEntry.state, func.count(), func.min(OutboxEntry.created_at))
                .where(col(OutboxEntry.state) != "sent")
                .group_by(OutboxEntry.state)
            )
            waiting = list(rows.all())
            if unsent_audit is not None:
                query = select(func.count()).select_from(AuditEvent).where(col(AuditEvent.exported_at).is_(None))
                unsent_audit.set((await session.exec(query)).one())
    except Exception as exc:  # the scrape still reports requests and sources, and that the database is down
        log.warning("outbox metrics unavailable: %s", type(exc).__name__)
        up.set(0)
        return registry
    up.set(1)
    for state in WAITING:
        entries.labels(state).set(0)
    for state, count, _ in waiting:
        entries.labels(state).set(count)
    if waiting:
        oldest.set(max(0.0, (now - min(created for _, _, created in waiting)).total_seconds()))
    return registry


@router.get("/metrics", response_class=Response)
async def metrics(services: CheckpointsDep) -> Response:
    """Prometheus metrics: requests, source queries, the outbox's depth and age, and the audit trail not yet sent."""
    outbox = await _outbox_registry(services, services.clock())
    return Response(generate_latest(REGISTRY) + generate_latest(outbox), media_type=CONTENT_TYPE_LATEST)
