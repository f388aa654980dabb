"""CP-IS is user-restricted: asked with the signed-in clinician's NHS CIS2 token, kept server-side with the sign-in.

Over HTTP end to end: a real OpenID provider (standing in for CIS2) signs the clinician in, NeoSafe keeps the access
token in the sign-in's row (never the cookie), and the CP-IS sandbox accepts only a token that provider vouches for.
A demo user has no CIS2 token: CP-IS is *not checked*, never "none found", and is not called.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from markupsafe import escape
from sqlmodel import select

from app.assessments import SignIn, end_sign_in, make_engine, open_sign_in, session_factory
from app.checkpoints import Checkpoints
from app.checkpoints.redaction import ASKED_BY_ANOTHER
from app.config import ConfigError, Settings, SourceSettings
from app.main import create_app
from app.picture import NEEDS_SIGN_IN
from app.web.deps import _cis2_token
from sandbox.cpis import CpisSandbox
from tests.conftest import cis2_settings, signed_in_browser
from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER
from tests.servers import serving
from tests.web.test_sessions import audited
from tests.web.test_sign_in import cis2_claims, signed_in
from tests.web.test_worklist import rows, text

CONTACTS = "Contact Fenmoor County Council Children's Services: office hours 01632 960100; out of hours 01632 960199"


@pytest.fixture(scope="module")
def cpis(oidc_provider: str) -> Iterator[CpisSandbox]:
    with CpisSandbox(tokens=frozenset(), userinfo_url=f"{oidc_provider}/userinfo") as running:
        yield running


@pytest.fixture(scope="module")
def cpis_settings(oidc_provider: str, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return cis2_settings(tmp_path_factory.mktemp("cpis"), oidc_provider)


@pytest.fixture(scope="module")
def neosafe(cpis_settings: Settings, sources: list[SourceSettings], cpis: CpisSandbox) -> Iterator[str]:
    # The unit counts its admission check as scheduled care; anything else is left to the default (unscheduled).
    national = SourceSettings(
        name="cpis", base_url=cpis.url, timeout_s=30, profile="cpis", unscheduled_access={"admission": False}
    )
    with serving(create_app(cpis_settings, sources=[s for s in sources if s.name != "cpis"] + [national])) as url:
        yield url


async def _rows(settings: Settings, model, *where):
    engine = make_engine(settings.database_url)
    async with session_factory(engine)() as session:
        rows = (await session.exec(select(model).where(*where))).all()
    await engine.dispose()
    return rows


async def test_a_cis2_clinician_is_asked_about_with_her_own_token_the_header_as_configured_and_audited(
    neosafe, oidc_provider, cpis, cpis_settings
):
    claims = cis2_claims("Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), selected="p-nurse")
    with signed_in(neosafe, oidc_provider, "555000901", claims) as (browser, landed):
        assert landed.status_code == 303
        cookie = next(iter(browser.cookies.values()))
        before = len(cpis.seen)
        admission = browser.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")
        at_admission = cpis.seen[before:]
        before = len(cpis.seen)
        picture = browser.get(f"/patients/{ACTIVE_CP_BABY}")
        outside = cpis.seen[before:]
        handover = browser.get(f"/patients/{ACTIVE_CP_BABY}/handover")
        api = browser.get(f"/api/patients/{ACTIVE_CP_BABY}/picture", headers={"Authorization": f"Bearer {cookie}"})

    assert admission.status_code == 200 and picture.status_code == 200
    assert str(escape(CONTACTS)) in admission.text  # the summary says whom to call, in and out of office hours
    assert handover.status_code == 200 and str(escape(CONTACTS)) in handover.text  # and so does the handover
    plan = next(r for r in api.json()["records"] if r["source"] == "cpis" and r["code"] == "CPPI")
    assert (plan["office_hours"], plan["out_of_hours"]) == ("01632 960100", "01632 960199")
    assert sorted((s["nhs_number"], s["unscheduled"]) for s in at_admission) == [
        (ACTIVE_CP_BABY, "false"),
        (ACTIVE_CP_MOTHER, "false"),
    ]
    assert {s["unscheduled"] for s in outside} == {"true"}  # no checkpoint: the default, as CP-IS reads "omitted"
    (sign_in,) = await _rows(cpis_settings, SignIn, SignIn.user_id == "555000901")
    assert sign_in.cis2_access_token and sign_in.cis2_access_token not in cookie  # server-side, never the cookie
    events = await audited(cpis_settings.database_url, "view-cpis", "555000901")
    assert [e.nhs_number for e in events] == [ACTIVE_CP_BABY] * 4
    assert "Priya Shah (Neonatal nurse)" in events[0].detail and "at admission" in events[0].detail
    assert "IsUnscheduledAccessEvent=false" in events[0].detail
    assert "IsUnscheduledAccessEvent=true" in events[1].detail
    assert all(s["trace_id"] in events[0].detail for s in at_admission)
    assert sign_in.cis2_access_token not in " ".join(e.detail for e in events)


async def test_a_demo_user_has_no_cis2_token_so_cp_is_is_not_checked_and_not_called(neosafe, cpis, cpis_settings):
    before = len(cpis.seen)
    with signed_in_browser(neosafe, "nurse") as browser:
        page = browser.get(f"/patients/{ACTIVE_CP_BABY}/checklists/admission")

    assert page.status_code == 200
    assert str(escape(NEEDS_SIGN_IN)) in page.text
    assert len(cpis.seen) == before
    assert not await audited(cpis_settings.database_url, "view-cpis", "demo-nurse")


async def test_an_ended_sign_in_forgets_its_cis2_token(cpis_settings, neosafe):
    sessions = session_factory(engine := make_engine(cpis_settings.database_url))
    now = datetime.now(UTC)
    opened = await open_sign_in(
        sessions,
        user_id="555000902",
        name="Sam Okoro",
        role="nurse",
        now=now,
        keep=timedelta(hours=12),
        cis2_token="cis2-access-token",
        cis2_expires_at=now + timedelta(hours=1),
    )
    assert await end_sign_in(sessions, opened.id, now=now, reason="sign-out")
    async with sessions() as session:
        ended = await session.get(SignIn, opened.id)
    await engine.dispose()

    assert (ended.end_reason, ended.cis2_access_token) == ("sign-out", None)


def test_an_expired_cis2_token_is_not_used():
    now = datetime.now(UTC)
    fresh = SignIn(id="s", user_id="u", name="n", role="nurse", cis2_access_token="t", cis2_token_expires_at=now)

    assert _cis2_token(fresh, now - timedelta(seconds=1)) == "t"
    assert _cis2_token(fresh, now) is None  # expired: CP-IS not checked, the clinician signs in again
    assert _cis2_token(SignIn(id="s", user_id="u", name="n", role="nurse"), now) is None


async def test_a_pass_with_no_clinician_the_watch_job_reads_cp_is_not_checked_and_does_not_call_it(
    settings, sources, cpis
):
    national = SourceSettings(name="cpis", base_url=cpis.url, timeout_s=30, profile="cpis")
    before = len(cpis.seen)
    async with Checkpoints.wire(settings, sources=[s for s in sources if s.name != "cpis"] + [national]).running() as (
        services
    ):
        picture = await services.picture(ACTIVE_CP_BABY)  # as the watch job and the worklist gather it

    status = next(s for s in picture.sources if s.name == "cpis")
    assert (status.status, status.detail) == ("unavailable", f"not checked: {NEEDS_SIGN_IN}")
    assert len(cpis.seen) == before


def test_a_misspelt_checkpoint_in_unscheduled_access_is_refused_at_start(settings, sources):
    national = SourceSettings(
        name="cpis", base_url="http://127.0.0.1:1", profile="cpis", unscheduled_access={"admision": False}
    )

    with pytest.raises(ConfigError, match="unscheduled_access names admision, not checkpoints NeoSafe has"):
        Checkpoints.wire(settings, sources=[*sources, national])


async def test_what_cp_is_told_one_clinician_is_not_shown_on_another_users_worklist(neosafe, oidc_provider):
    """CP-IS answers the clinician who asks, under her access, and records it as hers: the worklist keeps her picture,
    but another reader sees CP-IS as not checked (open the baby's page to ask), never her answer or "none found"."""
    claims = cis2_claims("Priya Shah", ("p-nurse", "S8000:G8000:R8001", []), selected="p-nurse")
    with signed_in(neosafe, oidc_provider, "555000903", claims) as (browser, _):
        browser.get(f"/patients/{ACTIVE_CP_BABY}").raise_for_status()
        (_, hers) = rows(browser)[ACTIVE_CP_BABY]
    with signed_in_browser(neosafe, "safeguarding-lead") as lead:
        (_, theirs) = rows(lead)[ACTIVE_CP_BABY]

    hers, theirs = html.unescape(text(hers)), html.unescape(text(theirs))
    assert ASKED_BY_ANOTHER not in hers and "Child Protection - Information Sharing" not in hers  # checked, for her
    assert f"Not checked: {ASKED_BY_ANOTHER}" in theirs
