"""SMART App Launch 2.x, EHR launch (issue 17), over HTTP against a small EPR on loopback (tests.smart_epr): the
launch lands on the baby the EPR's Patient names by NHS number, signed in as the clinician its ID token names,
and everything short of that is refused with a clear page and audited."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory
from app.checkpoints.launch import load_launch_clients
from app.config import ConfigError, Settings
from app.web.smart_launch import EPR_BANNER_COOKIE
from tests.families import CASE_V_BABY
from tests.smart_epr import Launching, SmartEpr, neosafe_in_the_epr, nurse_claims, patient


@pytest.fixture(scope="module")
def launching(sources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launching]:
    with neosafe_in_the_epr(sources, tmp_path_factory.mktemp("smart")) as running:
        yield running


@pytest.fixture(scope="module")
def epr(launching: Launching) -> SmartEpr:
    return launching.epr


@pytest.fixture(scope="module")
def launch_settings(launching: Launching) -> Settings:
    return launching.settings


@pytest.fixture(scope="module")
def neosafe(launching: Launching) -> str:
    return launching.url


@contextmanager
def launched(neosafe: str, epr: SmartEpr, launch: str):
    """The EPR opens NeoSafe: /launch -> the EPR's authorization server -> back to NeoSafe's callback.
    Yields the browser and NeoSafe's answer to the callback."""
    with httpx.Client(base_url=neosafe, timeout=30) as browser:
        to_epr = browser.get("/launch", params={"iss": epr.iss, "launch": launch})
        assert to_epr.status_code == 302, to_epr.text
        assert to_epr.headers["location"].startswith(f"{epr.url}/authorize?")
        authorised = httpx.get(to_epr.headers["location"])
        back = urlparse(authorised.headers["location"])
        assert back.path == "/launch/callback", authorised.text
        yield browser, browser.get(f"{back.path}?{back.query}")


def launch_page(neosafe: str, **params: str) -> httpx.Response:
    return httpx.get(f"{neosafe}/launch", params=params, timeout=30)


async def audited(settings: Settings, user_id: str) -> list[AuditEvent]:
    engine = make_engine(settings.database_url)
    async with session_factory(engine)() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.user_id == user_id))).all()
    await engine.dispose()
    return list(events)


async def test_a_launch_lands_on_the_baby_the_epr_has_open(neosafe, epr, launch_settings):
    launch = epr.launch(nurse_claims("epr-nurse-1"), patient("epr-baby-1", CASE_V_BABY), encounter="epr-stay-7")
    with launched(neosafe, epr, launch) as (browser, landed):
        assert (landed.status_code, landed.headers["location"]) == (303, f"/patients/{CASE_V_BABY}")
        page = browser.get(f"/patients/{CASE_V_BABY}")

    assert page.status_code == 200
    assert "Zofia" in page.text and "999 010 1000" in page.text
    assert "Priya Shah (Neonatal nurse)" in page.text
    assert 'class="neosafe-banner"' in page.text  # the EPR asked for NeoSafe's banner (need_patient_banner true)
    events = await audited(launch_settings, "epr-nurse-1")
    launches = [e for e in events if e.action == "smart-launch"]
    assert [(e.outcome, e.nhs_number) for e in launches] == [("success", CASE_V_BABY)]
    assert "Test EPR" in launches[0].detail and "epr-stay-7" in launches[0].detail


def test_neosafe_sends_the_pkce_verifier_of_its_s256_challenge(neosafe, epr):
    launch = epr.launch(nurse_claims("epr-nurse-2"), patient("epr-baby-2", CASE_V_BABY))
    with httpx.Client(base_url=neosafe, timeout=30) as browser:
        to_epr = browser.get("/launch", params={"iss": epr.iss, "launch": launch})
        asked = parse_qs(urlparse(to_epr.headers["location"]).query)
        authorised = httpx.get(to_epr.headers["location"])
        back = urlparse(authorised.headers["location"])
        landed = browser.get(f"{back.path}?{back.query}")

    assert landed.status_code == 303
    assert asked["code_challenge_method"] == ["S256"] and asked["aud"] == [epr.iss] and asked["launch"] == [launch]
    assert set(asked["scope"][0].split()) == {"launch", "openid", "fhirUser", "patient/*.rs"}
    verifier = epr.token_requests[-1]["code_verifier"]
    digest = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    assert 43 <= len(verifier) <= 128 and digest == asked["code_challenge"][0]


