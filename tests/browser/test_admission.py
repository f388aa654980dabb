"""A nurse signs in, opens the Case V analogue and completes the admission checklist in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.browser.checklist_pages import answer_what_is_shown, sign_in, submit_and_expect_saved, wcag_violations

pytestmark = pytest.mark.browser


def test_nurse_completes_case_v_admission_checklist(live, page: Page, fhir, written):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    page.get_by_role("link", name="Zofia BRZOZAK").click()

    banner = page.get_by_role("region", name="Patient")
    expect(banner).to_contain_text("Zofia BRZOZAK")
    expect(banner).to_contain_text("999 010 1000")
    expect(banner).to_contain_text("20 November 2026")
    records = page.get_by_test_id("records")
    expect(records).to_contain_text("Child in need")
    expect(records).to_contain_text("12 May 2024 to 20 March 2025")
    expect(records).to_contain_text("Police domestic incident report received")

    page.get_by_role("link", name="Start the admission checklist").click()
    expect(page.locator('[data-path="A8-da-enquiry-private~0"]')).to_be_visible()  # historic DA makes it apply
    page.get_by_test_id("submit").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()  # read out first, and the keyboard starts there
    expect(summary).to_contain_text("There is a problem")
    expect(summary).to_contain_text("Select outcome of asking the mother about domestic abuse privately")
    summary.get_by_role("link", name="Select outcome of asking the mother about domestic abuse privately").click()
    expect(page.locator("#f-A8-da-enquiry-private_0_A8-da-enquiry-private_outcome_0")).to_be_focused()
    expect(page.locator('[data-path="A8-da-enquiry-private~0/A8-da-enquiry-private.outcome~0"]')).to_contain_text(
        "Error: Select outcome of asking the mother about domestic abuse privately"
    )

    answer_what_is_shown(page)
    reference = submit_and_expect_saved(page, "admission")
    written.append(reference)
    expect(page.get_by_test_id("answers")).to_contain_text("A8. Mother asked about domestic abuse privately")
    assert wcag_violations(page) == []  # the saved checklist, read back
    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["subject"]["reference"] == "Patient/nn-casev-baby"
