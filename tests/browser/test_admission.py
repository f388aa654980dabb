"""A nurse signs in, opens the Case V analogue and completes the admission checklist in a real browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.browser.checklist_pages import (
    answer_what_is_shown,
    sign_in,
    submit_and_expect_saved,
    wait_until_ready,
    wcag_violations,
)

pytestmark = pytest.mark.browser

A8 = "A8-da-enquiry-private"


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
    asked = "Select an answer: Has she been asked about domestic abuse, alone?"
    expect(summary).to_contain_text(asked)
    summary.get_by_role("link", name=asked).click()
    expect(page.locator("#f-A8-da-enquiry-private_0_A8-da-enquiry-private_asked-alone_0")).to_be_focused()
    expect(page.locator(f'[data-path="{A8}~0/{A8}.asked-alone~0"]')).to_contain_text(f"Error: {asked}")

    # Case V: her partner was in the room. The outcome is not asked: the enquiry is not done, with a reason
    page.locator(f'[data-path="{A8}~0/{A8}.asked-alone~0"]').get_by_label("No: a partner").check()
    wait_until_ready(page)
    expect(page.locator(f'[data-path="{A8}~0/{A8}.not-done-reason~0"]')).to_be_visible()
    expect(page.locator(f'[data-path="{A8}~0/{A8}.outcome~0"]')).to_be_hidden()
    page.locator(f'[data-path="{A8}~0/{A8}.asked-alone~0"]').get_by_label("Yes: asked alone").check()
    page.locator(f'[data-path="{A8}~0/{A8}.interpreter~0"]').get_by_label("Family member or partner").check()
    wait_until_ready(page)
    expect(page.locator(f'[data-path="{A8}~0/{A8}.outcome~0"]')).to_be_hidden()  # her partner interpreted
    expect(page.locator(f'[data-path="{A8}~0/{A8}.not-done-reason~0"]')).to_be_visible()

    answer_what_is_shown(page)
    reference = submit_and_expect_saved(page, "admission")
    written.append(reference)
    answers = page.get_by_test_id("answers")
    expect(answers).to_contain_text("A8. Mother asked about domestic abuse alone")
    expect(answers).to_contain_text("The enquiry is not done")
    expect(answers).not_to_contain_text("Outcome of asking her about domestic abuse")
    assert wcag_violations(page) == []  # the saved checklist, read back
    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert found["total"] == 1
    assert found["entry"][0]["resource"]["subject"]["reference"] == "Patient/nn-casev-baby"
