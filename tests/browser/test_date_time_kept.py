"""A date and time typed into the checklist is still there when the page comes back: nothing entered is lost.

Dates are the NHS.UK date input (day, month and year boxes; a date and time adds a 24-hour time box). The stored
valueDateTime (2026-07-01T14:30:00+01:00) is drawn back in the boxes as typed, on the unit's clock. Here that is
checked in Chromium after a validation error and after "Save as draft" and reopening, in British Summer Time; and
a date that is not real (31 2 2026) is refused with a message naming the question, and kept as typed.
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
    wcag_violations,
)
from tests.factories import create, make_flag, make_patient, new_nhs_number
from tests.written import delete_written

pytestmark = pytest.mark.browser

TYPED = ("1", "7", "2026", "14:30")  # BST: stored as 2026-07-01T14:30:00+01:00
STORED = "2026-07-01T14:30:00+01:00"
DATE_TYPED = ("1", "7", "2026")
SIGNED = "signoff~0/signoff.signed-at~0"
COSIGNED = "signoff~0/signoff.named-nurse-signed-at~0"
COSIGN_TYPED = ("1", "7", "2026", "15:05")
HV_CONTACT = "D11-lead-professional~0/D11-lead-professional.first-hv-contact~0"
BOXES = ("day", "month", "year", "time")


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


def box(page: Page, path: str, name: str):
    return page.locator(f'[name="{path}:{name}"]')


def type_date(page: Page, path: str, values: tuple[str, ...]) -> None:
    for name, value in zip(BOXES, values, strict=False):
        box(page, path, name).fill(value)


def shown(page: Page, path: str, count: int) -> tuple[str, ...]:
    return tuple(box(page, path, name).input_value() for name in BOXES[:count])


def assert_as_typed(page: Page) -> None:
    assert shown(page, SIGNED, 4) == TYPED
    assert shown(page, COSIGNED, 4) == COSIGN_TYPED
    assert shown(page, HV_CONTACT, 3) == DATE_TYPED


def test_a_typed_date_and_time_survives_a_validation_error_and_a_draft(live, page: Page, fhir, baby, written):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    open_checklist(page, live.url, baby, "discharge")
    signed = page.get_by_role("group", name="Date and time signed", exact=True)
    for name in ("Day", "Month", "Year", "Time (24-hour)"):
        expect(signed.get_by_label(name, exact=True)).to_have_attribute("type", "text")
    type_date(page, SIGNED, TYPED)
    page.get_by_label("Named nurse or midwife for safeguarding children (name)").fill("Jo Evans")
    page.keyboard.press("Tab")  # a change: the page asks which questions now apply
    wait_until_ready(page)
    expect(box(page, COSIGNED, "day")).to_be_visible()
    type_date(page, COSIGNED, COSIGN_TYPED)
    type_date(page, HV_CONTACT, DATE_TYPED)
    wait_until_ready(page)

    # (a) every other question left unanswered: the checklist is refused, with the time still as typed
    page.get_by_test_id("submit").click()
    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Enter consultant (name)")
    expect(summary).not_to_contain_text("Enter date and time signed")
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
    assert answers["D11-lead-professional.first-hv-contact"] == [{"valueDate": "2026-07-01"}]


def test_a_date_that_is_not_real_is_refused_by_name_and_kept_as_typed(live, page: Page, baby):
    sign_in(page, live.url, "Discharge coordinator: Sam Patel")
    open_checklist(page, live.url, baby, "discharge")
    type_date(page, HV_CONTACT, ("31", "2", "2026"))
    type_date(page, SIGNED, ("1", "7", "2026", "25:00"))

    page.get_by_test_id("submit").click()

    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    expect(summary).to_contain_text("Date of the first health visitor contact must be a real date, like 26 11 2026")
    expect(summary).to_contain_text("Date and time signed must include a real time on the 24-hour clock, like 14:30")
    assert shown(page, HV_CONTACT, 3) == ("31", "2", "2026")
    assert shown(page, SIGNED, 4) == ("1", "7", "2026", "25:00")
    # the summary's link goes to the day box, which carries the message
    summary.get_by_role("link", name="Date of the first health visitor contact must be a real date").click()
    expect(box(page, HV_CONTACT, "day")).to_be_focused()
    assert wcag_violations(page) == []
