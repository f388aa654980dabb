"""CP-IS asked in its own shape (profile "cpis"), over HTTP: the CP-IS sandbox for CP-IS, the sandbox FHIR servers for
the family. The plan on the baby, the unborn child's plan on the mother, none found, CP-IS down or refusing the token,
no user token at all (not checked, never "none found"), the headers sent, and answers NeoSafe cannot trust."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from app.config import PROJECT_ROOT, ConfigError, SourceSettings, load_sources
from app.picture import NEEDS_SIGN_IN, CpisAccess, Picture, gather_picture, load_mappings
from app.sources import FhirClient, read_capabilities
from sandbox.cpis import CPIS_TOKEN, CpisSandbox
from testkit.ports import free_port
from tests.families import ACTIVE_CP_BABY, ACTIVE_CP_MOTHER, ACTIVE_CP_PARTNER, LOOKED_AFTER_BABY, NO_CONCERNS_BABY

NOW = datetime(2026, 11, 26, 9, 0, tzinfo=UTC)
MAPPINGS = load_mappings(PROJECT_ROOT / "fhir_mappings")
NHS = "https://fhir.nhs.uk/Id/nhs-number"
CPIS_TYPES = "https://fhir.nhs.uk/R4/CodeSystem/CPIS-ObservationType"
LOCAL_AUTHORITY = "Fenmoor County Council Children's Services"  # family 04's, in its cpis.json


@pytest.fixture(scope="module")
def cpis() -> Iterator[CpisSandbox]:
    with CpisSandbox() as running:
        yield running


def cpis_source(url: str, **settings) -> SourceSettings:
    return SourceSettings(name="cpis", base_url=url, timeout_s=30, profile="cpis", **settings)


def with_cpis(sources: list[SourceSettings], url: str) -> list[SourceSettings]:
    """The sandbox's sources, CP-IS asked in its own shape at `url` instead of as a generic FHIR server."""
    return [s for s in sources if s.name != "cpis"] + [cpis_source(url)]


async def gathered(nhs_number: str, sources: list[SourceSettings], **accesses: Any) -> Picture:
    """The picture from `sources`, gathered as the service does it (each generic source's capabilities read first);
    `accesses` are what gather_picture takes for the national APIs (cpis=, flags=, pds=)."""
    async with AsyncExitStack() as stack:
        clients = {s.name: await stack.enter_async_context(FhirClient(s)) for s in sources}
        capabilities = {n: await read_capabilities(c) for n, c in clients.items() if c.source.profile == "fhir"}
        return await gather_picture(
            nhs_number=nhs_number, clients=clients, mappings=MAPPINGS, now=NOW, capabilities=capabilities, **accesses
        )


async def picture_of(nhs_number: str, sources: list[SourceSettings], access: CpisAccess | None) -> Picture:
    return await gathered(nhs_number, sources, cpis={"cpis": access} if access is not None else None)


def cpis_status(picture: Picture):
    return next(s for s in picture.sources if s.name == "cpis")


def checks(picture: Picture) -> dict[str, str]:
    return {p.role: p.checks["cpis"].status for p in picture.people if "cpis" in p.checks}


async def test_a_child_protection_plan_on_the_baby_is_found_with_the_local_authoritys_contacts(sources, cpis):
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    plan = next(r for r in picture.records if r.source == "cpis" and r.code == "CPPI")
    assert (plan.category, plan.current, plan.status, plan.resource_type) == (
        "child-protection",
        True,
        "active",
        "CareTeam",
    )
    assert (plan.person_nhs_number, plan.person_role, plan.start, plan.end) == (
        ACTIVE_CP_BABY,
        "baby",
        "2026-11-18",
        None,
    )
    assert (plan.organisation, plan.office_hours, plan.out_of_hours) == (
        LOCAL_AUTHORITY,
        "01632 960100",
        "01632 960199",
    )
    assert checks(picture)["baby"] == "found"
    assert cpis_status(picture).status == "found"


