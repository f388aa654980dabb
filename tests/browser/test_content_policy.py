"""The strict content security policy breaks nothing: the design system's script and NeoSafe's own all run."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import open_checklist, sign_in

pytestmark = pytest.mark.browser


def test_a_checklist_page_runs_under_the_policy_with_nothing_blocked(live, page: Page):
    blocked: list[str] = []
    page.on(
        "console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None
    )
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, "9990101000", "admission")
    expect(page.locator("body")).to_have_class(re.compile(r"\bnhsuk-frontend-supported\b"))  # the inline snippet ran
    page.get_by_test_id("submit").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_focused()  # the frontend's script ran
    assert blocked == []
