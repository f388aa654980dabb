"""The checklist reads as clinical work (issue 13 item 2): each error says which source or person it is about, what
NeoSafe filled in is in words (never a status code), each repeating entry is headed by whom it is about, and a date
is the NHS.UK date input whose impossible date is refused by name and kept as typed. Axe-clean throughout."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import open_checklist, sign_in, wcag_violations
from tests.families import CASE_V_BABY

pytestmark = pytest.mark.browser

STATUS_CODES = ("none-found", "not-known", "not-configured", "unavailable", "partial")
MOTHER = re.compile(r"Agnieszka Lisowiec \(mother\)", re.IGNORECASE)


def error_messages(page: Page) -> list[str]:
    return [t.strip() for t in page.locator(".nhsuk-error-summary__list a").all_inner_texts()]


def test_a_blank_admission_says_which_source_or_person_each_error_is_about(live, page: Page):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, CASE_V_BABY, "admission")

    page.get_by_test_id("submit").click()
    expect(page.locator(".nhsuk-error-summary")).to_be_focused()
    said = error_messages(page)

    assert [m for m, n in Counter(said).items() if n > 1] == []  # no message twice: each names its entry
    reviewed = [m for m in said if m.endswith("Have you reviewed this source?")]
    assert len(reviewed) == 5 and all(m.startswith("Select an answer for ") for m in reviewed), reviewed
    lives = [m for m in said if m.endswith("Lives with the baby?")]
    assert lives and all(" for " in m for m in lives), lives
    assert any(MOTHER.search(m) for m in lives), lives
    # the message beside the field says the same
    expect(page.locator(".nhsuk-error-message").filter(has_text=MOTHER).first).to_be_visible()
    assert wcag_violations(page) == []


def test_what_neosafe_filled_in_reads_in_words_and_each_entry_names_whom_it_is_about(live, page: Page):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, CASE_V_BABY, "admission")
    form = page.locator("#checklist")

    shown = " ".join(form.locator(".neosafe-readonly").all_inner_texts())
    assert "Checked: none found" in shown or "Records found" in shown
    assert not [c for c in STATUS_CODES if re.search(rf":\s*{c}\b", shown)], shown
    legends = form.locator("legend").all_inner_texts()
    assert not [t for t in legends if re.fullmatch(r".*\(\d+\)", t.strip())], legends  # no "Person (1)"
    assert any(MOTHER.search(t) and t.startswith("Person: ") for t in legends), legends
    assert sum(t.startswith("Source: ") for t in legends) == 5, legends


def test_an_impossible_date_of_birth_is_refused_by_name_and_kept_as_typed(live, page: Page):
    sign_in(page, live.url, "Neonatal nurse: Alex Morgan")
    open_checklist(page, live.url, CASE_V_BABY, "admission")
    mother = page.get_by_role("group", name=re.compile(r"^Person: Agnieszka Lisowiec \(mother\)", re.IGNORECASE))
    born = mother.get_by_role("group", name=re.compile(r"^Date of birth"))
    for name, value in (("Day", "31"), ("Month", "2"), ("Year", "2026")):
        born.get_by_label(name, exact=True).fill(value)

    page.get_by_test_id("submit").click()

    summary = page.locator(".nhsuk-error-summary")
    expect(summary).to_be_focused()
    message = re.compile(r"Date of birth for Agnieszka Lisowiec \(mother\) must be a real date", re.IGNORECASE)
    expect(summary.get_by_role("link", name=message)).to_be_visible()
    expect(born.locator(".nhsuk-error-message")).to_contain_text(message)
    assert [born.get_by_label(n, exact=True).input_value() for n in ("Day", "Month", "Year")] == ["31", "2", "2026"]
    summary.get_by_role("link", name=message).click()
    expect(born.get_by_label("Day", exact=True)).to_be_focused()
    assert wcag_violations(page) == []
