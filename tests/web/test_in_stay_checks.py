"""The in-stay checks over HTTP: each is a checkpoint that is completed, written restricted to the baby's record,
and shown on the baby's page as done, due by or overdue since its time (app.checkpoints.schedule)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from app.checkpoints.schedule import IN_STAY, RULES
from app.forms import load_checklists
from app.nhs_style import nhs_date
from tests.answering import completed, submitted
from tests.factories import create_baby, on_the_unit
from tests.web.test_written_labels import assert_restricted_once, written

CHECKLISTS = load_checklists(Path(__file__).resolve().parents[2] / "checklists")

ROW = re.compile(r'<tr [^>]*data-testid="in-stay-([a-z0-9-]+)" data-state="([a-z-]+)">(.*?)</tr>', re.S)


admitted_baby = on_the_unit  # the name this file's importers know


def in_stay_rows(page: httpx.Client, baby: str) -> dict[str, tuple[str, str]]:
    """checkpoint -> (state, the row's words) on the baby's page."""
    html = page.get(f"/patients/{baby}").raise_for_status().text
    return {c: (state, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", words))) for c, state, words in ROW.findall(html)}


@pytest.fixture
def nurse_page(live) -> Iterator[httpx.Client]:
    with live.browser("nurse") as page:
        yield page


def test_the_babys_page_shows_each_check_of_the_stay_due_by_or_overdue_since_its_time(fhir, nurse_page):
    admitted = (datetime.now(UTC) - timedelta(hours=73)).replace(microsecond=0)
    baby = admitted_baby(fhir["neonatal"], admitted)

    rows = in_stay_rows(nurse_page, baby)

    assert list(rows) == ["admission", *IN_STAY]
    state, words = rows["admission"]
    assert state == "overdue" and f"Overdue since {nhs_date(admitted + timedelta(hours=24))}" in words
    state, words = rows["review-72h"]
    assert state == "overdue" and f"Overdue since {nhs_date(admitted + timedelta(hours=72))}" in words
    for checkpoint in ("weekly", "father-day7"):
        state, words = rows[checkpoint]
        assert state == "due" and f"Due by {nhs_date(admitted + timedelta(days=7))}" in words
    assert "Start" in rows["weekly"][1]  # the nurse may complete it


def test_the_admission_time_missing_is_said_not_taken_as_nothing_due(fhir, nurse_page):
    baby = create_baby(fhir["neonatal"])  # no Encounter: when it was admitted is not known

    rows = in_stay_rows(nurse_page, baby)

    assert {state for state, _ in rows.values()} == {"not-known"}
    assert all("Due time not known" in words for _, words in rows.values())


@pytest.mark.parametrize("checkpoint", IN_STAY)
def test_each_in_stay_check_is_completed_written_restricted_and_shown_done(fhir, api, nurse_page, saved, checkpoint):
    neonatal = fhir["neonatal"]
    baby = admitted_baby(neonatal, (datetime.now(UTC) - timedelta(days=8)).replace(microsecond=0))
    assert in_stay_rows(nurse_page, baby)[checkpoint][0] == "overdue"

    assessment_id = submitted(api, baby, completed(api, baby, checkpoint))
    saved.append(assessment_id)
    stored = api.get(f"/api/patients/{baby}/assessments").raise_for_status().json()
    assert [(a["checkpoint"], a["write_back"]["state"]) for a in stored] == [(checkpoint, "sent")]
    assert_restricted_once(written(neonatal, assessment_id))

    rows = in_stay_rows(nurse_page, baby)
    state, words = rows[checkpoint]
    if checkpoint == "weekly":  # it repeats: due again 7 days after this one
        assert state == "due" and "Last done" in words and "Alex Morgan" in words
    else:
        assert state == "done" and "Done" in words and "Alex Morgan" in words
    assert {c for c, (s, _) in rows.items() if s == "overdue"} == {c for c in RULES if c != checkpoint}


@pytest.mark.parametrize("role", ["discharge-coordinator", "community-nurse"])
def test_roles_that_do_not_make_the_in_stay_checks_are_refused_them(live, fhir, role):
    baby = admitted_baby(fhir["neonatal"], datetime.now(UTC) - timedelta(hours=1))
    with live.client("nurse") as nurse, live.client(role) as api, live.browser(role) as page:
        for checkpoint in IN_STAY:
            body = completed(nurse, baby, checkpoint)
            assert api.get(f"/api/patients/{baby}/checklists/{checkpoint}").status_code == 403
            assert api.post(f"/api/patients/{baby}/assessments", json=body).status_code == 403
            assert page.get(f"/patients/{baby}/checklists/{checkpoint}").status_code == 403
        rows = in_stay_rows(page, baby)
    assert {state for state, _ in rows.values()} == {"due"}  # they still see what is due
    assert not any("Start" in words for _, words in rows.values())


def test_an_amended_weekly_check_is_still_one_check_and_the_handover_lists_only_its_own_checklists(
    fhir, api, nurse_page, saved
):
    neonatal = fhir["neonatal"]
    baby = admitted_baby(neonatal, (datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0))
    first = submitted(api, baby, completed(api, baby, "weekly"))
    saved.append(first)
    before = in_stay_rows(nurse_page, baby)["weekly"]

    latest = api.get(f"/api/patients/{baby}/assessments/{first}/versions").raise_for_status().json()[-1]
    amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json={**latest, "status": "amended"})
    assert amended.status_code == 201, amended.text[:300]
    assert_restricted_once(written(neonatal, first))

    assert in_stay_rows(nurse_page, baby)["weekly"] == before  # still due 7 days after the first, not the amendment
    handover = nurse_page.get(f"/patients/{baby}/handover").raise_for_status().text
    assert f"Not yet completed for this baby: {CHECKLISTS.short_title('admission')}" in handover


def test_the_picture_api_takes_every_checkpoint_and_refuses_one_that_does_not_exist(fhir, api):
    baby = admitted_baby(fhir["neonatal"], datetime.now(UTC).replace(microsecond=0))
    for checkpoint in IN_STAY:
        answered = api.get(f"/api/patients/{baby}/picture", params={"checkpoint": checkpoint})
        assert answered.status_code == 200, answered.text
        assert answered.json()["checkpoint"] == checkpoint
    assert api.get(f"/api/patients/{baby}/picture", params={"checkpoint": "week"}).status_code == 422
