"""The assurance page (issue 19 item 2): the safeguarding lead sees each figure as a number, a chart and a table
linking to the babies; any other role is refused (403) and the refusal audited; the CSV export round-trips."""

from __future__ import annotations

import asyncio
import html
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory, upgrade
from app.assurance import read_csv
from app.assurance.figures import owner_key
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


def test_the_babies_behind_an_overdue_task_are_one_click_away_with_when_it_was_last_checked(assured):
    live, _ = assured
    figure = f"task-closure-{owner_key('Named neonatal nurse')}"
    with live.browser("safeguarding-lead") as lead:
        page = lead.get("/unit/assurance", params=SPAN).text
        assert "Tasks closed on time or overdue: Named neonatal nurse" in page
        babies = lead.get("/unit/assurance/babies", params={**SPAN, "figure": figure, "month": "2026-10",
                                                             "outcome": "overdue"})  # fmt: skip
    assert babies.status_code == 200
    assert 'href="/patients/9990000011/assessments/a-adm"' in babies.text
    assert "still open when checked 30 November 2026 12:00 (UK time)" in babies.text


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
        for path in ("/unit/assurance", "/unit/assurance.csv", "/unit/assurance.pdf"):
            refused = other.get(path, params=SPAN)
            assert refused.status_code == 403
            assert "9990000022" not in refused.text
            assert not refused.content.startswith(b"%PDF") and "pdf" not in refused.headers["content-type"]
    refusals = [e for e in asyncio.run(_audit(url)) if e.action == "assure" and e.role == role]
    assert len(refusals) == 3 and {e.outcome for e in refusals} == {"refused"}


def test_the_lead_s_viewing_is_audited_with_the_period(assured):
    live, url = assured
    with live.browser("safeguarding-lead") as lead:
        assert lead.get("/unit/assurance", params=SPAN).status_code == 200
    views = [e for e in asyncio.run(_audit(url)) if e.action == "view-assurance"]
    assert views and views[-1].detail == "2026-10 to 2026-11" and views[-1].role == "safeguarding-lead"


@pytest.mark.parametrize("path", ["/unit/assurance", "/unit/assurance.pdf"])
def test_a_period_that_is_not_months_is_refused(assured, path):
    live, _ = assured
    with live.browser("safeguarding-lead") as lead:
        for period in ({"from": "2026-13"}, {"from": "2024-01", "to": "2026-11"}, {"from": "2026-11", "to": "2026-10"}):
            refused = lead.get(path, params=period)
            assert refused.status_code == 400, period
            assert "period" in refused.text or "YYYY-MM" in refused.text
            assert not refused.content.startswith(b"%PDF")


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


def _pdf(live: LiveServer) -> tuple[PdfReader, str]:
    with live.browser("safeguarding-lead") as lead:
        page = lead.get("/unit/assurance", params=SPAN).text
        pdf = lead.get("/unit/assurance.pdf", params=SPAN)
    assert pdf.status_code == 200, pdf.text
    assert pdf.headers["content-type"] == "application/pdf"
    assert 'filename="neosafe-assurance-2026-10-to-2026-11.pdf"' in pdf.headers["content-disposition"]
    return PdfReader(io.BytesIO(pdf.content)), page


def _text(reader: PdfReader) -> str:
    """The PDF's text, its white space made single spaces (a tag's padding reads as a space before a ";")."""
    return re.sub(r" ([;.])", r"\1", re.sub(r"\s+", " ", " ".join(p.extract_text() for p in reader.pages)))


def _structure(node, found: list) -> list:
    """Every element of the PDF's structure tree, as (type, alternative text)."""
    node = node.get_object()
    if "/S" in node:
        found.append((node["/S"], node.get("/Alt")))
    kids = node.get("/K")
    for kid in kids if isinstance(kids, list) else [kids] if kids is not None else []:
        kid = kid.get_object()
        if isinstance(kid, dict):
            _structure(kid, found)
    return found


def test_the_page_links_to_the_board_s_pdf_next_to_the_csv(assured):
    live, _ = assured
    with live.browser("safeguarding-lead") as lead:
        html = lead.get("/unit/assurance", params=SPAN).text
    csv = html.index('href="/unit/assurance.csv?from=2026-10&amp;to=2026-11"')
    pdf = html.index('href="/unit/assurance.pdf?from=2026-10&amp;to=2026-11"')
    assert 0 < pdf - csv < 300


