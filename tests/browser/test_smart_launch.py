"""The EPR launches NeoSafe (SMART App Launch, EHR launch) in a real browser: /launch, the EPR's authorization
server, back to NeoSafe, and the baby the EPR had open, named and numbered; inside an EPR that shows its own banner,
the baby's page leaves the banner to it, and the checklist form still names the baby."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Page, expect

from tests.browser.checklist_pages import wcag_violations
from tests.families import CASE_V_BABY
from tests.smart_epr import Launching, neosafe_in_the_epr, nurse_claims, patient

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def launching(sources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launching]:
    with neosafe_in_the_epr(sources, tmp_path_factory.mktemp("smart-browser")) as running:
        yield running


def open_from_the_epr(page: Page, launching: Launching, launch: str) -> None:
    page.goto(f"{launching.url}/launch?{urlencode({'iss': launching.epr.iss, 'launch': launch})}")


def test_a_launch_opens_the_baby_the_epr_has_open(launching: Launching, page: Page):
    launch = launching.epr.launch(nurse_claims("epr-nurse-b1"), patient("epr-baby-b1", CASE_V_BABY))
    open_from_the_epr(page, launching, launch)

    expect(page).to_have_url(f"{launching.url}/patients/{CASE_V_BABY}")
    banner = page.get_by_role("region", name="Patient")
    expect(banner).to_contain_text("Zofia BRZOZAK")
    expect(page.get_by_test_id("banner-nhs-number")).to_have_text("999 010 1000")
    expect(page.get_by_role("navigation", name="Account")).to_contain_text("Priya Shah (Neonatal nurse)")


def test_inside_an_epr_with_its_own_banner_the_form_still_names_the_baby(launching: Launching, page: Page):
    launch = launching.epr.launch(
        nurse_claims("epr-nurse-b2"), patient("epr-baby-b2", CASE_V_BABY), need_patient_banner=False
    )
    open_from_the_epr(page, launching, launch)

    expect(page).to_have_url(f"{launching.url}/patients/{CASE_V_BABY}")
    expect(page.get_by_role("region", name="Patient")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_have_text("Zofia BRZOZAK")  # for a screen reader
    assert wcag_violations(page) == []
    page.get_by_role("link", name="Start the admission checklist").click()

    expect(page.get_by_role("region", name="Patient")).to_contain_text("Zofia BRZOZAK")
    expect(page.get_by_test_id("banner-nhs-number")).to_have_text("999 010 1000")


def test_a_launch_from_an_unknown_epr_is_refused_on_neosafes_own_page(launching: Launching, page: Page):
    page.goto(f"{launching.url}/launch?{urlencode({'iss': 'https://attacker.example/fhir', 'launch': 'x'})}")

    expect(page).to_have_url(
        f"{launching.url}/launch?{urlencode({'iss': 'https://attacker.example/fhir', 'launch': 'x'})}"
    )
    expect(page.get_by_role("main")).to_contain_text("NeoSafe is not registered with the system that launched it")
