"""The assurance page in Chromium (issue 19): its charts show, and axe finds no WCAG 2.2 A/AA violation."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.main import create_app
from tests.assurance.seeded import EXPECTED
from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.conftest import make_settings
from tests.servers import serving
from tests.web.test_assurance import _seed

pytestmark = pytest.mark.browser


def test_the_assurance_page_draws_its_charts_and_is_axe_clean(sources, tmp_path: Path, page: Page):
    settings = make_settings(tmp_path)
    with ThreadPoolExecutor(max_workers=1) as thread:  # Playwright's own loop runs on this one
        thread.submit(asyncio.run, _seed(settings.database_url)).result()
    with serving(create_app(settings, sources=sources)) as url:
        sign_in(page, url, "Safeguarding lead: Chris Okafor")
        page.goto(f"{url}/unit/assurance?from=2026-10&to=2026-11")
        expect(page.get_by_test_id("assurance")).to_be_visible()
        charts = page.locator('[data-testid="figure"] img')
        expect(charts).to_have_count(len(EXPECTED))  # every figure the seeded history gives, each with its chart
        assert charts.first.evaluate("img => img.complete && img.naturalWidth > 0")
        assert wcag_violations(page) == []
        page.locator('[data-figure="timeliness-admission"] td[data-month="2026-10"][data-outcome="late"] a').click()
        expect(page.get_by_test_id("figure-babies").get_by_role("link").first).to_have_text("NHS number 999 000 0022")
        assert wcag_violations(page) == []
