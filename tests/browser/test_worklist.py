"""The unit's worklist in Chromium (issue 15): the nurse lands on it, filters it without JavaScript, opens a baby
from it; the safeguarding lead reaches their view from it; axe finds no WCAG 2.2 A/AA violation on either."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.web.test_worklist import on_the_unit

pytestmark = pytest.mark.browser


def test_a_nurse_lands_on_the_worklist_filters_it_and_opens_a_baby(live, fhir, page: Page):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=30), "1010196001")
    page.context.route("**/*.js", lambda route: route.abort())  # the worklist needs no JavaScript
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")

    expect(page.get_by_test_id("landing")).to_have_attribute("data-mode", "unit")
    row = page.locator(f'[data-testid="worklist-row"][data-nhs-number="{baby}"]')
    expect(row).to_have_attribute("data-overdue", "true")
    expect(row.get_by_test_id("concern")).to_contain_text("Not gathered yet")
    assert wcag_violations(page) == []

    page.get_by_test_id("worklist-filters").get_by_role("link", name=re.compile(r"^Overdue")).click()
    expect(page).to_have_url(re.compile(r"\?show=overdue$"))
    expect(page.locator('[data-testid="worklist-row"][data-overdue="false"]')).to_have_count(0)
    expect(row).to_be_visible()

    row.get_by_role("link", name="Test BABY").click()
    expect(page).to_have_url(re.compile(rf"/patients/{baby}$"))
    expect(page.get_by_test_id("safeguarding-summary")).to_be_visible()
    page.goto(f"{live.url}/?show=overdue")
    expect(row.get_by_test_id("concern")).not_to_contain_text("Not gathered yet")
    assert wcag_violations(page) == []


def test_the_safeguarding_lead_reaches_their_view_from_the_worklist(live, fhir, page: Page):
    on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=2))
    sign_in(page, live.url, "Safeguarding lead: Chris Okafor")
    expect(page).to_have_url(re.compile(r"/unit/safeguarding$"))  # their home
    page.goto(live.url + "/")

    page.get_by_test_id("lead-view-link").click()
    expect(page).to_have_url(re.compile(r"/unit/safeguarding$"))
    expect(page.get_by_role("heading", name="The unit's safeguarding view", level=1)).to_be_visible()
    expect(page.get_by_test_id("worklist")).to_be_visible()
    assert wcag_violations(page) == []
