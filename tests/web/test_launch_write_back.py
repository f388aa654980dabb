"""The EPR's FHIR server as the write-back source of a checklist begun in a session it launched (issue 17), over HTTP.

The EPR's FHIR server here is a sandbox server of its own (the trust's EPR, holding the maternity record and the
baby), behind the test EPR (tests.smart_epr), named by the allow-list's `write_back_source`; the unit's record
(the session sandbox's neonatal server) stays the write_back source of every other sign-in.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from pydantic import HttpUrl

from app.assessments import ASSESSMENT_TAG_SYSTEM, Draft, OutboxEntry, reconcile
from app.checkpoints import Checkpoints
from app.checkpoints.launch import LaunchClient, check_write_back_sources
from app.cli import main
from app.config import ConfigError, SourceSettings
from sandbox import Sandbox
from tests.answering import completed, submitted
from tests.conftest import signed_in_browser
from tests.factories import create, make_patient, on_the_unit
from tests.smart_epr import Launching, neosafe_in_the_epr
from tests.web.test_launch_encounter import launched_api, rows, search


@pytest.fixture(scope="module")
def epr_record(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The EPR's own FHIR server: a second sandbox server, seeded with the families' maternity records."""
    with Sandbox(tmp_path_factory.mktemp("epr-sandbox"), kinds=("maternity",)) as running:
        yield running.urls["maternity"]


@pytest.fixture(scope="module")
def launching(sources, epr_record, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launching]:
    with neosafe_in_the_epr(
        sources,
        tmp_path_factory.mktemp("epr-write-back"),
        upstream=epr_record,
        epr_source="maternity",
        write_back_source="maternity",
        outbox_worker=False,  # the test drives the outbox's passes itself, on its own clock
        demo_users=True,  # a standalone sign-in beside the launched ones
    ) as running:
        yield running


@pytest.fixture
def epr_fhir(epr_record: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=epr_record, timeout=30) as client:
        yield client


def a_baby_on_both_records(neonatal: httpx.Client, epr_fhir: httpx.Client) -> str:
    """A new baby on the unit's record and on the EPR's, with the stay the EPR launches NeoSafe in."""
    baby = on_the_unit(neonatal, datetime.now(UTC) - timedelta(hours=4))
    create(
        epr_fhir,
        make_patient(f"nn-test-{baby}", baby),
        {"resourceType": "Encounter", "id": f"epr-stay-{baby}", "status": "in-progress",
         "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "IMP"},
         "subject": {"reference": f"Patient/nn-test-{baby}"}},
    )  # fmt: skip
    return baby


def written_to(fhir: httpx.Client, assessment_id: str) -> list[dict]:
    return search(fhir, f"QuestionnaireResponse?_tag={ASSESSMENT_TAG_SYSTEM}|{assessment_id}")


async def one_outbox_pass(launching: Launching, now: datetime) -> int:
    """One pass of NeoSafe's outbox worker, as the running service's would be, at `now`."""
    services = Checkpoints.wire(launching.settings, sources=launching.sources, clock=lambda: now)
    try:
        return await services.outbox_worker().run_once()
    finally:
        await services.engine.dispose()


async def test_a_launched_checklist_is_written_to_the_eprs_server_once_after_it_failed_and_recovered(
    launching, fhir, epr_fhir
):
    epr = launching.epr
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    epr.failing_writes, epr.transactions[:] = 1, []
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:
        created = api.post(f"/api/patients/{baby}/assessments", json=completed(api, baby))
    assert created.status_code == 201, created.text
    assert created.json()["write_back"]["state"] == "retrying"
    first = created.json()["id"]
    (entry,) = await rows(launching.settings, OutboxEntry, OutboxEntry.assessment_id == first)
    assert entry.target == "maternity"

    later = datetime.now(UTC) + timedelta(hours=1)
    assert await one_outbox_pass(launching, later) == 1
    assert await one_outbox_pass(launching, later + timedelta(hours=1)) == 0  # sent: not again

    assert epr.transactions == [503, 200]
    (written,) = written_to(epr_fhir, first)
    assert written["encounter"] == {"reference": f"Encounter/epr-stay-{baby}"}  # the EPR's own server: literal
    assert written["subject"]["reference"] == f"Patient/nn-test-{baby}"
    assert written_to(fhir["neonatal"], first) == []  # never to the unit's record as well
    services = Checkpoints.wire(launching.settings, sources=launching.sources)
    try:
        async with services.client(services.target("maternity")) as client:
            checked, findings = await reconcile(services.sessions, client, target="maternity")
    finally:
        await services.engine.dispose()
    assert checked >= 1 and [f for f in findings if f.assessment_id == first] == []
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:  # what NeoSafe wrote is never evidence
        picture = api.get(f"/api/patients/{baby}/picture").raise_for_status().json()
    assert picture["records"] == []
    assert all(use.startswith(("GET Patient/", "GET Encounter/")) for use in epr.token_uses)


async def test_a_standalone_sessions_checklist_goes_to_the_units_record(launching, fhir, epr_fhir):
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    with signed_in_browser(launching.url, "nurse") as browser:
        api = httpx.Client(
            base_url=launching.url,
            headers={"Authorization": f"Bearer {browser.cookies['neosafe_session']}"},
            timeout=60,
        )
        with api:
            first = submitted(api, baby, completed(api, baby))

    (written,) = written_to(fhir["neonatal"], first)
    assert written["encounter"] == {"reference": f"Encounter/nn-test-{baby}-enc"}  # the unit record's own stay
    assert written_to(epr_fhir, first) == []
    (entry,) = await rows(launching.settings, OutboxEntry, OutboxEntry.assessment_id == first)
    assert entry.target is None