async def test_an_iss_not_on_the_allow_list_is_refused_never_redirected_to(neosafe, launch_settings):
    refused = launch_page(neosafe, iss="https://attacker.example/fhir", launch="x")
    none = launch_page(neosafe, launch="x")

    assert refused.status_code == none.status_code == 400
    assert "location" not in refused.headers and "attacker.example" not in refused.text
    assert "NeoSafe is not registered with the system that launched it" in refused.text
    events = await audited(launch_settings, "smart-launch:unknown")
    assert {(e.action, e.outcome) for e in events} == {("smart-launch", "refused")}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"code_challenge_methods_supported": ["plain"]}, "does not offer PKCE with S256"),
        ({"authorization_endpoint": "http://epr.example/authorize"}, "has no https authorization_endpoint"),
        ({"jwks_uri": None}, "has no https jwks_uri"),
    ],
)
def test_a_smart_configuration_short_of_what_smart_specifies_goes_nowhere(neosafe, epr, changes, message):
    epr.configuration_changes = changes
    try:
        answer = launch_page(neosafe, iss=epr.iss, launch="x")
    finally:
        epr.configuration_changes = {}

    assert answer.status_code == 503 and "location" not in answer.headers
    assert message in answer.text


def test_a_launch_with_no_launch_context_is_refused(neosafe, epr):
    answer = launch_page(neosafe, iss=epr.iss)

    assert answer.status_code == 400 and "The EPR sent no launch context" in answer.text


def test_a_callback_with_a_missing_forged_or_other_browsers_state_is_refused(neosafe, epr):
    launch = epr.launch(nurse_claims("epr-nurse-3"), patient("epr-baby-3", CASE_V_BABY))
    with httpx.Client(base_url=neosafe, timeout=30) as browser, httpx.Client(base_url=neosafe, timeout=30) as other:
        to_epr = browser.get("/launch", params={"iss": epr.iss, "launch": launch})
        back = urlparse(httpx.get(to_epr.headers["location"]).headers["location"])
        code = parse_qs(back.query)["code"][0]
        missing = browser.get("/launch/callback", params={"code": code})
        forged = browser.get("/launch/callback", params={"code": code, "state": "made-up"})
        elsewhere = other.get(f"{back.path}?{back.query}")  # the same code and state, in a browser that did not start
        home = other.get("/")

    for answer in (missing, forged, elsewhere):
        assert answer.status_code == 400
        assert "The launch did not complete (it did not start in this browser)" in answer.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")  # nobody signed in


def test_an_id_token_not_signed_by_the_eprs_key_is_refused(neosafe, epr):
    launch = epr.launch(nurse_claims("epr-nurse-9"), patient("epr-baby-9", CASE_V_BABY), forged=True)
    with launched(neosafe, epr, launch) as (browser, refused):
        home = browser.get("/")

    assert refused.status_code == 400 and "The launch did not complete" in refused.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")


def test_need_patient_banner_false_hides_the_banner_on_the_babys_page_but_never_on_the_form(neosafe, epr):
    launch = epr.launch(nurse_claims("epr-nurse-4"), patient("epr-baby-4", CASE_V_BABY), need_patient_banner=False)
    with launched(neosafe, epr, launch) as (browser, landed):
        assert landed.status_code == 303
        page = browser.get(f"/patients/{CASE_V_BABY}").text
        form = browser.get(f"/patients/{CASE_V_BABY}/checklists/admission").text

    assert 'class="neosafe-banner"' not in page and 'data-testid="banner-nhs-number"' not in page
    assert '<h1 class="nhsuk-u-visually-hidden">' in page  # the page keeps its heading, for a screen reader
    assert 'class="neosafe-banner"' in form and "999 010 1000" in form and "Zofia" in form


