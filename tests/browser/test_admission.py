"""A nurse signs in, opens the Case V analogue and completes the admission checklist in a real browser."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from app.assessments import ASSESSMENT_TAG_SYSTEM

pytestmark = pytest.mark.browser

VISIBLE_UNANSWERED = """() => {
  const shown = (el) => !el.closest('[hidden]');
  const groups = new Set();
  for (const el of document.querySelectorAll('#checklist input, #checklist textarea')) {
    if (!shown(el) || el.type === 'hidden' || el.name.endsWith(':other')) continue;
    if (el.type === 'radio' || el.type === 'checkbox') {
      const all = document.querySelectorAll(`input[name="${CSS.escape(el.name)}"]`);
      if (![...all].some((o) => o.checked)) groups.add(el.name);
    } else if (!el.value) {
      groups.add(el.name);
    }
  }
  return [...groups];
}"""

TYPED = {"date": "2026-11-25", "datetime-local": "2026-11-25T10:00"}


def answer_what_is_shown(page: Page) -> None:
    """Answer each shown, unanswered question as a careful nurse would, until nothing new appears."""
    for _ in range(20):
        names = page.evaluate(VISIBLE_UNANSWERED)
        if not names:
            return
        for name in names:
            first = page.locator(f'[name="{name}"]').first
            kind = first.get_attribute("type") or "textarea"
            if kind in ("radio", "checkbox"):
                first.check()
            else:
                numeric = first.get_attribute("inputmode") == "numeric"
                first.fill(TYPED.get(kind, "0" if numeric else "Recorded in the browser test"))
        # the page asks NeoSafe which follow-up questions now apply
        expect(page.locator("#checklist")).to_have_attribute("data-state", "ready")
    raise AssertionError("the checklist kept asking new questions")


def sign_in(page: Page, base: str, role_button: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_role("button", name=role_button).click()


def test_nurse_completes_case_v_admission_checklist(live, page: Page, fhir):
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
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("There is a problem")
    expect(page.locator(".nhsuk-error-summary")).to_contain_text("Outcome of asking the mother about domestic abuse")

    answer_what_is_shown(page)
    page.get_by_test_id("submit").click()

    expect(page.get_by_test_id("saved")).to_contain_text("Admission checklist saved")
    expect(page.get_by_test_id("delivery")).to_contain_text("Sent")
    reference = page.locator("dt:has-text('Reference') + dd").inner_text().strip()
    written = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert written["total"] == 1
    assert written["entry"][0]["resource"]["subject"]["reference"] == "Patient/nn-casev-baby"
