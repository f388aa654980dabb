"""The community nurse finds the handover summary from the baby's page, reads it, and downloads the PDF."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from app.forms import load_checklists
from tests.answering import answer_everything
from tests.browser.checklist_pages import sign_in, wcag_violations
from tests.factories import create_baby

CHECKLISTS = load_checklists(Path(__file__).resolve().parents[2] / "checklists")

pytestmark = pytest.mark.browser


def test_community_nurse_reads_the_handover_and_downloads_it(live, page: Page, fhir):
    baby = create_baby(fhir["neonatal"], "1010196001")
    with live.client("nurse") as api:
        questionnaire = api.get("/api/checklists/admission").json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/admission").json())
        assert api.post(f"/api/patients/{baby}/assessments", json=response).status_code == 201

    sign_in(page, live.url, "Community neonatal nurse: Jo Williams")
    page.goto(f"{live.url}/patients/{baby}")
    page.get_by_test_id("handover-link").click()

    expect(page).to_have_title(f"Handover summary: {page.locator('.neosafe-banner h1').inner_text()} – NeoSafe")
    expect(page.get_by_test_id("handover-checklists")).to_contain_text(CHECKLISTS.short_title("admission").capitalize())
    missing = page.get_by_test_id("handover-missing")
    expect(missing).to_contain_text(f"Not yet completed for this baby: {CHECKLISTS.short_title('discharge')}")
    expect(missing).not_to_contain_text(CHECKLISTS.short_title("transfer"))  # not for a baby going home
    expect(page.get_by_role("heading", name="Social care status", exact=True)).to_be_visible()
    assert wcag_violations(page) == []

    with page.expect_download() as download:
        page.get_by_test_id("handover-pdf").click()
    assert download.value.suggested_filename == f"safeguarding-handover-{baby}.pdf"
    with open(download.value.path(), "rb") as pdf:
        assert pdf.read(5) == b"%PDF-"
