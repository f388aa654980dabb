"""A checklist page carries what the sources pre-filled, restricted detail included: it opens only for a role that
may complete that checklist (403, and the refusal audited, for any other), over HTTP. Every role still sees the
baby's picture, as its role may see it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory
from app.checkpoints import DEMO_USERS
from app.config import Settings
from app.main import create_app
from app.web import issue_token
from tests.conftest import SECRET, make_settings
from tests.families import CASE_V_BABY
from tests.servers import serving

RESTRICTED = "Police domestic incident report received"  # Case V's police notice: restricted (R) detail


@dataclass
class Unit:
    url: str
    settings: Settings

    @contextmanager
    def browser(self, role: str) -> Iterator[httpx.Client]:
        """A browser signed in through the sign-in page as the demo user of `role`."""
        with httpx.Client(base_url=self.url, timeout=60, follow_redirects=False) as client:
            signed_in = client.post("/sign-in", data={"role": role})
            assert signed_in.status_code == 303, signed_in.text
            yield client

    def api(self, role: str) -> httpx.Client:
        """An API client with a token for the demo user of `role`."""
        token = issue_token(DEMO_USERS[role], secret=SECRET)
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    async def refusals(self, user_id: str) -> list[tuple[str, str | None, str]]:
        engine = make_engine(self.settings.database_url)
        try:
            async with session_factory(engine)() as session:
                rows = (await session.exec(select(AuditEvent).where(AuditEvent.user_id == user_id))).all()
        finally:
            await engine.dispose()
        return [(e.action, e.nhs_number, e.detail or "") for e in rows if e.outcome == "refused"]


@pytest.fixture(scope="module")
def unit(sources, tmp_path_factory) -> Iterator[Unit]:
    settings = make_settings(tmp_path_factory.mktemp("view-by-role"))
    with serving(create_app(settings, sources=sources)) as url:
        yield Unit(url, settings)


@pytest.mark.parametrize(
    ("role", "user_id"), [("community-nurse", "demo-community"), ("discharge-coordinator", "demo-discharge")]
)
async def test_a_role_that_may_not_complete_the_admission_checklist_cannot_open_it_and_the_refusal_is_audited(
    unit, role, user_id
):
    with unit.browser(role) as browser:
        page = browser.get(f"/patients/{CASE_V_BABY}/checklists/admission")
        picture = browser.get(f"/patients/{CASE_V_BABY}")

    assert page.status_code == 403, page.text[:300]
    assert "cannot complete the admission checklist" in page.text
    assert 'name="picture_id"' not in page.text and RESTRICTED not in page.text  # no form, nothing pre-filled
    assert picture.status_code == 200  # the picture is theirs to see
    assert ("complete-admission", CASE_V_BABY) in [(a, n) for a, n, _ in await unit.refusals(user_id)]
    assert all("cannot complete the admission checklist" in d for a, _, d in await unit.refusals(user_id))


def test_the_nurse_opens_the_admission_checklist_and_the_coordinator_the_discharge_one(unit):
    with unit.browser("nurse") as nurse:
        admission = nurse.get(f"/patients/{CASE_V_BABY}/checklists/admission")
    with unit.browser("discharge-coordinator") as coordinator:
        discharge = coordinator.get(f"/patients/{CASE_V_BABY}/checklists/discharge")

    assert admission.status_code == 200 and 'name="picture_id"' in admission.text
    assert discharge.status_code == 200 and 'name="picture_id"' in discharge.text


@pytest.mark.parametrize("role", ["community-nurse", "discharge-coordinator"])
def test_the_api_gives_the_pre_filled_checklist_only_to_a_role_that_may_complete_it(unit, role):
    with unit.api(role) as other, unit.api("nurse") as nurse:
        refused = other.get(f"/api/patients/{CASE_V_BABY}/checklists/admission")
        given = nurse.get(f"/api/patients/{CASE_V_BABY}/checklists/admission")

    assert refused.status_code == 403, refused.text[:300]
    assert RESTRICTED not in refused.text
    assert given.status_code == 200 and given.json()["resourceType"] == "QuestionnaireResponse"
