"""A checklist can be completed with the keyboard alone: Tab, Shift+Tab, Space, arrow keys and typing; no mouse.

For each checkpoint, the nurse signs in, opens the baby's checklist, answers every question that appears (choosing
the first option each time opens most follow-up questions) and saves, without a single click; after a failed
submit, the error summary's links reach the field. Uses the family with no concerns, so no source record decides
for the nurse which questions appear.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.checklist_pages import TYPED, wait_until_ready
from tests.families import NO_CONCERNS_BABY

pytestmark = pytest.mark.browser

FOCUSED = """() => {
  const el = document.activeElement;
  const form = document.getElementById('checklist');
  const group = el && el.name && form ? form.querySelectorAll(`input[name="${CSS.escape(el.name)}"]`) : [];
  return {
    inForm: !!(form && form.contains(el)),
    tag: el ? el.tagName.toLowerCase() : '',
    type: (el && el.type) || '',
    inputmode: (el && el.inputMode) || '',
    name: (el && el.name) || '',
    value: (el && el.value) || '',
    text: el ? el.textContent.trim() : '',
    testid: (el && el.dataset && el.dataset.testid) || '',
    answered: [...group].some((o) => o.checked),
  };
}"""

# A date is the NHS.UK date input: a box each for the day, month and year (and the time, 24-hour), each reached by Tab.
DATE = {name: [value] for name, value in TYPED.items()}  # today, as answer_what_is_shown types it
TEXT = ["Recorded using the keyboard only"]
# Whole and decimal numbers are text fields with a numeric keyboard (the GOV.UK pattern), so they take digits.
NUMBER = {"numeric": ["3"], "decimal": ["2.5"]}


@pytest.fixture
def uk_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1100, "height": 900}, locale="en-GB", timezone_id="Europe/London")
    yield context.new_page()
    context.close()


def focused(page: Page) -> dict:
    return page.evaluate(FOCUSED)


def tab_until(page: Page, wanted, limit: int = 200) -> dict:
    """Press Tab until the focused element is the one wanted; fail if it never comes."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if wanted(now):
            return now
    raise AssertionError("Tab never reached the element wanted")


def typed_into(now: dict) -> bool:
    return now["tag"] == "textarea" or now["type"] == "text"


def sign_in_by_keyboard(page: Page, base: str) -> None:
    page.goto(base + "/")
    tab_until(page, lambda f: f["text"].startswith("Neonatal nurse"))
    page.keyboard.press("Enter")
    expect(page).not_to_have_url(re.compile(r"/sign-in"))


def answer_by_keyboard(page: Page, now: dict) -> None:
    """Answer the focused control if it has no answer yet: Space for options, typing for text."""
    if now["type"] in ("radio", "checkbox"):
        if not now["answered"]:
            page.keyboard.press("Space")
    elif typed_into(now) and not now["value"] and not now["name"].endswith(":other"):
        box = now["name"].rpartition(":")[2] if ":" in now["name"] else ""
        typing = DATE.get(box) or NUMBER.get(now["inputmode"], TEXT)
        for keys in typing:
            page.keyboard.press(keys) if keys == "Tab" else page.keyboard.type(keys)
    wait_until_ready(page)


@pytest.mark.parametrize("checkpoint", ["admission", "transfer", "discharge"])
def test_a_nurse_completes_each_checklist_with_the_keyboard_alone(live, uk_page: Page, written, checkpoint):
    page = uk_page
    sign_in_by_keyboard(page, live.url)
    page.goto(f"{live.url}/patients/{NO_CONCERNS_BABY}")
    tab_until(page, lambda f: f["text"] == f"Start the {checkpoint} checklist")
    page.keyboard.press("Enter")
    wait_until_ready(page)

    # Arrow keys move between the options of a question, and choose as they go.
    first = tab_until(page, lambda f: f["inForm"] and f["type"] == "radio")
    page.keyboard.press("ArrowDown")
    wait_until_ready(page)
    options = page.locator(f'input[name="{first["name"]}"]')
    expect(options.nth(1)).to_be_checked()
    page.keyboard.press("ArrowUp")
    wait_until_ready(page)
    expect(options.nth(0)).to_be_checked()

    # Then every question in turn, until Tab reaches "Save checklist".
    now = focused(page)
    for _ in range(1500):
        if now["testid"] == "submit":
            break
        if now["inForm"]:
            answer_by_keyboard(page, now)
        page.keyboard.press("Tab")
        wait_until_ready(page)
        now = focused(page)
    else:
        raise AssertionError("never reached the Save button")
    page.keyboard.press("Enter")

    expect(page.get_by_test_id("saved")).to_contain_text(f"{checkpoint.capitalize()} checklist saved")
    written.append(page.locator("dt:has-text('Reference') + dd").inner_text().strip())


def test_after_a_failed_submit_the_keyboard_starts_at_the_error_summary_and_its_links_reach_the_field(
    live, uk_page: Page
):
    page = uk_page
    sign_in_by_keyboard(page, live.url)
    page.goto(f"{live.url}/patients/{NO_CONCERNS_BABY}/checklists/transfer")
    tab_until(page, lambda f: f["testid"] == "submit", limit=400)
    page.keyboard.press("Enter")

    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()  # nhsuk-frontend moves focus here, so it is read out first
    expect(page).to_have_title("Error: Safeguarding checklist: transfer – NeoSafe")
    link = tab_until(
        page,
        lambda f: f["tag"] == "a" and page.evaluate("document.activeElement.closest('.nhsuk-error-summary') !== null"),
    )
    page.keyboard.press("Enter")
    target = link["text"]
    field = focused(page)
    assert field["inForm"] and field["tag"] in ("input", "textarea"), (target, field)
    message = page.locator(".nhsuk-error-message").first
    expect(message).to_contain_text(target)
