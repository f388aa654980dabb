"""axe-core finds no WCAG 2.2 A/AA violation on the pages clinicians use, with and without validation errors."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import open_checklist, sign_in, wcag_violations
from tests.families import ACTIVE_CP_BABY, CASE_V_BABY

pytestmark = pytest.mark.browser

CHECKLISTS = [("admission", CASE_V_BABY), ("transfer", ACTIVE_CP_BABY), ("discharge", CASE_V_BABY)]


@pytest.mark.parametrize(("checkpoint", "nhs_number"), CHECKLISTS, ids=[c for c, _ in CHECKLISTS])
def test_checklist_page_has_no_wcag_violation_before_and_after_a_failed_submit(
    live, page: Page, checkpoint, nhs_number
):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, nhs_number, checkpoint)

    assert wcag_violations(page) == []

    page.get_by_test_id("submit").click()
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("There is a problem")
    assert page.locator(".nhsuk-error-message").count() > 0
    assert wcag_violations(page) == []


def test_patient_page_has_no_wcag_violation(live, page: Page):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    page.goto(f"{live.url}/patients/{CASE_V_BABY}")
    expect(page.get_by_test_id("records")).to_be_visible()

    assert wcag_violations(page) == []
