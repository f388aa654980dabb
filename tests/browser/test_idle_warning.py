"""Two minutes before an unused sign-in would end, the checklist page says so, and "Stay signed in" keeps it open."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from app.main import create_app
from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.conftest import make_settings
from tests.families import CASE_V_BABY
from tests.servers import serving

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def soon_idle(sources, tmp_path_factory) -> Iterator[str]:
    """NeoSafe signing out after 2.1 minutes unused: its warning comes 6 seconds after the page is drawn."""
    settings = make_settings(tmp_path_factory.mktemp("idle")).model_copy(update={"session_idle_minutes": 2.1})
    with serving(create_app(settings, sources=sources)) as url:
        yield url


def test_the_checklist_warns_before_an_idle_sign_out_and_the_nurse_stays_signed_in(soon_idle, page: Page):
    sign_in(page, soon_idle, "Neonatal nurse: Alex Morgan")
    page.goto(f"{soon_idle}/patients/{CASE_V_BABY}/checklists/admission")

    warning = page.get_by_role("dialog", name="You will be signed out soon")
    expect(warning).to_be_visible()
    assert wcag_violations(page) == []
    with page.expect_response(lambda answer: answer.url.endswith("/session/keep-alive")) as kept:
        warning.get_by_role("button", name="Stay signed in").click()

    assert kept.value.status == 204  # the sign-in was used just now
    expect(warning).to_be_hidden()
    page.goto(f"{soon_idle}/patients/{CASE_V_BABY}")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Alex Morgan")
