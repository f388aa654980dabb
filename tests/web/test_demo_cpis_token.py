"""The demo's CP-IS sandbox token: given to demo sign-ins only, kept server-side with the sign-in as a CIS2 token
is, and never existing outside demo mode (no setting or environment variable sets it; refused without demo users).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from markupsafe import escape

from app.assessments import SignIn
from app.config import ConfigError, Settings, SourceSettings
from app.main import create_app
from app.picture import NEEDS_SIGN_IN
from sandbox.cpis import CpisSandbox
from tests.conftest import SECRET, make_settings, signed_in_browser
from tests.families import ACTIVE_CP_BABY
from tests.servers import serving
from tests.web.test_cpis_access import CONTACTS, _rows

TOKEN = "demo-run-token-" + "y" * 32


@pytest.fixture(scope="module")
def cpis() -> Iterator[CpisSandbox]:
    with CpisSandbox(tokens=frozenset({TOKEN})) as running:
        yield running


def _with_cpis(sources: list[SourceSettings], cpis: CpisSandbox) -> list[SourceSettings]:
    national = SourceSettings(name="cpis", base_url=cpis.url, timeout_s=30, profile="cpis")
    return [s for s in sources if s.name != "cpis"] + [national]


async def test_a_demo_sign_in_is_given_the_token_kept_with_the_sign_in_never_in_the_cookie(sources, cpis, tmp_path):
    settings = make_settings(tmp_path)
    with serving(create_app(settings, sources=_with_cpis(sources, cpis), demo_cis2_token=TOKEN)) as url:
        before = len(cpis.seen)
        with signed_in_browser(url, "nurse") as nurse:
            page = nurse.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")
            cookies = " ".join(nurse.cookies.values())

    assert page.status_code == 200 and str(escape(CONTACTS)) in page.text  # CP-IS checked, in its own shape
    assert TOKEN not in page.text and TOKEN not in cookies
    assert {s["nhs_number"] for s in cpis.seen[before:]} >= {ACTIVE_CP_BABY}
    [sign_in] = await _rows(settings, SignIn, SignIn.user_id == "demo-nurse")
    assert sign_in.cis2_access_token == TOKEN  # server-side, with the sign-in, as a CIS2 token is


def test_a_demo_token_without_demo_users_is_refused(tmp_path):
    settings = make_settings(tmp_path).model_copy(update={"demo_users": False})

    with pytest.raises(ConfigError, match="demo CP-IS token is for demo users only"):
        create_app(settings, demo_cis2_token=TOKEN)
    with pytest.raises(ConfigError):
        create_app(make_settings(tmp_path), demo_cis2_token="")  # never an empty token taken as one


def test_no_setting_or_environment_variable_can_give_a_token(monkeypatch, tmp_path, sources):
    for name in ("NEOSAFE_DEMO_CIS2_TOKEN", "NEOSAFE_CIS2_TOKEN", "NEOSAFE_DEMO_CPIS_TOKEN"):
        monkeypatch.setenv(name, TOKEN)
    monkeypatch.setenv("NEOSAFE_SECRET_KEY", SECRET)
    monkeypatch.setenv("NEOSAFE_DEMO_USERS", "true")

    settings = Settings()
    app = create_app(
        settings.model_copy(update={"database_url": make_settings(tmp_path).database_url}), sources=sources
    )

    assert TOKEN not in repr(settings.model_dump())
    assert not [f for f in Settings.model_fields if "cis2" in f or "cpis" in f]
    assert app.state.demo_cis2_token is None  # `neosafe serve`, and every app not made by `neosafe demo`


async def test_without_the_demo_token_a_demo_sign_in_has_none_and_cp_is_is_not_checked(sources, cpis, tmp_path):
    settings = make_settings(tmp_path)
    with serving(create_app(settings, sources=_with_cpis(sources, cpis))) as url:
        before = len(cpis.seen)
        with signed_in_browser(url, "nurse") as nurse:
            page = nurse.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")

    assert str(escape(NEEDS_SIGN_IN)) in page.text and len(cpis.seen) == before
    [sign_in] = await _rows(settings, SignIn, SignIn.user_id == "demo-nurse")
    assert sign_in.cis2_access_token is None