async def test_an_unborn_child_plan_is_found_on_the_mothers_record_and_nobody_else_is_asked(sources, cpis):
    before = len(cpis.seen)
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    unborn = next(r for r in picture.records if r.source == "cpis" and r.code == "UCPI")
    assert (unborn.category, unborn.person_nhs_number, unborn.person_role) == (
        "child-protection",
        ACTIVE_CP_MOTHER,
        "mother",
    )
    assert (unborn.start, unborn.end, unborn.current) == ("2026-06-01", "2026-11-18", False)  # ended at birth
    assert checks(picture) == {"baby": "found", "mother": "found"}
    partner = next(p for p in picture.people if p.nhs_number == ACTIVE_CP_PARTNER)
    assert "cpis" not in partner.checks  # CP-IS holds children's plans: the partner is not asked about
    assert sorted(s["nhs_number"] for s in cpis.seen[before:]) == sorted([ACTIVE_CP_BABY, ACTIVE_CP_MOTHER])
    assert "asked about the baby and the mother" in cpis_status(picture).detail


async def test_a_looked_after_child_is_found(sources, cpis):
    picture = await picture_of(LOOKED_AFTER_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    assert any(r.category == "looked-after" and r.current for r in picture.records if r.source == "cpis")


async def test_nothing_held_is_none_found_for_each_person_asked(sources, cpis):
    picture = await picture_of(NO_CONCERNS_BABY, with_cpis(sources, cpis.url), CpisAccess(token=CPIS_TOKEN))

    assert not [r for r in picture.records if r.source == "cpis"]
    assert set(checks(picture).values()) == {"none-found"}
    assert cpis_status(picture).status == "none-found"


async def test_cp_is_down_reads_unavailable_never_none_found(sources):
    closed = f"http://127.0.0.1:{free_port()}"
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, closed), CpisAccess(token=CPIS_TOKEN))

    assert cpis_status(picture).status == "unavailable"
    assert checks(picture) == {"baby": "unavailable", "mother": "unavailable"}
    assert not [r for r in picture.records if r.source == "cpis"]


async def test_a_token_cp_is_refuses_reads_unavailable(sources, cpis):
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), CpisAccess(token="not-a-cis2-token"))

    status = cpis_status(picture)
    assert (status.status, status.detail.startswith("HTTP 401")) == ("unavailable", True)
    assert not [r for r in picture.records if r.source == "cpis"]


@pytest.mark.parametrize("access", [None, CpisAccess(token=None)], ids=["no access", "no token"])
async def test_no_user_token_is_not_checked_and_cp_is_is_not_called(sources, cpis, access):
    before = len(cpis.seen)
    picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), access)

    status = cpis_status(picture)
    assert (status.status, status.detail, status.checked) == ("unavailable", f"not checked: {NEEDS_SIGN_IN}", False)
    baby = picture.baby.checks["cpis"]
    assert (baby.status, baby.detail) == ("not-checked", f"not checked: {NEEDS_SIGN_IN}")
    assert len(cpis.seen) == before  # nothing asked without the clinician's token


@pytest.mark.parametrize("unscheduled", [True, False])
async def test_the_headers_are_sent_with_the_configured_value_and_a_fresh_trace_id_each(sources, cpis, unscheduled):
    before = len(cpis.seen)
    access = CpisAccess(token=CPIS_TOKEN, unscheduled=unscheduled)
    await picture_of(ACTIVE_CP_BABY, with_cpis(sources, cpis.url), access)

    seen = cpis.seen[before:]
    assert {s["unscheduled"] for s in seen} == {"true" if unscheduled else "false"}
    care_teams = [(role, r) for role, r in access.sent if r.resource == "CareTeam"]  # the access history aside
    assert sorted(s["trace_id"] for s in seen) == sorted(r.trace_id for _, r in care_teams)
    assert len({s["trace_id"] for s in seen}) == len(seen) == 2
    assert all(uuid.UUID(s["trace_id"]) for s in seen)
    assert sorted(role for role, _ in care_teams) == ["baby", "mother"]


