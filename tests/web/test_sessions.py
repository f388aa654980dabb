"""Sign-ins kept server-side (issue 11 #7, #9), over HTTP against a real NeoSafe and the sandbox sources.

Signing out ends the sign-in, so a copied cookie opens nothing; one unused for the idle timeout ends, and one older
than NEOSAFE_SESSION_HOURS however busy; an API token is never a page cookie; a form's CSRF token is its sign-in's
alone; and a checklist posted just after an idle sign-out is kept for its author, and only for them, to finish.
Time is NeoSafe's injected clock, moved on by the tests: nothing here waits.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlmodel import select

from app.assessments import AuditEvent, make_engine, session_factory
from app.checkpoints import DEMO_USERS
from app.main import create_app
from app.web import issue_token
from app.web.deps import COOKIE
from tests.answering import completed, submitted
from tests.conftest import SECRET, make_settings, signed_in_browser
from tests.factories import create_baby
from tests.families import CASE_V_BABY
from tests.servers import serving

IDLE_MINUTES = 20  # not the default 30: the sign-in page must say the configured number
SESSION_HOURS = 2
CONCERN = "A10-concern-now~0/A10-concern-now.concern~0"
FORM_FIELDS = re.compile(r'name="(csrf|picture_id|submission_key)" value="([^"]+)"')


class Clock:
    """NeoSafe's clock, which the tests move on."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now

    def wait(self, **duration: float) -> None:
        self.now += timedelta(**duration)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def neosafe(sources, clock, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """NeoSafe on its own database and clock, with a 20-minute idle timeout and 2-hour sign-ins: its URL and
    its database's."""
    settings = make_settings(tmp_path_factory.mktemp("sessions")).model_copy(
        update={"session_idle_minutes": IDLE_MINUTES, "session_hours": SESSION_HOURS, "outbox_worker": False}
    )
    with serving(create_app(settings, sources=sources, clock=clock)) as url:
        yield url, settings.database_url


@pytest.fixture(autouse=True)
def _now(clock: Clock) -> None:
    clock.now = datetime.now(UTC)  # each test starts at the real time


@pytest.fixture
def url(neosafe) -> str:
    return neosafe[0]


def browser(url: str, role: str = "nurse") -> httpx.Client:
    return signed_in_browser(url, role, follow_redirects=False)


def with_cookie(url: str, cookie: str) -> httpx.Client:
    """Another browser showing a copy of a cookie."""
    return httpx.Client(base_url=url, cookies={COOKIE: cookie}, timeout=30, follow_redirects=False)


def bearer(url: str, token: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def sent_to_sign_in(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/sign-in")


async def audited(database_url: str, action: str, user_id: str | None = None) -> list[AuditEvent]:
    """The audit records of `action` (by `user_id`, if given)."""
    where = [AuditEvent.action == action, *([AuditEvent.user_id == user_id] if user_id is not None else [])]
    engine = make_engine(database_url)
    try:
        async with session_factory(engine)() as session:
            return list((await session.exec(select(AuditEvent).where(*where))).all())
    finally:
        await engine.dispose()


def test_after_signing_out_a_copy_of_the_old_cookie_opens_no_page_and_no_api(url):
    with browser(url) as nurse:
        cookie = nurse.cookies[COOKIE]
        assert nurse.get(f"/patients/{CASE_V_BABY}").status_code == 200
        with bearer(url, cookie) as api:  # the cookie's token works as a bearer while its sign-in is open
            assert api.get("/api/checklists/admission").status_code == 200
        signed_out = nurse.post("/sign-out")
        told = nurse.get(signed_out.headers["location"]).text

    assert sent_to_sign_in(signed_out) and "You have signed out" in told
    with with_cookie(url, cookie) as copy:
        assert sent_to_sign_in(copy.get(f"/patients/{CASE_V_BABY}"))
    with bearer(url, cookie) as api:
        assert api.get("/api/checklists/admission").status_code == 401


async def test_signing_out_is_audited(neosafe):
    url, database_url = neosafe
    with browser(url, "discharge-coordinator") as coordinator:
        coordinator.post("/sign-out")
        coordinator.post("/sign-out")  # pressed again: the sign-in ended once

    events = [e for e in await audited(database_url, "sign-out") if e.user_id == "demo-discharge"]
    assert [(e.role, e.outcome) for e in events] == [("discharge-coordinator", "success")]


async def test_a_sign_in_unused_longer_than_the_idle_timeout_ends_and_the_sign_in_page_says_why(neosafe, clock):
    url, database_url = neosafe
    with browser(url, "safeguarding-lead") as lead:
        cookie = lead.cookies[COOKIE]
        for _ in range(3):  # used every 15 minutes: 45 minutes in all, never 20 unused
            clock.wait(minutes=IDLE_MINUTES - 5)
            assert lead.get(f"/patients/{CASE_V_BABY}").status_code == 200
        clock.wait(minutes=IDLE_MINUTES + 1)
        ended = lead.get(f"/patients/{CASE_V_BABY}")
        told = lead.get(ended.headers["location"]).text

    assert sent_to_sign_in(ended)
    assert f"You were signed out because NeoSafe was not used for {IDLE_MINUTES} minutes" in told
    with bearer(url, cookie) as api:
        assert api.get("/api/checklists/admission").status_code == 401
    assert [e.detail for e in await audited(database_url, "sign-in-ended") if e.user_id == "demo-safeguarding"] == [
        "idle"
    ]


def test_a_sign_in_ends_at_its_absolute_limit_however_busy(url, clock):
    with browser(url) as nurse:
        busy_for = timedelta()
        while busy_for < timedelta(hours=SESSION_HOURS):
            assert nurse.get("/patients/9990101000").status_code == 200, busy_for
            clock.wait(minutes=IDLE_MINUTES - 1)
            busy_for += timedelta(minutes=IDLE_MINUTES - 1)
        ended = nurse.get("/patients/9990101000")
        told = nurse.get(ended.headers["location"]).text

    assert sent_to_sign_in(ended)
    assert f"a sign-in lasts {SESSION_HOURS} hours at most" in told


def test_an_api_token_is_never_a_page_cookie(url):
    issued = issue_token(DEMO_USERS["nurse"], secret=SECRET)  # what `neosafe token` makes
    with bearer(url, issued) as api:
        assert api.get("/api/checklists/admission").status_code == 200
    with with_cookie(url, issued) as forged:
        assert sent_to_sign_in(forged.get(f"/patients/{CASE_V_BABY}"))


@pytest.mark.parametrize("claims", [{"sign_in": 7}, {"id": "demo-nurse"}, ["x"], {"sign_in": "no-such-sign-in"}])
def test_a_validly_signed_cookie_naming_no_sign_in_opens_nothing(url, claims):
    token = URLSafeTimedSerializer(SECRET, salt="neosafe-session").dumps(claims)
    with with_cookie(url, token) as forged:
        assert sent_to_sign_in(forged.get(f"/patients/{CASE_V_BABY}"))
    with bearer(url, token) as api:
        assert api.get("/api/checklists/admission").status_code == 401


def test_a_form_drawn_in_an_earlier_sign_in_is_refused_as_expired(url, fhir):
    baby = create_baby(fhir["neonatal"])
    with browser(url) as before:
        old = dict(FORM_FIELDS.findall(before.get(f"/patients/{baby}/checklists/admission").text))
        before.post("/sign-out")
    with browser(url) as again, browser(url, "safeguarding-lead") as someone_else:
        refused = again.post(f"/patients/{baby}/checklists/admission", data=old)
        theirs = dict(FORM_FIELDS.findall(someone_else.get(f"/patients/{baby}/checklists/admission").text))
        not_mine = again.post(f"/patients/{baby}/checklists/admission", data=theirs)
        fresh = dict(FORM_FIELDS.findall(again.get(f"/patients/{baby}/checklists/admission").text))
        checked = again.post(f"/patients/{baby}/checklists/admission", data=fresh)

    assert refused.status_code == 403 and "This form has expired" in refused.text
    assert not_mine.status_code == 403
    assert checked.status_code == 422  # this sign-in's own form is read (and found incomplete)


def test_answers_posted_after_an_idle_sign_out_come_back_to_their_author_and_no_one_else(url, clock, fhir):
    baby = create_baby(fhir["neonatal"])
    checklist = f"/patients/{baby}/checklists/admission"
    with browser(url) as nurse:
        form = dict(FORM_FIELDS.findall(nurse.get(checklist).text))
        clock.wait(minutes=IDLE_MINUTES + 5)  # she left it open, then pressed Save
        held = nurse.post(checklist, data={**form, CONCERN: "true"})
        told = nurse.get(held.headers["location"]).text
    resume = parse_qs(urlsplit(held.headers["location"]).query)["next"][0]

    assert held.status_code == 303 and held.headers["location"].startswith("/sign-in?next=")
    assert resume.startswith(f"{checklist}/resume/")
    assert "not used for" in told and "has been kept, not saved" in told
    with browser(url, "safeguarding-lead") as someone_else:  # who may complete an admission checklist too
        assert someone_else.get(resume).status_code == 404
    with httpx.Client(base_url=url, timeout=30, follow_redirects=False) as again:
        landed = again.post("/sign-in", data={"role": "nurse", "next": resume})
        page = again.get(landed.headers["location"])
        redrawn = dict(FORM_FIELDS.findall(page.text))
        drafted = again.post(checklist, data={**redrawn, CONCERN: "true", "intent": "draft"})
        gone = again.get(resume)
    with bearer(url, signed_in_browser(url, "nurse").cookies[COOKIE]) as api:
        stored = api.get(f"/api/patients/{baby}/assessments").json()

    assert landed.headers["location"] == resume
    assert page.status_code == 200
    assert "You were signed out before this was saved. Your answers are back: check them and save." in page.text
    assert re.search(rf'name="{re.escape(CONCERN)}" type="radio" value="true" checked', page.text)
    assert redrawn["submission_key"] == form["submission_key"]  # the same filled-in form: Save finds one save
    assert redrawn["csrf"] != form["csrf"]  # drawn for the new sign-in, whose token it must carry
    assert drafted.status_code == 200 and "Draft saved on" in drafted.text
    assert gone.status_code == 404  # resumed once, then no longer kept
    assert stored == []  # nothing was saved or sent meanwhile


def test_an_amendment_posted_after_an_idle_sign_out_comes_back_too(url, clock, fhir):
    baby = create_baby(fhir["neonatal"])
    with bearer(url, signed_in_browser(url, "nurse").cookies[COOKIE]) as api:
        first = submitted(api, baby, completed(api, baby))
    amend = f"/patients/{baby}/assessments/{first}/amend"
    with browser(url) as nurse:
        form = dict(FORM_FIELDS.findall(nurse.get(amend).text))
        clock.wait(minutes=IDLE_MINUTES + 1)
        held = nurse.post(amend, data={**form, CONCERN: "true"})
    resume = parse_qs(urlsplit(held.headers["location"]).query)["next"][0]
    with browser(url) as again:
        page = again.get(resume)

    assert resume.startswith(f"{amend}/resume/")
    assert page.status_code == 200 and f'action="{amend}"' in page.text
    assert "Your answers are back" in page.text
    assert re.search(rf'name="{re.escape(CONCERN)}" type="radio" value="true" checked', page.text)


def test_a_form_posted_after_signing_out_is_not_kept(url, fhir):
    baby = create_baby(fhir["neonatal"])
    checklist = f"/patients/{baby}/checklists/admission"
    with browser(url) as nurse:
        form = dict(FORM_FIELDS.findall(nurse.get(checklist).text))
        cookie = nurse.cookies[COOKIE]
        nurse.post("/sign-out")
    with with_cookie(url, cookie) as copy:
        refused = copy.post(checklist, data={**form, CONCERN: "true"})

    assert sent_to_sign_in(refused) and "resume" not in refused.headers["location"]


def test_stay_signed_in_keeps_the_sign_in_open(url, clock):
    with browser(url) as nurse:
        token = dict(FORM_FIELDS.findall(nurse.get(f"/patients/{CASE_V_BABY}/checklists/admission").text))["csrf"]
        clock.wait(minutes=IDLE_MINUTES - 2)
        kept = nurse.post("/session/keep-alive", data={"csrf": token})
        forged = nurse.post("/session/keep-alive", data={"csrf": "made-up"})
        clock.wait(minutes=IDLE_MINUTES - 2)
        still = nurse.get(f"/patients/{CASE_V_BABY}")

    assert kept.status_code == 204
    assert forged.status_code == 403
    assert still.status_code == 200