def test_the_board_s_pdf_is_tagged_and_its_first_page_says_which_months_which_unit_when_and_by_whom(assured):
    live, _ = assured
    reader, _ = _pdf(live)

    root = reader.trailer["/Root"]
    assert "/StructTreeRoot" in root and root["/MarkInfo"]["/Marked"]  # tagged: a screen reader can read it
    assert root["/Lang"] == "en-GB"
    assert root["/ViewerPreferences"]["/DisplayDocTitle"]
    assert reader.metadata.title == (
        "Safeguarding assurance for the Board (Section 11): Riverside Neonatal Unit (ODS code RNS01), "
        "2026-10 to 2026-11"
    )
    elements = _structure(root["/StructTreeRoot"], [])
    charts = [alt for kind, alt in elements if kind == "/Figure"]
    assert len(charts) == len(EXPECTED) and all(alt.startswith("Bar chart of ") for alt in charts)
    assert sum(kind == "/Table" for kind, _ in elements) == len(EXPECTED)
    assert {"/H1", "/H2", "/H3", "/TH", "/TD"} <= {kind for kind, _ in elements}

    first = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    assert "Months 2026-10 to 2026-11" in first
    assert "Unit Riverside Neonatal Unit (ODS code RNS01)" in first
    assert re.search(r"Made \d\d:\d\d on \d{1,2} \w+ 20\d\d \(UK time\)", first)
    assert "Made by Chris Okafor (Safeguarding lead)" in first


def test_each_figure_in_the_pdf_is_the_page_s_number_and_table_with_its_chart_drawn(assured):
    live, _ = assured
    reader, page_html = _pdf(live)
    text = _text(reader)

    sections = re.findall(r'<section[^>]*data-figure="([^"]+)".*?</section>', page_html, re.S)
    assert sorted(sections) == sorted(EXPECTED)
    for body in sections_html(page_html):
        title = html.unescape(re.search(r"<h3[^>]*>([^<]+)</h3>", body).group(1))
        totals = re.findall(r'<span data-outcome="[^"]+">(.*?)</span>', body)  # "2 on time", "1 … should be zero"
        said = "; ".join(html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", t))) for t in totals)
        assert f"{title} Over the months: {said}" in text, title
        heads = [html.unescape(h) for h in re.findall(r'<th scope="col">([^<]+)</th>', body)]
        rows = [
            f"{month} " + " ".join(re.findall(r'data-outcome="[^"]+">(?:<a[^>]*>)?(\d+)', row))
            for month, row in re.findall(r'<th scope="row"[^>]*>([^<]+)</th>(.*?)</tr>', body, re.S)
        ]
        assert f"{title} by month {' '.join(heads)} {' '.join(rows)}" in text, title

    # the figures the page gives are the seeded history's: two admissions on time, one late, one missing
    assert "admission checklist Over the months: 2 on time; 1 late; 0 timing not known; 1 missing" in text
    # each chart is drawn (pygal's SVG, as vector graphics): its month labels are there beside its table's, its
    # legend has a square for each outcome, and its bars (or legend) are filled and edged in the NHS blue of the first
    assert text.count("2026-10") >= 2 * len(EXPECTED)
    drawn = b"".join(page.get_contents().get_data() for page in reader.pages)
    outcomes = sum(len(re.findall(r'<th scope="col">', body)) - 1 for body in sections_html(page_html))
    assert len(re.findall(rb" 12 12 re\nB\n", drawn)) == outcomes
    assert len(BLUE_BOX.findall(drawn)) >= len(EXPECTED)


BLUE_BOX = re.compile(rb"0 0\.368627 0\.721569 RG\n(?:[^\n]*\n){0,6}?[-\d. ]+ re\nB\n")  # a rectangle, NHS blue


def sections_html(page: str) -> list[str]:
    return re.findall(r'<section[^>]*data-figure="[^"]+".*?</section>', page, re.S)


def test_no_baby_nor_what_an_override_said_is_in_the_board_s_pdf(assured):
    live, _ = assured
    reader, _ = _pdf(live)
    text = _text(reader)
    for number in ("9990000011", "9990000022", "9990000033", "9990000044", "9990000055"):
        assert number not in text and f"{number[:3]} {number[3:6]} {number[6:]}" not in text
    # nor the detail behind a count: who overrode and why, a checklist's free text, a checklist's id
    for detail in ("Alex Morgan", "Consultant reviewed", "Social worker agreed", "partner always present", "b-adm"):
        assert detail not in text
    assert "Pictures where the source was unavailable: Maternity record" in text  # the source by its name


def test_the_lead_s_pdf_is_audited_with_the_period(assured):
    live, url = assured
    _pdf(live)
    downloads = [e for e in asyncio.run(_audit(url)) if e.action == "download-assurance-pdf"]
    assert downloads and downloads[-1].detail == "2026-10 to 2026-11" and downloads[-1].role == "safeguarding-lead"