async def test_a_malformed_bundle_reads_unavailable_and_the_picture_stands(sources, caplog):
    with CpisSandbox(malformed=frozenset({ACTIVE_CP_BABY})) as broken:
        picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, broken.url), CpisAccess(token=CPIS_TOKEN))

    assert ACTIVE_CP_BABY not in caplog.text and CPIS_TOKEN not in caplog.text  # no patient data, no token logged

    assert cpis_status(picture).status == "unavailable"
    assert picture.baby.checks["cpis"].status == "unavailable"
    assert picture.baby.nhs_number == ACTIVE_CP_BABY and picture.records  # the other sources are still read


async def test_a_care_team_about_another_nhs_number_is_left_out(sources):
    stray = {
        "resourceType": "CareTeam",
        "id": "stray",
        "status": "active",
        "category": [
            {"coding": [{"system": "https://fhir.nhs.uk/R4/CodeSystem/CPIS-ObservationType", "code": "CPPI"}]}
        ],
        "subject": {"identifier": {"system": NHS, "value": NO_CONCERNS_BABY}},
    }
    with CpisSandbox(extra_teams={ACTIVE_CP_BABY: [stray]}) as odd:
        picture = await picture_of(ACTIVE_CP_BABY, with_cpis(sources, odd.url), CpisAccess(token=CPIS_TOKEN))

    assert not [r for r in picture.records if r.source == "cpis" and r.key.endswith("/stray")]
    assert picture.baby.checks["cpis"].status == "partial"  # said, never silently dropped
    assert cpis_status(picture).status == "partial"


def _sources_file(tmp_path: Path, cpis_table: str) -> Path:
    path = tmp_path / "sources.toml"
    path.write_text(
        f'[sources.neonatal]\nbase_url = "http://127.0.0.1:1/fhir"\nwrite_back = true\n\n'
        f"[sources.cpis]\n{cpis_table}\n",
        encoding="utf-8",
    )
    return path


def test_a_cpis_source_is_configured_with_its_unscheduled_access_per_checkpoint(tmp_path):
    table = (
        'profile = "cpis"\nbase_url = "https://api.service.nhs.uk/cpis/FHIR/R4"\n'
        "unscheduled_access = { admission = true, discharge = false }\n"
    )
    cpis = next(s for s in load_sources(_sources_file(tmp_path, table)) if s.name == "cpis")

    assert cpis.profile == "cpis"
    assert (cpis.unscheduled("admission"), cpis.unscheduled("discharge")) == (True, False)
    assert (cpis.unscheduled("transfer"), cpis.unscheduled(None)) == (True, True)  # CP-IS: omitted is unscheduled


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('profile = "hl7v3"\nbase_url = "https://x.example/fhir"', "profile 'hl7v3' is not one NeoSafe knows"),
        ('profile = 3\nbase_url = "https://x.example/fhir"', "profile 3 is not one NeoSafe knows"),
        (
            'profile = "cpis"\nbase_url = "https://x.example/fhir"\nauth = { type = "bearer", token_env = "T" }',
            "user-restricted",
        ),
        ('base_url = "https://x.example/fhir"\nunscheduled_access = { admission = true }', "for a cpis source"),
        ('profile = "cpis"\nbase_url = "http://cpis.example.nhs.uk/fhir"', "its base_url must be https"),
        ('profile = "cpis"\nbase_url = "https://x.example/fhir"\nwrite_back = true', "cannot be the write_back"),
    ],
    ids=[
        "unknown profile",
        "not a string",
        "cpis with application credentials",
        "unscheduled on a fhir source",
        "cpis over plain http",
        "cpis written to",
    ],
)
def test_a_wrong_profile_is_a_clear_config_error(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        load_sources(_sources_file(tmp_path, table))
