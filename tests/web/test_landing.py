"""Roles see what they can do (issue 13 item 5), over HTTP: what a role cannot complete is not offered, and each
role lands where its work is (app.checkpoints.policy.offered and landing)."""

from __future__ import annotations

import re

import httpx
import pytest

from app.checkpoints import DEMO_USERS
from app.checkpoints.policy import Action, home, landing, may, offered
from tests.conftest import signed_in_browser
from tests.families import CASE_V_BABY

STARTS = re.compile(r'<a class="nhsuk-action-link__link" href="/patients/\d+/checklists/([a-z0-9-]+)">Start the')


@pytest.mark.parametrize("role", list(DEMO_USERS))
def test_the_baby_page_offers_exactly_the_checklists_the_policy_lets_the_role_complete(live, role):
    user = DEMO_USERS[role]
    with signed_in_browser(live.url, role) as browser:
        page = browser.get(f"/patients/{CASE_V_BABY}").text

    expected = [c for c in ("admission", "transfer", "discharge") if may(user, Action.COMPLETE, checkpoint=c)]
    assert STARTS.findall(page) == expected
    in_stay = re.findall(r'href="/patients/\d+/checklists/([a-z0-9-]+)">Start<span', page)
    assert all(may(user, Action.COMPLETE, checkpoint=c) for c in in_stay)


def test_a_community_nurse_is_offered_no_checklist_and_is_told_why(live):
    with signed_in_browser(live.url, "community-nurse") as community:
        page = community.get(f"/patients/{CASE_V_BABY}").text

    assert "Start the" not in page and ">Start<" not in page
    assert 'data-testid="no-checklists"' in page and 'data-testid="handover-link"' in page


def test_a_community_nurse_lands_on_the_units_babies_as_handovers(live):
    with signed_in_browser(live.url, "community-nurse") as community:
        page = community.get("/").text

    assert 'data-mode="handovers"' in page and "<title>Handovers for the community team" in page
    assert re.search(r'href="/patients/\d{10}/handover" data-testid="handover-link"', page)


@pytest.mark.parametrize("role", ["nurse", "discharge-coordinator", "safeguarding-lead"])
def test_the_unit_roles_see_the_unit_page(live, role):
    """The safeguarding lead lands on their own view, but the unit page is theirs too."""
    with signed_in_browser(live.url, role) as browser:
        page = browser.get("/").text

    assert 'data-mode="unit"' in page and "<title>Babies on the unit" in page
    assert 'data-testid="handover-link"' not in page


@pytest.mark.parametrize(
    ("role", "home"),
    [
        ("nurse", "/"),
        ("discharge-coordinator", "/"),
        ("community-nurse", "/"),
        ("safeguarding-lead", "/unit/safeguarding"),
    ],
)
def test_signing_in_lands_each_role_where_its_work_is(live, role, home):
    signed_in = httpx.post(f"{live.url}/sign-in", data={"role": role}, follow_redirects=False, timeout=30)
    asked = httpx.post(
        f"{live.url}/sign-in", data={"role": role, "next": "/outbox"}, follow_redirects=False, timeout=30
    )

    assert (signed_in.status_code, signed_in.headers["location"]) == (303, home)
    assert asked.headers["location"] == "/outbox"  # a page asked for is kept, whoever signs in


def test_landing_and_offers_come_from_what_a_role_may_complete():
    assert landing(DEMO_USERS["community-nurse"]) == "handovers"
    assert {landing(DEMO_USERS[r]) for r in ("nurse", "discharge-coordinator", "safeguarding-lead")} == {"unit"}
    assert home(DEMO_USERS["safeguarding-lead"]) == "/unit/safeguarding" and home(DEMO_USERS["nurse"]) == "/"
    assert offered(DEMO_USERS["community-nurse"], ["admission", "transfer", "discharge"]) == []
    assert offered(DEMO_USERS["discharge-coordinator"], ["admission", "transfer", "discharge"]) == [
        "transfer",
        "discharge",
    ]


def test_a_community_nurse_who_types_the_checklist_address_is_still_refused(live):
    """Not offering is a courtesy; the server still decides (policy.require), whatever the page showed."""
    with signed_in_browser(live.url, "community-nurse") as community:
        opened = community.get(f"/patients/{CASE_V_BABY}/checklists/admission")
        posted = community.post(f"/patients/{CASE_V_BABY}/checklists/admission", data={})

    assert opened.status_code == 403 and posted.status_code in (403, 422)
