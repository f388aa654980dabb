"""What the browser tests share: signing in, answering a checklist as a careful clinician would, and axe-core."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

# Every WCAG 2.0, 2.1 and 2.2 success criterion at levels A and AA that axe-core can test.
WCAG_22_AA = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

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

# A date is the NHS.UK date input: boxes named {path}:day, :month, :year (and :time for a date and time). Today, on
# the unit's clock: a date that must not be in the past (a retry date) and one that must not be in the future (a
# date seen) both take it.
_TODAY = datetime.now(ZoneInfo("Europe/London")).date()
TYPED = {"day": str(_TODAY.day), "month": str(_TODAY.month), "year": str(_TODAY.year), "time": "00:01"}


def sign_in(page: Page, base: str, role_button: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(re.compile(r"/sign-in"))
    page.get_by_role("button", name=role_button).click()


def open_checklist(page: Page, base: str, nhs_number: str, checkpoint: str) -> None:
    page.goto(f"{base}/patients/{nhs_number}")
    page.get_by_role("link", name=f"Start the {checkpoint} checklist").click()
    expect(page.locator("#checklist")).to_have_attribute("data-state", "ready")


def wait_until_ready(page: Page) -> None:
    """The page has asked NeoSafe which follow-up questions now apply, and shows them."""
    expect(page.locator("#checklist")).to_have_attribute("data-state", "ready")


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
                box = name.rpartition(":")[2] if ":" in name else ""
                first.fill(TYPED.get(box, "0" if numeric else "Recorded in the browser test"))
        wait_until_ready(page)
    raise AssertionError("the checklist kept asking new questions")


def submit_and_expect_saved(page: Page, checkpoint: str) -> str:
    """Submit; the assessment page says it is saved and sent. Returns NeoSafe's reference for it."""
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("saved")).to_contain_text(f"{checkpoint.capitalize()} checklist saved")
    expect(page.get_by_test_id("delivery")).to_contain_text("Sent")
    return page.locator("dt:has-text('Reference') + dd").inner_text().strip()


def wcag_violations(page: Page) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it stands, one line each (rule, impact, where)."""
    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG_22_AA}, "resultTypes": ["violations"]})
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:5])}"
        for v in results.response["violations"]
    ]
