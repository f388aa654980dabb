"""The risk first, in Chromium (issue 13 items 1, 2, 6's one-screen aim): the summary at the top of the baby page and
each checklist, the Case V analogue's on one 1280×800 screen, the banner in view while the checklist scrolls (never
over what is focused), the whole picture one click away, and in words a clinician reads."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.checklist_pages import open_checklist, sign_in, wcag_violations
from tests.browser.conftest import EXPECT_TIMEOUT_MS
from tests.families import CASE_V_BABY, NO_CONCERNS_BABY

pytestmark = pytest.mark.browser

NURSE = "Neonatal nurse: Alex Morgan"
# Authoring text, references and raw codes that must never reach a clinician above the form.
NOT_FOR_CLINICIANS = re.compile(
    r"Source: SEED|SEED R4|\[\d+\]|Proposal for clinical review|\bcpis\b|none-found|not-configured|police-gp|"
    r"social-care\b|uncategorised-flag|identity-mismatch|not-checked"
)


@pytest.fixture
def screen(browser: Browser) -> Page:
    """A 1280×800 laptop screen, the unit's computers' usual size."""
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(EXPECT_TIMEOUT_MS)
    yield context.new_page()
    context.close()


def test_case_v_summary_fits_one_screen_and_leads_with_the_domestic_abuse_history(live, screen: Page):
    sign_in(screen, live.url, NURSE)
    for address in (f"/patients/{CASE_V_BABY}", f"/patients/{CASE_V_BABY}/checklists/admission"):
        screen.goto(live.url + address)
        summary = screen.get_by_test_id("safeguarding-summary")
        expect(summary).to_be_visible()
        expect(summary.locator("[data-tier]").first).to_contain_text("History of domestic abuse")
        height = summary.bounding_box()["height"]
        assert height <= 800, f"{address}: the summary is {height:.0f} px tall, more than one 800 px screen"

    assert wcag_violations(screen) == []


def test_the_summary_is_above_everything_else_on_the_baby_page(live, screen: Page):
    sign_in(screen, live.url, NURSE)
    screen.goto(f"{live.url}/patients/{CASE_V_BABY}")

    summary = screen.get_by_test_id("safeguarding-summary").bounding_box()
    banner = screen.locator(".neosafe-banner").bounding_box()
    records = screen.get_by_test_id("records").bounding_box()
    assert banner["y"] < summary["y"] < records["y"]
    assert summary["y"] < 800  # it starts on the first screen, not below the fold
    text = screen.get_by_test_id("safeguarding-summary").inner_text()
    assert not NOT_FOR_CLINICIANS.search(text), NOT_FOR_CLINICIANS.search(text)


def test_the_banner_stays_in_view_while_the_checklist_scrolls(live, screen: Page):
    sign_in(screen, live.url, NURSE)
    open_checklist(screen, live.url, CASE_V_BABY, "admission")

    screen.evaluate("window.scrollTo(0, document.body.scrollHeight / 2)")
    screen.wait_for_function("window.scrollY > 1000")
    banner = screen.locator(".neosafe-banner")
    box = banner.bounding_box()
    assert abs(box["y"]) <= 1 and box["height"] < 200, box  # at the top of the screen, and not a screenful itself
    expect(banner).to_contain_text("999 010 1000")
    expect(banner).to_be_in_viewport()


def test_a_field_reached_from_the_error_summary_is_not_under_the_banner(live, screen: Page):
    sign_in(screen, live.url, NURSE)
    open_checklist(screen, live.url, NO_CONCERNS_BABY, "admission")
    screen.get_by_test_id("submit").click()
    errors = screen.locator(".nhsuk-error-summary__list a")
    expect(errors.first).to_be_visible()

    for index in (0, errors.count() - 1):  # the first error, and the last (far down the page)
        errors.nth(index).click()
        screen.wait_for_timeout(200)  # the smooth scroll, if any, to finish
        banner = screen.locator(".neosafe-banner").bounding_box()
        focused = screen.evaluate(
            """() => {
              const el = document.activeElement;
              const group = el.closest('.nhsuk-form-group') || el;
              const label = group.querySelector('legend, label') || el;
              return {field: el.getBoundingClientRect().top, label: label.getBoundingClientRect().top,
                      tag: el.tagName};
            }"""
        )
        assert focused["tag"] in ("INPUT", "TEXTAREA", "SELECT"), focused
        bottom = banner["y"] + banner["height"]
        assert focused["field"] >= bottom and focused["label"] >= bottom, (focused, banner)


def test_the_picture_above_the_form_is_collapsed_and_one_click_away_in_words(live, screen: Page):
    sign_in(screen, live.url, NURSE)
    open_checklist(screen, live.url, CASE_V_BABY, "admission")

    detail = screen.get_by_test_id("picture-detail")
    expect(detail).not_to_have_attribute("open", "")
    expect(screen.get_by_test_id("records")).to_be_hidden()
    detail.locator("summary").click()
    expect(screen.get_by_test_id("records")).to_be_visible()
    expect(screen.get_by_test_id("records")).to_contain_text("Suspected domestic abuse")

    above = screen.evaluate(
        """() => [document.querySelector('.neosafe-banner'),
                  document.querySelector('[data-testid="safeguarding-summary"]'),
                  document.querySelector('[data-testid="picture-detail"]')].map((e) => e.innerText).join('\\n')"""
    )
    assert not NOT_FOR_CLINICIANS.search(above), NOT_FOR_CLINICIANS.search(above)
    assert "Mother (mother)" not in above
    assert wcag_violations(screen) == []
