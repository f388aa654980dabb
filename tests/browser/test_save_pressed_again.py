"""Save pressed again after the "saved" page never arrived: the nurse sees the checklist saved once, not twice.

The first press is sent as the browser would send it (the same form, cookies and hidden fields), but its reply
is thrown away, as a dropped connection or a restart mid-request would lose it. Then the nurse presses Save.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.browser.checklist_pages import answer_what_is_shown, open_checklist, sign_in, submit_and_expect_saved
from tests.factories import create_baby

pytestmark = pytest.mark.browser

FORM_DATA = "() => new URLSearchParams(new FormData(document.getElementById('checklist'))).toString()"


def test_save_pressed_again_after_a_lost_reply_shows_the_one_saved_checklist(live, page: Page, fhir):
    baby = create_baby(fhir["neonatal"])
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, baby, "transfer")
    answer_what_is_shown(page)

    lost = page.request.post(
        live.url + page.locator("#checklist").get_attribute("action"),
        data=page.evaluate(FORM_DATA),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        max_redirects=0,
    )
    assert lost.status == 303  # stored: the reply is what was lost
    first = lost.headers["location"].rsplit("/", 1)[-1]

    assert submit_and_expect_saved(page, "transfer") == first
    with live.client("nurse") as api:
        assert [a["id"] for a in api.get(f"/api/patients/{baby}/assessments").json()] == [first]
    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}").json()
    assert found["total"] == 1
