"""Pages as a clinician sees them, over HTTP: what could not be checked is said first and must be acknowledged."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from app.assessments import ASSESSMENT_TAG_SYSTEM
from app.checkpoints import DEMO_USERS
from app.main import create_app
from app.web import issue_token
from testkit.ports import free_port
from tests.answering import answer_everything
from tests.conftest import SECRET, make_settings, signed_in_browser, write_sources
from tests.factories import create_baby
from tests.families import CASE_V_BABY
from tests.servers import serving


def browser_like(url: str, role: str) -> httpx.Client:
    return signed_in_browser(url, role, follow_redirects=False)


@pytest.fixture(scope="module")
def social_care_down(sandbox, tmp_path_factory) -> Iterator[str]:
    """NeoSafe with the social-care source on a closed port."""
    directory = tmp_path_factory.mktemp("down")
    sources = write_sources(sandbox, directory, overrides={"social-care": f"http://127.0.0.1:{free_port()}/fhir"})
    with serving(create_app(make_settings(directory), sources=sources)) as url:
        yield url


def test_a_source_that_is_down_is_said_first_on_the_page(social_care_down):
    with browser_like(social_care_down, "nurse") as browser:
        page = browser.get(f"/patients/{CASE_V_BABY}").text

    warning = page.index('data-testid="not-checked"')
    assert warning < page.index("What the sources hold")
    assert "Children&#39;s social care</strong>: could not connect" in page
    assert re.search(r'data-source="social-care" data-status="unavailable"', page)


def test_signing_needs_the_unchecked_source_acknowledged_with_a_reason(social_care_down):
    with browser_like(social_care_down, "nurse") as browser:
        form = browser.get(f"/patients/{CASE_V_BABY}/checklists/admission").text
        fields = dict(re.findall(r'name="(csrf|picture_id)" value="([^"]+)"', form))
        # social care is the third source: its "not checked" acknowledgement needs a reason and a plan
        reason = "A1-flags-reviewed~0/A1-flags-reviewed.source~2/A1-flags-reviewed.source.retry-plan~0"
        assert f'data-path="{reason}"' in form

        refused = browser.post(f"/patients/{CASE_V_BABY}/checklists/admission", data=fields)

    assert refused.status_code == 422
    assert (
        'href="#f-A1-flags-reviewed_0_A1-flags-reviewed_source_2_A1-flags-reviewed_source_retry-plan_0"' in refused.text
    )


def test_pages_need_a_signed_in_user(live):
    with httpx.Client(base_url=live.url, follow_redirects=False) as anonymous:
        response = anonymous.get(f"/patients/{CASE_V_BABY}")

    assert response.status_code == 303
    assert response.headers["location"].startswith("/sign-in?next=")


def test_a_form_sent_signed_out_signs_in_back_to_a_page_never_to_the_forms_address(live):
    with httpx.Client(base_url=live.url, follow_redirects=False) as anonymous:
        response = anonymous.post(f"/patients/{CASE_V_BABY}/checklists/admission/draft/refresh", data={})

    assert response.status_code == 303
    assert response.headers["location"] == "/sign-in?next=%2F"  # a GET of the form's address would be a 405


def test_an_unknown_baby_gets_a_page_that_says_so(live):
    with browser_like(live.url, "nurse") as browser:
        response = browser.get("/patients/9990000018")

    assert response.status_code == 404
    assert "No source holds a baby with this NHS number" in response.text


def test_restricted_detail_is_withheld_from_the_community_team(live):
    with browser_like(live.url, "community-nurse") as community, browser_like(live.url, "nurse") as nurse:
        withheld = community.get(f"/patients/{CASE_V_BABY}").text
        shown = nurse.get(f"/patients/{CASE_V_BABY}").text

    assert "Police domestic incident report received" in shown
    assert "Police domestic incident report received" not in withheld
    assert "Restricted record: ask the safeguarding team" in withheld


def test_a_draft_saved_from_the_page_is_resumed_as_left(live, fhir):
    baby = create_baby(fhir["neonatal"])
    concern = "A10-concern-now~0/A10-concern-now.concern~0"
    with browser_like(live.url, "nurse") as nurse:
        form = nurse.get(f"/patients/{baby}/checklists/admission").text
        fields = dict(re.findall(r'name="(csrf|picture_id)" value="([^"]+)"', form))
        saved = nurse.post(
            f"/patients/{baby}/checklists/admission", data={**fields, concern: "true", "intent": "draft"}
        )
        resumed = nurse.get(f"/patients/{baby}/checklists/admission").text

    assert saved.status_code == 200 and "Draft saved on" in saved.text
    assert "You are finishing a draft saved on" in resumed
    assert "by Alex Morgan (Neonatal nurse)." in resumed and "demo-nurse" not in resumed  # a person, not a user id
    assert re.search(rf'name="{re.escape(concern)}" type="radio" value="true" checked', resumed)


def test_the_amend_page_starts_from_the_latest_version(live, fhir):
    baby = create_baby(fhir["neonatal"])
    with live.client("nurse") as api:
        questionnaire = api.get("/api/checklists/admission").json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/admission").json())
        first = api.post(f"/api/patients/{baby}/assessments", json=response).json()["id"]
    with browser_like(live.url, "nurse") as nurse:
        saved = nurse.get(f"/patients/{baby}/assessments/{first}").text
        page = nurse.get(f"/patients/{baby}/assessments/{first}/amend").text

    assert "Amend this checklist" in saved and "Version 1" in saved
    assert f'action="/patients/{baby}/assessments/{first}/amend"' in page
    assert "You are amending version 1 of this checklist" in page
    assert re.search(r'name="A10-concern-now~0/A10-concern-now.concern~0" type="radio" value="false" checked', page)


def test_a_source_that_is_down_is_unavailable_in_the_api_and_in_what_is_stored(social_care_down, fhir):
    baby = create_baby(fhir["neonatal"])
    token = issue_token(DEMO_USERS["nurse"], secret=SECRET)
    with httpx.Client(base_url=social_care_down, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        picture = api.get(f"/api/patients/{baby}/picture").json()
        questionnaire = api.get("/api/checklists/admission").json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/admission").json())
        created = api.post(f"/api/patients/{baby}/assessments", json=response)

    down = next(s for s in picture["sources"] if s["name"] == "social-care")
    assert (down["status"], down["checked_at"]) == ("unavailable", None)
    assert created.status_code == 201, created.text
    provenance = fhir["neonatal"].get(f"Provenance?_tag={ASSESSMENT_TAG_SYSTEM}|{created.json()['id']}").json()
    entities = [e["what"]["display"] for e in provenance["entry"][0]["resource"]["entity"]]
    assert any(e.startswith("social-care: unavailable (could not connect") for e in entities)


def test_no_page_or_api_answer_may_be_cached_but_the_design_system_may(live):
    with browser_like(live.url, "nurse") as browser, live.client("nurse") as api:
        page = browser.get(f"/patients/{CASE_V_BABY}")
        picture = api.get(f"/api/patients/{CASE_V_BABY}/picture")
        refused = browser.get("/patients/123")
        stylesheet = browser.get("/static/neosafe.css")

    assert [r.headers["cache-control"] for r in (page, picture, refused)] == ["no-store"] * 3
    assert stylesheet.status_code == 200 and "cache-control" not in stylesheet.headers


def test_the_session_cookie_is_secure_behind_https_and_never_readable_by_scripts(live):
    with httpx.Client(base_url=live.url, timeout=30) as browser:
        plain = browser.post("/sign-in", data={"role": "nurse"})
        behind_tls = browser.post("/sign-in", data={"role": "nurse"}, headers={"X-Forwarded-Proto": "https"})

    assert "httponly" in plain.headers["set-cookie"].lower() and "secure" not in plain.headers["set-cookie"].lower()
    assert "secure" in behind_tls.headers["set-cookie"].lower()  # the trust's proxy said the user came over HTTPS


def test_signing_in_never_sends_the_browser_to_another_site(live):
    with httpx.Client(base_url=live.url, timeout=30) as browser:
        for target, expected in (("//evil.example/x", "/"), ("https://evil.example/", "/"), ("/outbox", "/outbox")):
            signed_in = browser.post("/sign-in", data={"role": "nurse", "next": target}, follow_redirects=False)
            assert signed_in.status_code == 303
            assert signed_in.headers["location"] == expected


def test_a_draft_with_a_date_that_is_not_real_says_so_and_keeps_the_rest(live, fhir):
    baby = create_baby(fhir["neonatal"])
    concern = "A10-concern-now~0/A10-concern-now.concern~0"
    told = "A8-da-enquiry-private~0/A8-da-enquiry-private.date~0"
    with browser_like(live.url, "nurse") as nurse:
        form = nurse.get(f"/patients/{baby}/checklists/admission").text
        fields = dict(re.findall(r'name="(csrf|picture_id)" value="([^"]+)"', form))
        not_real = {f"{told}:day": "31", f"{told}:month": "2", f"{told}:year": "2026"}
        saved = nurse.post(
            f"/patients/{baby}/checklists/admission",
            data={**fields, **not_real, concern: "true", "intent": "draft"},
        )
        resumed = nurse.get(f"/patients/{baby}/checklists/admission").text

    assert saved.status_code == 200 and "Draft saved on" in saved.text
    assert "1 answer could not be read and is not in the draft" in saved.text
    assert "must be a real date, like 26 11 2026" in saved.text  # the error, at the question, in the summary
    assert 'value="31"' in saved.text  # what was typed is still there to correct
    assert re.search(rf'name="{re.escape(concern)}" type="radio" value="true" checked', resumed)
