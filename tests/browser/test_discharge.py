"""A discharge coordinator completes the discharge checklist for the Case V analogue going home, in a browser."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.browser.checklist_pages import (
    answer_what_is_shown,
    open_checklist,
    sign_in,
    submit_and_expect_saved,
    wcag_violations,
)
from tests.families import CASE_V_BABY

pytestmark = pytest.mark.browser

CARER_NAMES = '[data-path^="D6-icon~0/D6-icon.carer~"] [data-path$="D6-icon.carer.name~0"]'
PERSON_NAMES = '[data-path^="D5-carers~0/D5-carers.person~"] [data-path$="D5-carers.person.name~0"]'


def test_coordinator_completes_the_discharge_checklist_for_the_case_v_analogue(live, page: Page, fhir, written):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    open_checklist(page, live.url, CASE_V_BABY, "discharge")

    # historic domestic abuse: the mother is asked alone again before discharge
    expect(page.locator('[data-path="D4-da-enquiry-private~0"]')).to_be_visible()
    # coping-with-crying advice is recorded for each person separately: the mother, the father and her son too,
    # one entry for each person D5 lists (extended family included)
    expect(page.locator(CARER_NAMES)).to_have_count(page.locator(PERSON_NAMES).count())
    expect(page.locator(CARER_NAMES)).to_have_count(3)
    # born at 26 weeks: once the clinician says so, safer-sleep advice to each parent is asked for
    preterm = page.locator('[data-path="D7-preterm-or-low-birthweight~0/D7-preterm-or-low-birthweight.answer~0"]')
    preterm.get_by_label("Yes").check()
    expect(page.locator('[data-path="D7-safer-sleep~0"]')).to_be_visible()

    page.get_by_test_id("submit").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Select an answer: Has she been asked about domestic abuse, alone?")

    answer_what_is_shown(page)
    assert wcag_violations(page) == []
    reference = submit_and_expect_saved(page, "discharge")
    written.append(reference)

    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert found["total"] == 1
    response = found["entry"][0]["resource"]
    assert response["questionnaire"] == "https://neosafe.org.uk/fhir/Questionnaire/discharge|1.6.0"
    icon = next(i for i in response["item"] if i["linkId"] == "D6-icon")
    assert len([i for i in icon["item"] if i["linkId"] == "D6-icon.carer"]) == 3  # everyone will care, as answered