def test_the_hidden_banner_belongs_to_the_launchs_sign_in_only(neosafe, epr):
    hidden = epr.launch(nurse_claims("epr-nurse-10"), patient("epr-baby-10", CASE_V_BABY), need_patient_banner=False)
    shown = epr.launch(nurse_claims("epr-nurse-11"), patient("epr-baby-11", CASE_V_BABY))
    with launched(neosafe, epr, hidden) as (first, _):
        kept = first.cookies[EPR_BANNER_COOKIE]
    with launched(neosafe, epr, shown) as (second, _):
        second.cookies.set(EPR_BANNER_COOKIE, kept)  # the other sign-in's banner cookie, in this browser
        page = second.get(f"/patients/{CASE_V_BABY}").text

    assert 'class="neosafe-banner"' in page


async def test_a_patient_with_no_nhs_number_is_a_clear_error(neosafe, epr, launch_settings):
    launch = epr.launch(nurse_claims("epr-nurse-5"), patient("epr-baby-5", None))
    with launched(neosafe, epr, launch) as (browser, refused):
        home = browser.get("/")

    assert refused.status_code == 400
    assert "no valid NHS number" in refused.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")
    events = await audited(launch_settings, "epr-nurse-5")
    assert [(e.action, e.outcome) for e in events] == [("smart-launch", "refused")]


def test_a_token_naming_no_patient_or_a_malformed_one_is_a_clear_error(neosafe, epr):
    for resource in (None, {"resourceType": "Patient", "id": "../../Practitioner/1"}):
        launch = epr.launch(nurse_claims("epr-nurse-6"), resource)
        with launched(neosafe, epr, launch) as (_, refused):
            assert refused.status_code == 400
            assert "The EPR did not say which baby to open" in refused.text


def test_a_malformed_nhs_number_is_no_baby(neosafe, epr):
    launch = epr.launch(nurse_claims("epr-nurse-7"), patient("epr-baby-7", "1234567890"))  # fails the check digit
    with launched(neosafe, epr, launch) as (_, refused):
        assert refused.status_code == 400 and "no valid NHS number" in refused.text


async def test_a_clinician_whose_role_gives_no_neosafe_role_is_refused_and_audited(neosafe, epr, launch_settings):
    claims = nurse_claims("epr-porter-1", name="Alex Porter", role_code="S0080:G0450:R5080")
    launch = epr.launch(claims, patient("epr-baby-8", CASE_V_BABY))
    with launched(neosafe, epr, launch) as (browser, refused):
        home = browser.get("/")

    assert refused.status_code == 403 and "gives no NeoSafe role" in refused.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")
    events = await audited(launch_settings, "epr-porter-1")
    assert [(e.action, e.outcome) for e in events] == [("smart-launch", "refused")]
    assert "gives no NeoSafe role" in events[0].detail


def _allow_list(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "smart-launch.toml"
    path.write_text(body, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('[[eprs]]\nname = "E"\niss = "http://epr.example/fhir"\nclient_id = "c"\n', "iss must be an https URL"),
        ('[[eprs]]\nname = "E"\niss = "https://e/fhir"\n', "must have name, iss and client_id"),
        (
            '[[eprs]]\nname = "E"\niss = "https://e/fhir"\nclient_id = "c"\nscopes = "openid patient/*.rs"\n',
            "scopes must include launch, fhirUser",
        ),
        (
            '[[eprs]]\nname = "E"\niss = "https://e/fhir"\nclient_id = "c"\nclient_secret_env = "NO_SUCH_VAR"\n',
            "NO_SUCH_VAR, which is not set",
        ),
        ("[[eprs]\n", "cannot read the SMART launch file"),
    ],
)
def test_a_broken_allow_list_says_what_is_wrong(tmp_path, body, message):
    with pytest.raises(ConfigError, match=message):
        load_launch_clients(_allow_list(tmp_path, body), environ={})


def test_a_client_secret_is_read_from_the_variable_the_entry_names(tmp_path):
    body = '[[eprs]]\nname = "E"\niss = "https://e/fhir/"\nclient_id = "c"\nclient_secret_env = "EPR_SECRET"\n'
    clients = load_launch_clients(_allow_list(tmp_path, body), environ={"EPR_SECRET": "s3cret"})
    assert clients["https://e/fhir"].client_secret == "s3cret"
