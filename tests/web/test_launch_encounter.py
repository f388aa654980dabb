"""The launch's encounter kept with the checklist (issue 17), over HTTP: the EPR's FHIR server is the unit's record
(the sandbox's neonatal server behind the test EPR, tests.smart_epr), so what NeoSafe writes names the stay the EPR
launched it in; an encounter that is not the launched baby's is not kept, and an amendment keeps its original's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import httpx
import pytest
from sqlmodel import select

from app.assessments import ASSESSMENT_TAG_SYSTEM, Assessment, AuditEvent, Draft, SignIn, make_engine, session_factory
from app.config import Settings
from app.web.deps import COOKIE
from tests.answering import answer_everything, completed, submitted
from tests.factories import create, on_the_unit
from tests.smart_epr import Launching, SmartEpr, neosafe_in_the_epr, nurse_claims


@pytest.fixture(scope="module")
def launching(sandbox, sources, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launching]:
    with neosafe_in_the_epr(
        sources, tmp_path_factory.mktemp("epr-record"), upstream=sandbox.urls["neonatal"], epr_source="neonatal"
    ) as running:
        yield running


@pytest.fixture(scope="module")
def epr(launching: Launching) -> SmartEpr:
    return launching.epr


def search(fhir: httpx.Client, query: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in fhir.get(query).raise_for_status().json().get("entry") or []]


@contextmanager
def launched_api(launching: Launching, baby: str, encounter: str, **options: Any) -> Iterator[httpx.Client]:
    """The EPR launches NeoSafe on `baby` (Patient nn-test-<baby>) in `encounter`; yields an API client of that
    sign-in (its page cookie's token as the bearer token)."""
    epr = launching.epr
    launch = epr.launch(nurse_claims(f"epr-nurse-{baby}"), {"id": f"nn-test-{baby}"}, encounter=encounter, **options)
    with httpx.Client(base_url=launching.url, timeout=60) as browser:
        to_epr = browser.get("/launch", params={"iss": epr.iss, "launch": launch})
        back = urlparse(httpx.get(to_epr.headers["location"]).headers["location"])
        landed = browser.get(f"{back.path}?{back.query}")
        assert (landed.status_code, landed.headers["location"]) == (303, f"/patients/{baby}"), landed.text
        token = browser.cookies[COOKIE]
    with httpx.Client(base_url=launching.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
        yield api


async def rows(settings: Settings, model, *where) -> list:
    engine = make_engine(settings.database_url)
    async with session_factory(engine)() as session:
        found = list((await session.exec(select(model).where(*where))).all())
    await engine.dispose()
    return found


def a_baby_with_two_stays(neonatal: httpx.Client) -> tuple[str, str, str]:
    """A new baby on the unit (stay nn-test-<n>-enc, in progress) with an earlier stay on the same record."""
    baby = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=5))
    earlier = f"nn-test-{baby}-earlier"
    create(
        neonatal,
        {
            "resourceType": "Encounter",
            "id": earlier,
            "status": "finished",
            "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
            "subject": {"reference": f"Patient/nn-test-{baby}"},
            "period": {"start": "2026-11-01T08:00:00+00:00", "end": "2026-11-02T08:00:00+00:00"},
        },
    )
    return baby, f"nn-test-{baby}-enc", earlier