async def test_an_amendment_follows_its_original_to_the_eprs_server(launching, fhir, epr_fhir):
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    launching.epr.failing_writes = 0
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:
        first = submitted(api, baby, completed(api, baby))
    with signed_in_browser(launching.url, "nurse") as browser:  # amended in a standalone sign-in
        token = browser.cookies["neosafe_session"]
        with httpx.Client(base_url=launching.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            latest = api.get(f"/api/patients/{baby}/assessments/{first}/versions").raise_for_status().json()[-1]
            amended = api.post(f"/api/patients/{baby}/assessments/{first}/amendments", json=latest)

    assert amended.status_code == 201, amended.text
    assert amended.json()["write_back"]["state"] == "sent"
    (written,) = written_to(epr_fhir, first)
    assert (written["status"], written["encounter"]) == ("amended", {"reference": f"Encounter/epr-stay-{baby}"})
    assert written_to(fhir["neonatal"], first) == []
    entries = await rows(launching.settings, OutboxEntry, OutboxEntry.assessment_id == amended.json()["id"])
    assert [e.target for e in entries] == ["maternity"]


EPR = LaunchClient("Trust EPR", "https://epr.example.nhs.uk/fhir", "neosafe", None, "launch openid fhirUser", "x")


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (None, "write_back_source 'x' is not a source in the sources file"),
        ({"base_url": "https://other.example.nhs.uk/fhir"}, "https://other.example.nhs.uk/fhir, not the EPR's iss"),
        ({"base_url": "https://epr.example.nhs.uk/fhir", "profile": "pds"}, "is a pds source, read-only"),
    ],
)
def test_a_write_back_source_must_be_a_fhir_source_at_the_eprs_iss(source, message, tmp_path: Path):
    sources = [SourceSettings(name="neonatal", base_url=HttpUrl("https://unit.example.nhs.uk/fhir"), write_back=True)]
    if source is not None:
        sources.append(SourceSettings(name="x", **source))
    with pytest.raises(ConfigError, match="Trust EPR") as refused:
        check_write_back_sources({EPR.iss: EPR}, sources)
    assert message in str(refused.value)
    check_write_back_sources(
        {EPR.iss: EPR}, [*sources[:1], SourceSettings(name="x", base_url=HttpUrl("https://epr.example.nhs.uk/fhir/"))]
    )


async def test_a_launched_discharge_checklist_stays_on_the_units_record_its_handover_is_delivered_from(
    launching, fhir, epr_fhir
):
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:
        prefilled = completed(api, baby, "discharge")
        first = submitted(api, baby, prefilled)

    (written,) = written_to(fhir["neonatal"], first)
    assert written["encounter"] == {"reference": f"Encounter/nn-test-{baby}-enc"}  # the unit record's own stay
    assert written_to(epr_fhir, first) == []
    (entry,) = await rows(launching.settings, OutboxEntry, OutboxEntry.assessment_id == first)
    assert entry.target is None


def test_neosafe_reconcile_checks_each_checklist_on_the_server_it_was_written_to(
    launching, fhir, epr_fhir, tmp_path: Path, monkeypatch, capsys
):
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:
        first = submitted(api, baby, completed(api, baby))
    sources = tmp_path / "sources.toml"
    sources.write_text(
        "".join(
            f'[sources.{s.name}]\nbase_url = "{s.url}"\nwrite_back = {str(s.write_back).lower()}\n'
            for s in launching.sources
        ),
        encoding="utf-8",
    )
    for name, value in {
        "DATABASE_URL": launching.settings.database_url,
        "NEOSAFE_SECRET_KEY": launching.settings.secret_key,
        "NEOSAFE_SOURCES": str(sources),
        "NEOSAFE_LOG_FORMAT": "text",
    }.items():
        monkeypatch.setenv(name, value)

    # Other tests' checklists on this database (PostgreSQL's is shared by the tests) may be reported: not this one.
    with contextlib.suppress(SystemExit):
        main(["reconcile"])
    assert first not in capsys.readouterr().out  # found on the EPR's server, where it was written

    (written,) = written_to(epr_fhir, first)
    epr_fhir.delete(f"QuestionnaireResponse/{written['id']}").raise_for_status()
    with pytest.raises(SystemExit):
        main(["reconcile"])
    assert f"{first}: QuestionnaireResponse" in capsys.readouterr().out  # found missing on the EPR's server


async def test_a_checklist_begun_in_a_launch_and_finished_standalone_goes_where_it_was_begun(launching, fhir, epr_fhir):
    baby = a_baby_on_both_records(fhir["neonatal"], epr_fhir)
    launching.epr.failing_writes = 0
    with launched_api(launching, baby, f"epr-stay-{baby}") as api:
        response = completed(api, baby)
        assert api.put(f"/api/patients/{baby}/checklists/admission/draft", json=response).status_code == 200
    (draft,) = await rows(launching.settings, Draft, Draft.nhs_number == baby)
    assert (draft.target, draft.encounter) == ("maternity", f"{launching.epr.iss}/Encounter/epr-stay-{baby}")
    with signed_in_browser(launching.url, "nurse") as browser:  # finished by a nurse who signed in herself
        token = browser.cookies["neosafe_session"]
        with httpx.Client(base_url=launching.url, headers={"Authorization": f"Bearer {token}"}, timeout=60) as api:
            first = submitted(api, baby, response)

    (written,) = written_to(epr_fhir, first)
    assert written["encounter"] == {"reference": f"Encounter/epr-stay-{baby}"}
    assert written_to(fhir["neonatal"], first) == []
    (entry,) = await rows(launching.settings, OutboxEntry, OutboxEntry.assessment_id == first)
    assert entry.target == "maternity"
