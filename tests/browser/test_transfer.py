"""A discharge coordinator completes the transfer checklist for a baby on a child protection plan, in a browser."""

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
from tests.families import ACTIVE_CP_BABY

pytestmark = pytest.mark.browser


def test_coordinator_completes_the_transfer_checklist_for_a_baby_on_a_cp_plan(live, page: Page, fhir, written):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    open_checklist(page, live.url, ACTIVE_CP_BABY, "transfer")

    expect(page.get_by_role("region", name="Patient")).to_contain_text("Mason DUNMORE")
    # an open CP plan: the social worker must be told, and court orders and who may go with the baby recorded
    expect(page.locator('[data-path="T2-social-worker-told~0"]')).to_be_visible()
    expect(page.locator('[data-path="T3-orders-and-responsibility~0"]')).to_be_visible()
    sources = page.locator(
        '[data-path^="T1-safeguarding-summary~0/T1-safeguarding-summary.source~"][data-path$="name~0"]'
    )
    expect(sources).to_have_count(5)  # one entry per source, pre-filled

    answer_what_is_shown(page)
    assert wcag_violations(page) == []  # every follow-up question now shown
    reference = submit_and_expect_saved(page, "transfer")
    written.append(reference)

    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert found["total"] == 1
    response = found["entry"][0]["resource"]
    assert response["questionnaire"] == "https://neosafe.org.uk/fhir/Questionnaire/transfer|1.2.0"
    assert response["subject"]["reference"] == "Patient/nn-activecp-baby"
    assert {i["linkId"] for i in response["item"]} >= {"T2-social-worker-told", "T3-orders-and-responsibility"}
