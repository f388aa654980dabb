"""The assurance page (issue 19 item 2): the safeguarding lead sees each figure as a number, a chart and a table
linking to the babies; any other role is refused (403) and the refusal audited; the CSV export round-trips."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory, upgrade
from app.assurance import read_csv
from app.main import create_app
from tests.assurance.seeded import EXPECTED, seed_history
from tests.conftest import LiveServer, make_settings
from tests.servers import serving

SPAN = {"from": "2026-10", "to": "2026-11"}


async def _seed(url: str) -> None:
    engine = make_engine(url)
    await upgrade(engine)
    await seed_history(session_factory(engine))
    await engine.dispose()


async def _audit(url: str) -> list[AuditEvent]:
    engine = make_engine(url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(AuditEvent).where(AuditEvent.nhs_number.is_(None)))).all())
    await engine.dispose()
    return found


@pytest.fixture(scope="module")
def assured(sources, tmp_path_factory) -> Iterator[tuple[LiveServer, str]]:
    """A NeoSafe of its own, on a database holding only the seeded history, so every count is known."""
    settings = make_settings(Path(tmp_path_factory.mktemp("assurance")))
    asyncio.run(_seed(settings.database_url))
    with serving(create_app(settings, sources=sources)) as url:
        yield LiveServer(url), settings.database_url


def test_the_lead_sees_each_figure_with_its_chart_and_the_babies_one_click_away(assured):
    live, _ = assured
    with live.browser("safeguarding-lead") as lead:
        page = lead.get("/unit/assurance", params=SPAN)
        assert page.status_code == 200, page.text
        html = page.text
        assert html.count('data-testid="figure"') == len(EXPECTED)
        assert html.count("data:image/svg+xml;base64,") == len(EXPECTED)
        link = (
            "/unit/assurance/babies?figure=timeliness-admission&amp;month=2026-10&amp;outcome=late"
            "&amp;from=2026-10&amp;to=2026-11"
        )
        assert link in html
        babies = lead.get(link.replace("&amp;", "&"))
        assert babies.status_code == 200
        assert 'href="/patients/9990000022"' in babies.text
        assert 'href="/patients/9990000022/assessments/b-adm-2"' in babies.text


def test_the_csv_round_trips_to_the_page_s_figures(assured):
    live, _ = assured
    with live.browser("safeguarding-lead") as lead:
        export = lead.get("/unit/assurance.csv", params=SPAN)
    assert export.status_code == 200
    assert export.headers["content-type"].startswith("text/csv")
    back = {k: v for k, v in read_csv(export.text).items() if v}
    assert back == {(key, m, o): n for key, cells in EXPECTED.items() for (m, o), n in cells.items()}


@pytest.mark.parametrize("role", ["nurse", "discharge-coordinator", "community-nurse"])
def test_another_role_is_refused_and_the_refusal_audited(assured, role):
    live, url = assured
    with live.browser(role) as other:
        for path in ("/unit/assurance", "/unit/assurance.csv"):
            refused = other.get(path, params=SPAN)
            assert refused.status_code == 403
            assert "9990000022" not in refused.text
    refusals = [e for e in asyncio.run(_audit(url)) if e.action == "assure" and e.role == role]
    assert len(refusals) == 2 and {e.outcome for e in refusals} == {"refused"}


def test_the_lead_s_viewing_is_audited_with_the_period(assured):
    live, url = assured
    with live.browser("safeguarding-lead") as lead:
        assert lead.get("/unit/assurance", params=SPAN).status_code == 200
    views = [e for e in asyncio.run(_audit(url)) if e.action == "view-assurance"]
    assert views and views[-1].detail == "2026-10 to 2026-11" and views[-1].role == "safeguarding-lead"


def test_a_period_that_is_not_months_is_refused(assured):
    live, _ = assured
    with live.browser("safeguarding-lead") as lead:
        assert lead.get("/unit/assurance", params={"from": "2026-13"}).status_code == 400
        assert lead.get("/unit/assurance", params={"from": "2024-01", "to": "2026-11"}).status_code == 400


def test_the_pictures_where_a_source_answered_are_counted_and_not_listed(assured):
    live, _ = assured
    cell = {"figure": "sources-maternity", "month": "2026-10", **SPAN}
    with live.browser("safeguarding-lead") as lead:
        page = lead.get("/unit/assurance", params=SPAN).text
        unavailable = lead.get("/unit/assurance/babies", params={**cell, "outcome": "unavailable"})
        answered = lead.get("/unit/assurance/babies", params={**cell, "outcome": "answered"})
    assert "figure=sources-maternity&amp;month=2026-10&amp;outcome=unavailable" in page
    assert "figure=sources-maternity&amp;month=2026-10&amp;outcome=answered" not in page
    maternity = page.split('data-figure="sources-maternity"', 1)[1].split("</section>", 1)[0]
    assert 'data-month="2026-10" data-outcome="answered">2</td>' in maternity  # the count, not a link (nor 0)
    assert unavailable.status_code == 200 and 'href="/patients/9990000022/assessments/b-adm-2"' in unavailable.text
    assert answered.status_code == 400
