"""Single sign-on with OpenID Connect, as NHS CIS2 offers it, against a real OpenID provider over HTTP.

The provider is oidc-provider-mock (a real OpenID Connect server on a loopback port: no CIS2 is reachable
here). The user signs in there choosing a role; their selected role's code decides their NeoSafe role, and a
role that maps to none is refused and audited.
"""

from __future__ import annotations

from contextlib import contextmanager
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory
from app.config import ConfigError
from app.main import create_app
from app.web.identity import SignInRefused, role_of
from testkit.ports import free_port
from tests.conftest import SSO_ROLES, make_settings
from tests.families import CASE_V_BABY
from tests.servers import serving


def cis2_claims(name: str, *roles: tuple[str, str, list[str]], selected: str | None = None) -> dict:
    """CIS2's claims: every role the user holds, and the one they chose for this session."""
    held = [
        {"person_roleid": rid, "role_code": code, "org_code": "RGN", "activity_codes": activities}
        for rid, code, activities in roles
    ]
    return {"name": name, "nhsid_nrbac_roles": held, **({"selected_roleid": selected} if selected else {})}


@contextmanager
def signed_in(neosafe: str, provider: str, sub: str, claims: dict, next_page: str = "/", tamper=lambda url: url):
    """The browser's journey: NeoSafe -> the provider's form, submitted as `sub` -> back to NeoSafe.
    Yields the browser (its cookies) and NeoSafe's answer to the provider's redirect back. `tamper`: what a
    hostile extension or proxy does to the address NeoSafe sent the browser to."""
    httpx.put(f"{provider}/users/{sub}", json=claims).raise_for_status()
    with httpx.Client(base_url=neosafe, timeout=30) as browser:
        to_provider = browser.get("/sign-in/oidc", params={"next": next_page})
        assert to_provider.status_code in (302, 307), to_provider.text
        authorised = httpx.post(tamper(to_provider.headers["location"]), data={"sub": sub})
        back = urlparse(authorised.headers["location"])
        assert back.path == "/sign-in/callback", authorised.headers["location"]
        yield browser, browser.get(f"{back.path}?{back.query}")


def test_a_nurse_signs_in_with_her_selected_role_and_lands_where_she_was_going(sso_neosafe, oidc_provider):
    claims = cis2_claims(
        "Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), ("p-other", "S8000:G8000:R9999", []), selected="p-nurse"
    )
    with signed_in(sso_neosafe, oidc_provider, "555000111", claims, f"/patients/{CASE_V_BABY}") as (browser, landed):
        assert (landed.status_code, landed.headers["location"]) == (303, f"/patients/{CASE_V_BABY}")
        page = browser.get(f"/patients/{CASE_V_BABY}")

    assert page.status_code == 200
    assert "Priya Shah (Neonatal nurse)" in page.text


def test_an_activity_code_can_give_the_role(sso_neosafe, oidc_provider):
    claims = cis2_claims("Sam Okoro", ("p-1", "S8000:G8000:R8000", ["B0107"]), selected="p-1")
    with signed_in(sso_neosafe, oidc_provider, "555000222", claims) as (browser, _):
        page = browser.get("/")

    assert "Sam Okoro (Safeguarding lead)" in page.text


async def test_a_role_with_no_neosafe_role_is_refused_and_audited(sso_neosafe, oidc_provider, sso_settings):
    claims = cis2_claims("Alex Porter", ("p-admin", "S0080:G0450:R5080", []), selected="p-admin")
    with signed_in(sso_neosafe, oidc_provider, "555000333", claims) as (browser, refused):
        home = browser.get("/")

    assert refused.status_code == 403
    assert "S0080:G0450:R5080" in refused.text and "gives no NeoSafe role" in refused.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")  # not signed in
    engine = make_engine(sso_settings.database_url)
    async with session_factory(engine)() as session:
        events = (await session.exec(select(AuditEvent).where(AuditEvent.user_id == "555000333"))).all()
    await engine.dispose()
    assert [(e.action, e.outcome) for e in events] == [("sign-in", "refused")]
    assert "gives no NeoSafe role" in events[0].detail


def test_a_callback_that_did_not_start_here_is_a_clear_error(sso_neosafe):
    with httpx.Client(base_url=sso_neosafe, timeout=30) as browser:
        forged = browser.get("/sign-in/callback", params={"code": "stolen", "state": "made-up"})

    assert forged.status_code == 400
    assert "Sign-in did not complete" in forged.text


