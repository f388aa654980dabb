"""axe-core finds no WCAG 2.2 A/AA violation on the pages clinicians use, with and without validation errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from playwright.sync_api import Page, expect

from tests.answering import answer_everything
from tests.browser.checklist_pages import open_checklist, sign_in, wcag_violations
from tests.factories import on_the_unit
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


def test_handover_page_has_no_wcag_violation(live, page: Page):
    sign_in(page, live.url, "Community neonatal nurse: Jo Williams")
    page.goto(f"{live.url}/patients/{CASE_V_BABY}/handover")
    expect(page.get_by_role("heading", level=1)).to_be_visible()

    assert wcag_violations(page) == []


def test_a_checklist_waiting_for_its_co_signature_has_no_wcag_violation(live, page: Page, fhir):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(days=3), "1010196001")  # a concern: co-signed
    with live.client("nurse") as api:
        questionnaire = api.get("/api/checklists/discharge").raise_for_status().json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/discharge").json())
        assessment = api.post(f"/api/patients/{baby}/assessments", json=response).raise_for_status().json()["id"]
    sign_in(page, live.url, "Safeguarding lead: Chris Okafor")
    page.goto(f"{live.url}/patients/{baby}/assessments/{assessment}")
    expect(page.get_by_test_id("cosign")).to_be_visible()

    assert wcag_violations(page) == []
