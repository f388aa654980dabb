"""Amending a saved checklist in a real browser: follow-up questions appear as the changed answers make them apply,
exactly as on a first version (the page asks `{form action}/enabled`, which the amend page answers too)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import (
    answer_what_is_shown,
    open_checklist,
    sign_in,
    submit_and_expect_saved,
    wait_until_ready,
)
from tests.factories import create_baby

pytestmark = pytest.mark.browser

MAN = "A5-father-seen~0/A5-father-seen.man~0"
FATHER = '[data-path="A4-household~0/A4-household.father-recorded~0"]'
SEEN = f"{MAN}/A5-father-seen.man.seen~0"
PLAN = f'[data-path="{MAN}/A5-father-seen.man.plan~0"]'  # asked only when he was not seen (or that is not known)
DATE = f'[data-path="{MAN}/A5-father-seen.man.date~0"]'  # asked only when he was


def test_an_amendment_shows_the_follow_up_its_changed_answer_asks_for(live, page: Page, fhir, written):
    baby = create_baby(fhir["neonatal"])
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, baby, "admission")
    page.locator(FATHER).get_by_label("Yes").check()  # a father nobody's record holds: A5 asks about him
    wait_until_ready(page)
    page.locator(f'[data-path="{MAN}/A5-father-seen.man.name~0"] input').fill("Piotr Nowak")
    page.locator(f'[data-path="{SEEN}"]').get_by_label("Yes").check()
    wait_until_ready(page)
    answer_what_is_shown(page)
    written.append(submit_and_expect_saved(page, "admission"))

    page.get_by_role("link", name="Amend this checklist").click()
    expect(page.locator("#checklist")).to_have_attribute("data-state", "ready")
    expect(page.locator(DATE)).to_be_visible()
    expect(page.locator(PLAN)).to_be_hidden()

    page.locator(f'[data-path="{SEEN}"]').get_by_label("Not known").check()
    wait_until_ready(page)
    expect(page.locator(PLAN)).to_be_visible()  # live, before any save: the amend page's /enabled answered
    expect(page.locator(DATE)).to_be_hidden()

    page.locator(PLAN).locator("textarea, input").first.fill("Father to be seen at the next visit, 2 December")
    page.get_by_test_id("submit").click()
    expect(page.get_by_test_id("saved")).to_be_visible()
    expect(page.get_by_test_id("versions")).to_contain_text("Version 2")
