"""A date and time typed into the checklist is still there when the page comes back: nothing entered is lost.

A `datetime-local` control keeps only a wall-clock time with no offset and empties itself when given the
stored valueDateTime (2026-07-01T14:30:00+01:00), so NeoSafe draws it back as the time typed. Here that is
checked in Chromium after a validation error and after "Save as draft" and reopening, in British Summer Time.
"""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Page, expect

from app.assessments import ASSESSMENT_TAG_SYSTEM
from tests.browser.checklist_pages import (
    answer_what_is_shown,
    open_checklist,
    sign_in,
    submit_and_expect_saved,
    wait_until_ready,
)
from tests.factories import create, make_flag, make_patient, new_nhs_number
from tests.written import delete_written

pytestmark = pytest.mark.browser

TYPED = "2026-07-01T14:30"  # BST: stored as 2026-07-01T14:30:00+01:00
STORED = "2026-07-01T14:30:00+01:00"
DATE_TYPED = "2026-07-01"
SIGNED = "Date and time signed"
COSIGNED = "Date and time signed by the named nurse or midwife"
COSIGN_TYPED = "2026-07-01T15:05"
HV_CONTACT = '[data-path="D11-lead-professional~0/D11-lead-professional.first-hv-contact~0"] input'


@pytest.fixture
def baby(fhir: dict[str, httpx.Client], written: list[str]):
    """A baby of this test's own with a safeguarding concern on record, so the named nurse co-signs.

    Afterwards what its checklists wrote, then its flag and the baby, are deleted.
    """
    number = new_nhs_number()
    patient = make_patient(f"nn-test-{number}", number)
    flag = make_flag(patient["id"], "1010196001")  # Safeguarding concern
    create(fhir["neonatal"], patient, flag)
    yield number
    for reference in written:
        delete_written(fhir["neonatal"], reference)  # first: nothing left refers to the baby
    for resource in (flag, patient):
        fhir["neonatal"].delete(f"{resource['resourceType']}/{resource['id']}").raise_for_status()


def signed_at(page: Page):
    return page.get_by_label(SIGNED, exact=True)


def cosigned_at(page: Page):
    return page.get_by_label(COSIGNED, exact=True)


def assert_as_typed(page: Page) -> None:
    assert signed_at(page).input_value() == TYPED
    assert cosigned_at(page).input_value() == COSIGN_TYPED
    assert page.locator(HV_CONTACT).input_value() == DATE_TYPED


def test_a_typed_date_and_time_survives_a_validation_error_and_a_draft(live, page: Page, fhir, baby, written):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    open_checklist(page, live.url, baby, "discharge")
    expect(signed_at(page)).to_have_attribute("type", "datetime-local")
    signed_at(page).fill(TYPED)
    page.get_by_label("Named nurse or midwife for safeguarding children (name)").fill("Jo Evans")
    page.keyboard.press("Tab")  # a change: the page asks which questions now apply
    wait_until_ready(page)
    expect(cosigned_at(page)).to_be_visible()
    cosigned_at(page).fill(COSIGN_TYPED)
    expect(page.locator(HV_CONTACT)).to_have_attribute("type", "date")
    page.locator(HV_CONTACT).fill(DATE_TYPED)
    wait_until_ready(page)

    # (a) every other question left unanswered: the checklist is refused, with the time still as typed
    page.get_by_test_id("submit").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter consultant (name)")
    expect(summary).not_to_contain_text(f"Enter {SIGNED.lower()}")
    assert_as_typed(page)

    # (b) kept as a draft and opened again later: still as typed
    page.get_by_test_id("save-draft").click()
    expect(page.get_by_text("Draft saved on")).to_be_visible()
    assert_as_typed(page)
    open_checklist(page, live.url, baby, "discharge")
    expect(page.get_by_text("You are finishing a draft saved on")).to_be_visible()
    assert_as_typed(page)

    answer_what_is_shown(page)
    assert_as_typed(page)  # answered already: left as they were
    reference = submit_and_expect_saved(page, "discharge")
    written.append(reference)

    found = fhir["neonatal"].get(f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{reference}").json()
    assert found["total"] == 1
    answers = {}

    def collect(items):
        for item in items:
            answers[item["linkId"]] = item.get("answer")
            collect(item.get("item") or [])

    collect(found["entry"][0]["resource"]["item"])
    assert answers["signoff.signed-at"] == [{"valueDateTime": STORED}]
    assert answers["signoff.named-nurse-signed-at"] == [{"valueDateTime": "2026-07-01T15:05:00+01:00"}]
    assert answers["D11-lead-professional.first-hv-contact"] == [{"valueDate": DATE_TYPED}]