def test_an_id_token_that_fails_its_checks_is_a_clear_error_and_signs_nobody_in(sso_neosafe, oidc_provider):
    """The nonce changed on the way to the provider: the ID token comes back signed, but for another sign-in."""
    claims = cis2_claims("Nurse", ("n-1", "S8000:G8000:R8001", []), selected="n-1")

    def other_nonce(url: str) -> str:
        parts = urlparse(url)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"nonce": "not-neosafes-nonce"}
        return parts._replace(query=urlencode(query)).geturl()

    with signed_in(sso_neosafe, oidc_provider, "555000444", claims, tamper=other_nonce) as (browser, refused):
        home = browser.get("/")

    assert refused.status_code == 400 and "Sign-in did not complete" in refused.text
    assert home.status_code == 303 and home.headers["location"].startswith("/sign-in")


def test_the_sign_in_page_offers_single_sign_on_and_no_demo_users(sso_neosafe):
    with httpx.Client(base_url=sso_neosafe, timeout=30) as browser:
        page = browser.get("/sign-in").text

    assert "Sign in with NHS Care Identity" in page and "Demonstration only" not in page


@pytest.mark.parametrize(
    ("claims", "message"),
    [
        (cis2_claims("A", ("p1", "S1:G1:R8001", []), ("p2", "S1:G1:R8003", [])), "choose one role"),
        (cis2_claims("A", ("p1", "S1:G1:R8001", ["B0107"]), selected="p1"), "matches more than one"),
    ],
)
def test_ambiguity_is_refused_never_guessed(claims, message):
    with pytest.raises(SignInRefused, match=message):
        role_of(claims, SSO_ROLES)


def test_a_mapping_to_a_role_neosafe_does_not_have_stops_start_up(tmp_path, sources):
    settings = make_settings(tmp_path).model_copy(
        update={"oidc_issuer": "http://localhost:1", "oidc_client_id": "x", "oidc_roles": {"R8001": "matron"}}
    )
    with pytest.raises(ConfigError, match="unknown: \\['matron'\\]"):
        create_app(settings, sources=sources)


def test_a_sign_in_service_that_cannot_be_reached_is_said_plainly(sso_settings, sources):
    unreachable = sso_settings.model_copy(update={"oidc_issuer": f"http://127.0.0.1:{free_port()}"})
    with serving(create_app(unreachable, sources=sources)) as url, httpx.Client(base_url=url, timeout=30) as browser:
        page = browser.get("/sign-in/oidc")

    assert page.status_code == 503
    assert "The sign-in service could not be reached" in page.text


def access_token(provider: str, sub: str, claims: dict) -> str:
    """What an EPR integration holds: an access token the provider issued for a user (authorization code flow)."""
    httpx.put(f"{provider}/users/{sub}", json=claims).raise_for_status()
    metadata = httpx.get(f"{provider}/.well-known/openid-configuration").raise_for_status().json()
    client = {"client_id": "epr-integration", "client_secret": "not-a-real-secret"}
    back = "http://127.0.0.1:1/callback"
    query = {"response_type": "code", "redirect_uri": back, "scope": "openid", "state": "s", "nonce": "n", **client}
    authorised = httpx.post(metadata["authorization_endpoint"], params=query, data={"sub": sub})
    code = parse_qs(urlparse(authorised.headers["location"]).query)["code"][0]
    token = httpx.post(
        metadata["token_endpoint"],
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": back, **client},
    )
    return token.raise_for_status().json()["access_token"]


def test_an_integration_calls_the_api_with_a_token_the_provider_issued(sso_neosafe, oidc_provider):
    token = access_token(
        oidc_provider,
        "555000444",
        cis2_claims("EPR integration user", ("p-1", "S8000:G8000:R8001", []), selected="p-1"),
    )
    with httpx.Client(base_url=sso_neosafe, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        picture = api.get(f"/api/patients/{CASE_V_BABY}/picture")
        again = api.get(f"/api/patients/{CASE_V_BABY}/picture")  # vouched for a minute: not asked again

    assert picture.status_code == again.status_code == 200
    assert picture.json()["baby"]["nhs_number"] == CASE_V_BABY


def test_a_token_the_provider_does_not_recognise_or_a_role_without_access_is_refused(sso_neosafe, oidc_provider):
    no_role = access_token(
        oidc_provider, "555000555", cis2_claims("Porter", ("p-1", "S0:G0:R5080", []), selected="p-1")
    )
    with httpx.Client(base_url=sso_neosafe, timeout=30) as api:
        forged = api.get(f"/api/patients/{CASE_V_BABY}/picture", headers={"Authorization": "Bearer made-up"})
        refused = api.get(f"/api/patients/{CASE_V_BABY}/picture", headers={"Authorization": f"Bearer {no_role}"})

    assert forged.status_code == 401 and forged.headers["www-authenticate"] == "Bearer"
    assert refused.status_code == 403 and "gives no NeoSafe role" in refused.json()["detail"]
