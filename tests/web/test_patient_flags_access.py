"""The Patient Flags API is user-restricted: asked with the signed-in clinician's NHS CIS2 token, over HTTP end to end.

A real OpenID provider (standing in for CIS2) signs the clinician in; the Patient Flags sandbox accepts only a token
that provider vouches for. Her picture shows the FGM-IS flag on the baby girl's sister, and each request's
X-Request-ID is in NeoSafe's audit under her name. A demo user has no CIS2 token: not checked, and not called.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from markupsafe import escape

from app.config import Settings, SourceSettings
from app.main import create_app
from app.picture import NEEDS_SIGN_IN
from sandbox.flags import FlagsSandbox
from tests.conftest import cis2_settings, signed_in_browser
from tests.families import FGM_IS_BABY, FGM_IS_SISTER
from tests.servers import serving
from tests.web.test_sessions import audited
from tests.web.test_sign_in import cis2_claims, signed_in


@pytest.fixture(scope="module")
def flags(oidc_provider: str) -> Iterator[FlagsSandbox]:
    with FlagsSandbox(tokens=frozenset(), userinfo_url=f"{oidc_provider}/userinfo") as running:
        yield running


@pytest.fixture(scope="module")
def flags_settings(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return cis2_settings(tmp_path_factory.mktemp("flags"), oidc_provider)


@pytest.fixture(scope="module")
def neosafe(flags_settings: Settings, sources: list[SourceSettings], flags: FlagsSandbox) -> Iterator[str]:
    national = SourceSettings(name="patient-flags", base_url=flags.url, timeout_s=30, profile="patient-flags")
    with serving(create_app(flags_settings, sources=[*sources, national])) as url:
        yield url


async def test_a_cis2_clinician_sees_the_sisters_fgm_is_flag_asked_with_her_own_token_and_audited(
    neosafe, oidc_provider, flags, flags_settings
):
    claims = cis2_claims("Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), selected="p-nurse")
    with signed_in(neosafe, oidc_provider, "555000911", claims) as (browser, landed):
        assert landed.status_code == 303
        cookie = next(iter(browser.cookies.values()))
        before = len(flags.seen)
        api = browser.get(f"/api/patients/{FGM_IS_BABY}/picture", headers={"Authorization": f"Bearer {cookie}"})
        asked = flags.seen[before:]

    assert api.status_code == 200
    fgm_is = [r for r in api.json()["records"] if r["source"] == "patient-flags" and r["category"] == "fgm-is"]
    assert [(r["person_nhs_number"], r["code"]) for r in fgm_is] == [(FGM_IS_SISTER, "902961000000107")]
    (event,) = await audited(flags_settings.database_url, "view-patient-flags", "555000911")
    assert "Priya Shah (Neonatal nurse)" in event.detail
    assert all(s["request_id"] in event.detail for s in asked) and len(asked) == 3  # baby, mother, sister


async def test_a_demo_user_has_no_cis2_token_so_the_flags_are_not_checked_and_not_called(
    neosafe, flags, flags_settings
):
    before = len(flags.seen)
    with signed_in_browser(neosafe, "nurse") as browser:
        page = browser.get(f"/patients/{FGM_IS_BABY}")

    assert page.status_code == 200
    assert str(escape(NEEDS_SIGN_IN)) in page.text
    assert len(flags.seen) == before
    assert not await audited(flags_settings.database_url, "view-patient-flags", "demo-nurse")
