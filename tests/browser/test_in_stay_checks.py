"""A nurse sees on the baby's page which in-stay checks are overdue and due, and starts one from there."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.web.test_in_stay_checks import admitted_baby

pytestmark = pytest.mark.browser


def test_the_nurse_sees_the_overdue_review_and_starts_the_weekly_check(live, page: Page, fhir):
    baby = admitted_baby(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=73))

    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    page.goto(f"{live.url}/patients/{baby}")

    expect(page.get_by_test_id("in-stay-review-72h")).to_have_attribute("data-state", "overdue")
    expect(page.get_by_test_id("in-stay-review-72h")).to_contain_text("Overdue since")
    expect(page.get_by_test_id("in-stay-father-day7")).to_contain_text("Due by")
    assert wcag_violations(page) == []

    page.get_by_test_id("in-stay-weekly").get_by_role("link", name="Start").click()
    expect(page).to_have_title("Safeguarding checklist: weekly in-stay check – NeoSafe")
    expect(page.locator("#checklist")).to_have_attribute("data-state", "ready")
