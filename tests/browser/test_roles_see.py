"""Roles see what they can do, in Chromium (issue 13 item 5): after signing in each role lands where its work is,
and a role is never offered an action it cannot take (app.checkpoints.policy decides both)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.families import CASE_V_BABY

pytestmark = pytest.mark.browser


def test_a_community_nurse_lands_on_the_handovers_and_is_offered_no_checklist(live, page: Page):
    sign_in(page, live.url, "Community neonatal nurse: Jo Williams")

    expect(page.get_by_test_id("landing")).to_have_attribute("data-mode", "handovers")
    expect(page.get_by_role("heading", name="Handovers for the community team")).to_be_visible()
    assert wcag_violations(page) == []
    page.locator(f'a[href="/patients/{CASE_V_BABY}/handover"]').click()
    expect(page).to_have_url(re.compile(rf"/patients/{CASE_V_BABY}/handover$"))

    page.goto(f"{live.url}/patients/{CASE_V_BABY}")
    expect(page.get_by_test_id("safeguarding-summary")).to_be_visible()
    expect(page.get_by_role("link", name=re.compile(r"^Start"))).to_have_count(0)
    expect(page.get_by_test_id("no-checklists")).to_be_visible()
    expect(page.get_by_test_id("handover-link")).to_be_visible()


def test_a_discharge_coordinator_is_offered_only_transfer_and_discharge(live, page: Page):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    expect(page.get_by_test_id("landing")).to_have_attribute("data-mode", "unit")
    page.goto(f"{live.url}/patients/{CASE_V_BABY}")

    starts = page.get_by_test_id("start-checklists").get_by_role("link")
    expect(starts).to_have_text(["Start the transfer checklist", "Start the discharge checklist"])


def test_a_safeguarding_lead_lands_on_their_view_of_the_unit(live, page: Page):
    """Issue 13 item 5: the lead's work is across the unit (the unit page stays at /)."""
    sign_in(page, live.url, "Safeguarding lead: Chris Okafor")

    expect(page.get_by_role("heading", name="The unit's safeguarding view", level=1)).to_be_visible()
    expect(page.get_by_test_id("worklist")).to_be_visible()
