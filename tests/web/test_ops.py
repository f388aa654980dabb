"""/healthz, /readyz and /metrics: what a trust's platform sees, with no sign-in and no patient data."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import make_url
from sqlmodel import col, select

from app.assessments import Assessment, AuditEvent, OutboxEntry, audit
from app.config import Settings, SourceSettings
from app.main import create_app
from app.web.ops import USER_RESTRICTED
from sandbox.cpis import CpisSandbox
from testkit.ports import free_port
from tests.conftest import write_sources
from tests.families import CASE_V_BABY

WAITING = ("queued", "retrying", "needs-attention")
NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
NHS_NUMBER_SHAPED = re.compile(r"\d{10}")


@asynccontextmanager
async def serving(
    settings: Settings, sources: list[SourceSettings]
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """NeoSafe started (lifespan and all) on the given sources, and an HTTP client to it."""
    settings.outbox_worker = False  # nothing in the outbox is sent behind these tests' backs
    app = create_app(settings, sources=sources, clock=lambda: NOW)
    async with app.router.lifespan_context(app), _client(app) as http:
        checkpoints = app.state.checkpoints  # its start-up capability reads ended, so metrics stay still
        await checkpoints.capabilities.wanted(checkpoints.kept_clients)
        yield app, http


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://neosafe.test")


@pytest.fixture
async def neosafe(settings, sources) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with serving(settings, sources) as running:
        yield running


@pytest.fixture
def ops(neosafe) -> httpx.AsyncClient:
    return neosafe[1]


@pytest.fixture
async def social_care_down(settings, sandbox, tmp_path) -> AsyncIterator[httpx.AsyncClient]:
    sources = write_sources(sandbox, tmp_path, overrides={"social-care": f"http://127.0.0.1:{free_port()}/fhir"})
    async with serving(settings, sources) as (_, http):
        yield http


def metrics(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of a Prometheus exposition, keyed by `key(name, **labels)`."""
    return {
        key(sample.name, **sample.labels): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


async def test_healthz_says_the_process_is_up_without_a_sign_in(ops):
    response = await ops.get("/healthz")

    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_readyz_is_ready_when_the_database_and_every_source_answer(ops, sources):
    response = await ops.get("/readyz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["status"] == "up"
    assert [(s["name"], s["status"], s["detail"]) for s in body["sources"]] == [(s.name, "up", "") for s in sources]


async def test_readyz_names_a_source_that_is_down_and_says_why(social_care_down):
    response = await social_care_down.get("/readyz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not-ready"
    statuses = {s["name"]: (s["status"], s["detail"]) for s in body["sources"]}
    assert statuses.pop("social-care") == ("down", "could not connect (ConnectError)")
    assert set(statuses.values()) == {("up", "")}
    assert body["database"]["status"] == "up"
    assert not NHS_NUMBER_SHAPED.search(response.text)


async def test_readyz_reports_a_database_that_cannot_be_reached(settings, sources, tmp_path):
    url = make_url(settings.database_url)
    if url.get_backend_name() == "sqlite":
        settings.database_url = f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'neosafe.db'}"
    else:
        settings.database_url = url.set(port=free_port()).render_as_string(hide_password=False)
    app = create_app(settings, sources=sources)  # not started: it would refuse to, with no database

    async with _client(app) as http:
        response = await http.get("/readyz")
    await app.state.checkpoints.sessions.kw["bind"].dispose()

    assert response.status_code == 503
    database = response.json()["database"]
    assert database["status"] == "down"
    assert database["detail"] and "://" not in database["detail"]  # the driver's error class, never the URL


async def test_metrics_count_requests_by_route_template_never_by_patient(ops):
    await ops.get(f"/api/patients/{CASE_V_BABY}/picture")  # no token: 401, still measured
    await ops.get("/healthz")

    response = await ops.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = metrics(response.text)
    seconds = "neosafe_http_request_duration_seconds_count"
    assert found[key(seconds, method="GET", route="/api/patients/{number}/picture", status="401")] >= 1
    assert found[key(seconds, method="GET", route="/healthz", status="200")] >= 1
    assert CASE_V_BABY not in response.text


async def test_metrics_time_source_queries_and_count_failures_per_source(social_care_down):
    before = metrics((await social_care_down.get("/metrics")).text)

    await social_care_down.get("/readyz")

    after = metrics((await social_care_down.get("/metrics")).text)
    failed = key("neosafe_source_request_failures_total", source="social-care", error="SourceUnavailable")
    answered = key("neosafe_source_request_duration_seconds_count", source="neonatal")
    assert after[failed] == before.get(failed, 0) + 1
    assert after[answered] == before.get(answered, 0) + 1


async def test_metrics_give_the_outbox_depth_and_the_age_of_its_oldest_entry(neosafe):
    app, ops = neosafe
    empty = metrics((await ops.get("/metrics")).text)
    assert empty[key("neosafe_outbox_entries", state="queued")] == 0
    assert empty[key("neosafe_outbox_oldest_age_seconds")] == 0
    assert empty[key("neosafe_database_up")] == 1

    async with app.state.checkpoints.sessions() as session:
        for n, (state, age_s) in enumerate([("retrying", 90), ("queued", 30), ("sent", 600)]):
            session.add(_assessment(f"a-{n}"))
            await session.flush()
            entry = OutboxEntry(id=f"o-{n}", assessment_id=f"a-{n}", bundle_json="{}", state=state)
            entry.created_at = NOW - timedelta(seconds=age_s)
            session.add(entry)
        await session.commit()

    found = metrics((await ops.get("/metrics")).text)
    depth = {state: found[key("neosafe_outbox_entries", state=state)] for state in WAITING}
    assert depth == {"queued": 1, "retrying": 1, "needs-attention": 0}
    assert found[key("neosafe_outbox_oldest_age_seconds")] == 90  # the sent one is older, and not waiting


def _assessment(assessment_id: str) -> Assessment:
    return Assessment(
        id=assessment_id,
        nhs_number=CASE_V_BABY,
        checkpoint="admission",
        questionnaire="q|1",
        response_json="{}",
        sources_json="[]",
        author_id="nurse",
        author_role="nurse",
    )


async def test_with_audit_export_on_metrics_count_the_audit_records_not_yet_sent(neosafe):
    app, ops = neosafe
    services = app.state.checkpoints
    assert key("neosafe_audit_unsent") not in metrics((await ops.get("/metrics")).text)  # off: not reported

    services.settings.audit_export = True
    await audit(services.sessions, user_id="u-1", role="nurse", action="view-unit")
    async with services.sessions() as session:
        unsent = len((await session.exec(select(AuditEvent).where(col(AuditEvent.exported_at).is_(None)))).all())

    assert metrics((await ops.get("/metrics")).text)[key("neosafe_audit_unsent")] == unsent >= 1


async def test_readyz_counts_a_user_restricted_source_refusing_the_probe_as_up_and_any_other_as_down(settings, sources):
    """CP-IS answers only a clinician's own CIS2 token, never the probe's: its 401 proves it is reachable. A generic
    source's 401 means NeoSafe's own credentials are refused: not ready."""
    with CpisSandbox(metadata_needs_token=True) as gateway:
        national = SourceSettings(name="cpis", base_url=gateway.url, profile="cpis")
        generic = SourceSettings(name="cpis", base_url=gateway.url)
        others = [s for s in sources if s.name != "cpis"]
        async with serving(settings, [*others, national]) as (_, http):
            restricted = {s["name"]: s for s in (await http.get("/readyz")).json()["sources"]}
        async with serving(settings.model_copy(), [*others, generic]) as (_, http):
            refused = await http.get("/readyz")

    assert (restricted["cpis"]["status"], restricted["cpis"]["detail"]) == ("up", USER_RESTRICTED)
    assert refused.status_code == 503
    (cpis,) = [s for s in refused.json()["sources"] if s["name"] == "cpis"]
    assert cpis["status"] == "down"
