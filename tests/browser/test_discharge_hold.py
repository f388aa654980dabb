"""In a real browser: a discharge checklist held by its own finding (a D12 concern) is shown held, in words; the
safeguarding lead overrides it with a reason from the saved checklist, and the page then says ready for discharge,
with who overrode it, when and why."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.factories import create_baby
from tests.web.test_discharge_holds import discharge, submit

pytestmark = pytest.mark.browser

REASON = "Social worker visits on the day of discharge; health visitor told"


def test_the_lead_overrides_a_held_discharge_with_a_reason_and_it_is_then_ready(live, page: Page, fhir, written):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as nurse:
        assessment = submit(nurse, baby, discharge(nurse, baby, "concern-at-discharge"))
        written.append(assessment)

    sign_in(page, live.url, "Safeguarding lead: Chris Okafor")
    page.goto(f"{live.url}/patients/{baby}/assessments/{assessment}")
    hold = page.get_by_test_id("hold")
    expect(hold).to_contain_text("Held: not ready for discharge")
    expect(page.get_by_test_id("hold-findings")).to_contain_text("A safeguarding concern at discharge (D12): open")
    assert wcag_violations(page) == []

    form = page.get_by_test_id("override-concern-at-discharge")
    form.get_by_role("button", name="Override as Chris Okafor").click()  # no reason: the browser asks for one
    expect(hold).to_contain_text("Held: not ready for discharge")
    form.get_by_label("Why the baby can go home with this, and who acts on it").fill(REASON)
    form.get_by_role("button", name="Override as Chris Okafor").click()

    expect(page.get_by_test_id("hold-outcome")).to_have_text("Ready for discharge")
    findings = page.get_by_test_id("hold-findings")
    expect(findings).to_contain_text("A safeguarding concern at discharge (D12): overridden")
    overrides = page.get_by_test_id("hold-overrides")
    expect(overrides).to_contain_text("overridden by Chris Okafor (Safeguarding lead)")
    expect(overrides).to_contain_text(REASON)
    assert page.get_by_test_id("override-concern-at-discharge").count() == 0
