"""PDS verification through the pages and the API, end to end over HTTP: a real OpenID provider (standing in for CIS2)
signs the clinician in, the PDS and CP-IS sandboxes accept only a token that provider vouches for. An unverified
household member reads *identity not verified — records not checked*; an 08 newborn's status is shown; a demo user
has no CIS2 token, so PDS is *not checked* (said, with what that means) and not called; each PDS access is audited.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from markupsafe import escape

from app.config import Settings, SourceSettings
from app.main import create_app
from app.picture.checks import NOT_VERIFIED
from app.picture.pds import POSTPONED
from sandbox.cpis import CpisSandbox
from sandbox.pds import PdsSandbox
from tests.conftest import cis2_settings, signed_in_browser
from tests.factories import new_nhs_number
from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER, ACTIVE_CP_PARTNER, NO_CONCERNS_BABY
from tests.picture.test_pds_trace import a_family, his_record
from tests.servers import serving
from tests.web.test_sessions import audited
from tests.web.test_sign_in import cis2_claims, signed_in

NURSE = cis2_claims("Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), selected="p-nurse")
# A father with no NHS number on his baby's unit record, whom PDS traces (the tests make his family)
TRACED = {"name": [{"family": "Quillfeather", "given": ["Owain"]}], "gender": "male", "birthDate": "1991-07-14"}
TRACED_NUMBER = new_nhs_number()


@pytest.fixture(scope="module")
def pds(oidc_provider: str) -> Iterator[PdsSandbox]:
    traced = {TRACED_NUMBER: TRACED}
    with PdsSandbox(tokens=frozenset(), userinfo_url=f"{oidc_provider}/userinfo", extra_people=traced) as running:
        yield running


@pytest.fixture(scope="module")
def cpis(oidc_provider: str) -> Iterator[CpisSandbox]:
    with CpisSandbox(tokens=frozenset(), userinfo_url=f"{oidc_provider}/userinfo") as running:
        yield running


@pytest.fixture(scope="module")
def pds_settings(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return cis2_settings(tmp_path_factory.mktemp("pds"), oidc_provider)


@pytest.fixture(scope="module")
def neosafe(pds_settings: Settings, sources: list[SourceSettings], pds: PdsSandbox, cpis: CpisSandbox) -> Iterator[str]:
    national = [
        SourceSettings(name="cpis", base_url=cpis.url, timeout_s=30, profile="cpis"),
        SourceSettings(name="pds", base_url=pds.url, timeout_s=30, profile="pds", end_user_ods="RXX01"),
    ]
    with serving(create_app(pds_settings, sources=[s for s in sources if s.name != "cpis"] + national)) as url:
        yield url


async def test_an_unverified_partner_reads_records_not_checked_on_the_page_and_in_the_api(
    neosafe, oidc_provider, pds, pds_settings
):
    with signed_in(neosafe, oidc_provider, "555000911", NURSE) as (browser, landed):
        assert landed.status_code == 303
        cookie = next(iter(browser.cookies.values()))
        before = len(pds.seen)
        page = browser.get(f"/patients/{ACTIVE_CP_BABY}")
        asked = pds.seen[before:]
        api = browser.get(f"/api/patients/{ACTIVE_CP_BABY}/picture", headers={"Authorization": f"Bearer {cookie}"})
        checklist = browser.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")

    assert page.status_code == 200 and api.status_code == 200 and checklist.status_code == 200
    assert str(escape(NOT_VERIFIED)) in page.text
    assert "NHS number not verified on PDS: PDS status 05" in page.text
    assert "NHS number verification (PDS)" in page.text  # the PDS line among the sources, partly checked
    people = {p["nhs_number"]: p for p in api.json()["people"]}
    partner = people[ACTIVE_CP_PARTNER]
    assert partner["identity_verified"] is False
    assert partner["nhs_number_status"].startswith("NHS number not verified on PDS")
    assert {c["status"] for c in partner["checks"]} == {"not-checked"}
    assert people[ACTIVE_CP_MOTHER]["nhs_number_status"] == "NHS number verified on PDS"
    assert not [r for r in api.json()["records"] if r["person_nhs_number"] == ACTIVE_CP_PARTNER]
    line = next(s for s in api.json()["sources"] if s["name"] == "pds")
    assert line["status"] == "partial"
    patients = sorted(s["nhs_number"] for s in asked if s["asked"] == "Patient")
    assert patients == sorted([ACTIVE_CP_BABY, ACTIVE_CP_MOTHER, ACTIVE_CP_PARTNER])
    assert {s["ods"] for s in asked} == {"RXX01"}
    events = await audited(pds_settings.database_url, "view-pds", "555000911")
    assert events and all(e.nhs_number == ACTIVE_CP_BABY for e in events)
    assert "Priya Shah (Neonatal nurse)" in events[0].detail
    assert all(s["request_id"] in events[0].detail for s in asked)


def test_an_08_newborns_status_is_shown(neosafe, oidc_provider):
    with signed_in(neosafe, oidc_provider, "555000912", NURSE) as (browser, _):
        page = browser.get(f"/patients/{NO_CONCERNS_BABY}")

    assert page.status_code == 200
    assert f"{POSTPONED} (PDS status 08)" in page.text


async def test_a_demo_user_has_no_cis2_token_so_pds_is_not_checked_said_and_not_called(neosafe, pds, pds_settings):
    before = len(pds.seen)
    with signed_in_browser(neosafe, "nurse") as browser:
        page = browser.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")

    assert page.status_code == 200
    assert len(pds.seen) == before
    assert 'data-testid="not-checked"' in page.text  # unknown is not no: the PDS line is among those not checked
    assert "NHS number verification not checked: needs the clinician&#39;s NHS Care Identity sign-in" in page.text
    assert "the record sources were still asked about them" in page.text
    assert not await audited(pds_settings.database_url, "view-pds", "demo-nurse")


async def test_a_traced_father_is_shown_found_by_pds_trace_his_records_found_and_the_trace_audited(
    neosafe, oidc_provider, pds, pds_settings, fhir
):
    baby, dad = a_family(fhir, father=TRACED)
    his_record(fhir, TRACED_NUMBER, dad)
    with signed_in(neosafe, oidc_provider, "555000913", NURSE) as (browser, _):
        cookie = next(iter(browser.cookies.values()))
        before = len(pds.seen)
        page = browser.get(f"/patients/{baby}")
        api = browser.get(f"/api/patients/{baby}/picture", headers={"Authorization": f"Bearer {cookie}"})
        (search, *_) = [s for s in pds.seen[before:] if s["asked"] == "search"]

    spaced = f"{TRACED_NUMBER[:3]} {TRACED_NUMBER[3:6]} {TRACED_NUMBER[6:]}"
    assert page.status_code == 200 and f"NHS number {spaced} found by PDS trace (matched on family name" in page.text
    father = next(p for p in api.json()["people"] if p["role"] == "father")
    assert father["nhs_number"] == TRACED_NUMBER and father["nhs_number_status"].startswith(f"NHS number {spaced}")
    assert [r["source"] for r in api.json()["records"] if r["person_nhs_number"] == TRACED_NUMBER] == ["police-gp"]
    events = await audited(pds_settings.database_url, "view-pds", "555000913")
    assert any("father (trace)" in e.detail and search["request_id"] in e.detail for e in events)


def test_a_father_pds_cannot_trace_is_not_checked_not_traced_on_the_page(neosafe, oidc_provider, fhir):
    baby, _ = a_family(fhir)  # nobody on PDS has his name
    with signed_in(neosafe, oidc_provider, "555000914", NURSE) as (browser, _):
        page = browser.get(f"/patients/{baby}")

    assert page.status_code == 200
    assert "No NHS number: not traced: PDS found no exact match for their name and date of birth" in page.text
    assert "not checked: not traced: PDS found no exact match" in page.text
