"""A nurse signs in through single sign-on in a real browser: NeoSafe, the provider's form, and back."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import wcag_violations
from tests.families import CASE_V_BABY

pytestmark = pytest.mark.browser


def test_a_nurse_signs_in_with_single_sign_on_and_reaches_the_baby(sso_neosafe, oidc_provider, page: Page):
    claims = {
        "name": "Priya Shah",
        "nhsid_nrbac_roles": [{"person_roleid": "p-1", "role_code": "S8000:G8000:R8001", "activity_codes": []}],
        "selected_roleid": "p-1",
    }
    httpx.put(f"{oidc_provider}/users/555000999", json=claims).raise_for_status()

    page.goto(f"{sso_neosafe}/patients/{CASE_V_BABY}")
    assert wcag_violations(page) == []  # the sign-in page, offering single sign-on
    page.get_by_test_id("single-sign-on").click()
    page.get_by_placeholder("sub").fill("555000999")
    page.get_by_role("button", name="Authorize").click()

    expect(page).to_have_url(f"{sso_neosafe}/patients/{CASE_V_BABY}")
    expect(page.get_by_role("region", name="Patient")).to_contain_text("Zofia BRZOZAK")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Priya Shah (Neonatal nurse)")