async def test_the_launch_encounter_is_kept_and_written_with_the_checklist(launching, epr, fhir):
    neonatal = fhir["neonatal"]
    baby, current, launched_in = a_baby_with_two_stays(neonatal)
    with launched_api(launching, baby, f"Encounter/{launched_in}") as api:
        prefilled = completed(api, baby)
        assert prefilled["encounter"] == {"reference": f"Encounter/{launched_in}"}  # the EPR's, over the picture's
        forged = {**prefilled, "encounter": {"reference": f"Encounter/{current}"}}
        assert api.put(f"/api/patients/{baby}/checklists/admission/draft", json=forged).status_code == 200
        first = submitted(api, baby, forged)  # the request's encounter is never taken

    stay = f"{epr.iss}/Encounter/{launched_in}"
    (sign_in,) = await rows(launching.settings, SignIn, SignIn.user_id == f"epr-nurse-{baby}")
    assert (sign_in.launch_nhs_number, sign_in.launch_encounter) == (baby, launched_in)
    (assessment,) = await rows(launching.settings, Assessment, Assessment.id == first)
    assert assessment.encounter == stay
    (written,) = search(neonatal, f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")
    assert written["encounter"] == {"reference": f"Encounter/{launched_in}"}
    observations = search(neonatal, f"Observation?_tag={ASSESSMENT_TAG_SYSTEM}|{first}&_count=500")
    assert observations and {o["encounter"]["reference"] for o in observations} == {f"Encounter/{launched_in}"}
    events = await rows(launching.settings, AuditEvent, AuditEvent.action == "submit-admission-checklist")
    assert any(e.detail == f"assessment {first}; encounter {stay}" for e in events)
    assert all(use.startswith(("GET Patient/", "GET Encounter/")) for use in epr.token_uses)  # the launch token
    # went to the EPR's FHIR server for those two reads only, never into a write


async def test_a_draft_records_the_launch_encounter_not_the_one_the_request_sent(launching, fhir):
    baby, current, launched_in = a_baby_with_two_stays(fhir["neonatal"])
    with launched_api(launching, baby, launched_in) as api:
        response = api.get(f"/api/patients/{baby}/checklists/admission").raise_for_status().json()
        response["encounter"] = {"reference": f"Encounter/{current}"}
        assert api.put(f"/api/patients/{baby}/checklists/admission/draft", json=response).status_code == 200
        again = api.get(f"/api/patients/{baby}/checklists/admission").raise_for_status().json()

    assert again["encounter"] == {"reference": f"Encounter/{launched_in}"}
    (draft,) = await rows(launching.settings, Draft, Draft.nhs_number == baby)
    assert draft.encounter == f"{launching.epr.iss}/Encounter/{launched_in}"


@pytest.mark.parametrize("forged", ["another", "../Patient/x", "Encounter/missing-stay"])
async def test_an_encounter_that_is_not_the_launched_babys_is_not_kept(launching, fhir, forged):
    neonatal = fhir["neonatal"]
    baby = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=3))
    other = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=2))
    encounter = f"nn-test-{other}-enc" if forged == "another" else forged
    with launched_api(launching, baby, encounter) as api:
        prefilled = api.get(f"/api/patients/{baby}/checklists/admission").raise_for_status().json()
        first = submitted(api, baby, answer_everything(api.get("/api/checklists/admission").json(), prefilled))

    assert prefilled["encounter"] == {"reference": f"Encounter/nn-test-{baby}-enc"}  # the picture's stay, as before
    (sign_in,) = await rows(launching.settings, SignIn, SignIn.user_id == f"epr-nurse-{baby}")
    assert (sign_in.launch_nhs_number, sign_in.launch_encounter) == (baby, None)
    (assessment,) = await rows(launching.settings, Assessment, Assessment.id == first)
    assert assessment.encounter is None
    refused = await rows(launching.settings, AuditEvent, AuditEvent.user_id == f"epr-nurse-{baby}")
    said = [e.detail for e in refused if (e.action, e.outcome) == ("smart-launch-encounter", "refused")]
    assert len(said) == 1 and "not kept" in said[0]
    opened = [e for e in refused if e.action == "smart-launch"]
    assert [(e.outcome, e.nhs_number, e.detail) for e in opened] == [
        ("success", baby, "from Test EPR; no encounter kept")
    ]


async def test_an_amendment_keeps_its_originals_encounter_unless_a_new_launch_gives_another(launching, epr, fhir):
    neonatal = fhir["neonatal"]
    baby, current, launched_in = a_baby_with_two_stays(neonatal)
    with launched_api(launching, baby, launched_in) as api:
        first = submitted(api, baby, completed(api, baby))
    other = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=1))
    with launched_api(launching, other, f"nn-test-{other}-enc") as elsewhere:  # launched for another baby
        latest = elsewhere.get(f"/api/patients/{baby}/assessments/{first}/versions").raise_for_status().json()[-1]
        kept = elsewhere.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=latest)
    assert kept.status_code == 201, kept.text
    with launched_api(launching, baby, current) as api:  # the EPR launches NeoSafe on this baby in another stay
        latest = api.get(f"/api/patients/{baby}/assessments/{first}/versions").raise_for_status().json()[-1]
        moved = api.post(f"/api/patients/{baby}/assessments/{kept.json()['id']}/amendments", json=latest)
    assert moved.status_code == 201, moved.text

    chain = [first, kept.json()["id"], moved.json()["id"]]
    stored = {a.id: a.encounter for a in await rows(launching.settings, Assessment, Assessment.nhs_number == baby)}
    assert [stored[a] for a in chain] == [f"{epr.iss}/Encounter/{s}" for s in (launched_in, launched_in, current)]
    (written,) = search(neonatal, f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{first}")
    assert (written["status"], written["encounter"]) == ("amended", {"reference": f"Encounter/{current}"})
