"""The unit's worklist over HTTP (issue 15 items 1 and 3): a row per baby on the unit with each check's state on the
service's clock, open and overdue tasks, the highest concern from the last picture, pending co-signatures, sorted
by what needs action first and filterable; the safeguarding lead's view for the lead alone; both audited."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from app.checkpoints.schedule import IN_STAY
from app.main import create_app
from app.nhs_style import nhs_date
from tests.answering import answer_everything, completed
from tests.conftest import make_settings, signed_in_browser
from tests.factories import create, on_the_unit
from tests.servers import serving
from tests.web.test_sessions import Clock, audited
from tests.web.test_unsafe_enquiry import REASON, with_the_partner_present

ROW = re.compile(
    r'<tr [^>]*data-testid="worklist-row" data-nhs-number="(\d{10})" data-overdue="(true|false)">(.*?)</tr>', re.S
)
CHECK = re.compile(r'data-testid="check-([a-z0-9-]+)" data-state="([a-z-]+)"')


def rows(page: httpx.Client, path: str = "/") -> dict[str, tuple[bool, str]]:
    """NHS number -> (overdue, the row's HTML), in the worklist's order."""
    html = page.get(path).raise_for_status().text
    return {number: (overdue == "true", words) for number, overdue, words in ROW.findall(html)}


def checks(row_html: str) -> dict[str, str]:
    return dict(CHECK.findall(row_html))


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def clocked(sources, clock, tmp_path_factory) -> Iterator[tuple[str, str]]:
    """NeoSafe on its own database and an injected clock: its URL and database URL."""
    settings = make_settings(tmp_path_factory.mktemp("worklist")).model_copy(update={"outbox_worker": False})
    with serving(create_app(settings, sources=sources, clock=clock)) as url:
        yield url, settings.database_url


def test_each_checks_state_follows_the_clock_across_admission_72h_weekly_and_day_7(fhir, clocked, clock):
    admitted = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=5)
    baby = on_the_unit(fhir["neonatal"], admitted)
    expected = {
        timedelta(hours=1): {"admission": "due", "review-72h": "due", "weekly": "due", "father-day7": "due"},
        timedelta(hours=25): {"admission": "overdue", "review-72h": "due", "weekly": "due", "father-day7": "due"},
        timedelta(hours=73): {"admission": "overdue", "review-72h": "overdue", "weekly": "due", "father-day7": "due"},
        timedelta(days=7, hours=1): dict.fromkeys(("admission", *IN_STAY), "overdue"),
    }

    def seen(since: timedelta, path: str = "/") -> dict[str, tuple[bool, str]]:
        clock.now = admitted + since
        with signed_in_browser(clocked[0], "nurse") as nurse:  # signed in at that time: sign-ins end
            return rows(nurse, path)

    for since, states in expected.items():
        overdue, row = seen(since)[baby]
        assert checks(row) == states, since
        assert overdue == ("overdue" in states.values())
    assert f"Overdue since {nhs_date(admitted + timedelta(hours=24))}" in text(seen(timedelta(hours=25))[baby][1])
    assert f"Due by {nhs_date(admitted + timedelta(hours=72))}" in text(seen(timedelta(hours=25))[baby][1])
    assert baby in seen(timedelta(hours=25), "/?show=overdue")
    assert baby not in seen(timedelta(hours=1), "/?show=overdue") and baby in seen(timedelta(hours=1), "/?show=due")


def test_overdue_first_then_due_soonest_and_a_bad_filter_is_refused(fhir, live):
    now = datetime.now(UTC).replace(microsecond=0)
    late = on_the_unit(fhir["neonatal"], now - timedelta(hours=30))  # admission overdue
    soon = on_the_unit(fhir["neonatal"], now - timedelta(hours=20))  # admission due in 4 hours
    later = on_the_unit(fhir["neonatal"], now - timedelta(hours=1))  # due in 23 hours
    with live.browser("nurse") as nurse:
        order = list(rows(nurse))
        refused = nurse.get("/?show=everything")

    assert order.index(late) < order.index(soon) < order.index(later)
    with live.browser("nurse") as nurse:
        flags = [overdue for overdue, _ in rows(nurse).values()]
    assert flags == sorted(flags, reverse=True)  # every overdue baby before any that is not
    assert refused.status_code == 422


def test_the_leads_view_filters_its_worklist_as_the_unit_page_does(fhir, live):
    now = datetime.now(UTC).replace(microsecond=0)
    late = on_the_unit(fhir["neonatal"], now - timedelta(hours=30))  # admission overdue
    later = on_the_unit(fhir["neonatal"], now - timedelta(hours=1))
    with live.browser("safeguarding-lead") as lead:
        overdue = rows(lead, "/unit/safeguarding?show=overdue")
        every = rows(lead, "/unit/safeguarding")
        refused = lead.get("/unit/safeguarding?show=everything")

    assert late in overdue and later not in overdue
    assert {late, later} <= set(every)
    assert refused.status_code == 422


def test_open_and_overdue_tasks_and_the_highest_concern_once_the_picture_is_gathered(fhir, live):
    neonatal = fhir["neonatal"]
    baby = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=2), "1010196001")
    yesterday = (datetime.now(UTC) - timedelta(days=1)).date().isoformat()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    create(
        neonatal,
        *(
            {
                "resourceType": "Task",
                "id": f"nn-test-{baby}-task-{n}",
                "status": "requested",
                "intent": "order",
                "description": f"Task {n} for the worklist test",
                "for": {"reference": f"Patient/nn-test-{baby}"},
                "owner": {"display": "Safeguarding team"},
                "restriction": {"period": {"end": due}},
            }
            for n, due in enumerate((yesterday, tomorrow))
        ),
    )
    with live.browser("nurse") as nurse:
        before = text(rows(nurse)[baby][1])
        nurse.get(f"/patients/{baby}").raise_for_status()  # gathers the picture: the worklist keeps it
        overdue, after = rows(nurse)[baby]

    assert "Not gathered yet" in before
    assert overdue and "2 open, 1 overdue" in text(after)
    assert "Not gathered yet" not in text(after) and "as gathered" in text(after)


def test_a_discharge_waiting_for_co_signature_is_on_the_worklist_and_the_leads_view(fhir, live):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(days=3), "1010196001")
    with live.client("nurse") as api:
        questionnaire = api.get("/api/checklists/discharge").json()
        response = answer_everything(questionnaire, api.get(f"/api/patients/{baby}/checklists/discharge").json())
        created = api.post(f"/api/patients/{baby}/assessments", json=response)
        assert created.status_code == 201, created.text
    assessment = created.json()["id"]
    with live.browser("nurse") as nurse:
        row = rows(nurse)[baby][1]
    with live.browser("safeguarding-lead") as lead:
        view = lead.get("/unit/safeguarding").raise_for_status().text

    link = f'href="/patients/{baby}/assessments/{assessment}"'
    assert link in row.split('data-testid="cosignatures"')[1]
    assert link in view.split('data-testid="lead-cosignatures"')[1].split("</ul>")[0]


def test_the_leads_view_lists_an_enquiry_not_done_safely_with_its_reason(fhir, live):
    baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=5))
    with live.client("nurse") as api:
        created = api.post(f"/api/patients/{baby}/assessments", json=with_the_partner_present(completed(api, baby)))
        assert created.status_code == 201, created.text
    with live.browser("safeguarding-lead") as lead:
        view = lead.get("/unit/safeguarding").raise_for_status().text

    [listed] = [
        li
        for li in view.split('data-testid="lead-unsafe-enquiries"')[1].split("</ul>")[0].split("<li>")
        if f"/patients/{baby}/" in li
    ]
    assert REASON in listed and f'href="/patients/{baby}/assessments/{created.json()["id"]}"' in listed


@pytest.mark.parametrize("role", ["nurse", "discharge-coordinator", "community-nurse"])
def test_only_the_safeguarding_lead_sees_the_leads_view_and_a_refusal_is_audited(live, role):
    with live.browser(role) as browser:
        assert browser.get("/unit/safeguarding").status_code == 403
        landing = browser.get("/").text

    assert ('data-testid="lead-view-link"' in landing) is False
    if role == "community-nurse":  # keeps the handovers landing: no worklist
        assert 'data-mode="handovers"' in landing and 'data-testid="worklist"' not in landing
    else:
        assert 'data-testid="worklist"' in landing


async def test_the_lead_sees_their_view_from_the_worklist_and_each_viewing_is_audited(fhir, clocked):
    url, database = clocked
    on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    with signed_in_browser(url, "safeguarding-lead") as lead:
        landing = lead.get("/").text
        view = lead.get("/unit/safeguarding")
    with signed_in_browser(url, "nurse") as nurse:
        assert nurse.get("/unit/safeguarding").status_code == 403

    assert 'data-testid="lead-view-link"' in landing
    assert view.status_code == 200 and 'data-testid="lead-view"' in view.text and 'data-testid="worklist"' in view.text
    assert [e.role for e in await audited(database, "view-unit-safeguarding")] == ["safeguarding-lead"]
    assert {e.role for e in await audited(database, "view-unit")} >= {"safeguarding-lead"}
    assert [(e.role, e.outcome) for e in await audited(database, "oversee")] == [("nurse", "refused")]


def test_a_planned_discharge_or_transfer_shows_its_checklist_due_before_the_baby_leaves(fhir, live):
    system = "https://fhir.hl7.org.uk/CodeSystem/UKCore-DischargeDestinationEngland"
    moves = {}
    for code, checkpoint in (("19", "discharge"), ("52", "transfer")):
        baby = on_the_unit(fhir["neonatal"], datetime.now(UTC) - timedelta(days=2))
        stay = fhir["neonatal"].get(f"Encounter/nn-test-{baby}-enc").raise_for_status().json()
        stay["hospitalization"] = {"dischargeDisposition": {"coding": [{"system": system, "code": code}]}}
        create(fhir["neonatal"], stay)
        moves[baby] = checkpoint
    with live.browser("nurse") as nurse:
        listed, due = rows(nurse), rows(nurse, "/?show=due")
    for baby, checkpoint in moves.items():
        assert checks(listed[baby][1])[checkpoint] == "before-leaving"
        assert "before the baby leaves" in text(listed[baby][1]) and baby in due
    [discharging, transferring] = moves
    assert "transfer" not in checks(listed[discharging][1]) and "discharge" not in checks(listed[transferring][1])
